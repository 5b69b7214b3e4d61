"""The launcher's own database: GPU allocations (which double as the usage ledger), the course
catalog managed with ``launcher courses apply`` and its audit log.

SQLite in the data directory by default; any SQLAlchemy URL (PostgreSQL) through
``store.url`` in the site file. Every allocation is a row with its start and, once released,
its end and the reason, so quota use is a sum over rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from .gpu.quota import period_bounds

metadata = MetaData()

allocations = Table(
    "gpu_allocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("unit_uuid", String(128), nullable=False, index=True),
    Column("username", String(255), nullable=False, index=True),
    Column("course", String(64), nullable=False),
    Column("server", String(255), nullable=False, default=""),
    Column("container", String(255), nullable=False, default=""),
    Column("started_at", DateTime(timezone=False), nullable=False),
    Column("ended_at", DateTime(timezone=False), nullable=True, index=True),
    Column("end_reason", String(64), nullable=True),
)

quota_grants = Table(
    "quota_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False, index=True),
    Column("course", String(64), nullable=False),
    Column("extra_hours", Float, nullable=False),
    Column("granted_by", String(255), nullable=False),
    Column("granted_at", DateTime(timezone=False), nullable=False),
)


courses = Table(
    "courses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Column("updated_by", String(255), nullable=False),
)

course_audit = Table(
    "course_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("course", String(64), nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("action", String(16), nullable=False),
    Column("details", Text, nullable=False),
    Column("at", DateTime(timezone=False), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Allocation:
    id: int
    unit_uuid: str
    username: str
    course: str
    server: str
    container: str
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None


class StoreUnavailable(RuntimeError):
    """The store's database cannot be opened."""


class Store:
    """Thin, synchronous access to the tables (calls take milliseconds)."""

    def __init__(self, url: str, engine: Engine | None = None):
        self.url = url
        self.engine = engine or create_engine(url, future=True)
        try:
            metadata.create_all(self.engine)
        except OperationalError as exc:
            shown = self.engine.url.render_as_string(hide_password=True)
            raise StoreUnavailable(
                f"Cannot open the launcher's store {shown} ({exc.orig}). Has the hub been "
                "started with this site file, and are you running as the hub's user?"
            ) from None

    # --- allocations ---

    def active(self) -> list[Allocation]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(allocations).where(allocations.c.ended_at.is_(None)))
            return [Allocation(**row._mapping) for row in rows]

    def add(
        self,
        units: Iterable[str],
        username: str,
        course: str,
        server: str,
        container: str,
        at: datetime,
    ) -> list[Allocation]:
        rows = [
            dict(
                unit_uuid=u,
                username=username,
                course=course,
                server=server,
                container=container,
                started_at=at,
            )
            for u in units
        ]
        if not rows:
            return []
        with self.engine.begin() as conn:
            conn.execute(insert(allocations), rows)
            mine = conn.execute(
                select(allocations).where(
                    allocations.c.username == username,
                    allocations.c.server == server,
                    allocations.c.ended_at.is_(None),
                )
            )
            return [Allocation(**row._mapping) for row in mine]

    def end(self, ids: Iterable[int], reason: str, at: datetime) -> int:
        ids = list(ids)
        if not ids:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                update(allocations)
                .where(allocations.c.id.in_(ids), allocations.c.ended_at.is_(None))
                .values(ended_at=at, end_reason=reason)
            )
            return result.rowcount

    def end_server(self, username: str, server: str, reason: str, at: datetime) -> int:
        """End every active allocation of one server; returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(allocations)
                .where(
                    allocations.c.username == username,
                    allocations.c.server == server,
                    allocations.c.ended_at.is_(None),
                )
                .values(ended_at=at, end_reason=reason)
            )
            return result.rowcount

    def end_vanished(self, alive, at: datetime) -> list[Allocation]:
        """End every active allocation for which ``alive(allocation)`` is false."""
        dead = [a for a in self.active() if not alive(a)]
        self.end([a.id for a in dead], "vanished", at)
        return dead

    def history(self, since: datetime) -> list[Allocation]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(allocations).where(
                    (allocations.c.ended_at.is_(None)) | (allocations.c.ended_at > since)
                )
            )
            return [Allocation(**row._mapping) for row in rows]

    # --- course catalog ---

    def course_specs(self) -> dict[str, dict]:
        """Course id -> its spec (as validated and dumped), ordered by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(courses.c.id, courses.c.spec).order_by(courses.c.id))
            return {row.id: row.spec for row in rows}

    def write_courses(
        self,
        upserts: dict[str, dict],
        removals: Iterable[str],
        audit: list[tuple[str, str, str]],
        actor: str,
        at: datetime,
    ) -> None:
        """Create/replace ``upserts``, delete ``removals`` and log ``audit`` (course, action,
        details) in one transaction."""
        with self.engine.begin() as conn:
            for course_id, spec in upserts.items():
                conn.execute(delete(courses).where(courses.c.id == course_id))
                conn.execute(
                    insert(courses).values(id=course_id, spec=spec, updated_at=at, updated_by=actor)
                )
            removals = list(removals)
            if removals:
                conn.execute(delete(courses).where(courses.c.id.in_(removals)))
            if audit:
                conn.execute(
                    insert(course_audit),
                    [
                        dict(course=c, actor=actor, action=action, details=details, at=at)
                        for c, action, details in audit
                    ],
                )

    def audit_log(self, course: str | None = None) -> list[dict]:
        """The catalog's audit log (oldest first), optionally for one course."""
        query = select(course_audit).order_by(course_audit.c.id)
        if course is not None:
            query = query.where(course_audit.c.course == course)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- quota ---

    def gpu_hours(self, username: str, course: str, since: datetime, until: datetime) -> float:
        """GPU-hours ``username`` used in ``course`` within [since, until)."""
        total = 0.0
        for a in self.history(since):
            if a.username != username or a.course != course:
                continue
            start = max(a.started_at, since)
            end = min(a.ended_at or until, until)
            if end > start:
                total += (end - start).total_seconds() / 3600
        return total

    def period_use(
        self, username: str, course: str, period: str, now: datetime
    ) -> tuple[float, float]:
        """GPU-hours used and extra hours granted so far in the current ``period``."""
        start, _ = period_bounds(period, now)
        return self.gpu_hours(username, course, start, now), self.granted_hours(
            username, course, start
        )

    def grant(self, username: str, course: str, hours: float, by: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(quota_grants).values(
                    username=username,
                    course=course,
                    extra_hours=hours,
                    granted_by=by,
                    granted_at=at,
                )
            )

    def granted_hours(self, username: str, course: str, since: datetime) -> float:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.coalesce(func.sum(quota_grants.c.extra_hours), 0.0)).where(
                    quota_grants.c.username == username,
                    quota_grants.c.course == course,
                    quota_grants.c.granted_at >= since,
                )
            ).scalar_one()
        return float(value)

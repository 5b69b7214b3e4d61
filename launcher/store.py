"""The launcher's own database: GPU allocations (which double as the usage ledger), quota
grants, the course catalog managed with ``launcher courses apply`` and its audit log, and
what the GPU dashboard shows: the GPU queue as the hub's broker reports it, each start's
duration, the sampled GPU history and the admins' actions.

SQLite in the data directory by default; any SQLAlchemy URL (PostgreSQL) through
``store.url`` in the site file. Every allocation is a row with its start and, once released,
its end and the reason, so quota use is a sum over rows.
"""

from __future__ import annotations

import asyncio
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
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError

from launcher import schema

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
    # the version of the spec's format (launcher.catalog.SPEC_VERSION when written)
    Column("spec_version", Integer, nullable=False, server_default=text("1")),
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

#: the course each server was started for, written by the spawner when the server starts and
#: removed when it stops: the culler, the instructor page and the dashboard read it (a
#: server's course is decided once, at its start, and not again from today's rosters)
servers = Table(
    "servers",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("server", String(255), primary_key=True),  # "" for the default server
    Column("course", String(64), nullable=False),
    Column("container", String(255), nullable=False),
    Column("started_at", DateTime(timezone=False), nullable=False),
)

#: one row per GPU unit and sample of the dashboard's sampler (its charts); pruned after
#: ``dashboard.retention_days``
gpu_samples = Table(
    "gpu_samples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=False), nullable=False, index=True),
    Column("unit_uuid", String(128), nullable=False),
    Column("utilisation", Integer, nullable=True),  # percent; NULL: NVML could not say
    Column("memory_used_mib", Integer, nullable=True),
    Column("holders", Integer, nullable=False, default=0),  # servers holding the unit
    Column("course", String(64), nullable=True),  # the holders' course (one: see allocator)
)

#: the broker's FIFO queue as others see it (the queue itself lives in the hub's memory, so
#: the hub empties this table when it starts)
spawn_queue = Table(
    "spawn_queue",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False),
    Column("course", String(64), nullable=False),
    Column("server", String(255), nullable=False, default=""),
    Column("since", DateTime(timezone=False), nullable=False),
)

#: the starts under way, from the student's request to a ready server or a failure: a start
#: the hub did not finish (it was stopped or restarted) is resumed by the next hub, in the
#: order the students asked, and keeps its place in the GPU queue and the start line
starts = Table(
    "starts",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("server", String(255), primary_key=True),  # "" for the default server
    Column("course", String(64), nullable=False),
    Column("since", DateTime(timezone=False), nullable=False),
)

#: the culler's warnings of running servers (a stop is coming: the GPU is idle, the quota
#: runs out), for the course home; gone when the culler takes one back and when the server
#: stops
warnings = Table(
    "warnings",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("server", String(255), primary_key=True),
    Column("reason", String(32), nullable=False),  # gpu_idle, quota
    Column("stop_at", DateTime(timezone=False), nullable=False),
)

#: every start's outcome and duration, from the request to a ready server (or the failure)
spawn_log = Table(
    "spawn_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False),
    Column("course", String(64), nullable=False),
    Column("server", String(255), nullable=False, default=""),
    Column("started_at", DateTime(timezone=False), nullable=False, index=True),
    Column("seconds", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # ready | failed
    Column("reason", String(64), nullable=False, default=""),  # why it failed
)

#: what admins did to students' sessions and quotas (dashboard, `launcher gpus grant`)
admin_audit = Table(
    "admin_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=False), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(32), nullable=False),  # stop_server | release_gpu | grant
    Column("target", String(255), nullable=False),  # the student
    Column("course", String(64), nullable=False, default=""),
    Column("details", Text, nullable=False, default=""),
)

#: swarm mode: the node each student's workspace (a node's local volume) lives on, written
#: when their first server of the course runs and by `launcher workspaces move`; their later
#: servers of the course are placed on that node only, so a home is never split between nodes
workspace_nodes = Table(
    "workspace_nodes",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("course", String(64), primary_key=True),
    Column("node", String(255), nullable=False),  # the node's hostname
    Column("since", DateTime(timezone=False), nullable=False),
)

#: the SSH public keys each user registered on the hub's key page (/hub/ssh-keys), with which
#: they sign in to the hub's SSH endpoint; a user names each key and has at most
#: :data:`MAX_SSH_KEYS`
ssh_keys = Table(
    "ssh_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(255), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("key", Text, nullable=False),  # the OpenSSH line "type base64", no comment
    Column("fingerprint", String(128), nullable=False),  # "SHA256:..." (ssh-keygen -lf)
    Column("added_at", DateTime(timezone=False), nullable=False),
    Column("last_used_at", DateTime(timezone=False), nullable=True),
    UniqueConstraint("username", "fingerprint", name="uq_ssh_keys_username_fingerprint"),
    UniqueConstraint("username", "name", name="uq_ssh_keys_username_name"),
)

#: the SSH endpoint's refused sign-ins (a key nobody registered, a wrong token, a user the hub
#: does not know, a locked-out source), for the admins and the endpoint's own lock-outs
ssh_failures = Table(
    "ssh_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=False), nullable=False, index=True),
    Column("username", String(255), nullable=False),
    Column("source", String(64), nullable=False),  # the client's address
    Column("reason", String(32), nullable=False),  # key, token, unknown-user, locked, ...
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


@dataclass(frozen=True)
class RunningServer:
    username: str
    server: str
    course: str
    container: str
    started_at: datetime


@dataclass(frozen=True)
class Sample:
    at: datetime
    unit_uuid: str
    utilisation: int | None
    memory_used_mib: int | None
    holders: int
    course: str | None


@dataclass(frozen=True)
class SshKey:
    """A registered SSH public key: ``key`` is the OpenSSH line "type base64" (no comment),
    ``fingerprint`` "SHA256:..."; ``last_used_at`` None until the SSH endpoint accepts it."""

    id: int
    username: str
    name: str
    key: str
    fingerprint: str
    added_at: datetime
    last_used_at: datetime | None = None


#: the most SSH keys one user may register
MAX_SSH_KEYS = 20


class DuplicateSshKey(ValueError):
    """The user has a key of this name, or this key, already: ``what`` is ``"name"`` or
    ``"key"``."""

    def __init__(self, what: str, username: str):
        self.what = what
        taken = "a key of this name" if what == "name" else "this key"
        super().__init__(f"{username} has registered {taken} already")


class TooManySshKeys(ValueError):
    """The user has :data:`MAX_SSH_KEYS` keys already."""

    def __init__(self, username: str):
        super().__init__(
            f"{username} has {MAX_SSH_KEYS} SSH keys already, the most a user may have: "
            "remove one first"
        )


class StoreUnavailable(RuntimeError):
    """The store's database cannot be opened."""


class StoreSchemaMismatch(StoreUnavailable):
    """The store's schema is older or newer than this launcher's (the message says what to
    do: ``launcher upgrade``, or the newer launcher)."""


#: seconds a call may wait for the database: to connect, for a lock, for a statement (a
#: database that does not answer makes calls fail in seconds, never hang)
DB_TIMEOUT_S = 10


def bounded_engine(url: str) -> Engine:
    """An engine whose every wait is bounded by :data:`DB_TIMEOUT_S`, and which checks a
    pooled connection before using it (a restarted database is reconnected to)."""
    connect_args: dict = {}
    if url.startswith("sqlite"):
        connect_args = {"timeout": DB_TIMEOUT_S}
    elif url.startswith("postgresql"):
        connect_args = {
            "connect_timeout": DB_TIMEOUT_S,
            "options": f"-c statement_timeout={DB_TIMEOUT_S * 1000}",
            # a server that stops answering mid-call: the socket gives up too
            "keepalives": 1,
            "keepalives_idle": DB_TIMEOUT_S,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": DB_TIMEOUT_S * 1000,
        }
    engine = create_engine(
        url, future=True, pool_pre_ping=True, pool_timeout=DB_TIMEOUT_S, connect_args=connect_args
    )
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_wal)
    return engine


def _sqlite_wal(connection, _record) -> None:
    """SQLite in write-ahead-log mode: the hub, its services and the `launcher` command read
    while one of them writes, and a commit waits for no disk flush but the log's (a class
    that starts together writes a few rows per start)."""
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


_SHARED: dict[str, Store] = {}


def shared(url: str) -> Store:
    """The process's one :class:`Store` for ``url``: one connection pool, its tables checked
    once (the catalog, the broker and the hub's own rounds all use it)."""
    found = _SHARED.get(url)
    if found is None:
        found = _SHARED[url] = Store(url)
    return found


async def off_loop(call, *args, timeout: float = DB_TIMEOUT_S + 2):
    """``call(*args)`` on a thread, for code on an event loop: the loop goes on meanwhile, and
    a database that does not answer at all (a frozen server keeps TCP alive, so no socket time
    limit fires) fails the call after ``timeout`` seconds with ``sqlalchemy.exc.TimeoutError``
    (the thread is left to finish when the database answers again)."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(call, *args), timeout)
    except TimeoutError:
        raise SATimeoutError(f"the launcher's store did not answer within {timeout:g} s") from None


class Store:
    """Thin, synchronous access to the tables (calls take milliseconds; a database that does
    not answer makes them fail within :data:`DB_TIMEOUT_S` seconds). The hub calls them off
    its event loop."""

    def __init__(self, url: str, engine: Engine | None = None):
        self.url = url
        self.engine = engine or bounded_engine(url)
        try:
            schema.ensure(self.engine, metadata)
        except schema.SchemaMismatch as exc:
            raise StoreSchemaMismatch(str(exc)) from None
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

    def swap_units(self, moves: dict[int, str]) -> None:
        """Give each active allocation (by id) another unit, in one transaction (the engine
        assigned them other GPUs than the ledger chose, see GpuBroker.settle)."""
        with self.engine.begin() as conn:
            for ident, unit in moves.items():
                conn.execute(
                    update(allocations)
                    .where(allocations.c.id == ident, allocations.c.ended_at.is_(None))
                    .values(unit_uuid=unit)
                )

    def end_server(self, username: str, server: str, reason: str, at: datetime) -> int:
        """End every active allocation of one server (its container is gone); the reason is
        the one noted by whoever asked for the stop, else ``reason``. Returns how many."""
        reason_now = func.coalesce(allocations.c.end_reason, reason)
        return self._update_server(username, server, ended_at=at, end_reason=reason_now)

    def note_stop_reason(self, username: str, server: str, reason: str) -> int:
        """Why a server's allocations will end (the culler, an admin), before its stop: they
        stay held until its container is gone, and then end with this reason."""
        return self._update_server(username, server, end_reason=reason)

    def _update_server(self, username: str, server: str, **values) -> int:
        """Set ``values`` on one server's active allocations; returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(allocations)
                .where(
                    allocations.c.username == username,
                    allocations.c.server == server,
                    allocations.c.ended_at.is_(None),
                )
                .values(**values)
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

    # --- which course each server runs ---

    def server_started(
        self, username: str, server: str, course: str, container: str, at: datetime
    ) -> None:
        with self.engine.begin() as conn:
            key = (servers.c.username == username) & (servers.c.server == server)
            conn.execute(delete(servers).where(key))
            conn.execute(
                insert(servers).values(
                    username=username,
                    server=server,
                    course=course,
                    container=container,
                    started_at=at,
                )
            )

    def server_stopped(self, username: str, server: str) -> None:
        with self.engine.begin() as conn:
            for table in (servers, warnings):
                conn.execute(
                    delete(table).where((table.c.username == username) & (table.c.server == server))
                )

    # --- the culler's warnings ---

    def warn(self, username: str, server: str, reason: str, stop_at: datetime) -> None:
        """A stop is coming for this server (``reason``: gpu_idle, quota) at ``stop_at``."""
        key = (warnings.c.username == username) & (warnings.c.server == server)
        with self.engine.begin() as conn:
            conn.execute(delete(warnings).where(key))
            conn.execute(
                insert(warnings).values(
                    username=username, server=server, reason=reason, stop_at=stop_at
                )
            )

    def unwarn(self, username: str, server: str) -> None:
        """The warning is taken back (the GPU is busy again)."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(warnings).where(
                    (warnings.c.username == username) & (warnings.c.server == server)
                )
            )

    def warnings_of(self, username: str) -> dict[str, tuple[str, datetime]]:
        """Server name -> (reason, stop time) of ``username``'s warned servers."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(warnings).where(warnings.c.username == username))
            return {r.server: (r.reason, r.stop_at) for r in rows}

    def running_servers(self) -> dict[tuple[str, str], RunningServer]:
        """(username, server name) -> the course and container it was started with."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(servers))
            return {(r.username, r.server): RunningServer(**r._mapping) for r in rows}

    # --- course catalog ---

    def course_specs(self) -> dict[str, tuple[int, dict]]:
        """Course id -> (its spec's format version, its spec as validated and dumped), ordered
        by id."""
        query = select(courses.c.id, courses.c.spec_version, courses.c.spec)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(courses.c.id))
            return {row.id: (row.spec_version, row.spec) for row in rows}

    def write_courses(
        self,
        upserts: dict[str, dict],
        removals: Iterable[str],
        audit: list[tuple[str, str, str]],
        actor: str,
        at: datetime,
        spec_version: int = 1,
    ) -> None:
        """Create/replace ``upserts`` (specs of format ``spec_version``), delete ``removals``
        and log ``audit`` (course, action, details) in one transaction."""
        with self.engine.begin() as conn:
            for course_id, spec in upserts.items():
                conn.execute(delete(courses).where(courses.c.id == course_id))
                conn.execute(
                    insert(courses).values(
                        id=course_id,
                        spec=spec,
                        spec_version=spec_version,
                        updated_at=at,
                        updated_by=actor,
                    )
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

    # --- quota (launcher.gpu.quota computes the use from these rows) ---

    def usage(
        self, username: str, course: str, since: datetime
    ) -> tuple[list[Allocation], list[dict]]:
        """One student's allocations in one course still open or ended after ``since``, and
        the grants made to them since then."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(allocations).where(
                    allocations.c.username == username,
                    allocations.c.course == course,
                    (allocations.c.ended_at.is_(None)) | (allocations.c.ended_at > since),
                )
            )
            found = [Allocation(**row._mapping) for row in rows]
            grants = conn.execute(
                select(quota_grants).where(
                    quota_grants.c.username == username,
                    quota_grants.c.course == course,
                    quota_grants.c.granted_at >= since,
                )
            )
            return found, [dict(row._mapping) for row in grants]

    def grant(self, username: str, course: str, hours: float, by: str, at: datetime) -> int:
        """Extra (or, negative, fewer) GPU-hours for this period; written to the audit log
        (returns the audit entry's id)."""
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
            return _audit(
                conn, by, "grant", username, course, f"{hours:+g} GPU-hours this period", at
            )

    def grants(self, since: datetime) -> list[dict]:
        """Every grant made since ``since`` (username, course, extra_hours, granted_at, ...)."""
        query = select(quota_grants).where(quota_grants.c.granted_at >= since)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- the GPU queue, as the broker reports it ---

    def enqueue(self, username: str, course: str, server: str, at: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(spawn_queue).values(
                    username=username, course=course, server=server, since=at
                )
            )
            return result.inserted_primary_key[0]

    def dequeue(self, entry: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(spawn_queue).where(spawn_queue.c.id == entry))

    def clear_queue(self) -> None:
        """Forget every queued start (a hub that starts has an empty queue)."""
        with self.engine.begin() as conn:
            conn.execute(delete(spawn_queue))

    def queued(self) -> list[dict]:
        """The queue in FIFO order: username, course, server, since."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(spawn_queue).order_by(spawn_queue.c.since, spawn_queue.c.id))
            return [dict(row._mapping) for row in rows]

    # --- starts under way (resumed by the next hub) ---

    def start_asked(self, username: str, server: str, course: str, at: datetime) -> datetime:
        """Record a start; returns when it was first asked for: ``at``, or the time of the
        same server's start that a hub restart interrupted (it keeps its place)."""
        key = (starts.c.username == username) & (starts.c.server == server)
        with self.engine.begin() as conn:
            since = conn.execute(select(starts.c.since).where(key)).scalar()
            if since is not None:
                conn.execute(update(starts).where(key).values(course=course))
                return since
            conn.execute(
                insert(starts).values(username=username, server=server, course=course, since=at)
            )
            return at

    def start_over(self, username: str, server: str) -> None:
        """The start is over: ready, or failed with a sentence."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(starts).where((starts.c.username == username) & (starts.c.server == server))
            )

    def starts_left(self) -> list[dict]:
        """The starts a hub left unfinished, oldest first: username, server, course, since."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(starts).order_by(starts.c.since))
            return [dict(row._mapping) for row in rows]

    # --- where workspaces live (swarm mode) ---

    def workspace_node(self, username: str, course: str) -> str | None:
        """The node holding ``username``'s workspace of ``course`` (None: none yet)."""
        key = (workspace_nodes.c.username == username) & (workspace_nodes.c.course == course)
        with self.engine.connect() as conn:
            return conn.execute(select(workspace_nodes.c.node).where(key)).scalar()

    def set_workspace_node(self, username: str, course: str, node: str, at: datetime) -> None:
        """Record that the workspace now lives on ``node``."""
        key = (workspace_nodes.c.username == username) & (workspace_nodes.c.course == course)
        with self.engine.begin() as conn:
            if conn.execute(
                update(workspace_nodes).where(key).values(node=node, since=at)
            ).rowcount:
                return
            conn.execute(
                insert(workspace_nodes).values(
                    username=username, course=course, node=node, since=at
                )
            )

    def workspace_homes(self) -> list[tuple[str, str, str]]:
        """Every (username, course, node) recorded."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    workspace_nodes.c.username, workspace_nodes.c.course, workspace_nodes.c.node
                ).order_by(workspace_nodes.c.username, workspace_nodes.c.course)
            )
            return [tuple(row) for row in rows]

    def workspaces_on(self, node: str) -> list[tuple[str, str]]:
        """The (username, course) pairs whose workspace lives on ``node``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(workspace_nodes.c.username, workspace_nodes.c.course)
                .where(workspace_nodes.c.node == node)
                .order_by(workspace_nodes.c.username, workspace_nodes.c.course)
            )
            return [tuple(row) for row in rows]

    # --- SSH keys and the SSH endpoint's refusals ---

    def add_ssh_key(
        self, username: str, name: str, key: str, fingerprint: str, at: datetime
    ) -> int:
        """Register a key (``key`` the OpenSSH line, ``fingerprint`` its "SHA256:...");
        returns its id. :class:`DuplicateSshKey` when the user has this name or this key
        already, :class:`TooManySshKeys` when they have :data:`MAX_SSH_KEYS`."""
        try:
            with self.engine.begin() as conn:
                _ssh_key_free(conn, username, name, fingerprint)
                count = select(func.count()).where(ssh_keys.c.username == username)
                if conn.execute(count).scalar() >= MAX_SSH_KEYS:
                    raise TooManySshKeys(username)
                added = conn.execute(
                    insert(ssh_keys).values(
                        username=username, name=name, key=key, fingerprint=fingerprint, added_at=at
                    )
                )
                return added.inserted_primary_key[0]
        except IntegrityError:  # the same key or name, added at this very moment
            with self.engine.connect() as conn:
                _ssh_key_free(conn, username, name, fingerprint)
            raise

    def ssh_keys(self, username: str) -> list[SshKey]:
        """``username``'s keys, oldest first."""
        query = select(ssh_keys).where(ssh_keys.c.username == username).order_by(ssh_keys.c.id)
        with self.engine.connect() as conn:
            return [SshKey(**row._mapping) for row in conn.execute(query)]

    def remove_ssh_key(self, username: str, key_id: int) -> bool:
        """Remove one of ``username``'s keys; False when they have none of this id."""
        mine = (ssh_keys.c.id == key_id) & (ssh_keys.c.username == username)
        with self.engine.begin() as conn:
            return conn.execute(delete(ssh_keys).where(mine)).rowcount > 0

    def ssh_key_used(self, key_id: int, at: datetime) -> None:
        """The SSH endpoint accepted this key at ``at``."""
        with self.engine.begin() as conn:
            conn.execute(update(ssh_keys).where(ssh_keys.c.id == key_id).values(last_used_at=at))

    def record_ssh_failure(self, username: str, source: str, reason: str, at: datetime) -> None:
        """A sign-in the SSH endpoint refused: who it claimed to be, from where (the client's
        address), why (``key``, ``token``, ``unknown-user``, ``locked``...). Longer texts
        than the columns hold are cut (the name is the client's to choose)."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(ssh_failures).values(
                    at=at, username=username[:255], source=source[:64], reason=reason[:32]
                )
            )

    def ssh_failures(self, since: datetime) -> list[dict]:
        """The refused sign-ins since ``since``, newest first: id, at, username, source,
        reason."""
        query = (
            select(ssh_failures)
            .where(ssh_failures.c.at >= since)
            .order_by(ssh_failures.c.at.desc(), ssh_failures.c.id.desc())
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- spawn timings ---

    def record_spawn(
        self,
        username: str,
        course: str,
        server: str,
        started_at: datetime,
        seconds: float,
        outcome: str,
        reason: str = "",
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(spawn_log).values(
                    username=username,
                    course=course,
                    server=server,
                    started_at=started_at,
                    seconds=seconds,
                    outcome=outcome,
                    reason=reason,
                )
            )

    def spawns(self, since: datetime | None = None) -> list[dict]:
        query = select(spawn_log).order_by(spawn_log.c.id)
        if since is not None:
            query = query.where(spawn_log.c.started_at >= since)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- GPU samples (the dashboard's history) ---

    def add_samples(self, samples: Iterable[Sample]) -> None:
        rows = [s.__dict__ for s in samples]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(gpu_samples), rows)

    def samples(self, since: datetime) -> list[Sample]:
        query = select(
            gpu_samples.c.at,
            gpu_samples.c.unit_uuid,
            gpu_samples.c.utilisation,
            gpu_samples.c.memory_used_mib,
            gpu_samples.c.holders,
            gpu_samples.c.course,
        ).where(gpu_samples.c.at >= since)
        with self.engine.connect() as conn:
            return [
                Sample(**row._mapping) for row in conn.execute(query.order_by(gpu_samples.c.at))
            ]

    def prune(self, before: datetime) -> int:
        """Drop the samples and spawn timings older than ``before``; returns how many rows."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(gpu_samples).where(gpu_samples.c.at < before)).rowcount
            gone += conn.execute(delete(spawn_log).where(spawn_log.c.started_at < before)).rowcount
            return gone

    # --- admin actions ---

    def audit(
        self, actor: str, action: str, target: str, course: str, details: str, at: datetime
    ) -> int:
        """Log what an admin (or a course's staff) did; returns the entry's id."""
        with self.engine.begin() as conn:
            return _audit(conn, actor, action, target, course, details, at)

    def admin_actions(self, limit: int = 50) -> list[dict]:
        """The latest admin actions, newest first."""
        query = select(admin_audit).order_by(admin_audit.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _ssh_key_free(conn, username: str, name: str, fingerprint: str) -> None:
    """:class:`DuplicateSshKey` when ``username`` has this key or a key of this name."""
    mine = ssh_keys.c.username == username
    if conn.execute(
        select(ssh_keys.c.id).where(mine, ssh_keys.c.fingerprint == fingerprint)
    ).first():
        raise DuplicateSshKey("key", username)
    if conn.execute(select(ssh_keys.c.id).where(mine, ssh_keys.c.name == name)).first():
        raise DuplicateSshKey("name", username)


def _audit(conn, actor: str, action: str, target: str, course: str, details: str, at) -> int:
    """One admin_audit row inside the caller's transaction; returns its id."""
    entry = conn.execute(
        insert(admin_audit).values(
            at=at, actor=actor, action=action, target=target, course=course, details=details
        )
    )
    return entry.inserted_primary_key[0]

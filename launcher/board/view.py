"""What the dashboard's pages, JSON API and metrics show, read from the store and nvidia-smi.

This is the dashboard's I/O: :class:`Board` reads the store (allocations, queue, grants,
samples, spawn timings, audit) and the GPUs' live readings, and hands them to the pure
builders of :mod:`.aggregate`. Its methods block for milliseconds (the handlers call them in
a thread). A ``scope`` says what the visitor may see: None for an admin (everything), else
the ids of the courses they run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from statistics import median

from launcher import catalog, localtime
from launcher.board import aggregate
from launcher.board.live import LiveReadings
from launcher.courses import memberships
from launcher.gpu.inventory import Unit
from launcher.gpu.quota import period_bounds
from launcher.settings import Course
from launcher.store import Allocation, Store, utcnow

Scope = Collection[str] | None


@dataclass(frozen=True)
class Snapshot:
    gpus: list[dict]  # aggregate.gpu_map rows, with readings
    quotas: list[dict]  # aggregate.quota_table rows
    queue: list[dict]  # aggregate.queue_rows
    courses: list[str] = field(default_factory=list)  # courses with GPUs (queue length 0)
    spawns: list[dict] = field(default_factory=list)  # Store.spawns rows (outcome, seconds)


class Board:
    def __init__(
        self,
        cat: catalog.Catalog,
        units: list[Unit],
        readings: LiveReadings,
        clock: Callable[[], datetime] = utcnow,
        zone: tzinfo | str = localtime.DEFAULT_ZONE,
    ):
        self.catalog = cat
        self.units = units
        self.readings = readings
        self.clock = clock
        self.zone = zone  # the site's time zone (hub.timezone): where quota periods start

    @property
    def store(self) -> Store:
        return self.catalog.store

    def courses(self, scope: Scope = None) -> dict[str, Course]:
        courses = self.catalog.courses()
        return courses if scope is None else {c: courses[c] for c in scope if c in courses}

    # --- the views -------------------------------------------------------------------------

    def quotas(self, scope: Scope, members: Collection[tuple[str, str]] = ()) -> list[dict]:
        courses = self.courses(scope)
        now = self.clock()
        since = min(
            (period_bounds(c.quota.period, now, self.zone)[0] for c in courses.values()),
            default=now,
        )
        history, grants = self.store.history(since), self.store.grants(since)
        return aggregate.quota_table(courses, history, grants, now, members, self.zone)

    def gpus(self, scope: Scope, quotas: list[dict] | None = None) -> list[dict]:
        quotas = self.quotas(scope) if quotas is None else quotas
        use = {(r["user"], r["course"]): (r["used"], r["limit"]) for r in quotas}
        rows = aggregate.gpu_map(self.units, self.store.active(), self.readings.get(), use)
        return aggregate.in_scope(rows, scope)

    def queue(self, scope: Scope) -> list[dict]:
        return aggregate.queue_rows(self.store.queued(), self.clock(), scope)

    def history(self, span: str, course: str | None = None) -> dict:
        width, step = aggregate.RANGES[span]
        now = self.clock()
        found = aggregate.history(self.store.samples(now - width - step), span, now, course)
        found["units"] = len(self.units)
        return found

    def summary(self, scope: Scope, gpus: list[dict], queue: list[dict]) -> dict:
        """Counts for the page's first line (and, for one course, what it may use)."""
        active = self.store.active()
        since = self.clock() - timedelta(days=1)
        spawns = [s for s in self.store.spawns(since) if scope is None or s["course"] in scope]
        ready = [s["seconds"] for s in spawns if s["outcome"] == "ready"]
        found = {
            "units": len(self.units),
            "held": len({a.unit_uuid for a in active}),
            "queued": len(queue),
            "starts_ready": len(ready),
            "starts_failed": len(spawns) - len(ready),
            "median_start_seconds": round(median(ready), 1) if ready else None,
        }
        courses = self.courses(scope)
        if scope is not None and len(courses) == 1:
            ((cid, course),) = courses.items()
            found["course"] = aggregate.course_gpus(self.units, active, cid, course)
        return found

    def actions(self, scope: Scope, limit: int = 20) -> list[dict]:
        found = self.store.admin_actions(200)
        return [a for a in found if scope is None or a["course"] in scope][:limit]

    def ssh_failures(self, scope: Scope, hours: int = 24, limit: int = 50) -> list[dict]:
        """The SSH endpoint's refused sign-ins of the last ``hours``, newest first (admins
        only: a course's staff get none, a sign-in names no course)."""
        if scope is not None:
            return []
        return self.store.ssh_failures(self.clock() - timedelta(hours=hours))[:limit]

    def me(self, username: str, groups: list[str]) -> list[dict]:
        """The student's panel: per course, their GPU now and their quota left."""
        courses = self.courses()
        mine = memberships(courses, username, groups)
        quotas = self.quotas(list(mine), [(username, cid) for cid in mine])
        gpus = self.gpus(list(mine), quotas)
        return aggregate.student_panel(username, mine, courses, gpus, self.queue(None), quotas)

    def snapshot(self) -> Snapshot:
        """Everything /metrics reports."""
        quotas = self.quotas(None)
        with_gpus = [cid for cid, c in self.courses().items() if c.gpu.per_student > 0]
        return Snapshot(
            self.gpus(None, quotas), quotas, self.queue(None), with_gpus, self.store.spawns()
        )

    # --- the targets of an admin's actions --------------------------------------------------

    def holders(self, unit: str = "", user: str = "", server: str = "") -> list[Allocation]:
        """The active allocations of a unit (by UUID or index), or of one user's server."""
        found = [u.uuid for u in self.units if unit and u.matches(unit)]
        return [
            a
            for a in self.store.active()
            if (unit and a.unit_uuid in found)
            or (not unit and user and a.username == user and a.server == server)
        ]

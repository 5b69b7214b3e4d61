"""What the GPU dashboard shows, computed from plain data (pure functions, no I/O).

* :func:`gpu_map`: one row per GPU unit with its live reading and its holders (also what
  ``launcher gpus`` prints);
* :func:`queue_rows`: the broker's FIFO queue with each start's position and wait;
* :func:`quota_table`: GPU-hours used and left per student and course this period, and
  :func:`filter_sort` for the page's filter and sortable columns;
* :func:`sample_rows` and :func:`history`: the sampler's rows and the charts' buckets;
* :func:`student_panel`: "your GPU and your quota left", per course of one person.

Times are naive UTC datetimes (as in the store) and ISO strings with ``Z`` in the results.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from statistics import fmean

from launcher import localtime
from launcher.gpu import quota
from launcher.gpu.allocator import GpuPolicy, eligible_units
from launcher.gpu.inventory import Unit
from launcher.gpu.metrics import Reading
from launcher.settings import Course
from launcher.store import Allocation, Sample

UNKNOWN = Reading(None, None, None)
#: chart ranges: how far back, and the width of one bucket
RANGES = {
    "hour": (timedelta(hours=1), timedelta(minutes=1)),
    "day": (timedelta(days=1), timedelta(minutes=15)),
    "week": (timedelta(days=7), timedelta(hours=2)),
}
#: columns of the quota table that sort (query parameter ``sort``)
SORT_KEYS = ("user", "course", "used", "limit", "left", "sessions")
_EPOCH = datetime(2000, 1, 3)  # a Monday 00:00: buckets of a day or less start on the clock


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds") + "Z"


# --- the GPU map ---------------------------------------------------------------------------


def gpu_map(
    units: list[Unit],
    active: list[Allocation],
    readings: Mapping[str, Reading] | None = None,
    quota_use: Mapping[tuple[str, str], tuple[float, float | None]] | None = None,
) -> list[dict]:
    """One row per unit: what it is, what it does now, who holds it since when.

    ``readings``: unit UUID -> live reading; ``quota_use``: (user, course) -> (GPU-hours used,
    limit or None) for the holders.
    """
    readings, quota_use = readings or {}, quota_use or {}
    rows = []
    for unit in units:
        reading = readings.get(unit.uuid) or UNKNOWN
        held = sorted((a for a in active if a.unit_uuid == unit.uuid), key=lambda a: a.started_at)
        rows.append(
            {
                "index": unit.index,
                "node": unit.node,  # swarm mode: the node it is in ("": this host)
                "uuid": unit.uuid,
                "model": unit.model + (f" MIG {unit.mig_profile}" if unit.mig_profile else ""),
                "memory_mib": unit.memory_mib,
                "utilisation": reading.utilisation,
                "memory_used_mib": reading.memory_used_mib,
                "temperature_c": reading.temperature_c,
                "holders": [_holder(a, quota_use.get((a.username, a.course))) for a in held],
            }
        )
    return rows


def _holder(a: Allocation, use: tuple[float, float | None] | None) -> dict:
    used, limit = use if use is not None else (None, None)
    return {
        "user": a.username,
        "course": a.course,
        "server": a.server,
        "container": a.container,
        "since": iso(a.started_at),
        "gpu_hours_used": None if limit is None else round(used, 2),
        "gpu_hours_quota": limit,
    }


def in_scope(rows: list[dict], courses: Collection[str] | None) -> list[dict]:
    """The GPU map as someone who sees only ``courses`` (None: everything) sees it: the units
    their courses hold, with those holders."""
    if courses is None:
        return rows
    found = []
    for row in rows:
        mine = [h for h in row["holders"] if h["course"] in courses]
        if mine:
            found.append({**row, "holders": mine})
    return found


def course_gpus(units: list[Unit], active: list[Allocation], course_id: str, course: Course):
    """How many units ``course`` may use at all, how many of those nobody holds, how many it
    holds now."""
    eligible = eligible_units(units, GpuPolicy.of(course.gpu))
    held = {a.unit_uuid for a in active}
    return {
        "eligible": len(eligible),
        "free": sum(1 for u in eligible if u.uuid not in held),
        "held": len({a.unit_uuid for a in active if a.course == course_id}),
    }


# --- the queue -----------------------------------------------------------------------------


def queue_rows(
    queued: list[dict], now: datetime, courses: Collection[str] | None = None
) -> list[dict]:
    """The queue in FIFO order (``position`` counts everyone ahead, as the student's progress
    bar does), limited to ``courses`` (None: all)."""
    return [
        {
            "position": position,
            "user": q["username"],
            "course": q["course"],
            "server": q["server"],
            "since": iso(q["since"]),
            "waiting_seconds": max(int((now - q["since"]).total_seconds()), 0),
        }
        for position, q in enumerate(queued, start=1)
        if courses is None or q["course"] in courses
    ]


# --- quotas --------------------------------------------------------------------------------


def quota_table(
    courses: Mapping[str, Course],
    history: Iterable[Allocation],
    grants: Iterable[dict],
    now: datetime,
    members: Iterable[tuple[str, str]] = (),
    zone: tzinfo | str = localtime.DEFAULT_ZONE,
) -> list[dict]:
    """GPU-hours per student and course in each course's current quota period (periods
    start at 00:00 in ``zone``, the site's time zone).

    Rows: every roster student of a course with GPUs, everyone with use or a grant this period
    in ``courses``, and the extra (user, course) pairs in ``members`` (group members).
    ``history``: the allocations that may overlap the periods (``Store.history``); ``grants``:
    ``Store.grants`` rows. Used hours count every unit (two GPUs for an hour: 2 GPU-hours).
    """
    by_key: dict[tuple[str, str], list[Allocation]] = defaultdict(list)
    for a in history:
        if a.course in courses:
            by_key[(a.username, a.course)].append(a)
    granted: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for g in grants:
        if g["course"] in courses:
            granted[(g["username"], g["course"])].append(g)
    keys = dict.fromkeys(
        (user, cid)
        for cid, course in courses.items()
        if course.gpu.per_student > 0 or course.quota.gpu_hours is not None
        for user in course.students
    )
    keys.update(dict.fromkeys(k for k in members if k[1] in courses))
    keys.update(dict.fromkeys([*by_key, *granted]))
    return [
        _quota_row(user, cid, courses[cid], by_key[(user, cid)], granted[(user, cid)], now, zone)
        for user, cid in keys
    ]


def _quota_row(
    user: str,
    cid: str,
    course: Course,
    mine: list[Allocation],
    grants: list[dict],
    now: datetime,
    zone: tzinfo | str = localtime.DEFAULT_ZONE,
) -> dict:
    spent = quota.use(quota.Quota.of(course.quota), mine, grants, now, zone)
    limit = spent.limit
    return {
        "user": user,
        "course": cid,
        "period": course.quota.period,
        "used": round(spent.used, 2),
        "quota": course.quota.gpu_hours,
        "granted": round(spent.granted, 2),
        "limit": None if limit is None else round(limit, 2),
        "left": None if limit is None else round(spent.left, 2),
        "used_percent": None if not limit else min(round(100 * spent.used / limit), 100),
        "sessions": spent.sessions,
        "active": spent.active,
        "resets": iso(spent.resets),
    }


def filter_sort(
    rows: list[dict], q: str = "", course: str = "", sort: str = "user", order: str = "asc"
) -> list[dict]:
    """The quota rows whose user contains ``q`` (any case), of ``course`` if given, sorted by
    ``sort`` (one of :data:`SORT_KEYS`; unlimited values last) in ``order`` (asc | desc)."""
    q = q.strip().lower()
    found = [r for r in rows if q in r["user"].lower() and (not course or r["course"] == course)]
    found.sort(key=lambda r: (r["user"], r["course"]))
    key = sort if sort in SORT_KEYS else "user"
    present = [r for r in found if r[key] is not None]
    present.sort(key=lambda r: r[key], reverse=order == "desc")
    return present + [r for r in found if r[key] is None]


# --- history -------------------------------------------------------------------------------


def sample_rows(
    units: list[Unit], active: list[Allocation], readings: Mapping[str, Reading], at: datetime
) -> list[Sample]:
    """One sample per unit: its reading, how many servers hold it and their course."""
    rows = []
    for unit in units:
        reading = readings.get(unit.uuid) or UNKNOWN
        held = [a for a in active if a.unit_uuid == unit.uuid]
        rows.append(
            Sample(
                at,
                unit.uuid,
                reading.utilisation,
                reading.memory_used_mib,
                len(held),
                held[0].course if held else None,
            )
        )
    return rows


def history(samples: Iterable[Sample], span: str, now: datetime, course: str | None = None) -> dict:
    """The samples of the last hour / day / week (``span``) in buckets.

    Per bucket: ``utilisation``, the mean utilisation (percent) of the units sampled (with
    ``course``: of the units that course held), and ``allocated``, the mean number of units
    held (by ``course``). Both are None for a bucket without samples (the sampler was off).
    """
    width, step = RANGES[span]
    end = _EPOCH + ((now - _EPOCH) // step + 1) * step  # the bucket of ``now`` is the last
    start = end - width
    count = width // step
    ticks: list[set[datetime]] = [set() for _ in range(count)]
    utilisation: list[list[int]] = [[] for _ in range(count)]
    allocated = [0] * count
    for s in samples:
        if not start <= s.at < end:
            continue
        i = int((s.at - start) // step)
        ticks[i].add(s.at)
        if course is not None and s.course != course:
            continue
        if s.utilisation is not None:
            utilisation[i].append(s.utilisation)
        allocated[i] += 1 if s.holders else 0
    buckets = [
        {
            "start": iso(start + i * step),
            "utilisation": round(fmean(utilisation[i]), 1) if utilisation[i] else None,
            "allocated": round(allocated[i] / len(ticks[i]), 2) if ticks[i] else None,
        }
        for i in range(count)
    ]
    return {
        "range": span,
        "course": course,
        "start": iso(start),
        "end": iso(end),
        "step_seconds": int(step.total_seconds()),
        "buckets": buckets,
    }


# --- the student's panel -------------------------------------------------------------------


def student_panel(
    username: str,
    mine: Mapping[str, str],
    courses: Mapping[str, Course],
    gpus: list[dict],
    queue: list[dict],
    quotas: list[dict],
) -> list[dict]:
    """Per course of ``username`` (``mine``: course id -> role): the GPUs they hold now, their
    place in the queue, and their quota this period."""
    panel = []
    for cid, role in mine.items():
        held = [
            {**{k: row[k] for k in _UNIT_FIELDS}, "since": h["since"], "server": h["server"]}
            for row in gpus
            for h in row["holders"]
            if h["user"] == username and h["course"] == cid
        ]
        waiting = [q["position"] for q in queue if q["user"] == username and q["course"] == cid]
        quota = next((r for r in quotas if r["user"] == username and r["course"] == cid), None)
        panel.append(
            {
                "course": cid,
                "title": courses[cid].title,
                "role": role,
                "gpus_per_session": courses[cid].gpu.per_student,
                "gpus": held,
                "queue_position": waiting[0] if waiting else None,
                "queue_length": len(queue),
                "quota": quota,
            }
        )
    return panel


_UNIT_FIELDS = ("index", "node", "uuid", "model", "memory_mib", "utilisation", "memory_used_mib")

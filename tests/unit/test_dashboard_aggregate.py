"""The dashboard's pure builders: GPU map, queue, quota table, filters, history buckets and the
student's panel (table-driven)."""

from datetime import datetime, timedelta

import pytest

from launcher.board import aggregate
from launcher.gpu.inventory import Unit
from launcher.gpu.metrics import Reading
from launcher.settings import Course
from launcher.store import Allocation, Sample

NOW = datetime(2026, 11, 25, 10, 30)  # a Wednesday; the week began Mon 23rd 00:00
WEEK = datetime(2026, 11, 23)
UNITS = [
    Unit("GPU-0", "0", "A100", 40960, "GPU-0"),
    Unit("GPU-1", "1", "A100", 40960, "GPU-1"),
    Unit("MIG-a", "2:0", "A100", 5120, "GPU-2", mig_profile="1g.5gb"),
]


def course(**extra) -> Course:
    return Course.model_validate({"title": "T", "image": "launcher/pytorch:2.13-cpu", **extra})


COURSES = {
    "dl": course(students=["ann", "bob"], gpu={"per_student": 1}, quota={"gpu_hours": 10}),
    "cv": course(students=["cat"], gpu={"per_student": 1, "pool": ["1"]}),
    "stats": course(students=["dan"]),  # no GPUs, no quota
}


def alloc(user, course_id, unit, start, end=None, server="", n=[0]) -> Allocation:
    n[0] += 1
    return Allocation(n[0], unit, user, course_id, server, f"c_{user}", start, end, None)


@pytest.mark.parametrize(
    "active, readings, use, expected",
    [
        # a free unit, no reading from NVML
        ([], {}, {}, {"GPU-0": ([], None)}),
        # a holder with quota use, and the live reading
        (
            [alloc("ann", "dl", "GPU-0", NOW - timedelta(hours=1))],
            {"GPU-0": Reading(73, 2048, 51)},
            {("ann", "dl"): (1.234, 12.0)},
            {"GPU-0": ([("ann", "dl", 1.23, 12.0)], 73)},
        ),
        # a shared unit: holders oldest first; no quota -> no use figures
        (
            [
                alloc("bob", "dl", "GPU-1", NOW - timedelta(minutes=5)),
                alloc("ann", "dl", "GPU-1", NOW - timedelta(hours=2)),
            ],
            {},
            {},
            {"GPU-1": ([("ann", "dl", None, None), ("bob", "dl", None, None)], None)},
        ),
    ],
)
def test_gpu_map(active, readings, use, expected):
    rows = {r["uuid"]: r for r in aggregate.gpu_map(UNITS, active, readings, use)}
    assert list(rows) == ["GPU-0", "GPU-1", "MIG-a"]
    assert rows["MIG-a"]["model"] == "A100 MIG 1g.5gb" and rows["MIG-a"]["index"] == "2:0"
    for uuid, (holders, utilisation) in expected.items():
        got = [
            (h["user"], h["course"], h["gpu_hours_used"], h["gpu_hours_quota"])
            for h in rows[uuid]["holders"]
        ]
        assert got == holders
        assert rows[uuid]["utilisation"] == utilisation
    held = [h for r in rows.values() for h in r["holders"]]
    assert all(h["since"].endswith("Z") and h["container"].startswith("c_") for h in held)


def test_in_scope_keeps_only_the_courses_units_and_holders():
    active = [
        alloc("ann", "dl", "GPU-0", NOW),
        alloc("cat", "cv", "GPU-1", NOW),
    ]
    rows = aggregate.gpu_map(UNITS, active)
    assert aggregate.in_scope(rows, None) == rows
    (mine,) = aggregate.in_scope(rows, ["cv"])
    assert mine["uuid"] == "GPU-1" and [h["user"] for h in mine["holders"]] == ["cat"]
    assert aggregate.in_scope(rows, ["stats"]) == []


def test_course_gpus_counts_what_the_course_may_use():
    active = [alloc("ann", "dl", "GPU-0", NOW), alloc("zed", "dl", "GPU-1", NOW)]
    # dl may use both whole GPUs (not the MIG unit); cv only GPU 1 (its pool)
    assert aggregate.course_gpus(UNITS, active, "dl", COURSES["dl"]) == {
        "eligible": 2,
        "free": 0,
        "held": 2,
    }
    assert aggregate.course_gpus(UNITS, active[:1], "cv", COURSES["cv"]) == {
        "eligible": 1,
        "free": 1,
        "held": 0,
    }


def test_queue_rows_keep_the_global_position():
    queued = [
        {"username": "ann", "course": "dl", "server": "", "since": NOW - timedelta(seconds=90)},
        {"username": "cat", "course": "cv", "server": "", "since": NOW - timedelta(seconds=30)},
    ]
    rows = aggregate.queue_rows(queued, NOW)
    assert [(r["position"], r["user"], r["waiting_seconds"]) for r in rows] == [
        (1, "ann", 90),
        (2, "cat", 30),
    ]
    (cat,) = aggregate.queue_rows(queued, NOW, ["cv"])
    assert cat["position"] == 2, "cat is second in the one queue, whatever the course"


HISTORY = [
    # ann: 2 h this week (one ended session), 1 h of a session that began last week
    alloc("ann", "dl", "GPU-0", NOW - timedelta(hours=5), NOW - timedelta(hours=3)),
    alloc("ann", "dl", "GPU-0", WEEK - timedelta(hours=1), WEEK + timedelta(hours=1)),
    # bob: running for 30 min now, on two GPUs (one session): 1 GPU-hour
    alloc("bob", "dl", "GPU-0", NOW - timedelta(minutes=30), server="dl"),
    alloc("bob", "dl", "GPU-1", NOW - timedelta(minutes=30), server="dl"),
    # eve (not on the roster, e.g. a group member) used 15 min last week only
    alloc("eve", "dl", "GPU-1", WEEK - timedelta(days=2), WEEK - timedelta(days=2, minutes=-15)),
    # cat: unlimited course, 45 min
    alloc("cat", "cv", "GPU-1", NOW - timedelta(minutes=45), NOW),
]
GRANTS = [
    {"username": "ann", "course": "dl", "extra_hours": 5.0, "granted_at": NOW},
    {"username": "ann", "course": "dl", "extra_hours": 50.0, "granted_at": WEEK - timedelta(1)},
    {"username": "fay", "course": "dl", "extra_hours": 2.0, "granted_at": NOW},
]


@pytest.mark.parametrize(
    "user, course_id, expected",
    [
        # used, limit, left, sessions, active
        ("ann", "dl", (3.0, 15.0, 12.0, 2, False)),
        ("bob", "dl", (1.0, 10.0, 9.0, 1, True)),
        ("eve", "dl", (0.0, 10.0, 10.0, 0, False)),  # last week's use does not count
        ("fay", "dl", (0.0, 12.0, 12.0, 0, False)),  # a grant alone makes a row
        ("cat", "cv", (0.75, None, None, 1, False)),  # no quota: unlimited
    ],
)
def test_quota_table(user, course_id, expected):
    rows = aggregate.quota_table(COURSES, HISTORY, GRANTS, NOW)
    by_key = {(r["user"], r["course"]): r for r in rows}
    row = by_key[(user, course_id)]
    assert (row["used"], row["limit"], row["left"], row["sessions"], row["active"]) == expected
    assert row["period"] == "week" and row["resets"] == "2026-11-30T00:00:00Z"


def test_quota_table_rows_roster_first_and_nobody_from_courses_without_gpus():
    rows = aggregate.quota_table(COURSES, HISTORY, GRANTS, NOW, members=[("gus", "dl")])
    keys = [(r["user"], r["course"]) for r in rows]
    assert keys[:3] == [("ann", "dl"), ("bob", "dl"), ("cat", "cv")]
    assert ("gus", "dl") in keys and ("eve", "dl") in keys
    assert not any(c == "stats" for _, c in keys)
    spent = aggregate.quota_table(
        COURSES, [alloc("bob", "dl", "GPU-0", WEEK, WEEK + timedelta(hours=12))], [], NOW
    )
    bob = next(r for r in spent if r["user"] == "bob")
    assert (bob["used"], bob["left"], bob["used_percent"]) == (12.0, 0.0, 100)


ROWS = [
    {"user": "ann", "course": "dl", "used": 3.0, "left": 12.0, "limit": 15.0, "sessions": 2},
    {"user": "bob", "course": "dl", "used": 1.0, "left": 9.0, "limit": 10.0, "sessions": 1},
    {"user": "cat", "course": "cv", "used": 0.75, "left": None, "limit": None, "sessions": 1},
    {"user": "Anna", "course": "cv", "used": 0.0, "left": None, "limit": None, "sessions": 0},
]


@pytest.mark.parametrize(
    "args, expected",
    [
        ({}, ["Anna", "ann", "bob", "cat"]),
        ({"q": "AN"}, ["Anna", "ann"]),
        ({"course": "dl"}, ["ann", "bob"]),
        ({"sort": "used", "order": "desc"}, ["ann", "bob", "cat", "Anna"]),
        ({"sort": "left"}, ["bob", "ann", "Anna", "cat"]),  # unlimited last
        ({"sort": "left", "order": "desc"}, ["ann", "bob", "Anna", "cat"]),  # still last
        ({"sort": "nonsense"}, ["Anna", "ann", "bob", "cat"]),
    ],
)
def test_filter_sort(args, expected):
    assert [r["user"] for r in aggregate.filter_sort(ROWS, **args)] == expected


def test_sample_rows_one_per_unit():
    active = [alloc("ann", "dl", "GPU-0", NOW), alloc("bob", "dl", "GPU-0", NOW)]
    rows = aggregate.sample_rows(UNITS, active, {"GPU-0": Reading(40, 100, 50)}, NOW)
    assert [(s.unit_uuid, s.utilisation, s.holders, s.course) for s in rows] == [
        ("GPU-0", 40, 2, "dl"),
        ("GPU-1", None, 0, None),
        ("MIG-a", None, 0, None),
    ]


def samples_at(at, *per_unit):
    return [Sample(at, f"GPU-{i}", u, 0, 1 if c else 0, c) for i, (u, c) in enumerate(per_unit)]


def test_history_buckets_average_and_leave_gaps():
    now = datetime(2026, 11, 25, 10, 30, 20)
    samples = [
        *samples_at(now - timedelta(seconds=15), (80, "dl"), (0, None)),
        *samples_at(now - timedelta(seconds=5), (60, "dl"), (20, "cv")),
        *samples_at(now - timedelta(minutes=10, seconds=5), (10, None), (None, None)),
        *samples_at(now - timedelta(hours=2), (99, "dl"), (99, "dl")),  # outside the hour
    ]
    found = aggregate.history(samples, "hour", now)
    buckets = found["buckets"]
    assert len(buckets) == 60 and found["step_seconds"] == 60
    # the last bucket is the current minute, the buckets start on the minute
    assert buckets[-1]["start"] == "2026-11-25T10:30:00Z" and found["end"] == "2026-11-25T10:31:00Z"
    assert buckets[-1] == {"start": buckets[-1]["start"], "utilisation": 40.0, "allocated": 1.5}
    ten_ago = buckets[-11]
    assert ten_ago["start"] == "2026-11-25T10:20:00Z"
    assert (ten_ago["utilisation"], ten_ago["allocated"]) == (10.0, 0.0)
    assert buckets[-2]["utilisation"] is None and buckets[-2]["allocated"] is None
    # one course: its units only (allocated counts its holdings per sample time)
    mine = aggregate.history(samples, "hour", now, course="dl")["buckets"]
    assert (mine[-1]["utilisation"], mine[-1]["allocated"]) == (70.0, 1.0)
    assert (mine[-11]["utilisation"], mine[-11]["allocated"]) == (None, 0.0)


@pytest.mark.parametrize(
    "span, count, step, first",
    [
        ("hour", 60, 60, "2026-11-25T09:31:00Z"),
        ("day", 96, 900, "2026-11-24T10:45:00Z"),
        ("week", 84, 7200, "2026-11-18T12:00:00Z"),
    ],
)
def test_history_ranges(span, count, step, first):
    found = aggregate.history([], span, datetime(2026, 11, 25, 10, 30, 20))
    assert len(found["buckets"]) == count and found["step_seconds"] == step
    assert found["start"] == first
    assert all(b["utilisation"] is None for b in found["buckets"])


def test_student_panel():
    active = [alloc("ann", "dl", "GPU-0", NOW - timedelta(hours=1))]
    gpus = aggregate.gpu_map(UNITS, active, {"GPU-0": Reading(55, 1024, 40)})
    queue = [
        {"position": 1, "user": "zed", "course": "cv"},
        {"position": 2, "user": "ann", "course": "cv"},
    ]
    quotas = aggregate.quota_table(COURSES, active, [], NOW)
    panel = aggregate.student_panel(
        "ann", {"dl": "student", "cv": "student"}, COURSES, gpus, queue, quotas
    )
    dl, cv = panel
    (gpu,) = dl["gpus"]
    assert (gpu["index"], gpu["utilisation"], gpu["since"]) == ("0", 55, "2026-11-25T09:30:00Z")
    assert dl["quota"]["left"] == 9.0 and dl["queue_position"] is None
    assert cv["gpus"] == [] and (cv["queue_position"], cv["queue_length"]) == (2, 2)
    assert cv["quota"] is None  # not on cv's roster and no use there: no row

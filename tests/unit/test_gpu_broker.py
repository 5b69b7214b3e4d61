"""The broker against a real SQLite store: properties (hypothesis) and the queue."""

import asyncio
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from launcher.gpu.allocator import GpuPolicy
from launcher.gpu.broker import CourseRules, GpuBroker, GpuRefusal
from launcher.gpu.inventory import from_declared
from launcher.gpu.quota import Quota, period_bounds, use
from launcher.store import Store
from tests.asyncpoll import until

UNITS = from_declared([{"index": i, "uuid": f"GPU-{i}"} for i in range(4)])
POLICIES = {
    "ex": GpuPolicy(per_student=1),
    "sh": GpuPolicy(per_student=1, mode="shared", max_students_per_gpu=2, pool=("2", "3")),
    "two": GpuPolicy(per_student=2, max_gpus=2),
    "cpu": GpuPolicy(per_student=0),
}
QUOTAS = {"ex": Quota(2, "day")}
RULES = {c: CourseRules(p, QUOTAS.get(c, Quota())) for c, p in POLICIES.items()}
USERS = [f"u{i}" for i in range(4)]


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 22, 8, 0)

    def __call__(self):
        return self.now


def make_broker(store, clock, when_full="refuse", timeout=600):
    return GpuBroker(store, UNITS, when_full=when_full, queue_timeout=timeout, clock=clock)


def check_invariants(store: Store):
    active = store.active()
    by_unit: dict[str, list] = {}
    for a in active:
        by_unit.setdefault(a.unit_uuid, []).append(a)
    for unit, holders in by_unit.items():
        courses = {h.course for h in holders}
        assert len(courses) == 1, f"{unit} shared across courses {courses}"
        (course,) = courses
        assert len(holders) <= POLICIES[course].capacity, f"{unit} over capacity: {holders}"
    per_server = Counter((a.username, a.server) for a in active)
    for (user, server), n in per_server.items():
        course = next(a.course for a in active if a.username == user and a.server == server)
        assert n == POLICIES[course].per_student
    for course, policy in POLICIES.items():
        if policy.max_gpus is not None:
            assert sum(1 for a in active if a.course == course) <= policy.max_gpus


ops = st.one_of(
    st.tuples(st.just("acquire"), st.sampled_from(USERS), st.sampled_from(sorted(POLICIES))),
    st.tuples(st.just("release"), st.sampled_from(USERS), st.just("")),
    st.tuples(st.just("die"), st.sampled_from(USERS), st.just("")),
    st.tuples(st.just("restart"), st.just(""), st.just("")),
    st.tuples(st.just("time"), st.integers(30, 240), st.just("")),
)


EXAMPLES = [
    [("acquire", "u0", "ex"), ("time", 240, ""), ("release", "u0", ""), ("acquire", "u0", "ex")],
    [("acquire", "u0", "ex"), ("restart", "", ""), ("acquire", "u1", "ex"), ("die", "u0", "")],
]


async def run_steps(steps, url: str) -> None:
    """Apply the steps to a broker over the store at ``url``; check the invariants after each."""
    clock = Clock()
    broker = make_broker(Store(url), clock)
    for op, a, b in steps:
        if op == "acquire":
            # one server per user (server name = course, as named servers will be)
            if any(x.username == a for x in broker.store.active()):
                continue
            quota = QUOTAS.get(b)
            used = 0.0
            if quota:
                start, _ = period_bounds(quota.period, clock.now)
                used = use(quota, *broker.store.usage(a, b, start), clock.now).used
            try:
                grant = await broker.acquire(a, b, RULES[b], server=b, container=f"c-{a}")
            except GpuRefusal as exc:
                assert exc.message
            else:
                if POLICIES[b].per_student:
                    assert quota is None or used < quota.gpu_hours, "quota overrun"
                    assert len(grant.units) == POLICIES[b].per_student
        elif op == "release":  # the user stops whatever server they run
            for server in {x.server for x in broker.store.active() if x.username == a}:
                await broker.release(a, server=server)
        elif op == "die":  # its container died while the hub was down (hub start reconciles)
            broker.store.end_vanished(lambda x, dead=a: x.username != dead, clock.now)
        elif op == "restart":
            broker = make_broker(Store(url), clock)
        else:
            clock.now += timedelta(minutes=a)
        check_invariants(broker.store)
    for alloc in broker.store.active():
        await broker.release(alloc.username, alloc.server)
    assert broker.store.active() == []


def with_examples(test):
    for steps in EXAMPLES:
        test = example(steps)(test)
    return test


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=60))
@with_examples
def test_no_double_assignment_no_quota_overrun_nothing_left_held(steps):
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run_steps(steps, f"sqlite:///{Path(tmp) / 's.sqlite'}"))


def test_queue_is_fifo_shows_positions_and_wakes_on_release(tmp_path):
    async def run():
        clock = Clock()
        broker = make_broker(Store(f"sqlite:///{tmp_path / 's.sqlite'}"), clock, when_full="queue")
        for i in range(4):
            assert (await broker.acquire(f"u{i}", "ex", RULES["ex"])).units == [f"GPU-{i}"]
        seen: dict[str, list] = {"q1": [], "q2": []}
        first = asyncio.create_task(
            broker.acquire("q1", "ex", RULES["ex"], on_wait=lambda p, n: seen["q1"].append((p, n)))
        )
        await until(lambda: seen["q1"], what="q1 to queue")
        second = asyncio.create_task(
            broker.acquire("q2", "ex", RULES["ex"], on_wait=lambda p, n: seen["q2"].append((p, n)))
        )
        await until(lambda: seen["q2"], what="q2 to queue")
        assert broker.queue() == [("q1", "ex"), ("q2", "ex")]
        assert seen["q1"][0] == (1, 1) and seen["q2"][0] == (2, 2)
        await broker.release("u2")
        assert (await asyncio.wait_for(first, 5)).units == ["GPU-2"]
        await until(lambda: seen["q2"][-1] == (1, 1), what="q2 to move up")
        assert not second.done()
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        assert broker.queue() == []
        assert len(broker.store.active()) == 4

    asyncio.run(run())


def test_queue_timeout_gives_a_sentence(tmp_path):
    async def run():
        broker = make_broker(
            Store(f"sqlite:///{tmp_path / 's.sqlite'}"), Clock(), when_full="queue", timeout=0.2
        )
        for i in range(4):
            await broker.acquire(f"u{i}", "ex", RULES["ex"])
        with pytest.raises(GpuRefusal) as info:
            await broker.acquire("late", "ex", RULES["ex"])
        assert info.value.message.startswith("No GPU became free within 0 minutes.")
        assert "All 4 GPUs that ex may use are busy" in info.value.message
        assert broker.queue() == []

    asyncio.run(run())


def test_quota_refusal_then_cpu_fallback_and_admin_grant(tmp_path):
    async def run():
        clock = Clock()
        store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
        broker = make_broker(store, clock)
        await broker.acquire("ann", "ex", RULES["ex"])
        clock.now += timedelta(hours=2, minutes=1)
        await broker.release("ann")
        with pytest.raises(GpuRefusal) as info:
            await broker.acquire("ann", "ex", RULES["ex"])
        assert (
            info.value.status == 429
            and "You have used 2.0 of your 2 GPU-hours" in info.value.message
        )
        store.grant("ann", "ex", 1, by="admin", at=clock.now)
        assert (await broker.acquire("ann", "ex", RULES["ex"])).units == ["GPU-0"]
        await broker.release("ann")
        fallback = GpuBroker(store, UNITS, clock=clock)
        rules = CourseRules(GpuPolicy(per_student=1, cpu_fallback=True), Quota(1, "day"))
        grant = await fallback.acquire("ann", "ex", rules)
        assert grant.units == [] and grant.cpu_only and "CPU-only session" in grant.note

    asyncio.run(run())


def test_a_resumed_start_goes_ahead_of_later_requests(tmp_path):
    """A start a hub restart interrupted comes back with its first request's time: it is
    served before the students who asked after it, as the store's queue shows too."""

    async def run():
        clock = Clock()
        broker = make_broker(Store(f"sqlite:///{tmp_path / 's.sqlite'}"), clock, when_full="queue")
        for i in range(4):
            await broker.acquire(f"u{i}", "ex", RULES["ex"])
        later = asyncio.create_task(broker.acquire("later", "ex", RULES["ex"]))
        await until(lambda: broker.queue(), what="the later request to queue")
        asked_before = clock.now - timedelta(minutes=3)
        resumed = asyncio.create_task(
            broker.acquire("resumed", "ex", RULES["ex"], since=asked_before)
        )
        await until(lambda: len(broker.queue()) == 2, what="the resumed start to queue")
        assert broker.queue() == [("resumed", "ex"), ("later", "ex")]
        assert [r["username"] for r in broker.store.queued()] == ["resumed", "later"]
        await broker.release("u1")
        assert (await asyncio.wait_for(resumed, 5)).units == ["GPU-1"]
        assert not later.done()
        later.cancel()
        with pytest.raises(asyncio.CancelledError):
            await later

    asyncio.run(run())

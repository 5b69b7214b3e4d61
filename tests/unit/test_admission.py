"""The start line (launcher.hub.admission): bounded, FIFO by request time, positions and
estimates for the waiting, no slot lost when a waiter leaves or a start fails."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launcher.hub.admission import TYPICAL_START_S, StartGate, default_slots
from tests.asyncpoll import until


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_default_is_one_start_per_core_and_one_more():
    assert default_slots(2) == 3
    assert default_slots(16) == 17
    assert default_slots(0) == 2
    assert default_slots() >= 2


def test_no_gate_without_a_slot():
    with pytest.raises(ValueError):
        StartGate(0)


def test_starts_beyond_the_slots_wait_in_order_and_see_their_number():
    async def run():
        gate = StartGate(2, clock=Clock())
        first, second = await gate.enter(1.0), await gate.enter(2.0)
        assert gate.busy == 2
        seen: dict[str, list] = {"c": [], "d": []}
        c = asyncio.create_task(gate.enter(3.0, lambda p, n, s: seen["c"].append((p, n, s))))
        await until(lambda: seen["c"], what="c to wait")
        d = asyncio.create_task(gate.enter(4.0, lambda p, n, s: seen["d"].append((p, n, s))))
        await until(lambda: seen["d"], what="d to wait")
        assert seen["c"][0] == (1, 1, TYPICAL_START_S)
        assert seen["d"][0] == (2, 2, TYPICAL_START_S)  # two slots: both next in one round
        gate.leave(first)
        slot_c = await asyncio.wait_for(c, 5)
        assert not d.done() and gate.busy == 2
        await until(lambda: seen["d"][-1][:2] == (1, 1), what="d to move up")
        gate.leave(second)
        slot_d = await asyncio.wait_for(d, 5)
        gate.leave(slot_c)
        gate.leave(slot_d)
        gate.leave(slot_d)  # twice: counted once
        assert gate.busy == 0 and gate.waiting == 0

    asyncio.run(run())


def test_an_earlier_request_goes_ahead_of_later_ones():
    """A start resumed after a hub restart comes back with its first request's time."""

    async def run():
        gate = StartGate(1, clock=Clock())
        held = await gate.enter(10.0)
        order: list[str] = []

        async def start(name, since):
            slot = await gate.enter(since)
            order.append(name)
            gate.leave(slot)

        later = asyncio.create_task(start("later", 20.0))
        await until(lambda: gate.waiting == 1, what="later to wait")
        resumed = asyncio.create_task(start("resumed", 5.0))
        await until(lambda: gate.waiting == 2, what="resumed to wait")
        gate.leave(held)
        await asyncio.wait_for(asyncio.gather(later, resumed), 5)
        assert order == ["resumed", "later"]

    asyncio.run(run())


def test_a_waiter_that_leaves_frees_its_place_and_keeps_no_slot():
    async def run():
        gate = StartGate(1, clock=Clock())
        held = await gate.enter(1.0)
        gone = asyncio.create_task(gate.enter(2.0))
        await until(lambda: gate.waiting == 1, what="a waiter")
        seen = []
        stays = asyncio.create_task(gate.enter(3.0, lambda p, n, s: seen.append((p, n))))
        await until(lambda: seen, what="the second waiter")
        assert seen[-1] == (2, 2)
        gone.cancel()  # the student's start was given up (the hub stops it)
        with pytest.raises(asyncio.CancelledError):
            await gone
        await until(lambda: seen[-1] == (1, 1), what="the second waiter to move up")
        gate.leave(held)
        gate.leave(await asyncio.wait_for(stays, 5))
        assert gate.busy == 0 and gate.waiting == 0

    asyncio.run(run())


def test_the_estimate_follows_the_measured_starts_and_ignores_failures():
    async def run():
        clock = Clock()
        gate = StartGate(2, clock=clock)
        for _ in range(30):
            slot = await gate.enter(clock.now)
            clock.now += 10
            gate.leave(slot)
        assert gate.typical_seconds == pytest.approx(10, abs=0.1)
        assert gate.estimate(1) == gate.estimate(2) == pytest.approx(10, abs=0.1)
        assert gate.estimate(3) == pytest.approx(20, abs=0.2)
        slot = await gate.enter(clock.now)
        clock.now += 500  # a failed start (the engine hung): not what a start takes
        gate.leave(slot, measured=False)
        assert gate.typical_seconds == pytest.approx(10, abs=0.1)

    asyncio.run(run())


@settings(max_examples=60, deadline=None)
@given(
    slots=st.integers(1, 4),
    plan=st.lists(st.tuples(st.floats(0, 100), st.booleans()), min_size=1, max_size=12),
)
def test_never_more_than_the_slots_and_everyone_gets_in(slots, plan):
    """Any mix of starts, some given up while waiting: at most ``slots`` run at once, and
    every start that did not give up is admitted."""

    async def run():
        gate = StartGate(slots)
        peak = [0]
        admitted = []

        async def start(i, since):
            slot = await gate.enter(since)
            try:  # as the spawner does: an admitted start always hands its slot back
                peak[0] = max(peak[0], gate.busy)
                admitted.append(i)
                await asyncio.sleep(0)
            finally:
                gate.leave(slot)

        tasks = [asyncio.create_task(start(i, since)) for i, (since, _) in enumerate(plan)]
        await asyncio.sleep(0)
        for task, (_, gives_up) in zip(tasks, plan, strict=True):
            if gives_up and not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert peak[0] <= slots
        given_up = {i for i, t in enumerate(tasks) if t.cancelled()}
        assert set(range(len(plan))) - given_up <= set(admitted)
        assert gate.busy == 0 and gate.waiting == 0

    asyncio.run(run())

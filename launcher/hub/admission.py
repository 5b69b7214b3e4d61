"""Admission control for container starts: at most ``slots`` starts at once, the rest in line.

When a lab begins, the whole class asks for its servers within a minute. Every start costs
CPU (the engine creates the container, JupyterLab imports and starts), and forty of them at
once share two cores: each takes forty times longer and everyone is ready together, late.
Admitted a few at a time they cost less each (no contention) and finish one after another:
the first students work within seconds, and the last one no later than before.

One gate per hub process, shared by every spawner (like the GPU broker). A start enters
after its GPU grant and leaves when JupyterLab answers or the start fails. The line is FIFO
by the time the student asked (a start resumed after a hub restart keeps its place), each
waiter is told its number and an estimate from the recent starts, and a waiter never fails
because it waited: the line always moves, since every admitted start is bounded in time.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# a first guess of one start's seconds, replaced by what the hub measures
TYPICAL_START_S = 4.0


def default_slots(cores: int | None = None) -> int:
    """Starts admitted at once when the site file does not say: one per core of this host,
    and one more.

    A start is mostly JupyterLab importing and starting in its container: one busy core for
    about a second, after a short wait on the engine (creating the container). One start per
    core keeps the cores busy without making starts share them, and the one more fills a core
    while another start waits on the engine. Measured with tests/bench/bench_spawn.py, 40
    students on 2 cores: 1 slot p50 35.9 s / last 68.3 s, 2 slots 21.3 / 37.2 s, 3 slots
    17.8-20.2 / 32.5-34.6 s, 4 slots 24.2 / 40.5 s.
    """
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
    return max(1, cores) + 1


@dataclass(eq=False)
class _Waiter:
    since: Any  # when the student asked (a datetime, or any values that order): the order
    admitted: asyncio.Future
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    def __lt__(self, other: _Waiter) -> bool:
        return self.since < other.since


@dataclass(eq=False)
class Slot:
    """An admitted start; hand it back with :meth:`StartGate.leave` (once)."""

    entered: float
    done: bool = False


class StartGate:
    """At most ``slots`` container starts at once; FIFO by the time each was asked for."""

    def __init__(self, slots: int, clock: Callable[[], float] | None = None):
        if slots < 1:
            raise ValueError("a start gate needs at least one slot")
        self.slots = slots
        self._clock = clock
        self._busy = 0
        self._line: list[_Waiter] = []
        self._typical = TYPICAL_START_S

    def __deepcopy__(self, memo) -> StartGate:
        # one gate per hub: traitlets copies configuration values into each spawner
        return self

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    # --- what the dashboard and the progress show ---

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return len(self._line)

    @property
    def typical_seconds(self) -> float:
        """One start's seconds, as the recent starts took (a moving average)."""
        return self._typical

    def estimate(self, position: int) -> float:
        """Seconds until the start at ``position`` (1: next) is admitted, from the recent
        starts: the ones ahead go ``slots`` at a time."""
        return math.ceil(position / self.slots) * self._typical

    # --- entering and leaving ---

    async def enter(
        self, since: Any, on_wait: Callable[[int, int, float], None] | None = None
    ) -> Slot:
        """Wait for a slot. ``since``: when the student asked (their place in line: a
        datetime, as the store records it, or any values that order);
        ``on_wait(position, length, seconds)`` is called at first and whenever the line
        moves. Cancelling the wait leaves the line."""
        if self._busy < self.slots and not self._line:
            return self._admit()
        waiter = _Waiter(since, asyncio.get_running_loop().create_future())
        bisect.insort(self._line, waiter)
        self._moved()
        try:
            while not waiter.admitted.done():
                if on_wait:
                    position = self._line.index(waiter) + 1
                    on_wait(position, len(self._line), self.estimate(position))
                waiter.moved.clear()
                moved = asyncio.ensure_future(waiter.moved.wait())
                await asyncio.wait([waiter.admitted, moved], return_when=asyncio.FIRST_COMPLETED)
                moved.cancel()
            return waiter.admitted.result()
        except BaseException:
            if waiter.admitted.done() and not waiter.admitted.cancelled():
                self.leave(waiter.admitted.result(), measured=False)  # admitted as we left
            else:
                waiter.admitted.cancel()
            raise
        finally:
            if waiter in self._line:
                self._line.remove(waiter)
                self._moved()

    def leave(self, slot: Slot, measured: bool = True) -> None:
        """The start is over (JupyterLab answered, or the start failed): the next in line
        enters. ``measured``: its time counts into the estimate (a failure's does not)."""
        if slot.done:
            return
        slot.done = True
        self._busy -= 1
        if measured:
            seconds = max(0.0, self._now() - slot.entered)
            self._typical = 0.8 * self._typical + 0.2 * seconds
        while self._line and self._busy < self.slots:
            waiter = self._line.pop(0)
            if not waiter.admitted.done():
                waiter.admitted.set_result(self._admit())
        self._moved()

    def _admit(self) -> Slot:
        self._busy += 1
        return Slot(self._now())

    def _moved(self) -> None:
        for waiter in self._line:
            waiter.moved.set()

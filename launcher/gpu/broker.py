"""The GPU broker: admits a spawn (quota, pool, course cap), hands out units, queues, releases.

One broker per hub process, made by the hub's configuration and handed to every spawner.
It keeps no copy of the catalog: each start brings its course's :class:`CourseRules` (read
once from the catalog by the spawner), so a changed course takes effect at its next start.
Every decision is taken under one asyncio lock and written to the store before it is
returned, so a hub restart neither loses nor double-assigns a unit. When every eligible unit
is busy the spawn waits in a FIFO queue (its position shows in the spawn progress) and is
woken by a release, never by polling; after ``queue_timeout`` seconds it is refused with a
sentence. The sentences are in the language of the ``reader`` each start brings (English by
default), times in its site's zone.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Literal

from launcher import localtime
from launcher.gpu.allocator import GpuPolicy, Holding, Shortage, choose
from launcher.gpu.inventory import Unit
from launcher.gpu.quota import Quota, period_bounds, quota_refusal, use
from launcher.i18n import ENGLISH, Reader, Translate
from launcher.settings import Course
from launcher.store import Allocation, Store, off_loop, utcnow


def _holdings(active: list[Allocation]) -> list[Holding]:
    return [Holding(a.unit_uuid, a.username, a.course, a.server) for a in active]


class GpuRefusal(Exception):
    """A spawn that cannot get its GPU; ``message`` is the sentence for the student."""

    def __init__(self, message: str, status: int = 429, reason: str = "gpu"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CourseRules:
    """What the broker needs to know of a course: its GPU policy, its quota, whom to ask."""

    policy: GpuPolicy = GpuPolicy()
    quota: Quota = Quota()
    instructors: tuple[str, ...] = ()

    @classmethod
    def of(cls, course: Course) -> CourseRules:
        return cls(GpuPolicy.of(course.gpu), Quota.of(course.quota), tuple(course.instructors))

    def contact(self, _: Translate = str) -> str:
        """Whom a student asks, in a sentence: ``your instructor (ann, bob)``."""
        if not self.instructors:
            return _("your instructor")
        return _("your instructor ({names})").format(names=", ".join(self.instructors))


@dataclass(frozen=True)
class Grant:
    units: list[str]
    cpu_only: bool = False
    note: str = ""


@dataclass(eq=False)
class _Waiter:
    username: str
    course: str
    server: str
    container: str
    rules: CourseRules
    units: list[Unit]  # those it may get (the image runs on them)
    future: asyncio.Future
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    entry: int = 0  # its row in the store's copy of the queue (seen by the dashboard)
    since: datetime | None = None  # when the student asked: its place in the queue


class GpuBroker:
    def __init__(
        self,
        store: Store,
        units: list[Unit],
        *,
        when_full: Literal["queue", "refuse"] = "queue",
        queue_timeout: float = 600,
        clock: Callable = utcnow,
        zone: tzinfo | str = localtime.DEFAULT_ZONE,
    ):
        self.store = store
        self.units = units
        self.when_full = when_full
        self.queue_timeout = queue_timeout
        self.clock = clock
        self.zone = zone  # the site's time zone (hub.timezone): where quota periods start
        self._lock = asyncio.Lock()
        self._queue: list[_Waiter] = []

    def __deepcopy__(self, memo) -> GpuBroker:
        # one broker per hub: traitlets copies configuration values into each spawner, and a
        # copy would be a second broker with its own lock and queue
        return self

    # --- reading ---

    async def _db(self, call, *args):
        """A store call, off the event loop (the hub's other requests go on while the
        database answers; one that does not answer fails the call in seconds)."""
        return await off_loop(call, *args)

    async def holdings(self) -> list[Holding]:
        return _holdings(await self._db(self.store.active))

    def queue(self) -> list[tuple[str, str]]:
        return [(w.username, w.course) for w in self._queue]

    # --- admitting and acquiring ---

    async def admit(
        self, username: str, course: str, rules: CourseRules, reader: Reader = ENGLISH
    ) -> Grant | None:
        """Before anything is downloaded or held: raises GpuRefusal (a sentence for
        ``reader``) when the student's quota is spent; returns a CPU-only grant where the
        course falls back to the CPU instead; None when the start may go on to
        :meth:`acquire`."""
        if rules.policy.per_student <= 0:
            return None
        refusal = await self._quota_refusal(username, course, rules, reader)
        if refusal:
            return self._fallback_or_raise(
                rules.policy, refusal, status=429, reason="quota", _=reader._
            )
        return None

    async def acquire(
        self,
        username: str,
        course: str,
        rules: CourseRules,
        server: str = "",
        container: str = "",
        on_wait: Callable[[int, int], None] | None = None,
        allowed: Callable[[Unit], bool] | None = None,
        since: datetime | None = None,
        reader: Reader = ENGLISH,
    ) -> Grant:
        """Units for one server; may wait in the queue. Raises GpuRefusal with a sentence.
        ``allowed``: only units it says yes to (those the course image runs on); ``since``:
        when the student asked, their place in the queue (a start that a hub restart
        interrupted comes back with its first request's time and goes ahead of later ones);
        ``reader``: who reads the refusals and notes (their language, the site's zone)."""
        policy = rules.policy
        _ = reader._
        if policy.per_student <= 0:
            return Grant([])
        units = [u for u in self.units if allowed is None or allowed(u)]
        async with self._lock:
            active = await self._db(self.store.active)
            mine = [
                a
                for a in active
                if a.username == username and a.server == server and a.course == course
            ]
            if mine:  # already holds its units (a retried or re-attached spawn)
                return Grant([a.unit_uuid for a in mine])
            refusal = await self._quota_refusal(username, course, rules, reader)
            if refusal:
                return self._fallback_or_raise(policy, refusal, status=429, reason="quota", _=_)
            result = choose(units, _holdings(active), policy, course)
            if isinstance(result, list):
                await self._db(
                    self.store.add, result, username, course, server, container, self.clock()
                )
                return Grant(result)
            sentence = self._shortage_sentence(course, rules, result, _)
            if policy.cpu_fallback or self.when_full == "refuse" or result.reason == "no_units":
                return self._fallback_or_raise(policy, sentence, status=503, reason="gpu_busy", _=_)
            waiter = _Waiter(
                username,
                course,
                server,
                container,
                rules,
                units,
                asyncio.get_running_loop().create_future(),
                since=since or self.clock(),
            )
            waiter.entry = await self._db(
                self.store.enqueue, username, course, server, waiter.since
            )
            bisect.insort(self._queue, waiter, key=lambda w: w.since)
            self._notify_moved()  # the others' places (and the queue's length) changed
        return await self._wait(waiter, on_wait, sentence, _)

    async def _wait(self, waiter: _Waiter, on_wait, sentence: str, _: Translate = str) -> Grant:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.queue_timeout
        try:
            while not waiter.future.done():
                if on_wait:
                    on_wait(self._position_of(waiter), len(self._queue))
                waiter.moved.clear()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise GpuRefusal(
                        _("No GPU became free within {minutes} minutes. {reason}").format(
                            minutes=f"{self.queue_timeout / 60:.0f}", reason=sentence
                        ),
                        status=503,
                        reason="queue_timeout",
                    )
                moved = asyncio.ensure_future(waiter.moved.wait())
                await asyncio.wait(
                    [waiter.future, moved], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                moved.cancel()
            return waiter.future.result()
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                # granted just as we gave up: hand the units back
                await self.release(waiter.username, waiter.server, "abandoned")
            else:
                waiter.future.cancel()
            raise
        finally:
            if waiter in self._queue:
                await self._leave_queue(waiter)
                self._notify_moved()

    def _position_of(self, waiter: _Waiter) -> int:
        return self._queue.index(waiter) + 1 if waiter in self._queue else 0

    async def _leave_queue(self, waiter: _Waiter) -> None:
        self._queue.remove(waiter)
        await self._db(self.store.dequeue, waiter.entry)

    def _notify_moved(self) -> None:
        for w in self._queue:
            w.moved.set()

    async def _dispatch(self) -> None:
        """Serve queued spawns in FIFO order, each that can be served now."""
        if not self._queue:
            return
        async with self._lock:
            holdings = await self.holdings()
            for waiter in list(self._queue):
                if waiter.future.done():
                    continue
                result = choose(waiter.units, holdings, waiter.rules.policy, waiter.course)
                if isinstance(result, list):
                    await self._db(
                        self.store.add,
                        result,
                        waiter.username,
                        waiter.course,
                        waiter.server,
                        waiter.container,
                        self.clock(),
                    )
                    holdings += [
                        Holding(u, waiter.username, waiter.course, waiter.server) for u in result
                    ]
                    await self._leave_queue(waiter)
                    waiter.future.set_result(Grant(result))
            self._notify_moved()

    # --- the engine's word (swarm mode) ---

    async def settle(
        self,
        username: str,
        server: str,
        assigned: list[str],
        allowed: set[str] | None = None,
        reader: Reader = ENGLISH,
    ) -> list[str]:
        """Make the ledger say which GPUs the engine gave a server (in a swarm the engine
        picks among its node's free GPUs, the ledger having chosen how many and which node):
        each unit the ledger chose and the engine did not give is swapped with the one the
        engine gave, also for the start the ledger had given that one to (a start on the
        same node not settled yet), so that no unit is ever held twice. Returns
        ``assigned``. Raises GpuRefusal (nothing changed) when the engine gave a unit the
        server may not have (not in ``allowed``: another pool's, one the image does not run
        on) or one the ledger gives to several holders (a shared-GPU course's, which the
        engine does not know of)."""
        async with self._lock:
            active = await self._db(self.store.active)
            mine = [a for a in active if a.username == username and a.server == server]
            holders = {
                u: [a for a in active if a.unit_uuid == u and a not in mine] for u in assigned
            }
            if any(u not in allowed for u in assigned if allowed is not None) or any(
                len(found) > 1 for found in holders.values()
            ):
                raise GpuRefusal(
                    reader._(
                        "The GPU server gave your session a GPU it may not have ({units}); "
                        "your files are safe. Please tell the admin: that server's GPUs must "
                        "belong to the same courses."
                    ).format(units=", ".join(assigned)),
                    status=503,
                    reason="gpu_mismatch",
                )
            given_up = [a for a in mine if a.unit_uuid not in assigned]
            taken = [u for u in assigned if u not in {a.unit_uuid for a in mine}]
            moves: dict[int, str] = {}
            for row, unit in zip(given_up, taken, strict=False):
                moves[row.id] = unit
                for other in active:
                    if other.unit_uuid == unit and other not in mine:
                        moves[other.id] = row.unit_uuid
            if moves:
                await self._db(self.store.swap_units, moves)
        return assigned

    # --- releasing ---

    async def release(self, username: str, server: str = "", reason: str = "stopped") -> int:
        """End ``username``'s allocations for ``server``; wake the queue. Returns units freed.

        The queue is served even when nothing was left to end here: another process (the
        culler) may have ended the allocation in the store just before it stopped the server.
        """
        freed = await self._db(self.store.end_server, username, server, reason, self.clock())
        await self._dispatch()
        return freed

    async def reconcile(self, alive: Callable[[Allocation], bool]) -> list[Allocation]:
        """End every allocation ``alive`` says has no container any more, and serve the
        queue with what that frees (the hub's periodic reconciliation)."""
        async with self._lock:
            gone = await self._db(self.store.end_vanished, alive, self.clock())
        if gone:
            await self._dispatch()
        return gone

    # --- sentences ---

    async def _quota_refusal(
        self, username: str, course: str, rules: CourseRules, reader: Reader = ENGLISH
    ) -> str | None:
        quota = rules.quota
        if quota.gpu_hours is None:
            return None
        now = self.clock()
        start, _ = period_bounds(quota.period, now, self.zone)
        usage = await self._db(self.store.usage, username, course, start)
        spent = use(quota, *usage, now, self.zone)
        contact = rules.contact(reader._)
        reader = replace(reader, zone=self.zone)  # the period that admits is the one it reads
        return quota_refusal(quota, spent.used, spent.granted, now, course, contact, reader)

    def _shortage_sentence(
        self, course: str, rules: CourseRules, shortage: Shortage, _: Translate = str
    ) -> str:
        contact, policy = rules.contact(_), rules.policy
        if shortage.reason == "no_units" and policy.mig_profile:
            return _(
                "This server has no MIG {profile} instances that {course} may use. "
                "Please tell {contact}: the course's GPU settings need fixing."
            ).format(profile=policy.mig_profile, course=course, contact=contact)
        if shortage.reason == "no_units":
            return _(
                "This server has no GPUs that {course} may use. "
                "Please tell {contact}: the course's GPU settings need fixing."
            ).format(course=course, contact=contact)
        if shortage.reason == "course_cap":
            return _(
                "{course} may use at most {count} GPUs at once and all of them are in use. "
                "Try again when a classmate stops their server, or ask {contact}."
            ).format(course=course, count=shortage.eligible, contact=contact)
        return _(
            "All {count} GPUs that {course} may use are busy. "
            "Try again in a few minutes, or ask {contact}."
        ).format(count=shortage.eligible, course=course, contact=contact)

    def _fallback_or_raise(
        self, policy: GpuPolicy, sentence: str, status: int, reason: str, _: Translate = str
    ):
        if policy.cpu_fallback:
            note = _("{reason} You get a CPU-only session for now.").format(reason=sentence)
            return Grant([], cpu_only=True, note=note)
        raise GpuRefusal(sentence, status=status, reason=reason)

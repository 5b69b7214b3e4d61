"""Which GPU units a student may get, given who holds what (pure functions, no I/O).

Policies per course:

* ``exclusive`` (default): a unit has at most one holder;
* ``shared``: at most ``max_students_per_gpu`` holders per unit (time-slicing: no memory
  isolation between them);
* ``mig_profile``: the course's units are the MIG instances of that profile, else whole GPUs
  that are not in MIG mode;
* ``pool``: the course may only use the listed GPUs (indices or UUIDs);
* ``max_gpus``: at most that many units in use by the course at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from launcher.gpu.inventory import Unit


@dataclass(frozen=True)
class GpuPolicy:
    per_student: int = 0
    mode: Literal["exclusive", "shared"] = "exclusive"
    max_students_per_gpu: int = 1
    mig_profile: str = ""
    pool: tuple[str, ...] = ()
    max_gpus: int | None = None
    cpu_fallback: bool = False

    @classmethod
    def of(cls, gpu) -> GpuPolicy:
        """The policy of a course's ``gpu`` settings (:class:`launcher.settings.CourseGpu`)."""
        return cls(
            per_student=gpu.per_student,
            mode=gpu.mode,
            max_students_per_gpu=gpu.max_students_per_gpu,
            mig_profile=gpu.mig_profile,
            pool=tuple(gpu.pool),
            max_gpus=gpu.max_gpus,
            cpu_fallback=gpu.cpu_fallback,
        )

    @property
    def capacity(self) -> int:
        """Holders one unit can take under this policy."""
        return self.max_students_per_gpu if self.mode == "shared" else 1


@dataclass(frozen=True)
class Holding:
    unit_uuid: str
    username: str
    course: str
    server: str = ""


@dataclass(frozen=True)
class Shortage:
    """Why no unit can be given now: 'pool' (all eligible units busy) or 'course_cap'."""

    reason: Literal["pool", "course_cap", "no_units"]
    eligible: int
    in_use: int


def eligible_units(units: list[Unit], policy: GpuPolicy) -> list[Unit]:
    """The units a course may use at all."""
    chosen = [u for u in units if u.mig_profile == policy.mig_profile]
    if policy.pool:
        chosen = [u for u in chosen if any(u.matches(str(sel)) for sel in policy.pool)]
    return chosen


def choose(
    units: list[Unit], holdings: list[Holding], policy: GpuPolicy, course: str
) -> list[str] | Shortage:
    """Pick ``policy.per_student`` units for one more holder in ``course``, or say why not.

    A unit held by another course is taken (students share a GPU only with classmates of a
    shared course). Within the course a unit takes ``policy.capacity`` holders. The least
    loaded units are preferred, then the lowest index, so the result is deterministic.
    """
    need = policy.per_student
    if need <= 0:
        return []
    pool = eligible_units(units, policy)
    if not pool:
        return Shortage("no_units", 0, 0)
    course_in_use = sum(1 for h in holdings if h.course == course)
    if policy.max_gpus is not None and course_in_use + need > policy.max_gpus:
        return Shortage("course_cap", policy.max_gpus, course_in_use)
    other_courses = {h.unit_uuid for h in holdings if h.course != course}
    load: dict[str, int] = {}
    for h in holdings:
        if h.course == course:
            load[h.unit_uuid] = load.get(h.unit_uuid, 0) + 1
    free = [
        u for u in pool if u.uuid not in other_courses and load.get(u.uuid, 0) < policy.capacity
    ]
    if len(free) < need:
        busy = sum(1 for u in pool if u.uuid in other_courses or load.get(u.uuid, 0))
        return Shortage("pool", len(pool), busy)
    free.sort(key=lambda u: (load.get(u.uuid, 0), u.sort_key))
    nodes = list(dict.fromkeys(u.node for u in free))
    if len(nodes) > 1:  # a swarm: one server's GPUs are all on one node
        for node in nodes:
            on_node = [u for u in free if u.node == node]
            if len(on_node) >= need:
                return [u.uuid for u in on_node[:need]]
        busy = sum(1 for u in pool if u.uuid in other_courses or load.get(u.uuid, 0))
        return Shortage("pool", len(pool), busy)
    return [u.uuid for u in free[:need]]

"""GPU-hour quotas per student, per course, per period (pure functions).

:func:`use` is the one computation of how much of a quota is used: the broker admits a start
with it, and the dashboard's quota table, its ``/metrics`` and ``launcher gpus`` show it, so
what a student is shown is what admits them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from launcher.store import Allocation

Period = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Quota:
    gpu_hours: float | None = None  # None: unlimited
    period: Period = "week"

    @classmethod
    def of(cls, settings) -> Quota:
        """From a course's ``quota`` settings (gpu_hours, period)."""
        return cls(settings.gpu_hours, settings.period)


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The current period [start, end) in UTC: days start at 00:00, weeks on Monday."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def overlap_hours(start: datetime, end: datetime | None, since: datetime, until: datetime) -> float:
    """Hours of [start, end) (an open ``end``: still running) that fall within [since, until)."""
    first, last = max(start, since), min(end or until, until)
    return max((last - first).total_seconds(), 0.0) / 3600


@dataclass(frozen=True)
class QuotaUse:
    """One student's use of one course's quota in the current period."""

    quota: Quota
    used: float  # GPU-hours so far this period (one hour per GPU unit held)
    granted: float  # extra (or, negative, fewer) hours admins granted this period
    sessions: int  # servers started or still running this period
    active: bool  # a server holds a GPU now
    resets: datetime  # when the next period starts

    @property
    def limit(self) -> float | None:
        """The hours allowed this period (None: unlimited)."""
        return None if self.quota.gpu_hours is None else self.quota.gpu_hours + self.granted

    @property
    def left(self) -> float | None:
        return None if self.limit is None else max(self.limit - self.used, 0.0)


def use(
    quota: Quota, allocations: Iterable[Allocation], grants: Iterable[Mapping], now: datetime
) -> QuotaUse:
    """The use of ``quota`` at ``now``, from one student's ``allocations`` and ``grants`` in one
    course (rows from any time: only the current period counts)."""
    start, end = period_bounds(quota.period, now)
    current = [a for a in allocations if a.ended_at is None or a.ended_at > start]
    return QuotaUse(
        quota,
        used=sum((overlap_hours(a.started_at, a.ended_at, start, now) for a in current), 0.0),
        granted=sum((g["extra_hours"] for g in grants if g["granted_at"] >= start), 0.0),
        sessions=len({(a.server, a.started_at) for a in current}),
        active=any(a.ended_at is None for a in current),
        resets=end,
    )


#: GPU-hours one adjustment of a quota may add or take
MAX_GRANT = 1000


def grant_problem(hours: float) -> str | None:
    """Why ``hours`` is no quota adjustment (zero, not a number, infinite, too large); None: it
    is one. The dashboard's form and `launcher gpus grant` ask this one rule."""
    if not 0 < abs(hours) <= MAX_GRANT:  # NaN compares false, so it lands here too
        return (
            "Give the GPU-hours to add as a number such as 5 (or -2 to take some back), "
            f"at most {MAX_GRANT}."
        )
    return None


def quota_refusal(
    quota: Quota, used: float, granted: float, now: datetime, course: str, contact: str
) -> str | None:
    """The sentence a student reads when their quota is spent (None: quota left)."""
    if quota.gpu_hours is None:
        return None
    allowed = quota.gpu_hours + granted
    if used < allowed:
        return None
    _, reset = period_bounds(quota.period, now)
    hours_left = (reset - now).total_seconds() / 3600
    return (
        f"You have used {used:.1f} of your {allowed:g} GPU-hours for {course} this "
        f"{quota.period}. Your quota resets on {reset:%a %Y-%m-%d %H:%M} UTC "
        f"(in {hours_left:.0f} h). If you need more now, ask {contact}."
    )

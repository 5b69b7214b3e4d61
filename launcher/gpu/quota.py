"""GPU-hour quotas per student, per course, per period (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Period = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Quota:
    gpu_hours: float | None = None  # None: unlimited
    period: Period = "week"


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

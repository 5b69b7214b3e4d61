"""GPU-hour quotas per student, per course, per period (pure functions).

:func:`use` is the one computation of how much of a quota is used: the broker admits a start
with it, and the dashboard's quota table, its ``/metrics`` and ``launcher gpus`` show it, so
what a student is shown is what admits them.

Periods follow the site's time zone (``hub.timezone``): a day starts at 00:00 there, a week on
Monday 00:00, a month on the 1st 00:00 (a weekly quota in Asia/Shanghai resets on Sunday
16:00 UTC). Their bounds are naive UTC datetimes, as the store keeps them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from launcher import localtime
from launcher.i18n import ENGLISH, N_, Reader
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


def period_bounds(
    period: Period, now: datetime, zone: tzinfo | str = localtime.DEFAULT_ZONE
) -> tuple[datetime, datetime]:
    """The period [start, end) that holds ``now`` (naive UTC), in naive UTC: a day starts at
    00:00 in ``zone`` (the site's time zone), a week on Monday 00:00, a month on the 1st 00:00.
    A period across a daylight-saving change is an hour shorter or longer."""
    place = localtime.zone(zone) if isinstance(zone, str) else zone
    today = localtime.local(now, place).date()
    if period == "day":
        start, end = today, today + timedelta(days=1)
    elif period == "week":
        start = today - timedelta(days=today.weekday())
        end = start + timedelta(days=7)
    else:
        start = today.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return _midnight(start, place), _midnight(end, place)


def _midnight(day: date, place: tzinfo) -> datetime:
    """The first moment of ``day`` in ``place``, as naive UTC. Where the clocks skip midnight
    (a daylight-saving change at 00:00), the day starts when they jump: zoneinfo reads the
    missing 00:00 (fold 0) with the offset before the change, which is that moment."""
    return localtime.utc(datetime.combine(day, time(0), tzinfo=place))


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
    quota: Quota,
    allocations: Iterable[Allocation],
    grants: Iterable[Mapping],
    now: datetime,
    zone: tzinfo | str = localtime.DEFAULT_ZONE,
) -> QuotaUse:
    """The use of ``quota`` at ``now``, from one student's ``allocations`` and ``grants`` in one
    course (rows from any time: only the current period, in the site's ``zone``, counts)."""
    start, end = period_bounds(quota.period, now, zone)
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


#: "this week": the period of a quota in a sentence
_THIS_PERIOD = {"day": N_("this day"), "week": N_("this week"), "month": N_("this month")}
_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def day_and_time(at: datetime, reader: Reader = ENGLISH) -> str:
    """``Mon 2026-12-07 00:00 CST`` (``周一 2026-12-07 00:00 CST``): ``at`` (naive UTC) in
    the reader's language and time zone."""
    weekday = reader._(_WEEKDAYS[localtime.local(at, reader.zone).weekday()])
    return f"{weekday} {reader.when(at)}"


def quota_refusal(
    quota: Quota,
    used: float,
    granted: float,
    now: datetime,
    course: str,
    contact: str,
    reader: Reader = ENGLISH,
) -> str | None:
    """The sentence a student reads when their quota is spent (None: quota left), in the
    reader's language, the reset in the site's time zone; ``contact``: whom to ask, in it."""
    if quota.gpu_hours is None:
        return None
    allowed = quota.gpu_hours + granted
    if used < allowed:
        return None
    reset = period_bounds(quota.period, now, reader.zone)[1]
    hours_left = (reset - now).total_seconds() / 3600
    _ = reader._
    return _(
        "You have used {used} of your {allowed} GPU-hours for {course} {period}. Your quota "
        "resets on {weekday} {when} (in {hours} h). If you need more now, ask {contact}."
    ).format(
        used=f"{used:.1f}",
        allowed=f"{allowed:g}",
        course=course,
        period=_(_THIS_PERIOD.get(quota.period, quota.period)),
        weekday=_(_WEEKDAYS[localtime.local(reset, reader.zone).weekday()]),
        when=reader.when(reset),
        hours=f"{hours_left:.0f}",
        contact=contact,
    )

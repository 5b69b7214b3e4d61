from datetime import datetime, timedelta

import pytest

from launcher import localtime
from launcher.gpu.quota import Quota, period_bounds, quota_refusal, use
from launcher.i18n import Reader
from launcher.store import Allocation


@pytest.mark.parametrize(
    "period, now, start, end",
    [
        ("day", datetime(2026, 11, 22, 15, 30), datetime(2026, 11, 22), datetime(2026, 11, 23)),
        ("week", datetime(2026, 11, 22, 15, 30), datetime(2026, 11, 16), datetime(2026, 11, 23)),
        ("week", datetime(2026, 11, 23, 0, 0), datetime(2026, 11, 23), datetime(2026, 11, 30)),
        ("month", datetime(2026, 12, 31, 23), datetime(2026, 12, 1), datetime(2027, 1, 1)),
    ],
)
def test_period_bounds(period, now, start, end):
    assert period_bounds(period, now) == (start, end)
    assert period_bounds(period, now, "UTC") == (start, end)


def utc(*args: int) -> datetime:
    return datetime(*args)


SH, BER, SP = "Asia/Shanghai", "Europe/Berlin", "America/Sao_Paulo"

#: (zone, period, now, start, end): ``now`` and the bounds in UTC (naive, as the store keeps
#: them)
ZONED = [
    # UTC: the periods start at 00:00 UTC
    ("UTC", "day", "2026-11-22 23:59", "2026-11-22 00:00", "2026-11-23 00:00"),
    ("UTC", "week", "2026-11-22 16:00", "2026-11-16 00:00", "2026-11-23 00:00"),
    ("UTC", "month", "2026-02-28 12:00", "2026-02-01 00:00", "2026-03-01 00:00"),
    # Asia/Shanghai (UTC+8, no DST): a week starts Monday 00:00 CST = Sunday 16:00 UTC
    (SH, "week", "2026-11-22 15:59", "2026-11-15 16:00", "2026-11-22 16:00"),
    (SH, "week", "2026-11-22 16:00", "2026-11-22 16:00", "2026-11-29 16:00"),
    (SH, "week", "2026-11-23 10:00", "2026-11-22 16:00", "2026-11-29 16:00"),
    # Sunday 17:00 UTC is already Monday 01:00 in Beijing: a new day there
    (SH, "day", "2026-11-22 17:00", "2026-11-22 16:00", "2026-11-23 16:00"),
    (SH, "day", "2026-11-22 15:00", "2026-11-21 16:00", "2026-11-22 16:00"),
    # 30 Nov 16:30 UTC is 1 Dec 00:30 in Beijing: December's quota
    (SH, "month", "2026-11-30 16:30", "2026-11-30 16:00", "2026-12-31 16:00"),
    (SH, "month", "2026-12-31 16:00", "2026-12-31 16:00", "2027-01-31 16:00"),
    # Europe/Berlin: CET (UTC+1) until Sun 29 Mar 2026 02:00, then CEST (UTC+2): that week
    # runs from Mon 23 Mar 00:00 CET (22 Mar 23:00 UTC) to Mon 30 Mar 00:00 CEST (29 Mar
    # 22:00 UTC), 167 hours
    (BER, "week", "2026-03-25 12:00", "2026-03-22 23:00", "2026-03-29 22:00"),
    (BER, "week", "2026-03-29 21:59", "2026-03-22 23:00", "2026-03-29 22:00"),
    (BER, "week", "2026-03-29 22:00", "2026-03-29 22:00", "2026-04-05 22:00"),
    (BER, "day", "2026-03-29 12:00", "2026-03-28 23:00", "2026-03-29 22:00"),
    (BER, "month", "2026-03-31 21:00", "2026-02-28 23:00", "2026-03-31 22:00"),
    (BER, "month", "2026-03-31 22:00", "2026-03-31 22:00", "2026-04-30 22:00"),
    # ... and back to CET on Sun 25 Oct 2026 03:00 CEST: a week of 169 hours
    (BER, "week", "2026-10-25 01:30", "2026-10-18 22:00", "2026-10-25 23:00"),
    (BER, "day", "2026-10-25 01:30", "2026-10-24 22:00", "2026-10-25 23:00"),
    # São Paulo's clocks skipped midnight on 4 Nov 2018 (00:00 -03 -> 01:00 -02): that day
    # starts when they jumped (03:00 UTC) and has 23 hours
    (SP, "day", "2018-11-04 12:00", "2018-11-04 03:00", "2018-11-05 02:00"),
    (SP, "week", "2018-11-04 12:00", "2018-10-29 03:00", "2018-11-05 02:00"),
]


@pytest.mark.parametrize("zone, period, now, start, end", ZONED)
def test_period_bounds_in_the_site_zone(zone, period, now, start, end):
    t = datetime.fromisoformat
    assert period_bounds(period, t(now), zone) == (t(start), t(end))
    assert period_bounds(period, t(now), localtime.zone(zone)) == (t(start), t(end))  # a tzinfo


def test_weekly_periods_across_the_berlin_changes_are_167_and_169_hours():
    spring = period_bounds("week", utc(2026, 3, 25), "Europe/Berlin")
    autumn = period_bounds("week", utc(2026, 10, 21), "Europe/Berlin")
    assert spring[1] - spring[0] == timedelta(hours=167)
    assert autumn[1] - autumn[0] == timedelta(hours=169)


@pytest.mark.parametrize(
    "zone, year",
    [("Europe/Berlin", 2026), ("Asia/Shanghai", 2026), ("America/Sao_Paulo", 2018)],
)
def test_every_hour_of_a_year_is_in_its_period_and_periods_follow_each_other(zone, year):
    now = utc(year, 1, 1)
    while now.year == year:
        for period in ("day", "week", "month"):
            start, end = period_bounds(period, now, zone)
            assert start <= now < end, (period, now)
            assert period_bounds(period, end, zone)[0] == end  # the next starts where it ends
            first = localtime.local(start, zone)
            assert period != "week" or first.weekday() == 0
            assert period != "month" or first.day == 1
            assert first.hour in (0, 1) and first.minute == 0  # 01:00 only where 00:00 is not
        now += timedelta(hours=1)


def test_use_counts_the_local_week_only():
    """A session on Sunday evening in Beijing counts for the week that ends at midnight there;
    one from Monday 00:00 CST on for the next."""
    ann = ("GPU-0", "ann", "dl", "", "c")
    sunday = Allocation(1, *ann, utc(2026, 11, 22, 13), utc(2026, 11, 22, 15))  # 21-23 h CST
    monday = Allocation(2, *ann, utc(2026, 11, 22, 16), utc(2026, 11, 22, 17))  # 00-01 h CST
    week = Quota(10, "week")
    at = utc(2026, 11, 22, 18)  # Monday 02:00 in Beijing, still Sunday in UTC
    beijing = use(week, [sunday, monday], [], at, "Asia/Shanghai")
    assert beijing.used == pytest.approx(1.0) and beijing.resets == utc(2026, 11, 29, 16)
    assert use(week, [sunday, monday], [], at).used == pytest.approx(3.0)  # a UTC site: both


def test_refusal_says_what_when_and_whom():
    now = datetime(2026, 11, 22, 12, 0)
    sentence = quota_refusal(Quota(10, "week"), 10.2, 0, now, "dl101", "your instructor (teacher)")
    assert sentence == (
        "You have used 10.2 of your 10 GPU-hours for dl101 this week. Your quota resets on "
        "Mon 2026-11-23 00:00 UTC (in 12 h). If you need more now, ask your instructor (teacher)."
    )
    assert quota_refusal(Quota(10, "week"), 10.2, 1, now, "dl101", "x") is None  # admin grant
    assert quota_refusal(Quota(None), 1e9, 0, now, "dl101", "x") is None


def test_refusal_gives_the_reset_in_the_site_zone():
    now = datetime(2026, 11, 22, 12, 0)  # Sunday 20:00 in Beijing
    reader = Reader("en", "Asia/Shanghai")
    sentence = quota_refusal(Quota(10, "week"), 10.2, 0, now, "dl101", "x", reader)
    assert "resets on Mon 2026-11-23 00:00 CST (in 4 h)" in sentence

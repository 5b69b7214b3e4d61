from datetime import datetime

import pytest

from launcher.gpu.quota import Quota, period_bounds, quota_refusal


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


def test_refusal_says_what_when_and_whom():
    now = datetime(2026, 11, 22, 12, 0)
    sentence = quota_refusal(Quota(10, "week"), 10.2, 0, now, "dl101", "your instructor (teacher)")
    assert sentence == (
        "You have used 10.2 of your 10 GPU-hours for dl101 this week. Your quota resets on "
        "Mon 2026-11-23 00:00 UTC (in 12 h). If you need more now, ask your instructor (teacher)."
    )
    assert quota_refusal(Quota(10, "week"), 10.2, 1, now, "dl101", "x") is None  # admin grant
    assert quota_refusal(Quota(None), 1e9, 0, now, "dl101", "x") is None

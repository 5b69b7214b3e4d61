"""Quota periods in the site's time zone (``hub.timezone``) end to end on a real store: the
broker admits and refuses at the local week's boundary, and the culler and the dashboard's
board count the same local period. Beijing (UTC+8): a week starts Monday 00:00 CST, which is
Sunday 16:00 UTC."""

import asyncio
from datetime import datetime, timedelta

import pytest

from launcher.board.live import LiveReadings
from launcher.board.view import Board
from launcher.catalog import for_site
from launcher.gpu.allocator import GpuPolicy
from launcher.gpu.broker import CourseRules, GpuBroker, GpuRefusal
from launcher.gpu.inventory import from_declared
from launcher.gpu.quota import Quota
from launcher.services.culler.rules import Server
from launcher.services.culler.service import Culler
from launcher.settings import parse_site
from launcher.store import Store

UNITS = from_declared([{"index": 0, "uuid": "GPU-0"}])
RULES = CourseRules(GpuPolicy(per_student=1), Quota(2, "week"), ("teacher",))
SATURDAY = datetime(2026, 11, 21, 13, 0)  # Saturday 21:00 CST
SUNDAY = datetime(2026, 11, 22, 12, 0)  # Sunday 20:00 CST
SUNDAY_LATE = datetime(2026, 11, 22, 15, 59)  # Sunday 23:59 CST (the week's last minute)
MONDAY = datetime(2026, 11, 22, 16, 0)  # Monday 00:00 CST: a new week in Beijing, not in UTC


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def refused(broker: GpuBroker) -> str | None:
    """The sentence that refuses ann's start now; None when she is admitted."""
    try:
        await broker.admit("ann", "dl", RULES)
    except GpuRefusal as exc:
        return exc.message
    return None


async def around_the_week_boundary(store: Store, zone: str) -> dict[str, str | None]:
    """ann uses her 2 GPU-hours on Saturday evening (Beijing); may she start again on Sunday
    evening, in the week's last minute, at Monday 00:00 CST?"""
    clock = Clock(SATURDAY)
    broker = GpuBroker(store, UNITS, when_full="refuse", clock=clock, zone=zone)
    assert (await broker.acquire("ann", "dl", RULES)).units == ["GPU-0"]
    clock.now = SATURDAY + timedelta(hours=2)
    await broker.release("ann")
    seen = {}
    for name, clock.now in (("sunday", SUNDAY), ("last", SUNDAY_LATE), ("monday", MONDAY)):
        seen[name] = await refused(broker)
    seen["granted"] = (await broker.acquire("ann", "dl", RULES)).units if not seen["monday"] else []
    return seen


def test_the_broker_refuses_until_the_local_week_ends_then_admits(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    seen = asyncio.run(around_the_week_boundary(store, "Asia/Shanghai"))
    assert "You have used 2.0 of your 2 GPU-hours for dl this week" in seen["sunday"]
    assert "resets on Mon 2026-11-23 00:00 CST (in 4 h)" in seen["sunday"]
    assert seen["last"] is not None
    assert seen["monday"] is None and seen["granted"] == ["GPU-0"]


def test_a_utc_site_keeps_its_utc_week(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    seen = asyncio.run(around_the_week_boundary(store, "UTC"))
    assert "resets on Mon 2026-11-23 00:00 UTC (in 12 h)" in seen["sunday"]
    assert seen["monday"] is not None and seen["granted"] == []  # Sunday 16:00 in UTC


SITE = """
hub: {data_dir: DATA, timezone: Asia/Shanghai}
courses:
  dl:
    title: Deep learning
    image: launcher/pytorch:2.13-cpu
    students: [ann]
    gpu: {per_student: 1}
    quota: {gpu_hours: 2, period: week}
"""


def test_the_culler_and_the_board_count_the_local_week(tmp_path):
    site = parse_site(SITE.replace("DATA", str(tmp_path)), "site.yaml")
    store = for_site(site).store
    store.add(["GPU-0"], "ann", "dl", "", "l_ann_dl", SATURDAY)
    store.end_server("ann", "", "stopped", SATURDAY + timedelta(hours=2))
    store.add(["GPU-0"], "ann", "dl", "", "l_ann_dl", MONDAY)  # running since Monday 00:00 CST
    now = MONDAY + timedelta(minutes=30)
    server = Server("ann", "", "dl", MONDAY, now, ("GPU-0",), "l_ann_dl")

    culler = Culler(site, None, UNITS, dict, None, clock=lambda: now)
    spent = culler._quota_use(server, site.courses["dl"], now)
    assert spent.used == pytest.approx(0.5) and spent.resets == datetime(2026, 11, 29, 16)

    board = Board(for_site(site), UNITS, LiveReadings(dict, UNITS), lambda: now, "Asia/Shanghai")
    (row,) = board.quotas(None)
    assert (row["user"], row["used"], row["left"]) == ("ann", 0.5, 1.5)
    assert row["resets"] == "2026-11-29T16:00:00Z"  # the JSON keeps UTC
    utc_board = Board(for_site(site), UNITS, LiveReadings(dict, UNITS), lambda: now)
    assert utc_board.quotas(None)[0]["used"] == 2.5  # a UTC site: Saturday's hours count too

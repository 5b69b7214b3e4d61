"""The service pages (GPU dashboard, instructor page) rendered by their Tornado handlers in
Chinese and English, with times in the site's zone; the JSON API keeps UTC. The hub is not
there: the visitor comes from a test header instead of Hub OAuth, the hub's user list from a
stub."""

import asyncio
import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from launcher import i18n
from launcher.board.live import LiveReadings
from launcher.board.view import Board
from launcher.catalog import Catalog
from launcher.gpu.inventory import from_declared
from launcher.gpu.metrics import Reading
from launcher.i18n import Reader
from launcher.services import page
from launcher.services.dashboard import app as dashboard
from launcher.services.instructor import app as instructor
from launcher.settings import parse_site
from launcher.store import Store

ZH = Reader("zh_CN")
#: 2026-11-25 10:30 UTC is 18:30 in Beijing (Asia/Shanghai, UTC+8, "CST")
NOW = datetime(2026, 11, 25, 10, 30)
STARTED = NOW - timedelta(hours=2, minutes=5)  # 08:25 UTC, 16:25 CST
SITE = """
courses:
  dl:
    title: Deep Learning
    image: launcher/pytorch:2.13-cpu
    students: [ann, bob]
    instructors: [ines]
    gpu: {per_student: 1}
    quota: {gpu_hours: 5, period: week}
"""
USERS = {
    "admin": {"name": "admin", "admin": True, "groups": []},
    "ann": {"name": "ann", "admin": False, "groups": []},
    "ines": {"name": "ines", "admin": False, "groups": []},
}
UNITS = from_declared(
    [{"index": i, "uuid": f"GPU-{i}", "model": "A100", "memory_mib": 40960} for i in range(2)]
)


@pytest.fixture(autouse=True)
def visitor(monkeypatch):
    """The visitor named by the X-Test-User header (Hub OAuth's part); the hub's user list."""

    class Auth:
        base_url = "/"

    def current_user(handler):
        return USERS.get(handler.request.headers.get("X-Test-User", ""))

    async def hub_users(handler):
        return [
            {"name": "ann", "groups": [], "servers": {}},
            {"name": "carl", "groups": [], "servers": {"": {"started": "2026-11-25T08:25:00Z"}}},
        ]

    monkeypatch.setattr(page.ServicePage, "hub_auth", Auth())
    monkeypatch.setattr(page.ServicePage, "get_current_user", current_user)
    monkeypatch.setattr(page.ServicePage, "hub_users", hub_users)


@pytest.fixture
def cat(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.add(["GPU-0"], "ann", "dl", "", "l_ann_dl", STARTED)
    store.enqueue("bob", "dl", "", NOW - timedelta(minutes=3))
    store.grant("ann", "dl", 2.5, by="admin", at=NOW - timedelta(hours=1))
    catalog = Catalog(parse_site(SITE, name="site.yaml").courses, store)
    return catalog


def dashboard_app(cat, zone="Asia/Shanghai", language="en"):
    readings = LiveReadings(lambda: {"GPU-0": Reading(73, 2048, 40)}, UNITS)
    board = Board(cat, UNITS, readings, clock=lambda: NOW)
    return dashboard.app(
        "/services/dashboard/", board, 60, timezone=zone, language=language, site_name="Lab"
    )


def instructor_app(cat, tmp_path, zone="Asia/Shanghai"):
    return instructor.app(
        "/services/courses/", cat, tmp_path / "materials", timezone=zone, language="en"
    )


def get(app, path: str, user: str = "admin", lang: str | None = None, cookie: str | None = None):
    """GET ``path`` as ``user`` whose browser asks for ``lang`` (Accept-Language) and holds
    the language switch's ``cookie``: (status, body)."""
    headers = {"X-Test-User": user}
    if lang:
        headers["Accept-Language"] = lang
    if cookie:
        headers["Cookie"] = f"{i18n.COOKIE}={cookie}"

    async def fetch():
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        try:
            resp = await AsyncHTTPClient().fetch(
                f"http://127.0.0.1:{port}{path}",
                headers=headers,
                raise_error=False,
                follow_redirects=False,
            )
        finally:
            server.stop()
        body = resp.body.decode()
        if body.startswith("<!doctype"):  # the page says its language in HTTP too
            assert resp.headers["Content-Language"] == lang_attribute(body)
            assert "Accept-Language" in resp.headers["Vary"]
        return resp.code, body

    return asyncio.run(fetch())


def lang_attribute(body: str) -> str:
    return re.search(r'<html lang="([^"]+)"', body).group(1)


def test_the_admin_dashboard_in_chinese_with_times_in_beijing(cat):
    status, body = get(dashboard_app(cat), "/services/dashboard/admin", lang="zh-CN,zh;q=0.9")
    assert status == 200, body
    text = unescape(body)
    assert lang_attribute(body) == "zh-CN"
    for sentence in ("GPU dashboard", "Queue", "Recent actions", "Quotas this period", "Free"):
        assert ZH._(sentence) in text and ZH._(sentence) != sentence
    assert ">Queue<" not in body and "Recent actions" not in body
    # ann's GPU since 16:25 Beijing time (08:25 UTC), the grant at 17:30 (09:30 UTC)
    assert "16:25 CST" in text and "08:25" not in text
    assert "2026-11-25 17:30 CST" in text
    assert (
        ZH._("{actor} changed the quota of {target}").format(
            actor="admin", target=ZH._("{user} ({course})").format(user="ann", course="dl")
        )
        in text
    )
    assert "Asia/Shanghai" in text and "UTC" not in text.replace("UTC+", "")
    # the language switch: both languages, the current one marked, back to this page
    switch = re.search(r'<span class="launcher-lang".*?</span>', body, re.S).group(0)
    assert "/hub/language?lang=zh-CN&amp;next=%2Fservices%2Fdashboard%2Fadmin" in switch
    assert "/hub/language?lang=en&amp;" in switch and "English" in switch
    assert re.search(r'lang="zh-CN"[^>]*class="current" aria-current="true">中文<', switch)


def test_the_admin_dashboard_in_english_and_the_cookie_beats_the_browser(cat):
    app = dashboard_app(cat)
    status, english = get(app, "/services/dashboard/admin", lang="en-US,en;q=0.9")
    assert status == 200 and lang_attribute(english) == "en"
    assert "GPU dashboard" in english and "Recent actions" in english
    assert "Times in Asia/Shanghai (CST)" in english
    assert "admin changed the quota of ann (dl): +2.5 GPU-hours this period." in english
    # the switch's cookie wins over Accept-Language, either way
    _, chosen = get(app, "/services/dashboard/admin", lang="en-US", cookie="zh-CN")
    assert lang_attribute(chosen) == "zh-CN" and ZH._("Recent actions") in chosen
    _, chosen = get(app, "/services/dashboard/admin", lang="zh-CN", cookie="en")
    assert lang_attribute(chosen) == "en" and "Recent actions" in chosen


def test_without_a_choice_the_site_language_is_used(cat):
    _, body = get(dashboard_app(cat, language="zh_CN"), "/services/dashboard/admin")
    assert lang_attribute(body) == "zh-CN"
    _, body = get(dashboard_app(cat, language="zh_CN"), "/services/dashboard/admin", lang="en")
    assert lang_attribute(body) == "en"


def test_the_json_keeps_utc_while_the_page_shows_local_time(cat):
    app = dashboard_app(cat)
    status, gpus = get(app, "/services/dashboard/api/gpus", lang="zh-CN")
    assert status == 200
    assert '"since": "2026-11-25T08:25:00Z"' in gpus
    _, queue = get(app, "/services/dashboard/api/queue")
    assert '"since": "2026-11-25T10:27:00Z"' in queue
    _, history = get(app, "/services/dashboard/api/history?range=hour")
    assert '"end": "2026-11-25T10:' in history and "+08:00" not in history
    _, me = get(app, "/services/dashboard/api/me", user="ann")
    assert re.search(r'"resets": "2026-11-30T00:00:00Z"', me), me
    _, shown = get(app, "/services/dashboard/admin")
    assert "16:25 CST" in shown and "since 16:25 CST (2 h 05 min ago)" in unescape(shown)


def test_the_students_panel_in_chinese(cat):
    status, body = get(dashboard_app(cat), "/services/dashboard/me", user="ann", lang="zh-CN")
    assert status == 200 and lang_attribute(body) == "zh-CN"
    text = unescape(body)
    assert ZH._("Your GPU and quota") in text
    assert "16:25 CST" in text  # the GPU held since
    assert ZH._("this week") in text and "GPU-hours left" not in text
    _, english = get(dashboard_app(cat), "/services/dashboard/me", user="ann", lang="en")
    assert re.search(r"[\d.]+ of [\d.]+ GPU-hours left this week", english)


def test_a_confirmation_page_and_the_errors_in_chinese(cat):
    app = dashboard_app(cat)
    status, body = get(app, "/services/dashboard/actions/release?unit=GPU-0", lang="zh-CN")
    assert status == 200
    assert ZH._("Release a GPU") in body and ZH._("Stop and release the GPU") in body
    assert "16:25 CST" in unescape(body)
    status, denied = get(app, "/services/dashboard/admin", user="ann", lang="zh-CN")
    assert status == 403 and lang_attribute(denied) == "zh-CN"
    assert "Only admins see the whole GPU dashboard" not in denied
    assert ZH._(
        "Only admins see the whole GPU dashboard. Your own GPU and quota are on your panel: {url}"
    ).format(url="/services/dashboard/me") in unescape(denied)
    status, missing = get(app, "/services/dashboard/actions/release?unit=GPU-1", lang="zh-CN")
    assert status == 404
    text = ZH._("Nobody holds GPU {unit} now: it is free already.").format(unit="GPU-1")
    assert text in unescape(missing)


def test_the_instructor_page_in_chinese_with_times_in_beijing(cat, tmp_path):
    # a course of the store (its changes are audited), carl's server running since 08:25 UTC
    nlp = cat.courses()["dl"].model_copy(update={"students": ["carl"], "instructors": ["ines"]})
    cat.apply({"nlp": nlp}, "admin")
    app = instructor_app(cat, tmp_path)
    status, body = get(app, "/services/courses/c/nlp", user="ines", lang="zh-CN")
    assert status == 200, body
    text = unescape(body)
    assert lang_attribute(body) == "zh-CN"
    assert ZH._("Course settings") in text and ZH._("Students and their servers") in text
    assert ZH._("({course}, you are {role})").format(course="nlp", role=ZH._("instructor")) in text
    # carl's server since 08:25 UTC: 16:25 in Beijing; the audit entry's time in the zone too
    assert ZH._("running since {time}").format(time="2026-11-25 16:25 CST") in text
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d CST</td><td>admin</td><td>创建：", body)
    status, courses = get(app, "/services/courses/", user="ines", lang="en")
    assert status == 200 and "Your courses" in courses and lang_attribute(courses) == "en"
    status, denied = get(app, "/services/courses/", user="ann", lang="zh-CN")
    assert status == 403
    assert ZH._("You are not a TA or an instructor of any course.") in unescape(denied)


def test_the_nav_and_the_default_errors_are_translated(cat):
    status, body = get(dashboard_app(cat), "/services/dashboard/nowhere", lang="zh-CN")
    assert status == 404 and ZH._("There is no such page.") in body
    assert ZH._("Home") in body and ZH._("GPU dashboard") in body
    for message in page.DEFAULT_ERRORS.values():
        assert ZH._(message) != message

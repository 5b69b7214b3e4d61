"""The GPU dashboard in Debian's Chromium, at 1280x800 and at phone width: the admin sees the
students' GPUs once they spawned and the charts drawn from the sampled history, a student
gets a sentence (403) on the admin view and their own panel (in Chinese for a Chinese
browser, until the switch says English), an instructor sees only their course. Screenshots go
to artifacts/ (dashboard-*.png)."""

import math
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from launcher.i18n import Reader
from launcher.store import Sample, Store
from tests.browser.conftest import DESKTOP, PHONE, document
from tests.integration.dashboard import PREFIX, set_utilisation
from tests.integration.hub import ARTIFACTS, wait_for
from tests.integration.test_gpus import GPUS

pytestmark = pytest.mark.browser
UNITS = [g["uuid"] for g in GPUS] + [m["uuid"] for g in GPUS for m in g.get("mig", [])]
COURSE = ["dl", "cv", "cv"]
ZH = Reader("zh_CN")


@pytest.fixture(scope="module")
def students(dashboard_hub):
    """d1 (course dl) and c1 (course cv) each hold a GPU while these tests run."""
    set_utilisation(dashboard_hub, {g["uuid"]: 35 + 15 * i for i, g in enumerate(GPUS)})
    sessions = {name: dashboard_hub.session(name) for name in ("d1", "c1")}
    try:
        for s in sessions.values():
            s.start_server()
        yield sessions
    finally:
        for s in sessions.values():
            if s.user_model()["servers"]:
                s.stop_server()


@pytest.fixture(scope="module")
def last_week(dashboard_hub):
    """A week of history before this session, as the sampler writes it every 10 minutes: the
    GPUs busy in class hours (08-18 UTC), held by dl and cv students then, idle at night."""
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    rows = []
    for step in range(12, 6 * 24 * 7):  # from 2 hours ago back to a week ago
        at = now - timedelta(minutes=10 * step)
        day = 8 <= at.hour < 18 and at.weekday() < 5
        for i, uuid in enumerate(UNITS):
            held = day and i < 3
            busy = 30 + 60 * math.sin(math.pi * (at.hour - 8) / 10) ** 2 if held else 0
            rows.append(
                Sample(at, uuid, int(busy), 1000 * held, int(held), COURSE[i] if held else None)
            )
    Store(f"sqlite:///{dashboard_hub.data_dir / 'launcher.sqlite'}").add_samples(rows)


def login(page, hub, username: str, path: str) -> None:
    """Sign in through the hub's form, landing on the dashboard's ``path`` (never spawning)."""
    page.goto(f"{hub.url}/hub/login?next={quote(PREFIX + '/' + path)}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", hub.password(username))
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(re.compile(re.escape(PREFIX)), timeout=30_000)


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_admin_sees_the_students_gpus_and_the_charts(dashboard_hub, students, last_week, new_page):
    hub = dashboard_hub
    page = new_page(DESKTOP)
    login(page, hub, "admin", "admin?range=hour")
    for user, course in (("d1", "dl"), ("c1", "cv")):
        card = page.locator("#gpu-map .card.busy").filter(has=page.locator(f'[data-user="{user}"]'))
        assert card.count() == 1
        text = card.inner_text()
        assert course in text and hub.container_for(user, course).name in text
        assert re.search(r"Utilisation\s+\d+%", text) and "Release GPU" in text
    assert page.locator("#gpu-map .card.free").count() == 4  # 6 units, 2 held

    # the charts: SVG drawn on the server from the sampled history (sampled every second)
    def drawn():
        page.reload()
        svg = page.locator("svg#chart-utilisation")
        return int(svg.get_attribute("data-points")) > 0 and svg

    svg = wait_for(drawn, 30, "the utilisation chart to have data")
    assert svg.locator("polyline.line, circle.line").count() >= 1
    assert page.locator("svg#chart-allocated .line").count() >= 1
    assert "mean" in svg.locator("desc").text_content()
    box = svg.bounding_box()
    assert box["width"] > 300 and box["height"] > 100, box
    assert page.locator("#quota-table tr[data-user=d1]").count() == 1
    assert no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "dashboard-admin-1280x800.png"))  # what fits at first

    # the week: one point per 2 hours, from the samples in the store
    page.click("#charts .tabs a:text-is('week')")
    page.wait_for_url(re.compile(r"range=week"))
    week = page.locator("svg#chart-utilisation")
    assert int(week.get_attribute("data-points")) >= 80  # 84 buckets of 2 h, nearly all sampled
    assert page.locator("svg#chart-allocated polyline.line").count() >= 1
    shot(page, "admin-desktop")
    document(  # the README's picture
        page,
        "dashboard",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": 1240},
    )

    # a phone: the GPU map becomes one column of cards, wide tables scroll inside their box
    page.set_viewport_size(PHONE)
    page.reload()
    cards = page.locator("#gpu-map .card")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert second["y"] > first["y"] + first["height"] - 1 and first["width"] > 300
    assert no_sideways_scroll(page)
    assert page.locator("svg#chart-utilisation").bounding_box()["width"] <= PHONE["width"]
    shot(page, "admin-phone")


def test_a_student_gets_403_on_the_admin_view_and_sees_their_own_panel(dashboard_hub, new_page):
    page = new_page(PHONE)
    login(page, dashboard_hub, "d3", "me")
    denied = page.goto(f"{dashboard_hub.url}{PREFIX}/admin")
    assert denied.status == 403
    assert "Only admins see the whole GPU dashboard" in page.locator("main").inner_text()
    shot(page, "student-403-phone")
    page.goto(f"{dashboard_hub.url}{PREFIX}/me")
    panel = page.locator("section.course[data-course=dl]")
    assert "Deep Learning" in panel.inner_text()
    assert re.search(r"[\d.]+ of [\d.]+ GPU-hours left", panel.locator(".quota-left").inner_text())
    assert no_sideways_scroll(page)
    shot(page, "student-panel-phone")


def test_an_instructor_sees_only_their_course(dashboard_hub, students, new_page):
    page = new_page(DESKTOP)
    login(page, dashboard_hub, "cvteacher", "")
    assert page.url.endswith(f"{PREFIX}/course/cv")
    holders = page.locator("#gpu-map .holder").evaluate_all(
        "nodes => nodes.map(n => n.dataset.user)"
    )
    assert holders == ["c1"], holders  # d1 holds a GPU too, in dl
    courses = page.locator("#quota-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.course)"
    )
    assert set(courses) == {"cv"}
    assert "cv holds 1 GPU unit(s) now" in page.locator("#summary").inner_text()
    shot(page, "instructor-desktop")
    assert page.goto(f"{dashboard_hub.url}{PREFIX}/course/dl").status == 403
    assert "not a TA or an instructor of dl" in page.locator("main").inner_text()


def test_a_chinese_browser_gets_the_panel_in_chinese_and_switches_to_english(
    dashboard_hub, new_page
):
    page = new_page(PHONE, locale="zh-CN")
    login(page, dashboard_hub, "d3", "me")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == ZH._("Your GPU and quota")
    panel = page.locator("section.course[data-course=dl] .quota-left").inner_text()
    assert re.search(r"本周剩余 [\d.]+ / [\d.]+ GPU 小时", panel), panel
    assert "CST" in panel and "UTC" not in panel  # the reset, in Beijing time
    switch = page.locator("#language-switch")
    assert switch.locator("a[aria-current=true]").inner_text() == "中文"
    shot(page, "student-panel-zh-phone")
    # the switch goes through the hub (a cookie for the whole site) and comes back here
    switch.locator("a[lang=en]").click()
    page.wait_for_url(re.compile(re.escape(f"{PREFIX}/me")))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Your GPU and quota"
    assert switch.locator("a[aria-current=true]").inner_text() == "English"
    page.reload()  # remembered, though the browser still asks for Chinese
    assert page.locator("h1").inner_text() == "Your GPU and quota"

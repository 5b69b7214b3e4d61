"""End to end in Chromium against a real OpenID Connect provider: a student signs in on the
provider's login page and lands in JupyterLab in her course; the instructor, signed in the same
way, moves the course's pinned tag on the instructor page; the student's next start uses it."""

import re

import pytest

from tests.integration.hub import ARTIFACTS, IMAGE, wait_for
from tests.oidc import NEXT_PIN, PASSWORD

pytestmark = pytest.mark.browser


def sign_in_at_the_provider(page, hub_url: str, path: str, username: str) -> None:
    page.goto(f"{hub_url}{path}")
    page.get_by_text("Sign in with Campus account").click()
    page.wait_for_selector("#idp-username")  # the provider's own login page
    page.fill("#idp-username", username)
    page.fill("#idp-password", PASSWORD)
    page.click("#idp-submit")


def test_campus_sign_in_then_a_pin_change_from_the_instructor_page(campus_hub, new_page):
    hub = campus_hub
    student = new_page()
    sign_in_at_the_provider(student, hub.url, "/hub/login", "olga")
    # the course home has the course her group maps to; its button starts it
    student.wait_for_url(re.compile(r"/hub/home"), timeout=60_000)
    student.click("#course-vision .start")
    student.wait_for_url(re.compile(r"/user/olga/lab"), timeout=240_000)
    student.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    student.screenshot(path=str(ARTIFACTS / "signin-student-lab.png"))
    container = hub.container_for("olga", "vision")
    assert "LAUNCHER_COURSE=vision" in container.attrs["Config"]["Env"]
    before = container.attrs["Config"]["Image"]
    after = NEXT_PIN if before == IMAGE else IMAGE

    teacher = new_page()
    sign_in_at_the_provider(teacher, hub.url, "/services/courses/", "irene")
    teacher.wait_for_url(re.compile(r"/services/courses/$"), timeout=60_000)
    teacher.get_by_role("link", name="vision").click()
    teacher.select_option("#image", after)
    teacher.click("#save")
    saved = teacher.locator("#saved")
    saved.wait_for(timeout=30_000)
    assert f"image: {before} -> {after}" in saved.inner_text()
    assert "irene" in teacher.locator("#audit").inner_text()
    teacher.screenshot(path=str(ARTIFACTS / "signin-instructor-page.png"), full_page=True)

    # the running session is untouched; the next start uses the new pin
    assert hub.container_for("olga", "vision").id == container.id
    student.goto(f"{hub.url}/hub/home")
    student.click("#course-vision .stop")
    # the home page shows the card's start button again once the hub says the server stopped
    student.locator("#course-vision[data-state=stopped] .start").wait_for(timeout=120_000)
    wait_for(lambda: hub.container_for("olga", "vision") is None, 120, "olga's server to stop")
    student.click("#course-vision .start")
    student.wait_for_url(re.compile(r"/user/olga/lab"), timeout=240_000)
    assert hub.container_for("olga", "vision").attrs["Config"]["Image"] == after

"""The front door in Chromium, in Chinese and in English: the login page, the course home (a
student in two courses starts the second from its card, typing no name), the progress of a
start queued for a GPU, JupyterLab's menus, a refusal, the student's dashboard panel, the
language switch; and the pictures in the docs (docs/img), taken here."""

import re

import pytest

from launcher.i18n import Reader
from tests.browser.conftest import document, sign_in
from tests.integration.hub import IMAGE, running_hub, wait_for
from tests.integration.test_gpus import GPU_ENV, GPUS

pytestmark = pytest.mark.browser

ZH, EN = Reader("zh_CN"), Reader("en")
SITE = {
    "hub": {"name": "Deep learning lab", "timezone": "Asia/Shanghai"},
    "gpus": {"source": "nvidia-smi", "when_full": "queue", "queue_timeout": 600},
    "courses": {
        "cv201": {
            "title": "Computer vision",
            "image": IMAGE,
            "students": ["student1", "holder"],
            "instructors": ["prof"],
            "gpu": {"per_student": 1, "pool": [str(GPUS[0]["index"])]},
            "quota": {"gpu_hours": 10, "period": "week"},
        }
    },
}
QUEUED = (
    "All GPUs for {course} are busy: you are number {position} of {length} in the queue; "
    "your server starts as soon as a GPU is free"
)
MISSING = (
    "The course image {image} is not installed on this server yet. Please tell your "
    "instructor or the admin (they can build it with `launcher images build` or `make up`)."
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("door"), "front-browser", [], SITE, GPU_ENV) as hub:
        yield hub


def test_a_student_in_chinese_starts_the_second_course_from_its_card(hub, new_page):
    page = new_page(locale="zh-CN")
    page.goto(f"{hub.url}/hub/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("#site-name").inner_text() == "Deep learning lab"
    assert page.locator("#login_submit").get_attribute("value") == ZH._("Sign in")
    document(page, "login")
    sign_in(page, hub, "student1")
    assert page.locator("h1").first.inner_text() == ZH._("Your courses")
    assert page.locator(".course-card").count() == 2  # demo and cv201

    holder = hub.session("holder")
    holder.start_server()  # holds cv201's one GPU
    try:
        page.click("#course-cv201 .start")
        waiting = ZH._(QUEUED).format(course="cv201", position=1, length=1)
        page.locator("#progress-message", has_text=waiting).wait_for(timeout=120_000)
        assert ZH._("Your server is starting") in page.locator("h1").inner_text()
        document(page, "progress-queue")
    finally:
        holder.stop_server()
    page.wait_for_url(re.compile(r"/user/student1/(cv201/)?lab"), timeout=240_000)
    # JupyterLab in the student's language
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^文件$")).wait_for(timeout=120_000)
    page.locator(".jp-LauncherCard").first.wait_for(timeout=120_000)
    document(page, "lab-zh")

    page.goto(f"{hub.url}/hub/home")
    card = page.locator("#course-cv201")
    assert card.get_attribute("data-state") == "ready"
    assert ZH._("Open") in card.inner_text()
    gpu = card.locator(".gpu-held").inner_text()
    assert gpu.startswith(ZH._("Your GPU now: {gpus}").split("{")[0]) and "GPU 0" in gpu
    quota = card.locator(".quota").inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d 00:00 CST", quota), quota  # Monday 00:00, Beijing
    assert page.locator("#course-demo").get_attribute("data-state") == "stopped"
    document(page, "home")

    page.goto(f"{hub.url}/services/dashboard/me")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").first.inner_text() == ZH._("Your GPU and quota")

    page.goto(f"{hub.url}/hub/home")
    page.click("#course-cv201 .stop")
    page.locator("#course-cv201[data-state=stopped] .start").wait_for(timeout=120_000)
    wait_for(lambda: hub.container_for("student1", "cv201") is None, 60, "the server to stop")


def test_a_refusal_in_chinese_on_the_card_and_at_the_start(hub, new_page):
    page = new_page(locale="zh-CN")
    sign_in(page, hub, "ghoststudent")
    card = page.locator("#course-ghost")
    why = ZH._(
        "This course's image is not installed on this server yet. Tell your instructor or the "
        "admin."
    )
    assert why in card.inner_text()
    assert card.locator(".start").is_disabled()
    page.goto(f"{hub.url}/hub/spawn/ghoststudent")  # asked anyway: a sentence, no traceback
    sentence = ZH._(MISSING).format(image="launcher/pytorch:0.0-never-built")
    page.get_by_text(sentence[:20]).first.wait_for(timeout=60_000)
    assert "Traceback" not in page.content()


def test_english_and_a_switch_that_is_remembered(hub, new_page):
    page = new_page(locale="en-US")
    page.goto(f"{hub.url}/hub/login")
    assert page.locator("#login_submit").get_attribute("value") == "Sign in"
    sign_in(page, hub, "student1")
    assert page.locator("h1").first.inner_text() == "Your courses"
    page.click("#language-switch a[lang=zh-CN]")
    page.locator("h1", has_text=ZH._("Your courses")).wait_for(timeout=30_000)
    page.goto(f"{hub.url}/hub/home")  # the choice beats the browser's language from now on
    assert page.locator("h1").first.inner_text() == ZH._("Your courses")
    page.click("#language-switch a[lang=en]")
    page.locator("h1", has_text="Your courses").wait_for(timeout=30_000)
    # the second card's button starts that course's own server: no name typed anywhere
    second = page.locator(".course-card").nth(1)
    course = second.get_attribute("id").removeprefix("course-")
    second.locator(".start").click()
    page.wait_for_url(re.compile(rf"/user/student1/{course}/lab"), timeout=240_000)
    assert hub.container_for("student1", course).status == "running"
    page.goto(f"{hub.url}/hub/home")
    page.click(f"#course-{course} .stop")
    page.locator(f"#course-{course}[data-state=stopped] .start").wait_for(timeout=120_000)


def test_the_instructor_page_for_the_docs(hub, new_page):
    page = new_page(locale="en-US")
    sign_in(page, hub, "prof")
    card = page.locator("#course-cv201")
    assert card.get_attribute("data-state") == "stopped"  # signing in started nothing
    card.locator(".staff").click()
    page.wait_for_url(re.compile(r"/services/courses/c/cv201"), timeout=30_000)
    assert "student1" in page.content()
    document(page, "instructor", full_page=True)

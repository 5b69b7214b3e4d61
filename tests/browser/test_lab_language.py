"""JupyterLab in the student's language, through a real hub: the hub decides the language of
each start ("zh_CN" or "en": the language switch, else the browser's Accept-Language, else
hub.language) and the spawner hands it to the container (LANG), which JupyterLab's "default"
language follows. A language the student picks in JupyterLab's own Settings > Language menu
is kept in their home and wins over the hub's at every later start."""

import re

import pytest

from tests.browser.conftest import sign_in
from tests.integration.hub import running_hub, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("lablang"), "lab-language", ["student4"]) as hub:
        yield hub


def start_lab(page, hub, username: str) -> None:
    """Sign in, start the course from its card, wait for JupyterLab's menu bar."""
    sign_in(page, hub, username)
    page.click("#course-demo .start")
    page.wait_for_url(re.compile(rf"/user/{username}/lab"), timeout=240_000)


def menu(page, label: str):
    """The top-level menu called ``label`` (once JupyterLab has drawn it)."""
    item = page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{label}$"))
    item.wait_for(timeout=120_000)
    return item


def session_env(hub, username: str) -> dict[str, str]:
    env = hub.container_of(username).attrs["Config"]["Env"]
    return dict(e.split("=", 1) for e in env)


@pytest.mark.parametrize(
    "browser_locale, username, file_menu, lang, env_lang",
    [
        ("zh-CN", "student2", "文件", "zh-CN", "zh_CN.UTF-8"),
        ("en-US", "student3", "File", "en", None),
    ],
    ids=["zh_CN", "en"],
)
def test_jupyterlab_speaks_the_language_of_the_start(
    hub, new_page, browser_locale, username, file_menu, lang, env_lang
):
    page = new_page(locale=browser_locale)
    start_lab(page, hub, username)
    menu(page, file_menu)
    assert page.locator("html").get_attribute("lang") == lang
    assert session_env(hub, username).get("LANG", "C.UTF-8") == (env_lang or "C.UTF-8")
    other = "File" if file_menu == "文件" else "文件"
    assert page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{other}$")).count() == 0


def test_a_language_the_student_chose_in_jupyterlab_wins_at_the_next_start(hub, new_page):
    page = new_page(locale="zh-CN")
    start_lab(page, hub, "student4")
    # Settings > Language > English, as a student does it (the choice goes to their home)
    menu(page, "设置").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^语言$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text="English").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()  # "change and reload"
    menu(page, "File")

    # a new start, still asked for in Chinese: the hub says zh_CN, the student's choice stays
    page.goto(f"{hub.url}/hub/home")
    page.click("#course-demo .stop")
    page.locator("#course-demo[data-state=stopped] .start").wait_for(timeout=120_000)
    wait_for(lambda: hub.container_of("student4") is None, 60, "the server to stop")
    page.click("#course-demo .start")
    page.wait_for_url(re.compile(r"/user/student4/lab"), timeout=240_000)
    menu(page, "File")
    assert session_env(hub, "student4")["LANG"] == "zh_CN.UTF-8"

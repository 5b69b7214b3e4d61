"""The front door through a real hub: signing in starts nothing (staff of a GPU course take
no GPU by looking at their page), the home shows one card per course in the visitor's
language, the language switch is remembered and never redirects off the site, and a course
that cannot start says why on its card."""

import re

import pytest
import requests

from launcher.i18n import Reader
from launcher.store import Store
from tests.integration.hub import IMAGE, running_hub
from tests.integration.test_gpus import GPU_ENV, GPUS

pytestmark = pytest.mark.integration

ZH = Reader("zh_CN")
SITE = {
    "hub": {"name": "Deep learning lab", "timezone": "Asia/Shanghai"},
    "gpus": {"source": "nvidia-smi", "when_full": "queue"},
    "courses": {
        "cv201": {
            "title": "Computer vision",
            "image": IMAGE,
            "students": ["student1"],
            "tas": ["ta1"],
            "instructors": ["prof"],
            "gpu": {"per_student": 1, "pool": [str(g["index"]) for g in GPUS[:2]]},
            "quota": {"gpu_hours": 5, "period": "week"},
        }
    },
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("front"), "front-door", [], SITE, GPU_ENV) as hub:
        yield hub


def get(session, url: str, lang: str | None = None, **kwargs) -> str:
    """The page's HTML (JupyterHub sends text/html without a charset; the page says UTF-8)."""
    headers = {"Accept-Language": lang} if lang else {}
    return session.get(url, headers=headers, **kwargs).content.decode("utf-8")


def text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_signing_in_starts_nothing_and_lands_on_the_course_home(hub):
    for name in ("prof", "ta1", "student1"):
        session = hub.session(name)
        home = session.get(f"{hub.url}/hub/")
        assert home.url.endswith("/hub/home"), home.url
        assert not session.user_model()["servers"], f"{name}'s sign-in started a server"
    store = Store(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}")
    assert store.active() == [], "a sign-in took a GPU"


def test_the_home_has_one_card_per_course_in_the_visitors_language(hub):
    session = hub.session("student1")
    english = text(get(session, f"{hub.url}/hub/home", "en"))
    chinese = text(get(session, f"{hub.url}/hub/home", "zh-CN"))
    for card in ("Computer vision", "Integration test course"):  # two courses, two cards
        assert card in english and card in chinese
    assert "Your courses" in english and ZH._("Your courses") in chinese
    assert "Your courses" not in chinese
    # the weekly quota resets Monday 00:00 in the site's zone (Asia/Shanghai)
    assert re.search(r"resets on \d{4}-\d\d-\d\d 00:00 CST", english), english
    # each card's one button starts that course's server: no server name to type
    page = get(session, f"{hub.url}/hub/home")
    assert 'href="/hub/spawn/student1/cv201"' in page or 'href="/hub/spawn/student1/demo"' in page
    assert "name-your-server" not in page


def test_the_switch_is_remembered_and_stays_on_the_site(hub):
    session = hub.session("student1")
    back = session.get(
        f"{hub.url}/hub/language",
        params={"lang": "zh-CN", "next": "/hub/home"},
        allow_redirects=False,
    )
    assert back.status_code == 302 and back.headers["Location"] == "/hub/home"
    page = text(get(session, f"{hub.url}/hub/home", "en"))
    assert ZH._("Your courses") in page, "the choice beats the browser's language"
    for target in ("https://example.org/", "//example.org/x", "/\\example.org"):
        away = session.get(
            f"{hub.url}/hub/language", params={"lang": "en", "next": target}, allow_redirects=False
        )
        assert away.headers["Location"] == "/hub/home", target


def test_a_course_that_cannot_start_says_why_on_its_card(hub):
    session = hub.session("ghoststudent")
    page = get(session, f"{hub.url}/hub/home", "en")
    card = page[page.index('id="course-ghost"') :]
    assert "not installed on this server yet" in text(card)[:2000]
    assert re.search(r'<button type="button" class="btn btn-secondary start" disabled>', card)


def test_the_login_page_names_the_site_and_who_may_use_the_class_password(hub):
    for lang, reader in (("en", Reader("en")), ("zh-CN", ZH)):
        page = text(get(requests, f"{hub.url}/hub/login", lang))
        assert "Deep learning lab" in page
        assert (
            reader._(
                "Students: your username and the class password your instructor gave you. Instructors, TAs and admins: your username and your own password."
            )
            in page
        )

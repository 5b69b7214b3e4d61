"""Playwright driving Debian's Chromium (never a browser Playwright downloads)."""

import re
from pathlib import Path

import pytest

from tests.integration.hub import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
#: the pictures in the docs: the browser tests take them, so they show the pages as they are
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Not longer: while Playwright's sync API is active the
    main thread counts as inside a running event loop, so every later ``asyncio.run`` (the
    broker's and the authenticator's unit tests) would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, request):
    """``new_page(viewport=DESKTOP, locale="zh-CN")``: a page in a fresh context (its own
    cookies; ``locale`` sets the browser's language and its Accept-Language); each is
    screenshotted into artifacts/ when the test ends."""
    contexts = []

    def make(viewport=DESKTOP, locale=None):
        context = browser.new_context(viewport=viewport, locale=locale)
        contexts.append(context)
        return context.new_page()

    yield make
    ARTIFACTS.mkdir(exist_ok=True)
    for n, context in enumerate(contexts):
        for page in context.pages:
            page.screenshot(path=str(ARTIFACTS / f"browser-{request.node.name}-{n}-last.png"))
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def document(page, name: str, **options) -> None:
    """A screenshot for the docs (docs/img/NAME.png), taken where a test has just checked
    what the page shows."""
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / f"{name}.png"), **options)


def sign_in(page, hub, username: str) -> None:
    """Sign ``username`` in on the hub's login page, as a person does; lands on the home."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", hub.password(username))
    page.click("#login_submit")
    page.wait_for_url(re.compile(r"/hub/home"), timeout=60_000)

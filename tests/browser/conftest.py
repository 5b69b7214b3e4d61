"""Playwright driving Debian's Chromium (never a browser Playwright downloads)."""

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

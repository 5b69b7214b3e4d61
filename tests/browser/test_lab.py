"""A student in a real browser: log in, start the course from its card on the home page,
watch the spawn, run torch in a notebook cell."""

import re

import pytest

from tests.integration.hub import ARTIFACTS, USER_PASSWORD, expected_torch_version

pytestmark = pytest.mark.browser


def test_student_runs_torch_in_a_notebook(hub, page):
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", "student1")
    page.fill("input[name=password]", USER_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    # signing in starts nothing: the course home, one card per course, one button each
    page.wait_for_url(re.compile(r"/hub/home"), timeout=60_000)
    page.click("#course-demo .start")

    # JupyterLab loads once the spawn finished (the pending page follows the progress stream)
    page.wait_for_url(re.compile(r"/user/student1/lab"), timeout=240_000)
    page.locator(".jp-LauncherCard[data-category='Notebook']").first.click(timeout=120_000)
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.wait_for(timeout=60_000)
    # the status bar says when the new kernel is connected and idle
    page.locator(".jp-StatusBar-Widget").filter(has_text=re.compile(r"\|\s*Idle")).first.wait_for(
        timeout=120_000
    )
    cell.click()
    page.keyboard.type("import torch; print(torch.__version__)")
    page.keyboard.press("Shift+Enter")

    version = expected_torch_version()
    output = page.locator(".jp-OutputArea-output").filter(has_text=version).first
    output.wait_for(timeout=120_000)
    assert output.inner_text().strip().startswith(version)
    outputs = " ".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert "Warning" not in outputs and "Error" not in outputs, outputs
    page.screenshot(path=str(ARTIFACTS / "browser-torch-version.png"))

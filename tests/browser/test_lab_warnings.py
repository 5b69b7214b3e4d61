"""The culler's warning where the student looks: inside JupyterLab and on the course home,
in the student's language, before the stop, with "keep working" and "save and stop" (which saves, stops the
server through the hub and goes to the course home). GPU utilisation comes from the fake
nvidia-smi (tests/fakes), held at 0%: the lowest layer is the only double."""

import re

import pytest

from launcher.i18n import Reader
from tests.integration.hub import running_hub, wait_for
from tests.integration.test_culling import set_utilisation
from tests.integration.test_gpus import FAKES

pytestmark = pytest.mark.browser

ZH = Reader("zh_CN")
WARNING = (
    "Your GPU has been unused for {idle}. This session will be stopped in {left} (at {at}) to "
    "free the GPU for others unless you use it (run a cell that uses CUDA). Your files are "
    "kept either way."
)
HOME_WARNING = (
    "Your GPU has been unused: this session will be stopped at {time} to free it for others, "
    "unless you use it. Your files are kept."
)
SITE = {
    "hub": {"cull_interval": 1, "poll_interval": 2},
    "courses": {
        "gpuidle": {
            "title": "GPU-idle warnings",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["w1", "w2"],
            "gpu": {"per_student": 1},
            # warned after ~5 s of an idle GPU, stopped after 4 minutes: time to look
            "session": {"idle_timeout": 0, "gpu_idle_timeout": 240, "gpu_idle_warning": 235},
        }
    },
}


@pytest.fixture(scope="module")
def warn_hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("warnhub")
    util = tmp / "utilisation.json"
    smi = tmp / "nvidia-smi"
    smi.write_text(
        f'#!/bin/sh\nFAKE_GPU_UTILISATION_FILE={util} exec {FAKES / "nvidia-smi"} "$@"\n'
    )
    smi.chmod(0o755)
    site = {**SITE, "gpus": {"source": "nvidia-smi", "nvidia_smi": str(smi)}}
    with running_hub(tmp, "lab-warnings", [], site) as hub:
        hub.util = util
        set_utilisation(hub, 0)
        yield hub


def into_lab(page, hub, username: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", hub.password(username))
    page.click("#login_submit")
    page.wait_for_url(re.compile(r"/hub/home"), timeout=60_000)
    page.click("#course-gpuidle .start")
    page.wait_for_url(re.compile(rf"/user/{username}/lab"), timeout=240_000)


def the_warning(page):
    """The toast with the culler's warning (its first words, in the student's language)."""
    first_words = ZH._(WARNING).split("{")[0].strip()
    toast = page.locator(".Toastify__toast", has_text=first_words)
    toast.wait_for(timeout=90_000)
    return toast


def test_the_warning_shows_in_jupyterlab_in_chinese_and_keep_working_closes_it(warn_hub, new_page):
    page = new_page(locale="zh-CN")
    into_lab(page, warn_hub, "w1")
    toast = the_warning(page)
    assert re.search(r"\d\d:\d\d [A-Z]{3}", toast.inner_text())  # the stop's time of day
    assert warn_hub.container_for("w1", "gpuidle").status == "running"  # before the stop
    toast.get_by_role("button", name="继续工作").click()
    toast.wait_for(state="detached", timeout=30_000)
    assert warn_hub.container_for("w1", "gpuidle").status == "running"
    # the course home says it too, with the time of the stop in the site's zone
    page.goto(f"{warn_hub.url}/hub/home")
    warning = page.locator("#course-gpuidle .warning").inner_text()
    assert warning.startswith(ZH._(HOME_WARNING).split("{")[0]), warning
    assert re.search(r"\d\d:\d\d [A-Z]{3}", warning), warning


def test_save_and_stop_stops_the_server_and_goes_home(warn_hub, new_page):
    page = new_page(locale="zh-CN")
    into_lab(page, warn_hub, "w2")
    toast = the_warning(page)
    toast.get_by_role("button", name="保存并停止").click()
    page.wait_for_url(re.compile(r"/hub/home"), timeout=60_000)
    wait_for(lambda: warn_hub.container_for("w2", "gpuidle") is None, 120, "w2's server to stop")
    page.reload()
    assert page.locator("#course-gpuidle").get_attribute("data-state") == "stopped"

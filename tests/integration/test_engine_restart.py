"""The Docker engine restarts (a Debian security update of docker.io does that) while a
student works: nothing is lost. The engine stops every container when it stops (no
live-restore here), so the hub notices the server stopped, frees its GPU, tells the student
why on its pages, and the next start gets the same workspace back.

Serial: restarting the engine would break the other worker's tests, so `make test` runs
this file after the parallel part (marker ``serial``).
"""

import shutil
import subprocess

import pytest

from tests.integration.hub import ROOT, running_hub, wait_for
from tests.integration.test_faults import (
    FAULT_SITE,
    POLL,
    read_note,
    server_state,
    write_note,
)
from tests.integration.test_gpus import GPU_ENV, holders
from tests.processes import detached

pytestmark = [pytest.mark.integration, pytest.mark.serial]


def restart_engine() -> None:
    """Restart the engine the way this host runs it: the dockerd set-up started (by its PID),
    else the system's service manager."""
    with detached():  # the engine outlives the test session, as it should
        done = subprocess.run(
            ["bash", str(ROOT / "deploy" / "host" / "ensure-docker.sh"), "--restart"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        if "Restarting the dockerd" in done.stdout:
            return
        for manager in (["systemctl", "restart", "docker"], ["service", "docker", "restart"]):
            if shutil.which(manager[0]):
                by_manager = subprocess.run(manager, capture_output=True, text=True, timeout=180)
                if by_manager.returncode == 0:
                    wait_for(engine_answers, 90, "the Docker engine to answer again")
                    return
    raise AssertionError(
        "could not restart the Docker engine: it was not started by deploy/host/ensure-docker.sh "
        f"(make test starts it) and no service manager restarted it: {done.stdout}"
    )


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def test_an_engine_restart_loses_no_file_and_frees_the_gpu(tmp_path):
    with running_hub(tmp_path, "engine-restart", [], FAULT_SITE, GPU_ENV) as hub:
        student = hub.session("f1")
        student.start_server()
        write_note(hub.container_of("f1"), "before the engine restarted")
        assert list(holders(hub)) == ["f1"]

        restart_engine()

        wait_for(lambda: not server_state(student, "f1"), 60 + 10 * POLL, "the hub to notice")
        assert holders(hub) == {}, "the GPU is freed"
        assert "Your lab server stopped by itself" in student.get(f"{hub.url}/hub/home").text
        assert hub.session("admin").get(f"{hub.url}/hub/api/").status_code == 200

        student.start_server()
        assert read_note(hub.container_of("f1")) == "before the engine restarted"
        assert list(holders(hub)) == ["f1"]
        student.stop_server()

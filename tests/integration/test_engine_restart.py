"""The Docker engine restarts (a Debian security update of docker.io does that) while a
student works.

- With live-restore (what set-up and the production install configure), the student's
  container runs through the restart: their kernel keeps its state, their GPU stays theirs,
  and the hub goes on serving them.
- Without it (an engine nobody configured), the engine stops every container: nothing is
  lost, the hub notices, frees the GPU, tells the student why, and the next start gets the
  same workspace back.

Serial: restarting the engine would break the other worker's tests, so `make test` runs
this file after the parallel part (marker ``serial``).
"""

import json
import os
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
from tests.kernels import Kernel
from tests.processes import detached

pytestmark = [pytest.mark.integration, pytest.mark.serial]


def restart_engine(live_restore: bool = True) -> None:
    """Restart the engine the way this host runs it: the dockerd set-up started (by its PID),
    else the system's service manager (whose configuration decides live-restore)."""
    env = {**os.environ, "LAUNCHER_DOCKERD_LIVE_RESTORE": "1" if live_restore else "0"}
    with detached():  # the engine outlives the test session, as it should
        done = subprocess.run(
            ["bash", str(ROOT / "deploy" / "host" / "ensure-docker.sh"), "--restart"],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
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


def live_restore() -> bool:
    info = subprocess.run(
        ["docker", "info", "--format", "{{json .LiveRestoreEnabled}}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(info.stdout)


def test_an_engine_restart_keeps_a_running_students_kernel(tmp_path):
    if not live_restore():  # an engine set-up did not start: as set-up would
        restart_engine()
    with running_hub(tmp_path, "engine-live", [], FAULT_SITE, GPU_ENV) as hub:
        student = hub.session("f1")
        student.start_server()
        container = hub.container_of("f1")
        kernel = Kernel(student)
        kernel.run("x = 41")
        gpu = holders(hub)["f1"]

        restart_engine()

        container.reload()
        assert container.status == "running", "the container ran through the restart"
        wait_for(kernel.alive, 60, "the student's server to answer through the proxy")
        assert kernel.run("print(x + 1)").strip() == "42", "the kernel kept its state"
        assert holders(hub) == {"f1": gpu}, "the GPU is still the student's"
        assert server_state(student, "f1").get("ready")
        assert "stopped by itself" not in student.get(f"{hub.url}/hub/home").text
        student.stop_server()


def test_an_engine_without_live_restore_loses_no_file_and_frees_the_gpu(tmp_path):
    restart_engine(live_restore=False)
    try:
        with running_hub(tmp_path, "engine-restart", [], FAULT_SITE, GPU_ENV) as hub:
            student = hub.session("f1")
            student.start_server()
            write_note(hub.container_of("f1"), "before the engine restarted")
            assert list(holders(hub)) == ["f1"]

            restart_engine(live_restore=False)

            wait_for(lambda: not server_state(student, "f1"), 60 + 10 * POLL, "the hub to notice")
            assert holders(hub) == {}, "the GPU is freed"
            assert "Your lab server stopped by itself" in student.get(f"{hub.url}/hub/home").text
            assert hub.session("admin").get(f"{hub.url}/hub/api/").status_code == 200

            student.start_server()
            assert read_note(hub.container_of("f1")) == "before the engine restarted"
            assert list(holders(hub)) == ["f1"]
            student.stop_server()
    finally:
        restart_engine()  # as set-up left it

"""Session limits on a real hub: the managed culler service stops idle servers, servers past
their maximum age, and GPU servers whose GPU stays at 0% (after a warning the student sees).

GPU utilisation comes from the fake nvidia-smi (tests/fakes), which reads the file this test
writes: the lowest layer is the only double; the culler, the hub API and the engine are real.
The warning is a JSON notice in the home (the sentence, the reason, the stop's time in UTC),
which JupyterLab's launcher-notices extension shows (tests/browser/test_lab_warnings.py).
"""

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from launcher.store import Store
from tests.integration.hub import running_hub, wait_for
from tests.integration.test_gpus import FAKES, GPUS

pytestmark = pytest.mark.integration

NOTICE = "/home/jovyan/GPU-IDLE-WARNING.txt"
SITE = {
    "hub": {"cull_interval": 1, "poll_interval": 2},
    "courses": {
        "gpuidle": {
            "title": "GPU-idle culling",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["gi1", "gi2"],
            "gpu": {"per_student": 1},
            "session": {"idle_timeout": 0, "gpu_idle_timeout": 8, "gpu_idle_warning": 6},
        },
        "quotalab": {
            "title": "A quota that runs out during the session",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["qu1"],
            "gpu": {"per_student": 1},
            "quota": {"gpu_hours": 0.004, "period": "week"},  # 14.4 s
            "session": {"idle_timeout": 0, "gpu_idle_timeout": 0, "quota_warning": 600},
        },
        "shortlab": {
            "title": "Maximum age",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["ma1"],
            "session": {"idle_timeout": 0, "max_age": 6},
        },
        "idlelab": {
            "title": "Idle timeout",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["id1", "id2"],
            "session": {"idle_timeout": 6},
        },
    },
}


@contextlib.contextmanager
def utilisation_hub(tmp, name: str, site: dict):
    """A hub whose GPUs' utilisation is what the test writes (``set_utilisation``): the hub
    and its culler service (which gets only the hub's fixed environment) both run this
    nvidia-smi, the fake, reading the file ``hub.util``."""
    util = tmp / "utilisation.json"
    smi = tmp / "nvidia-smi"
    smi.write_text(
        f'#!/bin/sh\nFAKE_GPU_UTILISATION_FILE={util} exec {FAKES / "nvidia-smi"} "$@"\n'
    )
    smi.chmod(0o755)
    site = {**site, "gpus": {"source": "nvidia-smi", "nvidia_smi": str(smi)}}
    with running_hub(tmp, name, [], site) as hub:
        hub.util = util
        yield hub


@pytest.fixture(scope="module")
def cull_hub(tmp_path_factory):
    with utilisation_hub(tmp_path_factory.mktemp("cullhub"), "culling", SITE) as hub:
        yield hub


def set_utilisation(hub, percent: int) -> None:
    data = {g["uuid"]: {"utilization.gpu": percent} for g in GPUS}
    tmp = hub.util.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(hub.util)  # atomic: nvidia-smi never reads half a file


def notice(container) -> dict | None:
    """The notice in the student's home, read as JSON (None: none, or not all written yet)."""
    code, out = container.exec_run(["cat", NOTICE])
    try:
        return json.loads(out) if code == 0 else None
    except ValueError:
        return None


def stop_time(found: dict) -> datetime:
    """The notice's stop_at, which must be UTC with a Z."""
    assert found["stop_at"].endswith("Z"), found
    return datetime.fromisoformat(found["stop_at"])


def test_an_unused_gpu_is_warned_then_stopped_and_use_takes_the_warning_back(cull_hub):
    set_utilisation(cull_hub, 60)
    s = cull_hub.session("gi1")
    s.start_server()
    container = cull_hub.container_for("gi1", "gpuidle")
    assert container.attrs["HostConfig"]["DeviceRequests"], "the server holds a GPU"

    set_utilisation(cull_hub, 0)
    found = wait_for(lambda: notice(container), 30, "the GPU-idle warning in the home")
    assert found["action"] == "warn" and found["reason"] == "gpu_idle", found
    assert "will be stopped in" in found["message"] and "files are kept" in found["message"]
    assert found["course"] == "gpuidle" and found["language"] == "en"
    now = datetime.now(UTC)  # warned at most gpu_idle_timeout (8 s) before the stop
    assert now - timedelta(seconds=5) <= stop_time(found) <= now + timedelta(seconds=10)
    set_utilisation(cull_hub, 45)  # the student runs a CUDA cell
    wait_for(lambda: notice(container) is None, 30, "the warning to be taken back")
    assert s.user_model()["servers"][""]["ready"]

    set_utilisation(cull_hub, 0)
    wait_for(lambda: not s.user_model()["servers"], 60, "the GPU-idle server to be stopped")
    gpus = json.loads(cull_hub.launcher("gpus", "--json").stdout)
    assert all(not row["holders"] for row in gpus), "the GPU is free again"
    assert "stop gi1/: gpu_idle" in cull_hub.log()
    # the ledger says why the GPU came back
    store = Store(f"sqlite:///{cull_hub.data_dir / 'launcher.sqlite'}")
    ended = [a.end_reason for a in store.history(datetime(2000, 1, 1)) if a.username == "gi1"]
    assert ended == ["gpu_idle"]


def test_maximum_age_and_idle_timeout_stop_servers(cull_hub):
    old, idle = cull_hub.session("ma1"), cull_hub.session("id1")
    old.start_server()
    idle.start_server()
    wait_for(lambda: not old.user_model()["servers"], 60, "the server past its maximum age")
    wait_for(lambda: not idle.user_model()["servers"], 60, "the idle server to be stopped")
    log = cull_hub.log()
    assert "stop ma1/: max_age" in log and "stop id1/: idle" in log
    # the workspace is kept: a new start finds the same volume
    assert any(v.name.endswith("_home_ma1_shortlab") for v in cull_hub.volumes())


def test_a_fifo_in_a_students_home_does_not_stop_the_culler(cull_hub):
    """`mkfifo ~/GPU-IDLE-WARNING.txt` used to block the culler's warning for ever, and with it
    every stop of everyone: idleness, age and GPU idleness."""
    set_utilisation(cull_hub, 60)
    trap = cull_hub.session("gi2")
    trap.start_server()
    container = cull_hub.container_for("gi2", "gpuidle")
    code, _ = container.exec_run(["mkfifo", NOTICE], user="1000:100")
    assert code == 0
    other = cull_hub.session("id2")
    other.start_server()
    set_utilisation(cull_hub, 0)  # the culler warns gi2 (where the fifo is), then stops gi2
    wait_for(lambda: not other.user_model()["servers"], 60, "another student's idle server to stop")
    wait_for(
        lambda: not trap.user_model()["servers"], 60, "the GPU-idle server with the fifo to stop"
    )
    assert "stop gi2/: gpu_idle" in cull_hub.log() and "stop id2/: idle" in cull_hub.log()


def test_a_quota_that_runs_out_during_the_session_warns_then_stops_and_frees_the_gpu(cull_hub):
    set_utilisation(cull_hub, 80)  # busy all along: only the quota stops it
    s = cull_hub.session("qu1")
    s.start_server()
    container = cull_hub.container_for("qu1", "quotalab")
    found = wait_for(lambda: notice(container), 30, "the quota warning in the home")
    assert found["action"] == "warn" and found["reason"] == "quota", found
    assert "Your GPU-hour quota for quotalab runs out in" in found["message"]
    assert stop_time(found) <= datetime.now(UTC) + timedelta(seconds=15)  # 14.4 s of quota
    wait_for(lambda: not s.user_model()["servers"], 60, "the server past its quota to stop")
    assert "stop qu1/: quota" in cull_hub.log()
    store = Store(f"sqlite:///{cull_hub.data_dir / 'launcher.sqlite'}")
    ended = [a.end_reason for a in store.history(datetime(2000, 1, 1)) if a.username == "qu1"]
    assert ended == ["quota"]
    # and the next start is refused at admission, with the sentence
    resp = s.api("POST", "/users/qu1/server")
    assert resp.status_code == 429
    assert (
        "You have used" in resp.json()["message"]
        and "GPU-hours for quotalab" in resp.json()["message"]
    )

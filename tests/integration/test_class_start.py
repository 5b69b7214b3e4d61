"""The start of a large GPU class: a hundred and more starts waiting in the GPU queue do not
count against JupyterHub's limit on concurrent spawns (100 by default), so everybody else still
starts (no HTTP 429 "too many users")."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from launcher.store import Store
from tests.integration.hub import running_hub, wait_for
from tests.integration.test_gpus import FAKES, GPUS

pytestmark = pytest.mark.integration

QUEUED = 105  # more than JupyterHub's default concurrent_spawn_limit


def test_more_queued_gpu_starts_than_jupyterhubs_spawn_limit_block_nobody_else(tmp_path):
    first_gpu = str(GPUS[0]["index"])
    students = [f"q{i}" for i in range(QUEUED + 1)]
    site = {
        "gpus": {"source": "nvidia-smi", "when_full": "queue", "queue_timeout": 600},
        "courses": {
            "bigclass": {
                "title": "One GPU for the whole class",
                "image": "launcher/pytorch:2.13-cpu",
                "students": students,
                "gpu": {"per_student": 1, "pool": [first_gpu]},
            }
        },
    }
    env = {"PATH": f"{FAKES}:{os.environ['PATH']}"}
    with running_hub(tmp_path, "class-start", [], site, env) as hub:
        admin = hub.session("admin")
        admin.start_server("q0")  # holds the one GPU

        def ask(name: str) -> int:
            return admin.api("POST", f"/users/{name}/server").status_code

        # each request returns once JupyterHub's slow_spawn_timeout (10 s) has passed
        with ThreadPoolExecutor(36) as pool:
            answers = list(pool.map(ask, students[1:]))
        assert set(answers) == {202}, sorted(set(answers))  # all waiting in the GPU queue
        store = Store(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}")
        wait_for(lambda: len(store.queued()) == QUEUED, 60, f"{QUEUED} starts in the GPU queue")
        # a student of another course starts as always
        other = hub.session("student1")
        other.start_server()
        assert hub.container_of("student1").status == "running"
        other.stop_server()
        admin.stop_server("q0")

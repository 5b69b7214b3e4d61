"""The start of a class: a few container starts at a time (the start line), the others told
their number and following in order, none failing because it waited, a closed tab keeping its
place; and a hundred and more starts waiting in the GPU queue do not count against
JupyterHub's limit on concurrent spawns (100 by default), so everybody else still starts (no
HTTP 429 "too many users")."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from launcher.store import Store
from tests.integration.hub import IMAGE, running_hub, wait_for
from tests.integration.test_gpus import GPU_ENV, GPUS

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
    with running_hub(tmp_path, "class-start", [], site, GPU_ENV) as hub:
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


LINE = 6  # students starting at once, through a line one start wide
LINE_STEP = 44  # the progress of the start line's message; later steps are past the line


def test_starts_go_one_at_a_time_in_order_and_a_closed_tab_keeps_its_place(tmp_path):
    students = [f"s{i}" for i in range(LINE)]
    site = {
        "hub": {"concurrent_starts": 1},
        "courses": {"lab": {"title": "Lab", "image": IMAGE, "students": students}},
    }
    with running_hub(tmp_path, "start-line", [], site) as hub:
        admin = hub.session("admin")
        asked = {}
        for name in students:  # in this order: their places in the line
            asked[name] = admin.request_server(name)
            wait_for(
                lambda n=name: admin.user_model(n)["servers"].get("", {}).get("pending"),
                60,
                f"{name}'s start to begin",
                interval=0.05,
            )
            # the next one asks once this one has reached the line (or gone through it): the
            # line orders those in it by request time, but a start that reaches an empty line
            # first takes the free slot, even if a classmate asked a moment before
            for event in admin.iter_progress(name):
                if event.get("progress", 0) >= LINE_STEP:
                    break
        # the last one waits its turn and is told its number and an estimate
        last = students[-1]
        tab = admin.iter_progress(last)
        for event in tab:
            if "in line to start" in event.get("message", ""):
                first_seen = event["message"]
                break
        else:
            raise AssertionError("the last student was never told their place in the line")
        assert "Many classmates are starting their servers: you are number" in first_seen
        assert "about " in first_seen
        tab.close()  # the student closes the tab ...
        assert admin.user_model(last)["servers"][""]["pending"] == "spawn", "... it goes on"
        # ... and coming back sees its place, down to first in line (the line is ordered by
        # when each student asked: a classmate who asked just before and reaches the line a
        # moment later goes ahead, so a place may rise by one on the way)
        back = admin.iter_progress(last)
        places = []
        for event in back:
            message = event.get("message", "")
            if "in line to start" in message:
                places.append(int(message.split("you are number ")[1].split(" ")[0]))
            if event.get("ready"):
                break
        assert places and all(1 <= p < LINE for p in places), places
        assert places[-1] == 1, places
        for name in students:
            assert asked[name].result().status_code in (201, 202)
            assert admin.user_model(name)["servers"][""]["ready"], name
        # one at a time, in the order asked: each container started after the previous one
        started = [hub.container_of(n).attrs["State"]["StartedAt"] for n in students]
        assert started == sorted(started), started
        for name in students:
            admin.stop_server(name)

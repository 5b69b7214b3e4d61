"""Faults that lose nothing: a hub restart with students running and students queued, a
server killed by its memory limit, a container killed behind the hub's back, a broken site
file at a restart. Each test writes a file into a workspace before the fault and reads it
after. (The Docker engine's restart: test_engine_restart.py; the store's outage:
test_store_outage.py.)
"""

import subprocess
import sys

import pytest

from launcher.store import Store
from tests.integration.hub import (
    IMAGE,
    running_hub,
    start_hub,
    stop_hub,
    wait_for,
)
from tests.integration.test_gpus import GPU_ENV, holders

pytestmark = pytest.mark.integration

POLL = 2  # the hub's poll_interval: how soon it notices a dead server

FAULT_SITE = {
    "hub": {"poll_interval": POLL},
    "gpus": {
        "source": "nvidia-smi",
        "when_full": "queue",
        "queue_timeout": 300,
        "reconcile_interval": 2,
    },
    "courses": {
        "lab": {
            "title": "Fault lab",
            "image": IMAGE,
            "students": ["f1", "f2", "f3", "f4"],
            # one GPU for the whole course: the second student queues
            "gpu": {"per_student": 1, "max_gpus": 1},
            "resources": {"mem_limit": "512M", "cpu_limit": 1.0},
        }
    },
}


def write_note(container, text: str) -> None:
    code, out = container.exec_run(
        ["sh", "-c", f"printf %s '{text}' > /home/jovyan/note.txt"], user="1000:100"
    )
    assert code == 0, out


def read_note(container) -> str:
    code, out = container.exec_run(["cat", "/home/jovyan/note.txt"], user="1000:100")
    assert code == 0, out
    return out.decode()


def wait_for_message(progress, text: str) -> dict:
    """Follow a progress stream until an event says ``text`` (the stream stays open)."""
    for event in progress:
        if text in event.get("message", ""):
            return event
        assert not event.get("failed") and not event.get("ready"), event
    raise AssertionError(f"the progress never said {text!r}")


def server_state(session, username: str) -> dict:
    return session.user_model(username)["servers"].get("", {})


def test_a_hub_restart_keeps_running_sessions_and_queued_places(tmp_path):
    with running_hub(tmp_path, "fault-restart", [], FAULT_SITE, GPU_ENV) as hub:
        store = Store(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}")
        admin = hub.session("admin")
        admin.start_server("f1")
        running = hub.container_of("f1")
        write_note(running, "written before the restart")
        gpu = holders(hub)["f1"]

        # two classmates wait for the course's one GPU, in the order they asked
        asked = {}
        for user, place in (("f2", "number 1 of 1"), ("f3", "number 2 of 2")):
            asked[user] = admin.request_server(user)
            wait_for(lambda u=user: server_state(admin, u).get("pending"), 60, f"{user} to start")
            progress = admin.iter_progress(user)
            wait_for_message(progress, f"you are {place} in the queue")
            progress.close()
        assert [r["username"] for r in store.queued()] == ["f2", "f3"]

        stop_hub(hub)
        assert hub.container_of("f1").id == running.id and hub.container_of("f1").status == (
            "running"
        ), "the running session goes on while the hub is down"
        start_hub(hub)

        # the running student: same container, same GPU, the file, JupyterLab through the
        # proxy of the new hub
        admin = hub.session("admin")
        assert server_state(admin, "f1").get("ready")
        assert hub.container_of("f1").id == running.id
        assert holders(hub)["f1"] == gpu
        student = hub.session("f1")
        assert student.open_server("/user/f1/lab").status_code == 200  # signs in to it
        contents = student.get(f"{hub.url}/user/f1/api/contents/note.txt?content=1")
        assert contents.status_code == 200, contents.text[:300]
        assert contents.json()["content"] == "written before the restart"

        # the queued students: their starts resumed by the hub, told why, in their places
        for user in ("f2", "f3"):
            wait_for(lambda u=user: server_state(admin, u).get("pending"), 60, f"{user} resumed")
        wait_for(
            lambda: [r["username"] for r in store.queued()] == ["f2", "f3"],
            60,
            "both resumed starts back in the GPU queue, in their order",
        )
        second = admin.iter_progress("f2")
        told = wait_for_message(second, "The hub restarted while your server was starting")
        assert "keeps its place in line" in told["message"]
        wait_for_message(second, "you are number 1 of 2 in the queue")
        third = admin.iter_progress("f3")
        wait_for_message(third, "you are number 2 of 2 in the queue")
        third.close()
        assert hub.container_of("f2") is None and hub.container_of("f3") is None

        # the GPU goes to them in their order when it is free
        admin.stop_server("f1")
        assert list(second)[-1].get("ready")
        assert holders(hub) == {"f2": gpu}
        assert server_state(admin, "f3").get("pending"), "f3 still waits, now first"
        admin.stop_server("f2")
        assert list(admin.iter_progress("f3"))[-1].get("ready")
        assert holders(hub) == {"f3": gpu}
        admin.stop_server("f3")
        assert store.starts_left() == [], "every start is over"
        assert store.queued() == []


@pytest.fixture(scope="module")
def fault_hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("faults"), "faults", [], FAULT_SITE, GPU_ENV) as hub:
        yield hub


# run inside the student's container, as the student: the server (jupyterhub-singleuser)
# becomes the kernel's first choice when memory runs out (a process may raise its own
# user's oom_score_adj), then memory is filled until the container's limit is reached
OOM = r"""
import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():  # this script names the server too
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if b"jupyterhub-singleuser" in cmd and b"python" in cmd.split(b"\0")[0]:
        open(f"/proc/{pid}/oom_score_adj", "w").write("1000")
hog = []
while True:
    hog.append(b"x" * (32 << 20))
"""


def test_a_server_killed_by_its_memory_limit_says_so_and_frees_its_gpu(fault_hub):
    hub = fault_hub
    student = hub.session("f1")
    student.start_server()
    container = hub.container_of("f1")
    write_note(container, "before the memory ran out")
    assert list(holders(hub)) == ["f1"]

    container.exec_run(["python", "-c", OOM], user="1000:100", detach=True)
    wait_for(lambda: not server_state(student, "f1"), 60 + 10 * POLL, "the hub to notice")
    # the engine said so (State.OOMKilled), the hub read it before removing the container
    assert "stopped by itself: {'reason': 'oom'" in hub.log()
    assert holders(hub) == {}, "the GPU is freed"
    home = student.get(f"{hub.url}/hub/home")
    assert "Your lab server ran out of memory (limit 512M)" in home.text
    assert "Your files are kept" in home.text
    # the page of the stopped server says it too (JupyterHub's "not running" page)
    page = student.get(f"{hub.url}/user/f1/lab")
    assert "ran out of memory (limit 512M)" in page.text

    student.start_server()
    assert read_note(hub.container_of("f1")) == "before the memory ran out"
    assert "ran out of memory" not in student.get(f"{hub.url}/hub/home").text
    student.stop_server()


def test_a_container_killed_behind_the_hubs_back_says_so_and_keeps_the_files(fault_hub):
    hub = fault_hub
    student = hub.session("f2")
    student.start_server()
    write_note(hub.container_of("f2"), "before the kill")
    hub.container_of("f2").kill()
    wait_for(lambda: not server_state(student, "f2"), 10 * POLL + 20, "the hub to notice")
    assert holders(hub) == {}, "the GPU is freed"
    assert "Your lab server stopped by itself" in student.get(f"{hub.url}/hub/home").text
    assert "(exit code 137)" in student.get(f"{hub.url}/hub/home").text

    # removed outright, not just stopped
    student.start_server()
    assert read_note(hub.container_of("f2")) == "before the kill"
    hub.container_of("f2").remove(force=True)
    wait_for(lambda: not server_state(student, "f2"), 10 * POLL + 20, "the hub to notice")
    assert "container was removed outside the hub" in student.get(f"{hub.url}/hub/home").text
    assert holders(hub) == {}
    student.start_server()
    assert read_note(hub.container_of("f2")) == "before the kill"
    student.stop_server()


def test_a_broken_site_file_at_a_restart_is_refused_and_touches_no_session(tmp_path):
    with running_hub(tmp_path, "fault-site") as hub:
        admin = hub.session("admin")
        admin.start_server("student1")
        running = hub.container_of("student1")
        write_note(running, "before the typo")
        stop_hub(hub)

        good = hub.site_file.read_text()
        lines = good.splitlines()
        at = lines.index("hub:") + 1
        lines.insert(at, "  poll_intervall: 5")  # a typo, as an admin would make it
        hub.site_file.write_text("\n".join(lines) + "\n")
        refused = subprocess.run(
            [sys.executable, "-m", "launcher.cli", "up", "--config", str(hub.site_file)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=hub.site_file.parent,
        )
        assert refused.returncode != 0
        said = refused.stdout + refused.stderr
        assert f"{hub.site_file}:{at + 1}: hub.poll_intervall: unknown key" in said, said
        assert "Traceback" not in said
        assert hub.container_of("student1").id == running.id
        assert hub.container_of("student1").status == "running", "the session is untouched"

        hub.site_file.write_text(good)
        start_hub(hub)
        admin = hub.session("admin")
        assert server_state(admin, "student1").get("ready")
        assert hub.container_of("student1").id == running.id
        assert read_note(hub.container_of("student1")) == "before the typo"
        admin.stop_server("student1")

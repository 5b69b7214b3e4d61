"""docker.mode: swarm on a real two-node swarm (tests/swarm.py): students of a GPU course land
on both nodes with distinct GPUs the engine assigned, the next one queues, a stop frees the GPU
for it, files survive a stop and start (the server returns to its workspace's node), and a
drained node's student is stopped with a sentence, refused until the admin moves the
workspace with `launcher workspaces move`, and then starts on the other node with their files.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from launcher import names
from launcher import swarm as launcher_swarm
from tests.integration.hub import IMAGE, running_hub, start_hub, stop_hub, wait_for
from tests.registry import tiny_image
from tests.sshclient import Endpoint
from tests.swarm import two_node_swarm

pytestmark = pytest.mark.integration

POLL = 3  # hub.poll_interval, seconds
NODES = {
    "node-a": [
        "GPU-5a000000-0000-4000-8000-000000000001",
        "GPU-5a000000-0000-4000-8000-000000000002",
    ],
    "node-b": ["GPU-5b000000-0000-4000-8000-000000000001"],
}
STUDENTS = ["s1", "s2", "s3", "s4"]


def site(swarm) -> dict:
    return {
        "hub": {"poll_interval": POLL},
        "docker": {"mode": "swarm", "hub_address": swarm.host_address},
        "gpus": {"source": "swarm", "when_full": "queue", "queue_timeout": 300,
                 "reconcile_interval": 5},
        "courses": {
            "gpu101": {
                "title": "GPU course on the swarm",
                "image": IMAGE,
                "students": STUDENTS,
                "gpu": {"per_student": 1},
                "resources": {"mem_limit": "1G", "cpu_limit": 1.0},
            },
            # its students' GPUs are node-b's only (a pool by node)
            "nb101": {
                "title": "GPU course on node-b",
                "image": IMAGE,
                "students": ["f1"],
                "gpu": {"per_student": 1, "pool": ["node:node-b"]},
                "resources": {"mem_limit": "1G", "cpu_limit": 1.0},
            },
            # no GPU: its server runs on either node
            "cpu101": {
                "title": "CPU course on the swarm",
                "image": IMAGE,
                "students": ["c1"],
                "resources": {"mem_limit": "1G", "cpu_limit": 1.0},
            },
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def swarm_hub(tmp_path_factory):
    with two_node_swarm(NODES, [IMAGE]) as swarm:
        env = {"DOCKER_HOST": swarm.manager.url}
        with running_hub(tmp_path_factory.mktemp("swarm"), "swarm", [], site(swarm), env) as hub:
            yield swarm, hub


def holders(hub) -> dict[str, tuple[str, str]]:
    """user -> (GPU UUID, node), from `launcher gpus --json`."""
    proc = hub.launcher("gpus", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return {
        h["user"]: (row["uuid"], row["node"])
        for row in json.loads(proc.stdout)
        for h in row["holders"]
    }


def container(swarm, hub, user: str, course: str = "gpu101"):
    """(node name, container) serving ``user``, found on the nodes' own engines."""
    service = names.container_name(hub.prefix, user, course)
    found = [
        (name, c)
        for name, node in swarm.nodes.items()
        for c in node.client().containers.list(filters={"label": f"io.launcher.service={service}"})
    ]
    assert len(found) <= 1, found
    return found[0] if found else (None, None)


def engine_gpu(c) -> str:
    env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
    return env["DOCKER_RESOURCE_NVIDIA-GPU"]


def test_every_node_is_checked_for_the_course_images(swarm_hub):
    swarm, hub = swarm_hub
    checked = hub.launcher("images", "check")
    problems = [line for line in checked.stdout.splitlines() if line.startswith("problem:")]
    # the one problem: the test site's course whose image was never built
    assert len(problems) == 1 and "0.0-never-built" in problems[0], checked.stdout
    assert checked.returncode == 1
    for node in NODES:
        assert f"ok: image {IMAGE} is on node {node}" in checked.stdout, checked.stdout
    # an image only one node has: the other says so (the test registry is not reachable from
    # the nodes, so it cannot pull it)
    node_a = swarm.nodes["node-a"].client()
    only_a = tiny_image(node_a, "launcher-test/only-on-a:1")
    found = launcher_swarm.images_on_nodes(swarm.manager.client(), only_a, "lt_prepull_only_a", 120)
    assert found["node-a"] == "", found
    assert "is not on node-b and could not be pulled there" in found["node-b"], found
    assert not swarm.manager.client().services.list(), "the checking service is gone"


def test_two_nodes_gpus_queue_workspaces_and_a_drained_node(swarm_hub):
    swarm, hub = swarm_hub
    admin = hub.session("admin")

    # three students, three GPUs on two nodes: each gets a distinct one, the engine's choice,
    # which is what the ledger and the student's progress say
    placed = {}
    for user in ("s1", "s2", "s3"):
        events = admin.start_server(user)
        node, c = container(swarm, hub, user)
        gpu = engine_gpu(c)
        assert gpu in NODES[node]
        said = [e["message"] for e in events if "GPU assigned" in e.get("message", "")]
        assert said and f"on {node}" in said[-1], events
        placed[user] = (gpu, node)
        # JupyterLab answers through the hub's proxy, on whichever node it runs
        page = hub.session(user).open_server(f"/user/{user}/lab")
        assert page.status_code == 200 and "JupyterLab" in page.text, page.text[:300]
    assert {n for _, n in placed.values()} == set(NODES), placed
    assert sorted(g for g, _ in placed.values()) == sorted(sum(NODES.values(), []))
    assert holders(hub) == placed

    # the fourth waits in the queue; a stop frees a GPU for it
    post, progress, queued = admin.queued_start("s4")
    assert "you are number 1 of 1 in the queue" in queued
    assert container(swarm, hub, "s4") == (None, None), "nothing runs while queued"
    admin.stop_server("s1")
    assert list(progress)[-1].get("ready")
    assert post.result().status_code in (201, 202)
    node, c = container(swarm, hub, "s4")
    placed["s4"] = (engine_gpu(c), node)
    assert placed["s4"] == placed.pop("s1"), "s4 got the GPU s1 freed"
    assert holders(hub) == placed

    # files survive a stop and a start: the server comes back to its workspace's node
    node_b_user = next(u for u, (_, n) in placed.items() if n == "node-b")
    _, c = container(swarm, hub, node_b_user)
    assert c.exec_run(["sh", "-c", "echo kept > ~/work.txt"]).exit_code == 0
    admin.stop_server(node_b_user)
    assert node_b_user not in holders(hub)
    admin.start_server(node_b_user)
    node, c = container(swarm, hub, node_b_user)
    assert node == "node-b"
    assert c.exec_run(["cat", "/home/jovyan/work.txt"]).output.decode().strip() == "kept"

    # node-b is drained: its student's server stops, the GPU is freed, the student reads why
    manager = swarm.manager.client()
    (node_b,) = [n for n in manager.nodes.list() if n.attrs["Description"]["Hostname"] == "node-b"]
    spec = dict(node_b.attrs["Spec"], Availability="drain")
    assert node_b.update(spec)
    wait_for(
        lambda: "" not in admin.user_model(node_b_user)["servers"],
        10 * POLL + 60,
        f"{node_b_user}'s server on the drained node to stop",
    )
    wait_for(lambda: node_b_user not in holders(hub), 30, "the drained node's GPU to be freed")
    student = hub.session(node_b_user)
    home = student.get(f"{hub.url}/hub/home")
    assert "took the GPU server it ran on (node-b) out of service" in home.text, home.text[-2000:]
    others = {u: p for u, p in placed.items() if u != node_b_user}
    assert holders(hub) == others, "nobody else is affected"

    # its start is refused with a sentence until the workspace moves
    resp = student.api("POST", f"/users/{node_b_user}/server")
    if resp.status_code in (201, 202):
        events = student.progress_events(node_b_user)
        text = events[-1].get("message", "")
    else:
        text = resp.text
    assert "workspace is on the GPU server node-b" in text, text

    # a GPU on node-a is free again once s4 stops; the admin moves the workspace there
    admin.stop_server("s4")
    moved = hub.launcher(
        "workspaces", "move", node_b_user, "gpu101", "--to", "node-a",
        "--from-engine", swarm.nodes["node-b"].url, "--to-engine", swarm.nodes["node-a"].url,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr + moved.stdout
    listed = hub.launcher("workspaces")
    assert f"{node_b_user}" in listed.stdout and "node-a" in listed.stdout, listed.stdout
    admin.start_server(node_b_user)
    node, c = container(swarm, hub, node_b_user)
    assert node == "node-a"
    assert c.exec_run(["cat", "/home/jovyan/work.txt"]).output.decode().strip() == "kept"
    assert engine_gpu(c) in NODES["node-a"]

    # a hub restart keeps every server, where it runs, and every GPU it holds
    held = holders(hub)
    stop_hub(hub)
    start_hub(hub)
    assert holders(hub) == held
    assert container(swarm, hub, node_b_user)[1].id == c.id, "the same container runs on"
    page = hub.session(node_b_user).open_server(f"/user/{node_b_user}/lab")
    assert page.status_code == 200 and "JupyterLab" in page.text


def activate(swarm, name: str) -> None:
    """Make the node ``name`` take servers again (the drain test took it out)."""
    manager = swarm.manager.client()
    (node,) = [n for n in manager.nodes.list() if n.attrs["Description"]["Hostname"] == name]
    if node.attrs["Spec"]["Availability"] != "active":
        assert node.update(dict(node.attrs["Spec"], Availability="active"))


def test_a_student_waits_for_their_workspaces_node_while_another_has_a_free_gpu(swarm_hub):
    swarm, hub = swarm_hub
    admin = hub.session("admin")
    activate(swarm, "node-b")
    held = holders(hub)
    # as the previous test left it: node-a's two GPUs held, node-b's free
    on_a = sorted(u for u, (_, node) in held.items() if node == "node-a")
    assert len(on_a) == 2 and len(held) == 2, held
    waiting = next(u for u in STUDENTS if u not in held)
    homes = hub.launcher("workspaces").stdout
    assert any(line.split() == [waiting, "gpu101", "node-a"] for line in homes.splitlines()), homes

    post, progress, queued = admin.queued_start(waiting)
    assert (
        "The GPUs of node-a, the server your gpu101 workspace is on, are busy: you are number "
        "1 of 1 in the queue" in queued
    )
    assert container(swarm, hub, waiting) == (None, None), "not on node-b, away from its files"
    admin.stop_server(on_a[0])
    assert list(progress)[-1].get("ready")
    assert post.result().status_code in (201, 202)
    node, c = container(swarm, hub, waiting)
    assert node == "node-a" and engine_gpu(c) == held[on_a[0]][0]


def test_ssh_reaches_the_students_server_on_its_node(swarm_hub, tmp_path):
    """The hub's SSH endpoint starts the server on the swarm and reaches the sshd of its task
    through the port the task publishes on its node."""
    swarm, hub = swarm_hub
    endpoint = Endpoint(hub.ssh_port, tmp_path)
    wait_for(endpoint.listening, 60, "the hub's SSH endpoint")
    session = hub.session("c1")
    token = session.new_token("ssh")
    proc = endpoint.ssh("c1", "hostname; echo $LAUNCHER_COURSE; id -u", token=token)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    node, c = container(swarm, hub, "c1", "cpu101")
    assert node in NODES
    assert out.split() == [c.attrs["Config"]["Hostname"], "cpu101", "1000"], (out, err)
    assert "Starting your cpu101 server" in err


def test_a_node_that_stops_answering_frees_its_gpus_and_its_students_read_why(swarm_hub):
    swarm, hub = swarm_hub
    admin = hub.session("admin")
    activate(swarm, "node-b")
    before = holders(hub)

    events = admin.start_server("f1")
    node, c = container(swarm, hub, "f1", "nb101")
    assert node == "node-b" and engine_gpu(c) == NODES["node-b"][0], events
    assert holders(hub)["f1"] == (NODES["node-b"][0], "node-b")

    swarm.nodes["node-b"].cut_off()  # node-b dies, as far as the swarm can tell
    wait_for(
        lambda: "" not in admin.user_model("f1")["servers"],
        120,
        "f1's server on the node that stopped answering to stop",
    )
    wait_for(lambda: "f1" not in holders(hub), 30, "the GPU of the node that died to be freed")
    assert holders(hub) == before, "nobody else is affected"
    student = hub.session("f1")
    home = student.get(f"{hub.url}/hub/home")
    assert "the GPU server it ran on (node-b) stopped answering" in home.text, home.text[-2000:]

    resp = student.api("POST", "/users/f1/server")
    if resp.status_code in (201, 202):
        text = student.progress_events("f1")[-1].get("message", "")
    else:
        text = resp.text
    assert "workspace is on the GPU server node-b, which does not answer right now" in text, text


def test_swarm_mode_on_an_engine_that_is_no_swarm_manager_is_refused_with_a_sentence(tmp_path):
    site_file = tmp_path / "launcher.yaml"
    site_file.write_text(
        f"hub: {{data_dir: {tmp_path / 'data'}}}\ndocker: {{mode: swarm}}\n"
        f"courses:\n  c1: {{title: T, image: '{IMAGE}', students: [a1]}}\n"
    )
    # this machine's own engine is in no swarm (the test swarm's engines are their own)
    checked = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "up", "--config", str(site_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode != 0
    assert "docker.mode is swarm, but this host's Docker engine is not a manager of a swarm" in (
        checked.stdout + checked.stderr
    )

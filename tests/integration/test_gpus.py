"""GPU assignment on the real engine: explicit device IDs, the queue, release, hub restart.

The host has no GPU: tests/fakes/nvidia-smi reports the inventory of tests/fakes/gpus.json to
the hub, and the test double of nvidia-container-runtime-hook (installed on dockerd's PATH by
`make test`) lets the engine accept the DeviceRequests; everything above those two runs as in
production.
"""

import io
import json
import os
import time
from pathlib import Path

import docker
import pytest
from docker.types import DeviceRequest

from tests.integration.hub import ROOT, running_hub, start_hub, stop_hub, wait_for

pytestmark = pytest.mark.integration

FAKES = ROOT / "tests" / "fakes"
GPUS = json.loads((FAKES / "gpus.json").read_text())["gpus"]
WHOLE = [g["uuid"] for g in GPUS if not g.get("mig")]
MIG = [m["uuid"] for g in GPUS for m in g.get("mig", [])]
HOOK_RECORDS = Path("/run/launcher-fake-gpu/hook")
POLL = 2  # hub.poll_interval of this hub, seconds
#: the environment of a hub that finds the fake GPUs (tests/fakes/nvidia-smi first on PATH)
GPU_ENV = {"PATH": f"{FAKES}:{os.environ['PATH']}"}

GPU_SITE = {
    "hub": {"poll_interval": POLL},
    "gpus": {
        "source": "nvidia-smi",
        "when_full": "queue",
        "queue_timeout": 180,
        "reconcile_interval": 2,
    },
    "courses": {
        "gpu101": {
            "title": "GPU course",
            "image": "launcher/pytorch:2.13-cpu",
            "instructors": ["gteacher"],
            "students": ["g1", "g2", "g3", "g4", "g5"],
            "gpu": {"per_student": 1},
            "quota": {"gpu_hours": 50, "period": "week"},
        },
        # images whose build labels say they cannot run here (see incompatible_images below)
        "newcuda": {
            "title": "Needs a newer driver",
            "image": "launcher-test/cuda:13.1-needs-590",
            "students": ["k1"],
            "gpu": {"per_student": 1},
        },
        "hopper": {
            "title": "Built for Hopper and newer only",
            "image": "launcher-test/cuda:12.8-sm90-only",
            "students": ["h1"],
            "gpu": {"per_student": 1},
        },
        "mig101": {
            "title": "MIG course",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["m1"],
            "gpu": {"per_student": 1, "mig_profile": "1g.5gb"},
        },
    },
}


INCOMPATIBLE = {
    # the fake host has driver 580.65.06 (CUDA <= 13.0) and A100s (compute capability 8.0)
    "launcher-test/cuda:13.1-needs-590": ("13.1", "590.44.01", "sm_80 sm_90 sm_100 sm_120"),
    "launcher-test/cuda:12.8-sm90-only": ("12.8", "570.86.10", "sm_90 sm_100 sm_120"),
}


@pytest.fixture(scope="module")
def incompatible_images():
    client = docker.from_env()
    for ref, (cuda, driver, archs) in INCOMPATIBLE.items():
        dockerfile = (
            f"FROM launcher/pytorch:2.13-cpu\n"
            f'LABEL io.launcher.cuda.version="{cuda}" io.launcher.min_driver="{driver}" '
            f'io.launcher.cuda.arch_list="{archs}"\n'
        )
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True)
    yield
    for ref in INCOMPATIBLE:
        client.images.remove(ref, force=True)


@pytest.fixture(scope="module")
def gpu_hub(tmp_path_factory, incompatible_images):
    with running_hub(tmp_path_factory.mktemp("gpuhub"), "gpus", [], GPU_SITE, GPU_ENV) as hub:
        yield hub


def device_ids(container) -> list[str]:
    requests_ = container.attrs["HostConfig"].get("DeviceRequests") or []
    assert all(r["Driver"] == "nvidia" and r["Capabilities"] == [["gpu"]] for r in requests_)
    assert all(not r.get("Count") for r in requests_), "never a count: explicit IDs only"
    return [d for r in requests_ for d in r["DeviceIDs"]]


def visible_devices(container) -> str:
    code, out = container.exec_run(["printenv", "NVIDIA_VISIBLE_DEVICES"])
    assert code == 0
    return out.decode().strip()


def holders(hub) -> dict[str, str]:
    """user -> GPU UUID, from `launcher gpus --json`."""
    proc = hub.launcher("gpus", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return {h["user"]: row["uuid"] for row in json.loads(proc.stdout) for h in row["holders"]}


def test_four_gpus_five_students_queue_release_death_and_restart(gpu_hub):
    hub = gpu_hub
    admin = hub.session("admin")
    for user in ("g1", "g2", "g3", "g4"):
        events = admin.start_server(user)
        assert any("GPU assigned: GPU" in e.get("message", "") for e in events), events

    assigned = {}
    for user in ("g1", "g2", "g3", "g4"):
        c = hub.container_of(user)
        (uuid,) = device_ids(c)
        assert visible_devices(c) == uuid
        record = json.loads((HOOK_RECORDS / f"{c.id}.json").read_text())
        assert record["NVIDIA_VISIBLE_DEVICES"][-1] == uuid  # what the engine's hook saw
        assigned[user] = uuid
    assert sorted(assigned.values()) == sorted(WHOLE), "four distinct whole GPUs"
    assert holders(hub) == assigned
    table = hub.launcher("gpus")
    assert "g1" in table.stdout and "gpu101" in table.stdout and "free" in table.stdout

    # the fifth student waits in the queue and sees its position
    post, progress, queued = admin.queued_start("g5")
    assert "you are number 1 of 1 in the queue" in queued
    assert hub.container_of("g5") is None, "nothing runs while queued"
    admin.stop_server("g1")
    final = list(progress)
    assert final[-1].get("ready"), final
    assert post.result().status_code in (201, 202)
    g5 = hub.container_of("g5")
    assert device_ids(g5) == [assigned["g1"]] and visible_devices(g5) == assigned["g1"]
    assigned["g5"] = assigned.pop("g1")
    assert holders(hub) == assigned

    # a container killed behind the hub's back frees its GPU within a bounded time
    hub.container_of("g2").kill()
    killed_at = time.monotonic()
    wait_for(lambda: "g2" not in holders(hub), 10 * POLL + 20, "g2's GPU to be freed")
    freed_after = time.monotonic() - killed_at
    assert freed_after < 10 * POLL + 20
    freed = assigned.pop("g2")

    # a hub restart keeps every assignment and hands out nothing twice; a container that
    # dies while the hub is down frees its GPU when the hub comes back
    before = {u: hub.container_of(u).id for u in assigned}
    stop_hub(hub)
    assert {u: hub.container_of(u).id for u in assigned} == before, "sessions survive"
    hub.container_of("g4").kill()
    # it stays, exited, until the hub has read why it stopped (the hub removes it then)
    wait_for(lambda: hub.container_of("g4").status == "exited", 30, "g4's container to stop")
    freed_while_down = assigned.pop("g4")
    start_hub(hub)
    assert holders(hub) == assigned
    assert "container lt" in hub.log() and "no longer runs" in hub.log()
    admin = hub.session("admin")
    for user in assigned:
        assert admin.user_model(user)["servers"][""]["ready"]
    assert not admin.user_model("g4")["servers"], "the hub noticed g4's server is gone"
    assert hub.container_of("g4") is None, "and removed its container once read"
    admin.start_server("g2")
    admin.start_server("g4")
    assigned["g2"] = device_ids(hub.container_of("g2"))[0]
    assigned["g4"] = device_ids(hub.container_of("g4"))[0]
    assert {assigned["g2"], assigned["g4"]} == {freed, freed_while_down}
    assert sorted(holders(hub).values()) == sorted(WHOLE)
    assert holders(hub) == assigned

    for user in list(assigned):
        admin.stop_server(user)
    assert holders(hub) == {}, "after all servers stop nothing is held"


def test_mig_course_gets_a_mig_instance(gpu_hub):
    admin = gpu_hub.session("admin")
    admin.start_server("m1")
    c = gpu_hub.container_of("m1")
    (uuid,) = device_ids(c)
    assert uuid in MIG and visible_devices(c) == uuid
    admin.stop_server("m1")


def test_course_without_gpus_sees_void(gpu_hub):
    admin = gpu_hub.session("admin")
    admin.start_server("student1")
    c = gpu_hub.container_of("student1")
    assert device_ids(c) == []
    assert visible_devices(c) == "void"
    admin.stop_server("student1")


def test_release_command_stops_the_holder_and_frees_the_gpu(gpu_hub):
    admin = gpu_hub.session("admin")
    admin.start_server("g3")
    uuid = holders(gpu_hub)["g3"]
    grant = gpu_hub.launcher("gpus", "grant", "g3", "gpu101", "5", "--by", "test-admin")
    assert grant.returncode == 0 and "Granted g3 5 extra GPU-hours in gpu101" in grant.stdout
    rows = json.loads(gpu_hub.launcher("gpus", "--json").stdout)
    (held,) = [h for row in rows for h in row["holders"] if h["user"] == "g3"]
    assert held["gpu_hours_quota"] == 55 and 0 <= held["gpu_hours_used"] < 1
    proc = gpu_hub.launcher("gpus", "release", uuid)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Stopping g3's server" in proc.stdout and "Released." in proc.stdout
    assert "g3" not in holders(gpu_hub)
    wait_for(lambda: not admin.user_model("g3")["servers"], 30, "g3's server to stop")
    assert gpu_hub.container_of("g3") is None


@pytest.mark.parametrize(
    "user, sentence",
    [
        ("k1", "needs CUDA 13.1"),
        ("h1", "sm_80"),
    ],
)
def test_an_image_that_cannot_run_on_these_gpus_is_refused_before_it_starts(
    gpu_hub, user, sentence
):
    admin = gpu_hub.session("admin")
    resp = admin.api("POST", f"/users/{user}/server")
    assert resp.status_code == 503, resp.text
    assert sentence in resp.json()["message"], resp.json()["message"]
    assert gpu_hub.container_of(user) is None
    assert user not in holders(gpu_hub), "the GPU is handed back"


def test_a_container_holding_a_gpu_the_ledger_gives_to_someone_else_is_stopped(gpu_hub):
    """The hub compares the ledger with the engine: a container made behind its back with a
    GPU that belongs to a student's server is reported and stopped; the student keeps it."""
    admin = gpu_hub.session("admin")
    admin.start_server("g1")
    owner = gpu_hub.container_of("g1")
    (unit,) = device_ids(owner)
    stray = gpu_hub.docker.containers.run(
        "launcher/pytorch:2.13-cpu",
        ["sleep", "600"],
        name=f"{gpu_hub.prefix}_stray",
        detach=True,
        device_requests=[DeviceRequest(driver="nvidia", device_ids=[unit], capabilities=[["gpu"]])],
    )
    try:
        wait_for(lambda: stray.reload() or stray.status != "running", 40, "the stray to stop")
        line = f"Container {stray.name} holds GPU {unit}, which the ledger gives to {owner.name}"
        wait_for(lambda: line in gpu_hub.log(), 20, "the hub to report the stray")
        owner.reload()
        assert owner.status == "running" and holders(gpu_hub)["g1"] == unit
    finally:
        stray.remove(force=True)
    admin.stop_server("g1")

"""Swarm mode's pure parts: the nodes' GPUs, one node per server, the service a student gets,
the ledger taking the engine's GPUs, where workspaces live, the sentences."""

import asyncio
from datetime import datetime

import pytest

from launcher import swarm
from launcher.gpu.allocator import GpuPolicy, Holding, Shortage, choose
from launcher.gpu.broker import CourseRules, GpuBroker, GpuRefusal
from launcher.gpu.inventory import InventoryError, from_declared, from_swarm, parse_node, resolve
from launcher.hub import service
from launcher.hub.notices import sentence
from launcher.settings import SiteFileError, parse_site
from launcher.store import Store
from launcher.swarm import SERVICE_LABEL, assigned_gpus, pinned_ref

KIND = "NVIDIA-GPU"


def node_attrs(hostname, gpus, state="ready", availability="active", labels=None, addr="10.0.0.2"):
    return {
        "ID": f"id-{hostname}",
        "Description": {
            "Hostname": hostname,
            "Resources": {
                "GenericResources": [
                    {"NamedResourceSpec": {"Kind": KIND, "Value": g}} for g in gpus
                ]
                + [{"DiscreteResourceSpec": {"Kind": "SSD", "Value": 1}}]
            },
        },
        "Spec": {"Availability": availability, "Labels": labels or {}},
        "Status": {"State": state, "Addr": addr},
    }


NODES = [
    parse_node(node_attrs("gpu-a", ["GPU-a0", "GPU-a1"], labels={"gpu": "a100"}), KIND),
    parse_node(node_attrs("gpu-b", ["GPU-b0"], availability="drain", addr="10.0.0.3"), KIND),
]


def test_a_node_is_its_hostname_address_state_labels_and_advertised_gpus():
    a, b = NODES
    assert (a.hostname, a.address, a.gpus, a.labels) == (
        "gpu-a",
        "10.0.0.2",
        ("GPU-a0", "GPU-a1"),
        (("gpu", "a100"),),
    )
    assert a.usable and not b.usable  # a drained node takes nothing new


def test_the_inventory_is_every_nodes_gpus_numbered_per_node_and_named_with_the_node():
    units = from_swarm(NODES, [])
    assert [(u.uuid, u.index, u.node) for u in units] == [
        ("GPU-a0", "0", "gpu-a"),
        ("GPU-b0", "0", "gpu-b"),
        ("GPU-a1", "1", "gpu-a"),
    ]
    assert units[0].name == "GPU 0 on gpu-a"
    assert resolve("auto", [], swarm_nodes=NODES) == units
    assert resolve("none", [], swarm_nodes=NODES) == []


def test_declared_gpus_must_be_advertised_by_their_node():
    declared = from_declared(
        [{"index": 0, "uuid": "GPU-a1", "model": "A100", "memory_mib": 81920, "node": "gpu-a"}]
    )
    (unit,) = from_swarm(NODES, declared)
    assert (unit.model, unit.node, unit.node_labels) == ("A100", "gpu-a", (("gpu", "a100"),))
    wrong = from_declared([{"index": 0, "uuid": "GPU-a1", "node": "gpu-b"}])
    with pytest.raises(InventoryError, match="GPU-a1 on node gpu-b, which does not advertise"):
        from_swarm(NODES, wrong)
    gone = from_declared([{"index": 0, "uuid": "GPU-a1", "node": "gpu-z"}])
    with pytest.raises(InventoryError, match="'gpu-z', which is not in the swarm"):
        from_swarm(NODES, gone)


def test_a_pool_names_a_node_or_a_node_label():
    units = from_swarm(NODES, [])
    assert {u.uuid for u in units if u.matches("node:gpu-b")} == {"GPU-b0"}
    assert {u.uuid for u in units if u.matches("label:gpu=a100")} == {"GPU-a0", "GPU-a1"}
    assert not any(u.matches("label:gpu=h100") for u in units)


def test_one_servers_gpus_are_all_on_one_node():
    units = from_swarm(NODES, [])
    two = GpuPolicy(per_student=2)
    assert choose(units, [], two, "c") == ["GPU-a0", "GPU-a1"]
    held = [Holding("GPU-a0", "x", "c")]
    shortage = choose(units, held, two, "c")
    assert isinstance(shortage, Shortage) and shortage.reason == "pool"
    # one GPU each: the least loaded, lowest index first, so the nodes share the class
    one = GpuPolicy(per_student=1)
    assert choose(units, [], one, "c") == ["GPU-a0"]
    assert choose(units, held, one, "c") == ["GPU-b0"]


def facts(**changes):
    base = dict(
        name="launcher_ann_dl",
        image="sha256:abc",
        command=["jupyterhub-singleuser"],
        env={"A": "1"},
        volumes={
            "launcher_home_ann_dl": {"bind": "/home/jovyan", "mode": "rw"},
            "/srv/materials/dl": {"bind": "/home/jovyan/materials", "mode": "ro"},
        },
        network="launcher",
        port=8888,
        mem_limit=2 << 30,
        cpu_limit=1.5,
        pids_limit=512,
        gpus=1,
        node="gpu-a",
    )
    return service.ServiceFacts(**{**base, **changes})


def test_a_students_service_keeps_the_containers_security_and_limits():
    kwargs = service.service_kwargs(facts())
    task = kwargs["task_template"]
    spec = task["ContainerSpec"]
    assert spec["User"] == "1000:100" and spec["CapabilityDrop"] == ["ALL"]
    assert spec["Labels"][SERVICE_LABEL] == "launcher_ann_dl"
    mounts = {m["Source"]: (m["Type"], m["ReadOnly"]) for m in spec["Mounts"]}
    assert mounts == {
        "launcher_home_ann_dl": ("volume", False),
        "/srv/materials/dl": ("bind", True),
    }
    limits = task["Resources"]["Limits"]
    assert limits == {"MemoryBytes": 2 << 30, "NanoCPUs": 1_500_000_000, "Pids": 512}
    assert task["Resources"]["Reservations"]["GenericResources"] == [
        {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}
    ]
    assert task["Placement"]["Constraints"] == ["node.hostname==gpu-a"]
    assert task["RestartPolicy"]["Condition"] == "none"
    assert task["LogDriver"]["Options"] == {"max-size": "10m", "max-file": "3"}
    (port,) = kwargs["endpoint_spec"]["Ports"]
    # no published port: the engine picks a free one on the node
    assert port == {
        "Protocol": "tcp",
        "TargetPort": 8888,
        "PublishMode": "host",
        "PublishedPort": None,
    }


def test_a_cpu_service_asks_the_engine_for_no_gpu_and_may_run_anywhere():
    task = service.service_kwargs(facts(gpus=0, node=""))["task_template"]
    assert "Reservations" not in task["Resources"]
    assert task["Placement"].get("Constraints", []) == []


def test_the_published_port_and_the_engines_gpus_are_read_from_the_task():
    task = {
        "Status": {"PortStatus": {"Ports": [{"TargetPort": 8888, "PublishedPort": 30001}]}},
        "GenericResources": [
            {"NamedResourceSpec": {"Kind": KIND, "Value": "GPU-b0"}},
            {"NamedResourceSpec": {"Kind": "FPGA", "Value": "F-1"}},
        ],
    }
    assert swarm.published_port(task, 8888) == 30001
    assert swarm.published_port(task, 9999) is None
    assert assigned_gpus(task, KIND) == ["GPU-b0"]


def test_the_ledger_takes_the_gpus_the_engine_gave_swapping_with_the_other_start(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    units = from_swarm(NODES[:1], [])
    broker = GpuBroker(store, units, clock=lambda: datetime(2026, 12, 4, 9))
    rules = CourseRules(GpuPolicy(per_student=1))

    async def scenario():
        ann = await broker.acquire("ann", "dl", rules, container="launcher_ann_dl")
        bob = await broker.acquire("bob", "dl", rules, container="launcher_bob_dl")
        assert (ann.units, bob.units) == (["GPU-a0"], ["GPU-a1"])
        # the engine gave ann the GPU the ledger had chosen for bob
        assert await broker.settle("ann", "", ["GPU-a1"]) == ["GPU-a1"]
        held = {a.username: a.unit_uuid for a in store.active()}
        assert held == {"ann": "GPU-a1", "bob": "GPU-a0"}, "never one GPU twice"
        await broker.settle("bob", "", ["GPU-a0"])  # bob's engine agrees: nothing moves
        assert {a.username: a.unit_uuid for a in store.active()} == held

    asyncio.run(scenario())


def test_the_store_records_where_each_workspace_lives(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    at = datetime(2026, 12, 4, 9)
    assert store.workspace_node("ann", "dl") is None
    store.set_workspace_node("ann", "dl", "gpu-a", at)
    store.set_workspace_node("bob", "dl", "gpu-a", at)
    store.set_workspace_node("ann", "dl", "gpu-b", at)  # moved
    assert store.workspace_node("ann", "dl") == "gpu-b"
    assert store.workspaces_on("gpu-a") == [("bob", "dl")]
    assert store.workspace_homes() == [("ann", "dl", "gpu-b"), ("bob", "dl", "gpu-a")]


def test_swarm_settings_are_checked_with_the_key_named():
    site = parse_site(
        "docker:\n  mode: swarm\n  hub_address: 10.0.0.1\ngpus:\n  source: swarm\n"
        "  devices:\n    - {index: 0, uuid: GPU-a0, node: gpu-a}\n"
    )
    assert site.docker.mode == "swarm" and site.gpus.devices[0].node == "gpu-a"
    with pytest.raises(SiteFileError) as found:
        parse_site("docker:\n  mode: kubernetes\n")
    assert "docker.mode" in str(found.value.problems)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("node_drained", "took the GPU server it ran on (gpu-b) out of service"),
        ("node_down", "the GPU server it ran on (gpu-b) stopped answering"),
    ],
)
def test_a_student_reads_why_their_node_stopped_their_server(reason, expected):
    stop = {"reason": reason, "course": "dl", "details": "gpu-b", "at": "2026-12-04T09:00:00"}
    text = sentence(stop)
    assert expected in text and "Your files are kept on that server" in text


def test_every_node_runs_the_image_pinned_by_digest_else_by_id_never_by_tag():
    info = {
        "Id": "sha256:1d",
        "RepoDigests": ["other/x@sha256:00", "registry.example:5000/launcher/pytorch@sha256:ab"],
    }
    assert (
        pinned_ref("registry.example:5000/launcher/pytorch:2.13-cpu", info)
        == "registry.example:5000/launcher/pytorch@sha256:ab"
    )
    assert pinned_ref("launcher/pytorch:2.13-cpu", {"Id": "sha256:1d"}) == "sha256:1d"
    assert pinned_ref("launcher/pytorch:2.13-cpu", {"Id": "sha256:1d", "RepoDigests": []}) == (
        "sha256:1d"
    )


def test_the_engine_giving_a_gpu_the_server_may_not_have_fails_the_start_and_moves_nothing(
    tmp_path,
):
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    units = from_swarm(NODES[:1], [])
    broker = GpuBroker(store, units, clock=lambda: datetime(2026, 12, 4, 9))
    rules = CourseRules(GpuPolicy(per_student=1))
    shared = CourseRules(GpuPolicy(per_student=1, mode="shared", max_students_per_gpu=2))

    async def scenario():
        await broker.acquire("ann", "dl", rules)  # GPU-a0
        # the image runs only on GPU-a0, the engine gave GPU-a1: refused
        with pytest.raises(GpuRefusal, match="GPU-a1"):
            await broker.settle("ann", "", ["GPU-a1"], allowed={"GPU-a0"})
        # two students of a shared course hold GPU-a1 (the engine does not know of them)
        await broker.acquire("s1", "sh", shared)
        await broker.acquire("s2", "sh", shared)
        before = {(a.username, a.unit_uuid) for a in store.active()}
        assert ("s1", "GPU-a1") in before and ("s2", "GPU-a1") in before
        with pytest.raises(GpuRefusal):
            await broker.settle("ann", "", ["GPU-a1"])
        assert {(a.username, a.unit_uuid) for a in store.active()} == before

    asyncio.run(scenario())


def test_a_manager_that_reports_no_address_is_reached_at_its_managers_address():
    attrs = node_attrs("hub", [], addr="0.0.0.0")
    attrs["ManagerStatus"] = {"Addr": "10.0.0.10:2377", "Leader": True}
    assert parse_node(attrs, KIND).address == "10.0.0.10"

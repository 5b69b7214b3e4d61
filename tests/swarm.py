"""A two-node Docker Swarm on this machine, for the multi-host tests.

Each node is a Docker engine of its own (its data root, exec root, socket, PID file) in a
network and host-name namespace of its own (``unshare --net --uts``: an engine in this host's
namespace would take over the main engine's docker0), with its own packet filter, its own
hostname (the node's name in the swarm) and the GPUs it is given as generic resources
(``--node-generic-resource NVIDIA-GPU=<uuid>``; no GPU is touched: the engine only hands the
names out). A bridge on this host, made for the test, links the nodes to each other and to
this host, which reaches them at their addresses and which their containers reach at the
bridge's (where the hub's API listens). Images are loaded into each node (``docker save |
docker load``), as a pre-pull from a registry would put them there.

Afterwards the engines are ended by their PIDs (their namespaces, and the links in them, go
with them), and the bridge and the one forwarding rule made for it are removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import docker

from launcher import swarm
from tests.engines import start_dockerd
from tests.integration.hub import wait_for
from tests.processes import end


@dataclass
class Node:
    name: str
    address: str
    url: str  # its engine's DOCKER_HOST
    proc: subprocess.Popen
    base: Path
    link: str = ""  # its link's end on this host's bridge

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=60)

    def cut_off(self) -> None:
        """The node stops answering the others (its link goes down), as a node that dies
        does; its engine keeps running, and ends with the swarm."""
        _run("ip", "link", "set", self.link, "down")


@dataclass
class Swarm:
    host_address: str  # this host on the nodes' bridge: where their containers reach the hub
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def manager(self) -> Node:
        return next(iter(self.nodes.values()))


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _free_subnet() -> ipaddress.IPv4Network:
    taken = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for _ in range(50):
        net = ipaddress.ip_network(f"10.213.{secrets.randbelow(250) + 2}.0/24")
        if f" 10.213.{str(net.network_address).split('.')[2]}." not in taken:
            return net
    raise RuntimeError("no free 10.213.x.0/24 subnet for the test swarm")


def _start_engine(name: str, base: Path, gpus: list[str]) -> Node:
    """The node's engine, in network and host-name namespaces of its own (its hostname is
    ``name``), advertising ``gpus``."""
    proc, url = start_dockerd(
        base,
        ["unshare", "--net", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name],
        [f"--node-generic-resource=NVIDIA-GPU={uuid}" for uuid in gpus],
        f"the engine of node {name} to answer",
    )
    return Node(name, "", url, proc, base)


def _link(node: Node, bridge: str, address: str, gateway: str, prefix: int) -> None:
    """A veth pair from the bridge into the node's namespace, with its address and route."""
    host_end = f"{bridge}{node.name[-1]}"
    _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns",
         str(node.proc.pid))  # fmt: skip
    _run("ip", "link", "set", host_end, "master", bridge, "up")
    inside = ["nsenter", f"--net=/proc/{node.proc.pid}/ns/net", "ip"]
    _run(*inside, "addr", "add", f"{address}/{prefix}", "dev", "eth0")
    _run(*inside, "link", "set", "eth0", "up")
    _run(*inside, "link", "set", "lo", "up")
    _run(*inside, "route", "add", "default", "via", gateway)
    node.address, node.link = address, host_end


def _load(image: str, nodes: list[Node]) -> None:
    """``docker save IMAGE | docker load`` into every node, at once."""
    errors: list[str] = []

    def load(node: Node) -> None:
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        done = subprocess.run(
            ["docker", "-H", node.url, "load", "-q"], stdin=save.stdout, capture_output=True
        )
        save.stdout.close()
        save.wait()
        if done.returncode or save.returncode:
            errors.append(f"{node.name}: {done.stderr.decode()[-500:]}")

    threads = [threading.Thread(target=load, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@contextlib.contextmanager
def two_node_swarm(gpus: dict[str, list[str]], images: list[str]):
    """A swarm of ``gpus``' nodes (hostname -> the GPU UUIDs it advertises; the first is the
    manager), with ``images`` loaded on each; yields a :class:`Swarm`."""
    base = Path(tempfile.mkdtemp(prefix="launcher-swarm-"))
    bridge = "lsw" + secrets.token_hex(3)
    net = _free_subnet()
    hosts = list(net.hosts())
    gateway = str(hosts[0])
    forward = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    found = Swarm(gateway)
    try:
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{gateway}/{net.prefixlen}", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        # the host forwards nothing between bridge ports by default (Docker's FORWARD policy)
        _run("iptables", "-w", "10", "-I", *forward)
        for i, (name, uuids) in enumerate(gpus.items()):
            folder = base / name
            folder.mkdir()
            node = _start_engine(name, folder, uuids)
            found.nodes[name] = node
            _link(node, bridge, str(hosts[i + 1]), gateway, net.prefixlen)
        for image in images:
            _load(image, list(found.nodes.values()))
        manager, *workers = found.nodes.values()
        client = manager.client()
        client.swarm.init(advertise_addr=manager.address, listen_addr=f"{manager.address}:2377")
        token = client.swarm.attrs["JoinTokens"]["Worker"]
        for worker in workers:
            worker.client().swarm.join(
                remote_addrs=[f"{manager.address}:2377"],
                join_token=token,
                listen_addr=f"{worker.address}:2377",
                advertise_addr=worker.address,
            )
            swarm.prepare_node(worker.client())  # as the multi-host how-to has each node do

        def all_ready() -> bool:
            states = [n["Status"]["State"] for n in client.api.nodes()]
            return len(states) == len(gpus) and set(states) == {"ready"}

        wait_for(all_ready, 60, "every node of the test swarm to be ready")
        yield found
    finally:
        for node in reversed(found.nodes.values()):
            end(node.proc, 30)
        subprocess.run(["iptables", "-w", "10", "-D", *forward], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

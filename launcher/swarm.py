"""The swarm as the hub sees it (``docker.mode: swarm``): its nodes, the students' network on
every node, the address the nodes' containers reach the hub at.

The hub talks to one engine, a manager of the swarm; it never talks to the other nodes.
Everything it needs of them comes through the manager: the nodes (their GPUs, as generic
resources), the services and their tasks (where each runs, which GPU the engine gave it,
which port it published).

The students' network is a swarm-scoped bridge network made from a configuration-only
network of the same options on every node (:data:`NODE_NETWORK`): on each node it is a plain
bridge with inter-container traffic off, as in local mode, and a student's server publishes
its port on its node's address, where the hub and the proxy reach it. (An overlay network
would carry the students' traffic between nodes; a bridge keeps each student on their node.)
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time

import docker
import docker.errors

from launcher.dockerhost import NO_ICC
from launcher.gpu.inventory import SwarmNode, parse_node

#: the configuration-only network every node has (`launcher` prepares it on the nodes it
#: reaches; see the multi-host how-to for a node it does not)
NODE_NETWORK = "launcher-students"


class SwarmUnavailable(RuntimeError):
    """The engine is not a manager of a swarm; the message is a sentence for the admin."""


def manager_info(client: docker.DockerClient) -> dict:
    """The engine's swarm facts (``docker info``'s ``Swarm``); a sentence when this engine is
    not a swarm manager."""
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        raise SwarmUnavailable(
            "docker.mode is swarm, but this host's Docker engine is not a manager of a swarm "
            f"(its swarm state: {swarm.get('LocalNodeState') or 'inactive'}). Run `docker swarm "
            "init` here and `docker swarm join` on the GPU servers (see the multi-host "
            "how-to), or set docker.mode: local."
        )
    return swarm


def nodes(client: docker.DockerClient, gpu_resource: str) -> list[SwarmNode]:
    """Every node of the swarm, with the GPUs it advertises as ``gpu_resource``."""
    manager_info(client)
    found = [parse_node(n, gpu_resource) for n in client.api.nodes()]
    return sorted(found, key=lambda n: n.hostname)


def hub_address(client: docker.DockerClient, configured: str = "") -> str:
    """The address the nodes' containers reach the hub's API at: the site file's
    ``docker.hub_address``, else this node's address in the swarm."""
    return configured or manager_info(client).get("NodeAddr", "")


def prepare_node(client: docker.DockerClient, isolated: bool = True) -> None:
    """Give one node (its engine: ``client``) the configuration-only network the students'
    network is made of (idempotent; an existing one with other options is made anew when no
    network uses it)."""
    options = NO_ICC if isolated else {}
    try:
        found = client.networks.get(NODE_NETWORK)
        if (found.attrs.get("Options") or {}) == options:
            return
        found.remove()
    except docker.errors.NotFound:
        pass
    _create_network(
        client.api,
        {
            "Name": NODE_NETWORK,
            "ConfigOnly": True,
            "Options": options,
            "Labels": {"io.launcher": "students"},
        },
    )


def ensure_network(client: docker.DockerClient, name: str, isolated: bool = True) -> None:
    """The swarm-scoped students' network ``name`` (from :data:`NODE_NETWORK` on each node;
    this node's is prepared here)."""
    prepare_node(client, isolated)
    try:
        client.networks.get(name, scope="swarm")
        return
    except docker.errors.NotFound:
        pass
    _create_network(
        client.api,
        {
            "Name": name,
            "Driver": "bridge",
            "Scope": "swarm",
            "ConfigFrom": {"Network": NODE_NETWORK},  # its options and labels too
        },
    )


def _create_network(api: docker.APIClient, body: dict) -> None:
    """``POST /networks/create`` with fields docker-py's create_network does not pass
    (``ConfigOnly``, ``ConfigFrom``)."""
    api._result(api._post_json(api._url("/networks/create"), data=body), json=True)


def running_tasks(client: docker.DockerClient, prefix: str) -> dict[str, dict]:
    """This hub's services with a running task -> that task (the engine's object)."""
    found = {}
    for task in client.api.tasks(filters={"desired-state": "running"}):
        if task.get("Status", {}).get("State") != "running":
            continue
        name = task.get("Spec", {}).get("ContainerSpec", {}).get("Labels", {}).get(SERVICE_LABEL)
        if name and name.startswith(f"{prefix}_"):
            found[name] = task
    return found


#: the label naming a task's service on its container (the task list carries it)
SERVICE_LABEL = "io.launcher.service"


def assigned_gpus(task: dict, gpu_resource: str) -> list[str]:
    """The GPUs the engine gave a task (its named generic resources)."""
    return [
        r["NamedResourceSpec"]["Value"]
        for r in task.get("AssignedGenericResources") or task.get("GenericResources") or []
        if r.get("NamedResourceSpec", {}).get("Kind") == gpu_resource
    ]


def pinned_ref(image: str, info: dict) -> str:
    """How every node must name ``image`` (its ``docker inspect`` is ``info``): its registry
    digest (a node without it pulls exactly that), else its ID (a node must have it: pulled
    or loaded there); never a tag, which each node would resolve on its own."""
    last = image.split("/")[-1]
    repo = image.rsplit(":", 1)[0] if ":" in last and "@" not in last else image.split("@")[0]
    for digest in info.get("RepoDigests") or []:
        if digest.split("@", 1)[0] == repo:
            return digest
    return info.get("Id") or image


#: task states in which the node has the image (it created the task's container)
HAS_IMAGE = {"starting", "running", "complete", "failed", "shutdown"}
#: words of a task's error that say its node has not got the image (nor could pull it)
IMAGE_ERRORS = ("no such image", "pull access denied", "manifest unknown", "not found: manifest")


def images_on_nodes(
    client: docker.DockerClient, ref: str, name: str, timeout: float = 600
) -> dict[str, str]:
    """Whether every active node has ``ref`` (a :func:`pinned_ref`), pulling it where it
    can: one global service of it, run once per node (what Kubernetes does with a
    DaemonSet), is created under ``name`` and removed afterwards. Returns node hostname ->
    "" (present) or why not, in a sentence."""
    from docker.types import ContainerSpec, Resources, RestartPolicy, ServiceMode, TaskTemplate

    hostnames = {n.id: n.hostname for n in nodes(client, "") if n.usable}
    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_service(name)
    task = TaskTemplate(
        ContainerSpec(ref, command=["true"], user="1000:100", cap_drop=["ALL"]),
        resources=Resources(mem_limit=64 << 20),
        restart_policy=RestartPolicy(condition="none"),
    )
    client.api.create_service(
        task, name=name, mode=ServiceMode("global"), labels={"io.launcher.purpose": "prepull"}
    )
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(found) < len(hostnames) and time.monotonic() < deadline:
            for t in client.api.tasks(filters={"service": name}):
                node = hostnames.get(t.get("NodeID", ""))
                state, err = t["Status"]["State"], t["Status"].get("Err") or ""
                if node is None or node in found:
                    continue
                if state in HAS_IMAGE or (state == "rejected" and not _about_image(err)):
                    found[node] = ""
                elif state == "rejected":
                    found[node] = f"{ref} is not on {node} and could not be pulled there ({err})"
            time.sleep(0.5)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_service(name)
    for node in hostnames.values():
        found.setdefault(
            node, f"{node} did not say within {timeout:.0f} s whether it has {ref} (is it up?)"
        )
    return dict(sorted(found.items()))


def course_images_on_nodes(
    client: docker.DockerClient, refs: list[str], prefix: str
) -> list[tuple[str, str, str]]:
    """(image, node, "" or why not) for every image of ``refs`` this host's engine has, on
    every active node (:func:`images_on_nodes`, which pulls it where it can); an image this
    host has not got is left out (the hub cannot pin it)."""
    found = []
    for ref in refs:
        try:
            info = client.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            continue
        pinned = pinned_ref(ref, info)
        name = f"{prefix}_prepull_{hashlib.sha256(pinned.encode()).hexdigest()[:12]}"
        found += [(ref, node, why) for node, why in images_on_nodes(client, pinned, name).items()]
    return found


def _about_image(err: str) -> bool:
    return any(words in err.lower() for words in IMAGE_ERRORS)


def start_node_prepull(client, refs: list[str], prefix: str, after, say) -> threading.Thread:
    """:func:`course_images_on_nodes` in a daemon thread of the hub, once the thread
    ``after`` (the pull on this host) is done; each node's outcome is said."""

    def run() -> None:
        after.join()
        try:
            for ref, node, why in course_images_on_nodes(client, refs, prefix):
                say(why or f"{ref} is on node {node}")
        except docker.errors.DockerException as exc:
            say(f"Could not pre-pull the course images on the nodes: {exc}")

    thread = threading.Thread(target=run, name="launcher-node-prepull", daemon=True)
    thread.start()
    return thread


def published_port(task: dict, port: int) -> int | None:
    """The node port a running task's ``port`` is published on."""
    for entry in (task.get("Status", {}).get("PortStatus") or {}).get("Ports") or []:
        if entry.get("TargetPort") == port and entry.get("PublishedPort"):
            return int(entry["PublishedPort"])
    return None

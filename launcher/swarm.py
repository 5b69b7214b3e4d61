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

"""``launcher workspaces``: where each student's workspace lives in a swarm, and moving one
to another node (swarm mode: a workspace is a local volume of one node, see
launcher.hub.swarmspawner).

A move copies the volume from the engine of the node it is on to the engine of the node it
goes to (each named by its Docker address, e.g. ``ssh://root@gpu-b``: the hub's manager does
not reach the nodes' volumes), through the engines' archive API (launcher.backup.volumes),
and then records the new node, where the student's next server runs. The copy on the old
node is left as it was: nothing is removed.
"""

from __future__ import annotations

import sys
import tempfile

import docker
import docker.errors

from launcher import dockerhost, names, swarm
from launcher.backup import volumes
from launcher.settings import Site
from launcher.store import Store, utcnow


class MoveRefused(RuntimeError):
    """The move cannot be done; the message is a sentence for the admin."""


def cmd_list(site: Site) -> int:
    store = Store(site.store_url())
    homes = store.workspace_homes()
    if not homes:
        print("No workspace is placed on a node yet (swarm mode records it at the first start).")
    for user, course, node in homes:
        print(f"{user:<24} {course:<16} {node}")
    return 0


def cmd_move(site: Site, user: str, course: str, to_node: str, source: str, target: str) -> int:
    try:
        copied = move(site, user, course, to_node, _engine(source), _engine(target))
    except (MoveRefused, swarm.SwarmUnavailable, dockerhost.DockerUnavailable) as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    print(
        f"Moved the {course} workspace of {user} to {to_node} ({copied.files} files, "
        f"{copied.bytes / 1e6:.1f} MB); their next server runs there. The old copy stays on "
        "the old node until you remove it there."
    )
    return 0


def _engine(url: str) -> docker.DockerClient:
    try:
        # ssh://: through this host's ssh command (its keys and known_hosts)
        client = docker.DockerClient(
            base_url=url, timeout=120, use_ssh_client=url.startswith("ssh://")
        )
        client.ping()
    except docker.errors.DockerException as exc:
        raise MoveRefused(
            f"No Docker engine answers at {url} ({exc.__class__.__name__}); give the node's "
            "engine address, e.g. ssh://root@gpu-b."
        ) from None
    return client


def _node_of(client: docker.DockerClient) -> str:
    """The hostname of the swarm node whose engine ``client`` is."""
    info = client.info()
    return info.get("Name", "") if (info.get("Swarm") or {}).get("NodeID") else ""


def move(
    site: Site,
    user: str,
    course: str,
    to_node: str,
    source: docker.DockerClient,
    target: docker.DockerClient,
) -> volumes.Copied:
    """Copy ``user``'s workspace of ``course`` from its node (``source``: that node's
    engine) to ``to_node`` (``target``: its engine), and record it there."""
    store = Store(site.store_url())
    home = store.workspace_node(user, course)
    if home is None:
        raise MoveRefused(
            f"{user} has no {course} workspace on any node yet: it is placed where their "
            "first server of the course runs."
        )
    if home == to_node:
        raise MoveRefused(f"The {course} workspace of {user} is on {to_node} already.")
    manager = dockerhost.client(timeout=30)
    nodes = {n.hostname: n for n in swarm.nodes(manager, site.docker.gpu_resource)}
    wanted = nodes.get(to_node)
    if wanted is None or not wanted.usable:
        state = "not in the swarm" if wanted is None else f"{wanted.state}, {wanted.availability}"
        raise MoveRefused(
            f"Node {to_node} cannot take the workspace ({state}); choose one of: "
            f"{', '.join(n for n, found in nodes.items() if found.usable) or 'none'}."
        )
    if any(r["username"] == user and r["course"] == course for r in store.starts_left()):
        raise MoveRefused(
            f"A {course} server of {user} is starting; move the workspace once it has "
            "started and stopped again."
        )
    service = names.container_name(site.docker.prefix, user, course)
    if service in swarm.running_tasks(manager, site.docker.prefix):
        raise MoveRefused(
            f"The {course} server of {user} is running; it must stop first (the student "
            f"stops it, or `launcher gpus release {user}`)."
        )
    for client, node, role in ((source, home, "--from-engine"), (target, to_node, "--to-engine")):
        found = _node_of(client)
        if found != node:
            raise MoveRefused(
                f"{role} is the engine of {found or 'no swarm node'}, not of {node}; give the "
                f"engine of {node}."
            )
    volume = names.workspace_volume(site.docker.prefix, user, course)
    try:
        source.volumes.get(volume)
    except docker.errors.NotFound:
        raise MoveRefused(f"{home} has no volume {volume}: nothing to move.") from None
    try:
        target.volumes.get(volume)
        raise MoveRefused(
            f"{to_node} already has a volume {volume} (an older copy of this workspace). "
            f"Remove it there first if it can go (docker volume rm {volume})."
        )
    except docker.errors.NotFound:
        pass
    with tempfile.TemporaryFile() as data:
        copied = volumes.read(source, volume, data)
        data.seek(0)
        volumes.write(target, volume, data)
    store.set_workspace_node(user, course, to_node, utcnow())
    return copied

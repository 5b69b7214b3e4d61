"""What the hub needs of this host, checked before it starts: the GPUs the site file names,
the identity provider, the CA bundle, the course images. Used by the hub's configuration,
by `launcher check` / `launcher up`, and by the services that read the GPUs.
"""

from __future__ import annotations

import socket

from launcher import dockerhost, swarm
from launcher.gpu import inventory
from launcher.gpu.inventory import Unit
from launcher.images.refs import resolve as resolve_image
from launcher.settings import Site
from launcher.signin import SignInConfigError, oauth_client


def course_images(site: Site) -> list[str]:
    """Every course's image as the engine will run it (mirror applied), once each."""
    mirror = site.images.registry_mirror
    return list(dict.fromkeys(resolve_image(c.image, mirror) for c in site.courses.values()))


def host_blockers(site: Site) -> tuple[list[Unit], list[str]]:
    """The GPU units, and the problems with which the hub must not start (sentences)."""
    units: list[Unit] = []
    problems = []
    try:
        units = gpu_inventory(site)
    except GpuConfigError as exc:
        problems.append(str(exc))
    try:
        oauth_client(site, site.data_dir())
    except SignInConfigError as exc:
        problems.append(str(exc))
    bundle = site.images.session_ca_bundle
    if bundle is not None and not bundle.is_file():
        problems.append(
            f"images.session_ca_bundle names {bundle}, which is not a file on this host "
            "(give the full PEM bundle, e.g. /etc/ssl/certs/ca-certificates.crt)."
        )
    problems += ssh_blockers(site)
    return units, problems


def ssh_blockers(site: Site) -> list[str]:
    """The SSH endpoint's address must be free (another sshd, or another hub, holds it?)."""
    if not site.ssh.enabled:
        return []
    family = socket.AF_INET6 if ":" in site.ssh.bind_host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the endpoint binds
        try:
            sock.bind((site.ssh.bind_host, site.ssh.port))
        except OSError as exc:
            return [
                f"ssh.listen {site.ssh.listen} cannot be used ({exc.strerror}): give the SSH "
                "endpoint a free port on an address of this host (e.g. 0.0.0.0:8022), or turn "
                "it off with ssh.enabled: false."
            ]
    return []


class GpuConfigError(RuntimeError):
    """The site file's GPU section does not match this host."""


def gpu_inventory(site: Site) -> list[Unit]:
    """The units to hand out; refuses (with sentences) GPUs or pools the host does not have."""
    declared = [d.model_dump() for d in site.gpus.devices]
    try:
        nodes = None
        if site.docker.mode == "swarm":  # every node's GPUs, as the swarm's manager sees them
            nodes = swarm.nodes(dockerhost.client(), site.docker.gpu_resource)
        units = inventory.resolve(site.gpus.source, declared, site.gpus.nvidia_smi, nodes)
    except (inventory.InventoryError, swarm.SwarmUnavailable, dockerhost.DockerUnavailable) as exc:
        raise GpuConfigError(str(exc)) from None
    pools = {cid: c.gpu.pool for cid, c in site.courses.items() if c.gpu.pool}
    problems = inventory.check_pools(units, pools)
    if problems:
        raise GpuConfigError(" ".join(problems))
    return units

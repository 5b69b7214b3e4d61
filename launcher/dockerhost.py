"""The host as the hub sees it: the Docker client, the students' network, a free port."""

from __future__ import annotations

import socket

import docker
import docker.errors


class DockerUnavailable(RuntimeError):
    """No Docker engine answers."""


def client(timeout: int = 60) -> docker.DockerClient:
    """A client for the local engine (``$DOCKER_HOST`` or the default socket)."""
    try:
        cli = docker.from_env(timeout=timeout)
        cli.ping()
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(
            "No Docker engine answers on this host "
            f"({exc.__class__.__name__}). Start Docker (`make up` installs and starts it), "
            "then try again."
        ) from None
    return cli


def api_client(timeout: float) -> docker.APIClient:
    """A low-level client of its own (its own connection) whose reads give up after
    ``timeout`` seconds without a byte: for a long download that must neither wait for ever
    on a stalled registry nor hold the connection other Docker calls use."""
    return docker.from_env(timeout=timeout).api


#: Docker's option for a bridge network without inter-container traffic
NO_ICC = {"com.docker.network.bridge.enable_icc": "false"}


def ensure_network(cli: docker.DockerClient, name: str, isolated: bool = True) -> str:
    """Create the bridge network ``name`` if it does not exist (``isolated``: its containers
    cannot reach each other); return its gateway IP. An existing network that lets them, and
    that no container uses, is made anew.

    The hub listens on that gateway so that student containers (and only they) reach its API.
    """
    options = NO_ICC if isolated else {}
    try:
        network = cli.networks.get(name)
        icc = (network.attrs.get("Options") or {}).get("com.docker.network.bridge.enable_icc")
        if isolated and icc != "false" and not network.attrs.get("Containers"):
            network.remove()
            raise docker.errors.NotFound(name)
    except docker.errors.NotFound:
        network = cli.networks.create(
            name, driver="bridge", options=options, labels={"io.launcher": "students"}
        )
        network.reload()
    configs = network.attrs.get("IPAM", {}).get("Config") or []
    for cfg in configs:
        if cfg.get("Gateway"):
            return cfg["Gateway"]
    raise RuntimeError(f"Docker network {name!r} has no gateway address; remove it and retry.")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (for a managed service the hub starts)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]

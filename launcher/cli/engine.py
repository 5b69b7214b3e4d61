"""The Docker engine for a ``launcher`` command that cannot do without it."""

from __future__ import annotations

import sys

import docker

from launcher import dockerhost


def engine(timeout: int) -> docker.DockerClient | None:
    """The engine's client, or None once the reason there is none is printed (``problem:``,
    on standard error)."""
    try:
        return dockerhost.client(timeout=timeout)
    except dockerhost.DockerUnavailable as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return None

"""What the hub and its SSH endpoint (launcher.services.ssh) share: the sshd every student
container runs (its port and user, images/launcher-session) and the endpoint's two keys,
generated once into the hub's data directory (mode 0600):

- ``ssh_host_ed25519_key``: the endpoint's host key, what students' ``known_hosts`` remember
  (kept across restarts and upgrades, so that nobody is told the host key changed);
- ``ssh_gateway_ed25519_key``: the endpoint's key into the students' containers; its public
  half is the only key the sshd in a container accepts (``LAUNCHER_SSH_AUTHORIZED_KEYS``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

#: between the student and the course in an SSH user name: ``ann+cv201``
LOGIN_SEPARATOR = "+"
#: the port of the sshd in every student container
CONTAINER_SSH_PORT = 2222
#: the user that sshd signs in (the images' student user)
CONTAINER_USER = "jovyan"
#: the container's environment variable holding the keys its sshd accepts (the endpoint's)
AUTHORIZED_KEYS_ENV = "LAUNCHER_SSH_AUTHORIZED_KEYS"
#: "yes": the container's sshd lets the endpoint forward the student's ssh-agent
AGENT_FORWARDING_ENV = "LAUNCHER_SSH_AGENT_FORWARDING"

#: the ciphers of the endpoint, AES-GCM first: one call of OpenSSL per packet, where
#: chacha20-poly1305 is several in asyncssh (the endpoint passes every byte twice). Its hop into
#: the container takes the first (scp through the endpoint: 156 instead of 128 MB/s,
#: tests/bench/bench_ssh.py); a student's client picks by its own order among them all
#: (OpenSSH: chacha20-poly1305), so that no client is refused
CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
)

HOST_KEY_FILE = "ssh_host_ed25519_key"
GATEWAY_KEY_FILE = "ssh_gateway_ed25519_key"


@dataclass(frozen=True)
class GatewayKeys:
    host_key: Path
    gateway_key: Path
    gateway_public: str  # the OpenSSH line of the gateway key ("ssh-ed25519 AAAA... comment")


def _ensure(path: Path, comment: str) -> asyncssh.SSHKey:
    try:
        return asyncssh.read_private_key(path)
    except FileNotFoundError:
        pass
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    partial = path.with_name(path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.export_private_key())
    os.replace(partial, path)  # whole or absent, also when two processes make it at once
    return asyncssh.read_private_key(path)


def ensure_keys(data_dir: Path) -> GatewayKeys:
    """The endpoint's keys in ``data_dir``, generated when absent (idempotent)."""
    _ensure(data_dir / HOST_KEY_FILE, "launcher ssh endpoint host key")
    gateway = _ensure(data_dir / GATEWAY_KEY_FILE, "launcher ssh endpoint")
    public = gateway.export_public_key("openssh").decode().strip()
    return GatewayKeys(data_dir / HOST_KEY_FILE, data_dir / GATEWAY_KEY_FILE, public)

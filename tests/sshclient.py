"""Real OpenSSH clients (ssh, scp, sftp) against a test hub's SSH endpoint.

Each call ignores the user's own configuration, agent and keys (``-F /dev/null``, no
``SSH_AUTH_SOCK``): it signs in with exactly the key file or the API token it is given (a
token is typed by ``SSH_ASKPASS``, as a person would type it at the password prompt).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests import ports


@dataclass(frozen=True)
class Endpoint:
    port: int
    home: Path  # where the clients keep known_hosts and the askpass script

    def listening(self) -> bool:
        """The endpoint answers with an SSH version line (the service is up)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                return sock.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def options(self, key: Path | None, token: str | None) -> list[str]:
        opts = [
            "-F",
            "/dev/null",
            "-o",
            f"UserKnownHostsFile={self.home / 'known_hosts'}",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "ConnectTimeout=20",
            "-o",
            "ServerAliveInterval=10",
        ]
        if key is not None:
            opts += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
            opts += ["-o", "PreferredAuthentications=publickey", "-o", "PasswordAuthentication=no"]
        else:
            opts += ["-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no"]
            opts += ["-o", "NumberOfPasswordPrompts=1"]
        return opts

    def env(self, token: str | None) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        askpass = self.home / "askpass"
        if not askpass.exists():
            askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$LAUNCHER_TEST_TOKEN"\n')
            askpass.chmod(stat.S_IRWXU)
        env.update(
            SSH_ASKPASS=str(askpass),
            SSH_ASKPASS_REQUIRE="force",
            DISPLAY=":0",
            LAUNCHER_TEST_TOKEN=token or "",
        )
        return env

    def ssh(
        self,
        login: str,
        *command: str,
        key: Path | None = None,
        token: str | None = None,
        extra: tuple[str, ...] = (),
        input: bytes | None = None,
        timeout: float = 300,
        agent: dict | None = None,
    ) -> subprocess.CompletedProcess:
        """``ssh -p PORT LOGIN@127.0.0.1 COMMAND`` (stdout and stderr as bytes); ``agent``: the
        environment of an ssh-agent the client may use (SSH_AUTH_SOCK), else none."""
        return subprocess.run(
            ["ssh", *self.options(key, token), *extra, "-p", str(self.port), f"{login}@127.0.0.1"]
            + list(command),
            input=input,
            capture_output=True,
            env={**self.env(token), **(agent or {})},
            timeout=timeout,
        )

    def scp(
        self, *args: str, key: Path | None = None, token: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["scp", *self.options(key, token), "-P", str(self.port), *args],
            capture_output=True,
            env=self.env(token),
            timeout=timeout,
        )

    def sftp(
        self, login: str, commands: str, key: Path | None = None, token: str | None = None
    ) -> subprocess.CompletedProcess:
        """``sftp`` with ``commands`` on its standard input (not ``-b``: batch mode would
        forbid the password prompt a token answers)."""
        return subprocess.run(
            ["sftp", *self.options(key, token), "-P", str(self.port), f"{login}@127.0.0.1"],
            input=commands.encode(),
            capture_output=True,
            env=self.env(token),
            timeout=120,
        )

    @contextlib.contextmanager
    def forward(self, login: str, target: str, key: Path | None = None, token: str | None = None):
        """``ssh -N -L PORT:TARGET`` in the background; yields the local port once it
        listens, and ends the client afterwards."""
        port = ports.free_port()
        proc = subprocess.Popen(
            ["ssh", *self.options(key, token), "-N", "-o", "ExitOnForwardFailure=yes"]
            + ["-L", f"127.0.0.1:{port}:{target}", "-p", str(self.port), f"{login}@127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.env(token),
            start_new_session=True,
        )
        try:
            from tests.integration.hub import wait_for

            def listening():
                if proc.poll() is not None:
                    raise AssertionError(f"ssh -L ended: {proc.stderr.read().decode()}")
                with socket.socket() as s:
                    return s.connect_ex(("127.0.0.1", port)) == 0

            wait_for(listening, 240, f"ssh -L on 127.0.0.1:{port}")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def keygen(path: Path, comment: str = "") -> tuple[Path, str]:
    """A new ed25519 key pair (no passphrase) at ``path``; its public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path, Path(f"{path}.pub").read_text().strip()


def fingerprint(public_line: str, home: Path) -> str:
    """``ssh-keygen -lf``'s SHA256 fingerprint of a public key line."""
    file = home / "fp.pub"
    file.write_text(public_line + "\n")
    out = subprocess.run(["ssh-keygen", "-lf", str(file)], capture_output=True, text=True)
    return out.stdout.split()[1]

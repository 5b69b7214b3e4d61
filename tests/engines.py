"""A second, fresh Docker engine on this host, for tests that restore onto a new machine:
its own data root, exec root, socket and PID file, in a network namespace of its own (an
engine in this host's namespace would take over, or with --bridge=none delete, the main
engine's docker0), no packet-filter rules; ended by its PID afterwards."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker

from tests.integration.hub import wait_for
from tests.processes import end


def start_dockerd(base: Path, namespaces: list[str], flags: list[str], what: str):
    """A dockerd of its own under ``base`` (data root, exec root, socket, PID file, log),
    started through ``namespaces`` (``unshare ...``, which then execs it: its PID is the
    engine's); returns (process, ``DOCKER_HOST`` URL) once it answers."""
    url = f"unix://{base}/docker.sock"
    with (base / "dockerd.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                *namespaces,
                "dockerd",
                "--data-root", str(base / "root"),
                "--exec-root", str(base / "exec"),
                "--pidfile", str(base / "dockerd.pid"),
                "-H", url,
                *flags,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError((base / "dockerd.log").read_text()[-2000:])
        with contextlib.suppress(docker.errors.DockerException):
            return docker.DockerClient(base_url=url, timeout=5).ping()
        return False

    try:
        wait_for(answers, 60, what)
    except BaseException:
        end(proc, 30)
        raise
    return proc, url


@contextlib.contextmanager
def fresh_engine():
    """Yield the ``DOCKER_HOST`` URL of a new, empty engine."""
    base = Path(tempfile.mkdtemp(prefix="launcher-engine-"))
    try:
        proc, url = start_dockerd(
            base,
            ["unshare", "--net"],
            ["--iptables=false", "--ip-masq=false"],
            "the fresh Docker engine to answer",
        )
        try:
            yield url
        finally:
            end(proc, 30)
    finally:
        shutil.rmtree(base, ignore_errors=True)

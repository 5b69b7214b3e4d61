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


@contextlib.contextmanager
def fresh_engine():
    """Yield the ``DOCKER_HOST`` URL of a new, empty engine."""
    base = Path(tempfile.mkdtemp(prefix="launcher-engine-"))
    url = f"unix://{base}/docker.sock"
    log = (base / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            "unshare", "--net",  # then exec: this process is the engine
            "dockerd",
            "--data-root", str(base / "root"),
            "--exec-root", str(base / "exec"),
            "--pidfile", str(base / "dockerd.pid"),
            "-H", url,
            "--iptables=false",
            "--ip-masq=false",
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
        wait_for(answers, 60, "the fresh Docker engine to answer")
        yield url
    finally:
        end(proc, 30)
        log.close()
        shutil.rmtree(base, ignore_errors=True)

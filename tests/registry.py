"""A private container registry for tests: Debian's docker-registry (distribution 2.8).

``local_registry()`` runs ``docker-registry serve`` with its own configuration (filesystem
storage in a temporary directory, no auth, 127.0.0.1 and a free port) as a subprocess in its
own process group, waits until ``/v2/`` answers, and afterwards stops exactly that process by
PID, removes the directory and every local image name under its host. The engine allows
plain-HTTP registries on 127.0.0.0/8 without configuration. ``tiny_image()`` builds a
one-file image FROM scratch so that pushes and pulls take well under a second.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests import ports

BINARY = "docker-registry"
START_TIMEOUT = 20.0


def _config(root: Path, port: int) -> str:
    return f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: launcher-tests-{os.getpid()}-{port}
"""


@dataclass
class LocalRegistry:
    host: str  # "127.0.0.1:PORT"
    pid: int
    log: Path
    _clients: list = field(default_factory=list)

    def push(self, client, local_image: str, repo: str, tag: str) -> str:
        """Tag ``local_image`` as HOST/repo:tag, push it, return the pushed "sha256:..."."""
        name = f"{self.host}/{repo}"
        if client not in self._clients:
            self._clients.append(client)
        client.api.tag(local_image, name, tag)
        digest = ""
        for event in client.api.push(name, tag=tag, stream=True, decode=True):
            if event.get("error"):
                raise RuntimeError(f"push of {name}:{tag} failed: {event['error']}")
            digest = (event.get("aux") or {}).get("Digest", digest)
        if not digest.startswith("sha256:"):
            raise RuntimeError(f"push of {name}:{tag} reported no digest")
        return digest

    def remove_local_names(self, client) -> None:
        """Remove every local tag and digest reference under this registry's host."""
        prefix = f"{self.host}/"
        for image in client.api.images(all=False):
            for name in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
                if name.startswith(prefix):
                    with contextlib.suppress(Exception):
                        client.api.remove_image(name)


def _wait_ready(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited ({proc.returncode}): {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not answer {url} in {START_TIMEOUT:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def local_registry():
    """Yield a running ``LocalRegistry``; everything it made is gone afterwards."""
    binary = shutil.which(BINARY) or ("/usr/bin/" + BINARY)
    if not os.access(binary, os.X_OK):
        raise RuntimeError(
            "Debian's docker-registry is not installed (`make test` / setup.sh --test installs "
            "it: apt-get install docker-registry)"
        )
    base = Path(tempfile.mkdtemp(prefix="launcher-registry-"))
    proc = None
    registry = None
    try:
        for _attempt in range(3):  # the free port may be taken between probe and bind
            port = ports.free_port()
            config = base / "config.yml"
            config.write_text(_config(base / "data", port))
            log = base / "registry.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [binary, "serve", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                _wait_ready(proc, f"http://127.0.0.1:{port}/v2/", log)
            except RuntimeError:
                _stop(proc)
                if "address already in use" in log.read_text() and _attempt < 2:
                    continue
                raise
            break
        registry = LocalRegistry(host=f"127.0.0.1:{port}", pid=proc.pid, log=log)
        yield registry
    finally:
        if registry is not None:
            for client in registry._clients:
                registry.remove_local_names(client)
        if proc is not None:
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


def tiny_image(client, name: str, content: str = "launcher test image\n") -> str:
    """Build a one-file image FROM scratch as ``name`` (repo:tag); return its image ID."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for filename, data in (
            ("Dockerfile", b'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello.txt"]\n'),
            ("hello.txt", content.encode()),
        ):
            info = tarfile.TarInfo(filename)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image_id = ""
    for event in client.api.build(
        fileobj=context, custom_context=True, tag=name, rm=True, forcerm=True, decode=True
    ):
        if event.get("error"):
            raise RuntimeError(f"building {name} failed: {event['error']}")
        image_id = (event.get("aux") or {}).get("ID", image_id)
    return image_id or client.api.inspect_image(name)["Id"]

"""A real hub for tests: `launcher up` as a subprocess, its proxy, the real Docker engine.

``running_hub(...)`` writes a site file with a unique container prefix and Docker network,
starts the hub on free ports, waits for it, and on exit stops it (by PID), dumps its log, and
removes exactly the containers, volumes and network it created.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import docker
import requests
import yaml

from launcher import dockerhost, pidfiles

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
IMAGE_TAG = "2.13-cpu"
IMAGE = f"launcher/pytorch:{IMAGE_TAG}"
USER_PASSWORD = "class-" + secrets.token_hex(6)
ADMIN_PASSWORD = "admin-" + secrets.token_hex(16)


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll ``condition`` until it returns a truthy value; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port_pair() -> int:
    """A port P such that P and P+1 (the proxy API) are free on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of ports on 127.0.0.1")


def expected_torch_version(tag: str = IMAGE_TAG) -> str:
    matrix = yaml.safe_load((ROOT / "images" / "matrix.yaml").read_text())
    entries = matrix["images"]
    return str(entries[tag]["torch"])


@dataclass
class Hub:
    url: str
    prefix: str
    network: str
    site_file: Path
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen | None = None
    docker: docker.DockerClient = field(default_factory=docker.from_env)
    env: dict = field(default_factory=dict)

    def launcher(self, *args: str) -> subprocess.CompletedProcess:
        """Run the `launcher` command against this hub's site file."""
        return subprocess.run(
            [sys.executable, "-m", "launcher.cli", *args, "--config", str(self.site_file)],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=120,
        )

    def session(self, username: str, password: str | None = None) -> HubSession:
        s = HubSession(self)
        s.login(username, password or (ADMIN_PASSWORD if username == "admin" else USER_PASSWORD))
        return s

    def containers(self):
        """This hub's containers (one removed while being listed is skipped)."""
        found = []
        for summary in self.docker.api.containers(all=True, filters={"name": self.prefix + "_"}):
            try:
                container = self.docker.containers.get(summary["Id"])
            except docker.errors.NotFound:
                continue
            if container.name.startswith(self.prefix + "_"):
                found.append(container)
        return found

    def container_of(self, username: str):
        """The one container serving ``username`` (None when there is none)."""
        found = [
            c
            for c in self.containers()
            if f"JUPYTERHUB_USER={username}" in c.attrs["Config"]["Env"]
        ]
        assert len(found) <= 1, [c.name for c in found]
        return found[0] if found else None

    def container_for(self, username: str, course: str):
        """The container serving ``username`` in ``course`` (None when there is none)."""
        found = [
            c
            for c in self.containers()
            if f"JUPYTERHUB_USER={username}" in c.attrs["Config"]["Env"]
            and f"LAUNCHER_COURSE={course}" in c.attrs["Config"]["Env"]
        ]
        assert len(found) <= 1, [c.name for c in found]
        return found[0] if found else None

    def volumes(self):
        return [v for v in self.docker.volumes.list() if v.name.startswith(self.prefix + "_")]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class HubSession(requests.Session):
    """A browser-like client: cookies, the login form with its XSRF token, redirects."""

    def __init__(self, hub: Hub):
        super().__init__()
        self.hub = hub
        self.username = ""

    def xsrf(self, path: str = "/hub/") -> str:
        for cookie in self.cookies:
            if cookie.name == "_xsrf" and cookie.path == path:
                return cookie.value
        raise AssertionError(
            f"no _xsrf cookie for {path}: {[(c.name, c.path) for c in self.cookies]}"
        )

    def login(self, username: str, password: str) -> requests.Response:
        page = self.get(f"{self.hub.url}/hub/login")
        page.raise_for_status()
        form_xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert form_xsrf, "login form has no _xsrf field"
        resp = self.post(
            f"{self.hub.url}/hub/login",
            data={"username": username, "password": password, "_xsrf": form_xsrf.group(1)},
            allow_redirects=False,
        )
        assert resp.status_code == 302, f"login as {username} failed: {resp.status_code}"
        self.username = username
        return resp

    def open_server(self, path: str) -> requests.Response:
        """GET a page of someone's server, clicking "Authorize" on the hub's consent page the
        way a person does when they open a server that is not their own."""
        resp = self.get(f"{self.hub.url}{path}")
        if resp.status_code == 200 and "/hub/api/oauth2/authorize" in resp.url:
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', resp.text).group(1)
            scopes = re.findall(r'name="scopes" value="([^"]*)"', resp.text)
            resp = self.post(resp.url, data={"_xsrf": xsrf, "scopes": scopes})
        return resp

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-XSRFToken": self.xsrf("/hub/"), **kwargs.pop("headers", {})}
        return self.request(method, f"{self.hub.url}/hub/api{path}", headers=headers, **kwargs)

    def user_model(self, username: str | None = None) -> dict:
        resp = self.api("GET", f"/users/{username or self.username}")
        resp.raise_for_status()
        return resp.json()

    def iter_progress(self, username: str | None = None, timeout: float = 240, server: str = ""):
        """Yield the spawn progress events as they arrive, until ready or failed."""
        url = f"{server_path(username or self.username, server)}/progress"
        with self.api("GET", url, stream=True, timeout=timeout) as resp:
            resp.raise_for_status()
            for line in resp.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    event = json.loads(line[5:])
                    yield event
                    if event.get("ready") or event.get("failed"):
                        return

    def progress_events(
        self, username: str | None = None, timeout: float = 240, server: str = ""
    ) -> list[dict]:
        """Read the spawn progress event stream until it says ready or failed."""
        return list(self.iter_progress(username, timeout, server))

    def request_server(self, username: str):
        """POST the start request in a thread (it blocks while the spawn is fast); a future."""
        pool = ThreadPoolExecutor(1)
        future = pool.submit(
            requests.post,
            f"{self.hub.url}/hub/api/users/{username}/server",
            cookies=self.cookies.copy(),
            headers={"X-XSRFToken": self.xsrf("/hub/")},
            timeout=300,
        )
        pool.shutdown(wait=False)
        return future

    def start_server(self, username: str | None = None, server: str = "", **options) -> list[dict]:
        """Ask for a server the way the browser does and return the progress events seen.

        The POST blocks while the spawn is fast (JupyterHub's slow_spawn_timeout), so it runs in
        a thread while this one follows the progress stream, as the pending page does.
        """
        name = username or self.username
        post = partial(
            requests.post,
            f"{self.hub.url}/hub/api{server_path(name, server)}",
            json=options or None,
            cookies=self.cookies.copy(),
            headers={"X-XSRFToken": self.xsrf("/hub/")},
            timeout=300,
        )
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(post)
            wait_for(
                lambda: (
                    future.done() or self.user_model(name)["servers"].get(server, {}).get("pending")
                ),
                60,
                f"{name}'s spawn to begin",
                interval=0.05,
            )
            events = [] if future.done() else self.progress_events(name, server=server)
            resp = future.result()
        assert resp.status_code in (201, 202), f"start {name}: {resp.status_code} {resp.text}"
        if not events or not events[-1].get("ready"):
            events = self.progress_events(name, server=server)
        assert events and events[-1].get("ready"), f"{name} did not become ready: {events}"
        return events

    def stop_server(self, username: str | None = None, server: str = "") -> None:
        name = username or self.username
        resp = self.api("DELETE", server_path(name, server))
        assert resp.status_code in (202, 204), f"stop {name}: {resp.status_code} {resp.text}"
        wait_for(
            lambda: server not in self.user_model(name)["servers"],
            120,
            f"{name}'s server to stop",
        )


def instructor_form(page: str) -> dict:
    """The instructor page's settings form, as the browser would submit it unchanged."""
    form = page[page.index('id="settings"') : page.index("</form>", page.index('id="settings"'))]
    fields = dict(re.findall(r'<input type="hidden" name="(_xsrf)" value="([^"]+)"', form))
    fields["image"] = re.search(r'<option value="([^"]+)" selected', form).group(1)
    fields["gpu_per_student"] = re.search(r'name="gpu_per_student"[^>]*value="(\d+)"', form)[1]
    for name in ("students", "tas"):
        fields[name] = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', form).group(1)
    if re.search(r'name="materials" checked', form):
        fields["materials"] = "on"
    return fields


def server_path(username: str, server: str = "") -> str:
    """The hub API path of a user's default server or of one of their named servers."""
    return f"/users/{username}/servers/{server}" if server else f"/users/{username}/server"


def deep_merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def write_site(
    path: Path, prefix: str, port: int, extra_students: list[str], extra: dict | None = None
) -> None:
    site = {
        "hub": {"url": f"http://127.0.0.1:{port}", "data_dir": str(path.parent / "data")},
        "docker": {"network": f"{prefix}-net", "prefix": prefix},
        # no pulls from outside this machine: tests reach only 127.0.0.1 and their own networks
        "images": {"pull_policy": "never", "prepull": False},
        "admins": ["admin"],
        "courses": {
            "demo": {
                "title": "Integration test course",
                "image": IMAGE,
                "instructors": ["teacher"],
                "students": ["student1", "student2", "student3", *extra_students],
                "resources": {"mem_limit": "1G", "cpu_limit": 1.0},
            },
            "ghost": {
                "title": "A course whose image was never built",
                "image": "launcher/pytorch:0.0-never-built",
                "students": ["ghoststudent"],
            },
        },
    }
    deep_merge(site, extra or {})
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")


@contextlib.contextmanager
def running_hub(
    tmp_path: Path,
    name: str,
    extra_students: list[str] = (),
    site_extra: dict | Callable[[str], dict] | None = None,
    env_extra: dict | None = None,
    before_start: Callable[[Hub], None] | None = None,
    port: int | None = None,
    start: bool = True,
):
    """``site_extra`` may be a function of the students' network gateway (created first);
    ``before_start(hub)`` runs once the site file is written (e.g. `launcher courses apply`);
    ``port``: the hub's public port (default: a free one; the proxy API takes port + 1);
    ``start=False``: the caller starts the hub (:func:`start_hub`)."""
    client = docker.from_env()
    client.images.get(IMAGE)  # fails loudly if set-up did not build the teaching image
    prefix = "lt" + secrets.token_hex(3)
    port = port or free_port_pair()
    site_file = tmp_path / "launcher.yaml"
    if callable(site_extra):
        site_extra = site_extra(dockerhost.ensure_network(client, f"{prefix}-net"))
    write_site(site_file, prefix, port, list(extra_students), site_extra)
    ARTIFACTS.mkdir(exist_ok=True)
    hub = Hub(
        url=f"http://127.0.0.1:{port}",
        prefix=prefix,
        network=f"{prefix}-net",
        site_file=site_file,
        data_dir=tmp_path / "data",
        log_path=ARTIFACTS / f"hub-{name}.log",
        docker=client,
        env=dict(env_extra or {}),
    )
    try:
        if before_start is not None:
            before_start(hub)
        if start:
            start_hub(hub)
        yield hub
    finally:
        stop_hub(hub)
        for c in hub.containers():
            ARTIFACTS.joinpath(f"container-{name}-{c.name}.log").write_bytes(c.logs()[-20000:])
            c.remove(force=True)
        for v in hub.volumes():
            v.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            client.networks.get(hub.network).remove()


def start_hub(hub: Hub, sigint_ignored: bool = False) -> None:
    """Start ``launcher up`` for ``hub`` and wait until it answers; ``sigint_ignored``: as a
    hub started from a script, CI or ``nohup`` gets it (and hands it to its services)."""
    env = {
        **os.environ,
        "LAUNCHER_DEMO_PASSWORD": USER_PASSWORD,
        "LAUNCHER_DEMO_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **hub.env,
    }
    log = hub.log_path.open("ab")
    hub.proc = subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", "up", "--config", str(hub.site_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=hub.site_file.parent,
        start_new_session=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
    )

    def answers():
        if hub.proc.poll() is not None:
            raise AssertionError(f"the hub exited with {hub.proc.returncode}:\n{hub.log()[-3000:]}")
        try:
            return requests.get(f"{hub.url}/hub/api/", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(answers, 60, f"the hub at {hub.url}")


def stop_hub(hub: Hub) -> None:
    """Stop the hub as its admin would (SIGTERM); kill it if it hangs. Its managed services
    stop by themselves once it is gone; a proxy it could not end is ended as the next
    `launcher up` would."""
    if hub.proc is not None and hub.proc.poll() is None:
        hub.proc.send_signal(signal.SIGTERM)
        try:
            hub.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.proc.pid, signal.SIGKILL)
            hub.proc.wait(timeout=10)
    pidfiles.end_left_proxy(hub.data_dir, print)

"""Benchmark: a class that starts at once, the launcher vs a vanilla JupyterHub + DockerSpawner.

    .venv/bin/python -m tests.bench.bench_spawn [--students 20 40 80]
        [--configs launcher vanilla-raised vanilla-default] [--single 3]
        [--json artifacts/bench-spawn.json]

Not part of `make test`. Three configurations are measured in the same run, one hub at a time,
with the same teaching image (IMAGE) and the same limits on each student container (2G of
memory, 1.0 CPU):

- ``launcher``: `launcher up` with its defaults (its start line admits ``hub.concurrent_starts``
  container starts at once, by default cores + 1); the bench users are the students of one
  course ``bench`` with those limits;
- ``vanilla-raised``: JupyterHub + DockerSpawner from a jupyterhub_config.py, with the timeouts
  a careful admin would raise (start_timeout 600, http_timeout 300, no concurrent spawn limit);
- ``vanilla-default``: the same with JupyterHub's and DockerSpawner's defaults (start_timeout 60,
  http_timeout 30, concurrent_spawn_limit 100).

For each configuration: first ``--single`` K sequential spawns on the otherwise idle host (wall
seconds and whole-machine CPU seconds of each; the medians are the "single spawn" figures).
Then for each N: N users are created (not timed), then all N are started at once through the
hub API (one thread and HTTP client each, as an admin's API token). Each client follows its
spawn's progress stream, and once ready polls its server THROUGH THE PROXY
(``GET /user/<name>/api``, every 0.5 s at most) until that answers 200; the time from the
moment the N requests are sent to that answer is the spawn's time. A spawn fails on a failed
progress event, a refused start request, or when its server does not answer through the proxy
within 900 s. Whole-machine CPU seconds (/proc/stat: user+nice+system+irq+softirq+steal) are
read when the N requests are sent and when the last one is done (ready or failed), and divided
by N. Then every server is stopped, and the next N waits until they are gone and their
containers removed. Each spawn is its user's first (fresh users per run).

After each hub stops, no process of it may be left: the processes of the hub's session and of
the sessions of everything it started (the proxy and the managed services have sessions of
their own) are listed; any left is named, ended by PID, and makes the bench exit 1. A container
a hub leaves behind once its servers are stopped (a vanilla spawn that timed out while its
container was being created) is removed by the bench and reported (for the launcher: exit 1).
The whole-machine figures assume an otherwise idle host: the CPU the host used before the
bench started is measured, and a warning is printed when it was busy. SIGTERM ends the bench
as Ctrl-C does: each hub is stopped and its containers removed.

Prints a Markdown table (p50 / p95 / max are of the spawns that succeeded) and the ratios:
launcher p50 / vanilla-raised p50, launcher p95 / the CPU floor (N x the launcher's single-spawn
CPU-s / cores: the time the host needs just to do N starts' work), and launcher single wall /
vanilla-raised single wall; writes everything as JSON (artifacts/ is not versioned).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
import requests

from launcher import dockerhost
from tests.integration.hub import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    IMAGE,
    ROOT,
    Hub,
    free_port_pair,
    running_hub,
    wait_for,
)

CONFIGS = ("launcher", "vanilla-raised", "vanilla-default")
COURSE = "bench"
MEM_LIMIT = "2G"
CPU_LIMIT = 1.0
SPAWN_BOUND = 900.0  # seconds from the start request until the server must answer
POLL = 0.5  # the clients' poll interval (never faster)
STOP_BOUND = 600.0  # seconds for all servers of a run to stop and their containers to go
HUB_UP_BOUND = 120.0
HUB_STOP_BOUND = 60.0
CONTAINER_GRACE = 60.0  # seconds for a stopped server's container to be removed by its hub
LEFTOVER_GRACE = 20.0  # seconds a stopped hub's services get to exit by themselves
IDLE_BUSY_CORES = 0.2  # more than this busy before the bench: the figures are warned about

VANILLA_CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_ip = c.JupyterHub.hub_connect_ip = "{gateway}"
c.JupyterHub.db_url = "sqlite:///{data}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data}/cookie_secret"
c.JupyterHub.pid_file = "{data}/jupyterhub.pid"
c.ConfigurableHTTPProxy.pid_file = "{data}/jupyterhub-proxy.pid"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"admin"}}
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = "{image}"
c.DockerSpawner.network_name = "{network}"
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True
c.DockerSpawner.prefix = "{prefix}"
c.DockerSpawner.name_template = "{prefix}_{{username}}"
c.DockerSpawner.mem_limit = "{mem_limit}"
c.DockerSpawner.cpu_limit = {cpu_limit}
"""

RAISED = """
c.Spawner.start_timeout = 600
c.Spawner.http_timeout = 300
c.JupyterHub.concurrent_spawn_limit = 0
"""

#: what each vanilla configuration adds to VANILLA_CONFIG (the defaults: nothing)
VANILLA_EXTRA = {"vanilla-raised": RAISED, "vanilla-default": ""}
#: the timeouts in force, for the report
SETTINGS = {
    "launcher": "its defaults: hub.concurrent_starts = cores + 1",
    "vanilla-raised": "start_timeout 600, http_timeout 300, concurrent_spawn_limit 0",
    "vanilla-default": "start_timeout 60, http_timeout 30, concurrent_spawn_limit 100 (defaults)",
}


# --- the machine: CPU time and processes ---------------------------------------------------


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores): /proc/stat's ``cpu`` line,
    user + nice + system + irq + softirq + steal (guest time is inside user already)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    assert fields[0] == "cpu", fields
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def cores() -> int:
    with open("/proc/stat") as f:
        return sum(1 for line in f if line.startswith("cpu") and line[3].isdigit())


def _proc_stat(pid: int) -> dict | None:
    """ppid, session, start time (clock ticks after boot) and state of a process; None: gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = text.rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state): ppid is field 4, session 6, starttime 22
    return {"state": rest[0], "ppid": int(rest[1]), "session": int(rest[3]), "start": int(rest[19])}


def _all_processes() -> dict[int, dict]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


class HubProcesses:
    """The sessions a hub's processes live in: the hub's own (it is started with
    start_new_session, so its session id is its PID) and those its children made for
    themselves (JupyterHub starts the proxy and the managed services in new sessions)."""

    def __init__(self, pid: int):
        self.pid = pid
        stat = _proc_stat(pid)
        self.since = stat["start"] if stat else 0
        self.sessions = {pid}
        self.seen: dict[int, str] = {}

    def snapshot(self) -> None:
        """Note the sessions of every process below the hub now."""
        procs = _all_processes()
        below, grew = {self.pid}, True
        while grew:
            grew = False
            for pid, stat in procs.items():
                if stat["ppid"] in below and pid not in below:
                    below.add(pid)
                    grew = True
        for pid in below:
            if pid in procs:
                self.sessions.add(procs[pid]["session"])
                self.seen[pid] = _cmdline(pid)
        self.sessions.discard(os.getsid(0))  # never this bench's own session

    def left(self) -> dict[int, str]:
        """Living processes of those sessions (started no earlier than the hub: not a later
        process that reused a session id)."""
        return {
            pid: _cmdline(pid)
            for pid, stat in _all_processes().items()
            if stat["session"] in self.sessions
            and stat["state"] != "Z"
            and stat["start"] >= self.since
            and pid != os.getpid()
        }


def end_processes(pids) -> None:
    """SIGTERM each, then SIGKILL what is still there after 5 s (by PID, one by one)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(AssertionError):
        wait_for(lambda: all(_proc_stat(p) is None for p in pids), 5, "processes to end")
    for pid in pids:
        if _proc_stat(pid) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def stop_and_check(hub: Hub, procs: HubProcesses, problems: list[str], config: str) -> None:
    """Stop the hub (SIGTERM, as its admin would) and fail loudly if anything of it is left."""
    procs.snapshot()
    if hub.proc.poll() is None:
        hub.proc.send_signal(signal.SIGTERM)
        try:
            hub.proc.wait(timeout=HUB_STOP_BOUND)
        except subprocess.TimeoutExpired:
            problems.append(
                f"{config}: the hub did not stop within {HUB_STOP_BOUND:.0f}s of SIGTERM"
            )
            print(f"!! {problems[-1]}", flush=True)
            hub.proc.kill()
            hub.proc.wait(timeout=10)
    try:
        wait_for(lambda: not procs.left(), LEFTOVER_GRACE, "the hub's processes to exit", 0.5)
    except AssertionError:
        left = procs.left()
        if left:
            listing = "; ".join(f"{pid}: {cmd}" for pid, cmd in sorted(left.items()))
            problems.append(f"{config}: processes left after the hub stopped: {listing}")
            print(f"!! {problems[-1]} (ending them)", flush=True)
            end_processes(sorted(left))
    if containers := [c.name for c in hub.containers()]:
        problems.append(f"{config}: containers left after the hub stopped: {containers}")
        print(f"!! {problems[-1]}", flush=True)
    print(
        f"   {config}: hub stopped; sessions {sorted(procs.sessions)} checked "
        f"({len(procs.seen)} processes seen)",
        flush=True,
    )


# --- the hubs ------------------------------------------------------------------------------


@contextlib.contextmanager
def vanilla_hub(tmp: Path, config: str):
    client = docker.from_env()
    prefix = "vb" + os.urandom(3).hex()
    network = f"{prefix}-net"
    gateway = dockerhost.ensure_network(client, network)
    port = free_port_pair()
    data = tmp / "data"
    data.mkdir()
    cfg = tmp / "jupyterhub_config.py"
    cfg.write_text(
        VANILLA_CONFIG.format(
            port=port,
            proxy_port=port + 1,
            gateway=gateway,
            data=data,
            image=IMAGE,
            network=network,
            prefix=prefix,
            mem_limit=MEM_LIMIT,
            cpu_limit=CPU_LIMIT,
        )
        + VANILLA_EXTRA[config]
    )
    ARTIFACTS.mkdir(exist_ok=True)
    hub = Hub(
        url=f"http://127.0.0.1:{port}",
        prefix=prefix,
        network=network,
        site_file=cfg,
        data_dir=data,
        log_path=ARTIFACTS / f"bench-{config}-hub.log",
        docker=client,
    )
    log = hub.log_path.open("ab")
    try:
        hub.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            start_new_session=True,
            env={**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}"},
        )

        def up():
            if hub.proc.poll() is not None:
                raise RuntimeError(f"the {config} hub exited; see {hub.log_path}")
            try:
                return requests.get(f"{hub.url}/hub/api/", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_for(up, HUB_UP_BOUND, f"the {config} hub")
        yield hub
    finally:
        if hub.proc is not None and hub.proc.poll() is None:  # the bench failed before its stop
            hub.proc.terminate()
            try:
                hub.proc.wait(timeout=HUB_STOP_BOUND)
            except subprocess.TimeoutExpired:
                os.killpg(hub.proc.pid, signal.SIGKILL)
                hub.proc.wait(timeout=10)
        log.close()
        for c in hub.containers():
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            client.networks.get(network).remove()


@contextlib.contextmanager
def bench_hub(config: str, tmp: Path, roster: list[str], concurrent_starts: int = 0):
    """(hub, admin password) of ``config``; the bench users are on the launcher's roster;
    ``concurrent_starts``: the launcher's ``hub.concurrent_starts`` (0: its default)."""
    if config == "launcher":
        course = {
            "title": "Spawn benchmark",
            "image": IMAGE,
            "students": roster,
            "resources": {"mem_limit": MEM_LIMIT, "cpu_limit": CPU_LIMIT},
        }
        with running_hub(
            tmp,
            "bench-launcher",
            [],
            site_extra={
                "hub": {"concurrent_starts": concurrent_starts},
                "courses": {COURSE: course},
            },
        ) as hub:
            yield hub, ADMIN_PASSWORD
    else:
        with vanilla_hub(tmp, config) as hub:
            yield hub, "any"


class Api:
    """The hub's REST API and the users' servers, with an admin's API token."""

    def __init__(self, hub: Hub, password: str):
        self.hub = hub
        admin = hub.session("admin", password)
        resp = admin.api(
            "POST",
            "/users/admin/tokens",
            json={
                "note": "spawn benchmark",
                "expires_in": 24 * 3600,
                "scopes": ["admin:users", "admin:servers", "access:servers"],
            },
            timeout=30,
        )
        assert resp.status_code in (200, 201), f"admin token: {resp.status_code} {resp.text}"
        self.token = resp.json()["token"]
        admin.close()

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"token {self.token}"
        return s

    def create_users(self, users: list[str]) -> None:
        with self.session() as s:
            for user in users:  # the launcher's roster users exist already (409)
                resp = s.post(f"{self.hub.url}/hub/api/users/{user}", timeout=30)
                assert resp.status_code in (201, 409), f"create {user}: {resp.status_code}"

    def stop_all(self, users: list[str]) -> list[str]:
        """Stop every server of ``users`` and wait until the hub has none left and their
        containers are removed. A container the hub leaves behind (a spawn that failed while
        its container was being created) is removed here after CONTAINER_GRACE and named in
        the result, so that the next run starts clean."""
        with self.session() as s:
            for user in users:
                with contextlib.suppress(requests.RequestException):
                    s.delete(f"{self.hub.url}/hub/api/users/{user}/server", timeout=60)

            def stopped():
                resp = s.get(
                    f"{self.hub.url}/hub/api/users",
                    params={"state": "active", "limit": 1000},
                    timeout=30,
                )
                resp.raise_for_status()
                body = resp.json()
                items = body["items"] if isinstance(body, dict) else body
                return not any(u["name"] in users for u in items)

            wait_for(stopped, STOP_BOUND, "every server of the run to stop", interval=1.0)
        try:
            wait_for(
                lambda: not self.hub.containers(),
                CONTAINER_GRACE,
                "the stopped servers' containers to be removed",
                interval=1.0,
            )
            return []
        except AssertionError:
            left = self.hub.containers()
            for c in left:
                with contextlib.suppress(docker.errors.NotFound):
                    c.remove(force=True)
            return [f"{c.name} ({c.status})" for c in left]


# --- one spawn -----------------------------------------------------------------------------


@dataclass
class Spawn:
    user: str
    seconds: float | None = None  # start request -> 200 through the proxy; None: failed
    failure: str = ""
    ready_at: float | None = None  # seconds to the progress stream's "ready"
    proxy_polls: int = 0  # GETs through the proxy until the 200
    proxy_misses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.seconds is not None


def _wait_ready(s: requests.Session, url: str, user: str, deadline: float) -> str:
    """Follow the user's progress stream until ready (""), or a failure's sentence."""
    while True:
        try:
            with s.get(
                f"{url}/hub/api/users/{user}/server/progress", stream=True, timeout=(10, 60)
            ) as resp:
                if resp.status_code == 200:
                    for line in resp.iter_lines(decode_unicode=True):
                        if line and line.startswith("data:"):
                            event = json.loads(line[5:])
                            if event.get("ready"):
                                return ""
                            if event.get("failed"):
                                return f"failed: {event.get('message', '')}"[:300]
                        if time.monotonic() > deadline:
                            return f"not ready within {SPAWN_BOUND:.0f}s"
        except (requests.RequestException, ValueError):
            pass
        # the stream ended without a verdict: what does the hub say?
        server = {"pending": "unknown"}  # a hub too busy to answer: ask again
        with contextlib.suppress(requests.RequestException, ValueError):
            got = s.get(f"{url}/hub/api/users/{user}", timeout=30)
            if got.ok:
                server = got.json().get("servers", {}).get("")
        if server and server.get("ready"):
            return ""
        if not server or not server.get("pending"):
            return "the server is gone without a ready or failed event"
        if time.monotonic() + POLL > deadline:
            return f"not ready within {SPAWN_BOUND:.0f}s"
        time.sleep(POLL)


def spawn(api: Api, user: str, t0: float) -> Spawn:
    """Start ``user``'s server (at ``t0``, monotonic) and wait until it answers through the
    proxy; bounded by SPAWN_BOUND."""
    result = Spawn(user)
    deadline = t0 + SPAWN_BOUND
    url = api.hub.url
    with api.session() as s:
        try:
            resp = s.post(f"{url}/hub/api/users/{user}/server", timeout=(10, SPAWN_BOUND))
            if resp.status_code not in (201, 202):
                result.failure = f"start request: {resp.status_code} {resp.text[:200]}"
                return result
            if resp.status_code == 202:
                result.failure = _wait_ready(s, url, user, deadline)
                if result.failure:
                    return result
            result.ready_at = time.monotonic() - t0
            while True:
                result.proxy_polls += 1
                try:
                    got = s.get(f"{url}/user/{user}/api", timeout=(5, 30), allow_redirects=False)
                    if got.status_code == 200 and "version" in got.json():
                        result.seconds = time.monotonic() - t0
                        return result
                    miss = str(got.status_code)
                except (requests.RequestException, ValueError) as e:
                    miss = type(e).__name__
                if len(result.proxy_misses) < 5:
                    result.proxy_misses.append(miss)
                if time.monotonic() + POLL > deadline:
                    result.failure = (
                        f"not reachable through the proxy within {SPAWN_BOUND:.0f}s (last: {miss})"
                    )
                    return result
                time.sleep(POLL)
        except requests.RequestException as e:
            result.failure = f"{type(e).__name__}: {e}"[:300]
            return result


def run_batch(api: Api, users: list[str]) -> dict:
    """Start all ``users`` at once; their spawns and the whole machine's CPU-s per spawn."""
    api.create_users(users)
    n = len(users)
    results: list[Spawn | None] = [None] * n
    gate = threading.Barrier(n + 1, timeout=60)
    lock = threading.Lock()
    done = {"count": 0, "cpu": None, "at": None}
    start = {}

    def client(i: int) -> None:
        try:
            gate.wait()
            results[i] = spawn(api, users[i], start["t0"])
        except Exception as e:  # a bug in the client counts as that spawn failing, loudly
            results[i] = Spawn(users[i], failure=f"client error: {type(e).__name__}: {e}")
        finally:
            with lock:
                done["count"] += 1
                if done["count"] == n:
                    done["cpu"], done["at"] = cpu_seconds(), time.monotonic()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    start["cpu"], start["t0"] = cpu_seconds(), time.monotonic()
    gate.wait()
    end = start["t0"] + SPAWN_BOUND + 180  # a client's last request may still time out
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    spawns = [
        r or Spawn(users[i], failure="the client never finished") for i, r in enumerate(results)
    ]
    if done["cpu"] is None:
        done["cpu"], done["at"] = cpu_seconds(), time.monotonic()
    cpu = done["cpu"] - start["cpu"]
    left = api.stop_all(users)  # not timed
    return {
        "n": n,
        "containers_left_by_hub": left,
        "wall_all": done["at"] - start["t0"],
        "cpu_total": cpu,
        "cpu_per_spawn": cpu / n,
        "spawns": [asdict(s) for s in spawns],
        **figures([s.seconds for s in spawns if s.ok], n),
    }


def run_singles(api: Api, users: list[str]) -> dict:
    """Sequential single spawns on the idle host: wall and CPU seconds of each, medians."""
    runs = []
    for user in users:
        api.create_users([user])
        cpu0, t0 = cpu_seconds(), time.monotonic()
        result = spawn(api, user, t0)
        cpu = cpu_seconds() - cpu0
        runs.append({**asdict(result), "cpu": cpu})
        print(
            f"   single {user}: "
            + (f"{result.seconds:.2f} s" if result.ok else f"FAILED {result.failure}")
            + f", {cpu:.2f} CPU-s",
            flush=True,
        )
        runs[-1]["containers_left_by_hub"] = left = api.stop_all([user])
        if left:
            print(f"   !! the hub left {left} (removed)", flush=True)
    ok = [r for r in runs if r["seconds"] is not None]
    return {
        "runs": runs,
        "failed": len(runs) - len(ok),
        "wall": statistics.median(r["seconds"] for r in ok) if ok else None,
        "cpu": statistics.median(r["cpu"] for r in ok) if ok else None,
    }


def figures(times: list[float], n: int) -> dict:
    ok = sorted(times)
    return {
        "ok": len(ok),
        "failed": n - len(ok),
        "p50": statistics.median(ok) if ok else None,
        "p95": ok[math.ceil(0.95 * len(ok)) - 1] if ok else None,  # nearest rank
        "max": ok[-1] if ok else None,
    }


# --- the report ----------------------------------------------------------------------------


def ratios(report: dict, students: list[int], ncores: int) -> dict:
    configs = report["configs"]
    out: dict = {"per_n": {}}
    launcher = configs.get("launcher")
    raised = configs.get("vanilla-raised")

    def div(a, b):
        return a / b if a is not None and b else None

    if launcher and raised:
        out["single_wall_launcher_over_vanilla_raised"] = div(
            launcher["single"]["wall"], raised["single"]["wall"]
        )
    for n in students:
        row = {}
        if launcher:
            run = launcher["runs"].get(str(n))
            cpu1 = launcher["single"]["cpu"]
            floor = n * cpu1 / ncores if cpu1 is not None else None
            row["cpu_floor_s"] = floor
            row["launcher_p95_over_cpu_floor"] = div(run and run["p95"], floor)
            if raised:
                row["launcher_p50_over_vanilla_raised_p50"] = div(
                    run and run["p50"], raised["runs"].get(str(n), {}).get("p50")
                )
        out["per_n"][str(n)] = row
    return out


def _f(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(report: dict, students: list[int]) -> str:
    ncores = report["cores"]
    lines = [
        f"{IMAGE}, {ncores} cores, each container {MEM_LIMIT} / {CPU_LIMIT:g} CPU; seconds from "
        "the start request until the server answers through the proxy; p50/p95/max of the "
        "spawns that succeeded; CPU-s: whole machine, per spawn.",
        "",
        "| configuration | single spawn (s) | single CPU-s |",
        "|---|---:|---:|",
    ]
    for name, cfg in report["configs"].items():
        lines.append(f"| {name} | {_f(cfg['single']['wall'], 2)} | {_f(cfg['single']['cpu'], 2)} |")
    lines += [
        "",
        "| configuration | N | ok | failed | p50 (s) | p95 (s) | max (s) | CPU-s per spawn |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in students:
        for name, cfg in report["configs"].items():
            run = cfg["runs"].get(str(n))
            if run is None:
                continue
            lines.append(
                f"| {name} | {n} | {run['ok']} | {run['failed']} | {_f(run['p50'])} "
                f"| {_f(run['p95'])} | {_f(run['max'])} | {_f(run['cpu_per_spawn'], 2)} |"
            )
    for name, cfg in report["configs"].items():
        for n, run in cfg["runs"].items():
            if run["containers_left_by_hub"]:
                lines.append(
                    f"\n{name}, N={n}: the hub left {len(run['containers_left_by_hub'])} "
                    "containers of failed spawns behind (removed by the bench)."
                )
    r = report["ratios"]
    if r["per_n"] and "launcher" in report["configs"]:
        lines += [
            "",
            "| N | launcher p50 / vanilla-raised p50 | CPU floor (s) | launcher p95 / CPU floor |",
            "|---:|---:|---:|---:|",
        ]
        for n in students:
            row = r["per_n"][str(n)]
            lines.append(
                f"| {n} | {_f(row.get('launcher_p50_over_vanilla_raised_p50'), 2)} "
                f"| {_f(row.get('cpu_floor_s'))} | {_f(row.get('launcher_p95_over_cpu_floor'), 2)} |"
            )
        lines += [
            "",
            "CPU floor = N x the launcher's single-spawn CPU-s / cores. Launcher single wall / "
            "vanilla-raised single wall: "
            f"{_f(r.get('single_wall_launcher_over_vanilla_raised'), 2)}.",
        ]
    return "\n".join(lines)


def background_load(seconds: float = 3.0) -> float:
    """Busy cores of the machine while the bench does nothing (other work on the host)."""
    cpu0, t0 = cpu_seconds(), time.monotonic()
    time.sleep(seconds)  # a measurement window, not a synchronisation
    return (cpu_seconds() - cpu0) / (time.monotonic() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[20, 40, 80])
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--single", type=int, default=3, help="sequential single spawns")
    parser.add_argument("--json", type=Path, default=ARTIFACTS / "bench-spawn.json")
    parser.add_argument(
        "--concurrent-starts",
        type=int,
        default=0,
        help="the launcher's hub.concurrent_starts (default 0: cores + 1)",
    )
    args = parser.parse_args()
    # `timeout`, `kill`: end like Ctrl-C, so each hub is stopped and its containers removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    students = list(dict.fromkeys(args.students))
    configs = list(dict.fromkeys(args.configs))
    assert all(n >= 1 for n in students) and args.single >= 1
    docker.from_env().images.get(IMAGE)  # fails loudly without the teaching image

    singles = [f"bsingle{i}" for i in range(args.single)]
    batches = {n: [f"b{n}x{i}" for i in range(n)] for n in students}
    roster = singles + [u for users in batches.values() for u in users]
    ncores = cores()
    report: dict = {
        "image": IMAGE,
        "cores": ncores,
        "mem_limit": MEM_LIMIT,
        "cpu_limit": CPU_LIMIT,
        "spawn_bound_s": SPAWN_BOUND,
        "students": students,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "busy_cores_before": background_load(),
        "settings": {c: SETTINGS[c] for c in configs},
        "configs": {},
        "problems": [],
    }
    print(
        f"spawn benchmark: {IMAGE} on {ncores} cores; N = {students}; configs {configs}; "
        f"{args.single} single spawns each; busy cores before: "
        f"{report['busy_cores_before']:.2f}",
        flush=True,
    )
    if report["busy_cores_before"] > IDLE_BUSY_CORES:
        report["warning"] = (
            f"the host was not idle ({report['busy_cores_before']:.2f} cores busy before the "
            "bench): the CPU-s figures include that other work and the times its contention"
        )
        print(f"!! {report['warning']}", flush=True)
    problems: list[str] = report["problems"]
    for config in configs:
        print(f"== {config} ({SETTINGS[config]})", flush=True)
        entry = {"single": None, "runs": {}}
        report["configs"][config] = entry
        with (
            tempfile.TemporaryDirectory() as tmp,
            bench_hub(config, Path(tmp), roster, args.concurrent_starts) as (
                hub,
                password,
            ),
        ):
            procs = HubProcesses(hub.proc.pid)
            procs.snapshot()
            entry["containers"] = hub.prefix + "_*"
            print(f"   hub at {hub.url}, containers {hub.prefix}_*", flush=True)
            try:
                api = Api(hub, password)
                procs.snapshot()
                entry["single"] = run_singles(api, singles)
                left = [c for r in entry["single"]["runs"] for c in r["containers_left_by_hub"]]
                if left and config == "launcher":
                    problems.append(f"launcher, single spawns: containers left: {left}")
                for n, users in batches.items():
                    run = run_batch(api, users)
                    entry["runs"][str(n)] = run
                    print(
                        f"   N={n}: ok {run['ok']} failed {run['failed']} p50 {_f(run['p50'])} "
                        f"p95 {_f(run['p95'])} max {_f(run['max'])} s; "
                        f"{run['cpu_per_spawn']:.2f} CPU-s per spawn; all done in "
                        f"{run['wall_all']:.1f} s",
                        flush=True,
                    )
                    for s in run["spawns"]:
                        if s["failure"]:
                            print(f"     {s['user']}: {s['failure']}", flush=True)
                            break  # one sample; all are in the JSON
                    if left := run["containers_left_by_hub"]:
                        print(f"   !! the hub left {len(left)} containers: {left} (removed)")
                        if config == "launcher":
                            problems.append(f"launcher, N={n}: containers left: {left}")
            finally:
                stop_and_check(hub, procs, problems, config)
            with contextlib.suppress(ValueError):
                entry["hub_log"] = str(hub.log_path.relative_to(ROOT))
    report["ratios"] = ratios(report, students, ncores)
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print()
    print(markdown(report, students))
    if "warning" in report:
        print(f"\n!! {report['warning']}")
    print(f"\n(all figures: {args.json})")
    for problem in problems:
        print(f"!! {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

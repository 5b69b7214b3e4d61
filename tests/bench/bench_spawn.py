"""Benchmark: N simultaneous spawns, the launcher vs a vanilla JupyterHub + DockerSpawner.

    .venv/bin/python -m tests.bench.bench_spawn [--students 20]

Both hubs run on this machine in the same run, with the same teaching image, the same kind
of Docker network and the same client: each of N users is started at once through the hub
API (as an admin's browser session, with XSRF) and followed on its progress stream until it is
ready or failed. The vanilla hub keeps DockerSpawner's default timeouts, as a hand-rolled
config would. Prints per-hub median / p90 / max seconds to ready, failures, and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from launcher import dockerhost
from tests.integration.hub import (
    ARTIFACTS,
    IMAGE,
    ROOT,
    Hub,
    free_port_pair,
    running_hub,
    stop_hub,
    wait_for,
)

VANILLA_CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_ip = c.JupyterHub.hub_connect_ip = "{gateway}"
c.JupyterHub.db_url = "sqlite:///{data}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data}/cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "{data}/proxy.pid"
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
"""


@contextlib.contextmanager
def vanilla_hub(tmp: Path):
    client = docker.from_env()
    prefix = "vb" + secrets.token_hex(3)
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
        )
    )
    hub = Hub(
        url=f"http://127.0.0.1:{port}",
        prefix=prefix,
        network=network,
        site_file=cfg,
        data_dir=data,
        log_path=ARTIFACTS / "bench-vanilla-hub.log",
        docker=client,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    log = hub.log_path.open("ab")
    hub.proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(cfg)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
        start_new_session=True,
        env={**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}"},
    )
    try:
        import requests

        def up():
            if hub.proc.poll() is not None:
                raise RuntimeError(f"the vanilla hub exited; see {hub.log_path}")
            try:
                return requests.get(f"{hub.url}/hub/api/", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_for(up, 60, "the vanilla hub")
        yield hub
    finally:
        stop_hub(hub)
        for c in hub.containers():
            c.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            client.networks.get(network).remove()


def spawn_all(hub: Hub, users: list[str], password: str | None) -> list[float | None]:
    """Start every user at once; seconds to ready per user (None: failed)."""
    admin = hub.session("admin", password)
    for user in users:  # create the users first, so only the spawn is timed
        admin.api("POST", f"/users/{user}")

    def one(user: str) -> float | None:
        t0 = time.perf_counter()
        resp = admin.request_server(user).result()
        if resp.status_code == 201:
            return time.perf_counter() - t0
        if resp.status_code != 202:
            return None
        for event in admin.iter_progress(user, timeout=600):
            if event.get("ready"):
                return time.perf_counter() - t0
            if event.get("failed"):
                return None
        return None

    with ThreadPoolExecutor(len(users)) as pool:
        results = list(pool.map(one, users))
    for user in users:
        with contextlib.suppress(Exception):
            admin.api("DELETE", f"/users/{user}/server")
    wait_for(
        lambda: all(not admin.user_model(u)["servers"] for u in users), 300, "all servers to stop"
    )
    return results


def summary(name: str, times: list[float | None]) -> dict:
    ok = sorted(t for t in times if t is not None)
    row = {
        "hub": name,
        "ok": len(ok),
        "failed": len(times) - len(ok),
        "median": statistics.median(ok) if ok else float("nan"),
        "p90": ok[int(0.9 * (len(ok) - 1))] if ok else float("nan"),
        "max": ok[-1] if ok else float("nan"),
    }
    print(
        f"{name:<9} ok {row['ok']:>3}  failed {row['failed']:>3}  median {row['median']:6.1f} s"
        f"  p90 {row['p90']:6.1f} s  max {row['max']:6.1f} s",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=20, help="simultaneous spawns per hub")
    args = parser.parse_args()
    users = [f"bench{i}" for i in range(args.students)]
    print(
        f"{args.students} simultaneous spawns of {IMAGE} on {docker.from_env().info()['NCPU']} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        with vanilla_hub(Path(tmp)) as hub:
            vanilla = summary("vanilla", spawn_all(hub, users, "any"))
    with tempfile.TemporaryDirectory() as tmp:
        from tests.integration.hub import ADMIN_PASSWORD

        with running_hub(Path(tmp), "bench", users) as hub:
            launcher = summary("launcher", spawn_all(hub, users, ADMIN_PASSWORD))
    for key in ("median", "p90", "max"):
        print(f"ratio launcher/vanilla {key}: {launcher[key] / vanilla[key]:.2f}")


if __name__ == "__main__":
    main()

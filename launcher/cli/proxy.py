"""``launcher proxy``: the students' proxy (configurable-http-proxy) as a service of its own
(``hub.proxy: external``, the production install's ``launcher-proxy.service``).

The hub keeps the proxy's routes up to date through its API; the proxy keeps serving them
while the hub restarts or is upgraded, so no student's connection drops.
"""

from __future__ import annotations

import os
import shutil
import sys

from launcher import dockerhost
from launcher.cli.engine import engine
from launcher.endpoints import HUB_API_PORT
from launcher.proxycheck import proxy_path, proxy_problem
from launcher.secrets import PROXY_TOKEN_ENV, ensure_private_dir, proxy_token
from launcher.settings import Site


def proxy_argv(site: Site, hub_ip: str, chp: str) -> list[str]:
    """configurable-http-proxy's command line for ``site`` (pure)."""
    api_port = site.hub.proxy_api_port or site.hub.port + 1
    hub = f"http://{hub_ip}:{HUB_API_PORT}"
    return [
        chp,
        "--ip", site.hub.ip,
        "--port", str(site.hub.port),
        "--api-ip", "127.0.0.1",
        "--api-port", str(api_port),
        "--default-target", hub,
        "--error-target", f"{hub}/hub/error",
    ]  # fmt: skip


def cmd_proxy(site: Site) -> int:
    if site.hub.proxy != "external":
        print(
            "problem: hub.proxy is 'managed' in this site file: the hub starts its own proxy. "
            "Set hub.proxy: external to run the proxy as a service of its own.",
            file=sys.stderr,
        )
        return 1
    path = proxy_path()
    problem = proxy_problem(path)
    if problem:
        print(f"problem: {problem}", file=sys.stderr)
        return 1
    cli = engine(timeout=30)
    if cli is None:
        return 1
    # the hub listens on the students' network's gateway: the proxy sends the hub's pages there
    gateway = dockerhost.ensure_network(cli, site.docker.network, site.docker.isolate)
    data = ensure_private_dir(site.data_dir())
    env = {**os.environ, "PATH": path, PROXY_TOKEN_ENV: proxy_token(data).value}
    argv = proxy_argv(site, gateway, shutil.which("configurable-http-proxy", path=path))
    print(f"Starting the proxy at {site.hub.listen_url} (Ctrl-C stops it)", flush=True)
    os.execve(argv[0], argv, env)
    return 0  # not reached

"""The SSH endpoint as a JupyterHub-managed service: ``python -m launcher.services.ssh.service``.

It listens on ``ssh.listen`` with the host key in the hub's data directory, reads the site
file the hub was started with ($LAUNCHER_CONFIG), and calls the hub API with the token the
hub gave it ($JUPYTERHUB_API_TOKEN, scopes: launcher.hub.config.SSH_SERVICE_SCOPES). It stops
with the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

import asyncssh
import docker

from launcher import catalog, lifecycle
from launcher.services.ssh.failures import FailureLimiter
from launcher.services.ssh.gateway import Gateway
from launcher.services.ssh.hubapi import HubApi
from launcher.settings import load_site
from launcher.sshendpoint import CIPHERS, ensure_keys

log = logging.getLogger("launcher.services.ssh")

#: seconds a connection may take to sign in (a start that waits for a GPU comes after)
LOGIN_TIMEOUT = 120
#: seconds between keepalives to a signed-in client (a dead client is let go after 3 misses)
KEEPALIVE = 30


async def serve(site, api: HubApi) -> None:
    keys = ensure_keys(site.data_dir())
    gateway = Gateway(
        site,
        catalog.for_site(site),
        api,
        asyncssh.read_private_key(keys.gateway_key),
        FailureLimiter(site.ssh.max_failures, site.ssh.failure_window),
        docker.from_env(timeout=30),
    )
    server = await asyncssh.listen(
        site.ssh.bind_host,
        site.ssh.port,
        server_factory=gateway.connection,
        server_host_keys=[str(keys.host_key)],
        encoding=None,
        login_timeout=LOGIN_TIMEOUT,
        keepalive_interval=KEEPALIVE,
        keepalive_count_max=3,
        agent_forwarding=site.ssh.agent_forwarding,  # ssh -A, when the site allows it
        x11_forwarding=False,
        allow_pty=True,
        kbdint_auth=False,
        encryption_algs=list(CIPHERS),
    )
    log.info("SSH endpoint listening on %s", site.ssh.listen)
    async with server:
        await server.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launcher-ssh", description=__doc__)
    parser.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[launcher-ssh] %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    site = load_site(args.config)
    api = HubApi(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    asyncio.run(serve(site, api))
    return 0


if __name__ == "__main__":
    raise SystemExit(lifecycle.run_service(main))

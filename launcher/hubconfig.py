"""Turn a validated site file into JupyterHub configuration.

``configure(c, site, host)`` is pure: it only sets traits on ``c`` and can be tested against a
bare ``traitlets.config.Config()``. ``load_and_configure(c)`` does the I/O around it (read the
site file, create the data directory and secrets, make sure the students' Docker network
exists) and is what ``jupyterhub_config.py`` calls.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from . import dockerhost
from .secrets import StoredSecret, ensure_private_dir, env_or_file
from .settings import Site, load_site

HUB_API_PORT = 8081


@dataclass(frozen=True)
class HostFacts:
    """What configure() needs to know about the host (found by load_and_configure)."""

    hub_connect_ip: str  # gateway of the students' Docker network
    data_dir: Path
    user_password: str
    admin_password: str


def configure(c, site: Site, host: HostFacts) -> None:
    """Set every JupyterHub, proxy, authenticator and spawner trait the site needs."""
    data = host.data_dir

    # --- hub and proxy ---
    c.JupyterHub.bind_url = site.hub.url + "/"
    c.JupyterHub.hub_ip = host.hub_connect_ip
    c.JupyterHub.hub_port = HUB_API_PORT
    c.JupyterHub.hub_connect_ip = host.hub_connect_ip
    c.JupyterHub.db_url = f"sqlite:///{data / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(data / "jupyterhub_cookie_secret")
    c.JupyterHub.cleanup_servers = site.hub.stop_servers_on_exit
    c.ConfigurableHTTPProxy.pid_file = str(data / "jupyterhub-proxy.pid")
    proxy_port = site.hub.proxy_api_port or site.hub.port + 1
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_port}"

    # --- who may log in ---
    members = sorted({name for course in site.courses.values() for name in course.members})
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = host.user_password
    c.SharedPasswordAuthenticator.admin_password = host.admin_password
    c.Authenticator.allowed_users = set(members) - set(site.admins)
    c.Authenticator.admin_users = set(site.admins)

    # --- students' servers ---
    c.JupyterHub.spawner_class = "launcher.spawner.CourseSpawner"
    c.CourseSpawner.courses = {cid: course.model_dump() for cid, course in site.courses.items()}
    c.CourseSpawner.name_prefix = site.docker.prefix
    c.CourseSpawner.network_name = site.docker.network
    c.CourseSpawner.use_internal_ip = True
    c.CourseSpawner.default_url = "/lab"


def host_facts(site: Site) -> HostFacts:
    """Create the data directory, secrets and network the hub needs (idempotent)."""
    data = ensure_private_dir(site.data_dir())
    user_pw = env_or_file(site.auth.password_env, data / "demo-password", 12)
    admin_pw = env_or_file(site.auth.admin_password_env, data / "demo-admin-password", 32)
    _check_length("class password", site.auth.password_env, user_pw, 8)
    _check_length("admin password", site.auth.admin_password_env, admin_pw, 32)
    _announce("class password", site.auth.password_env, user_pw)
    _announce("admin password", site.auth.admin_password_env, admin_pw)
    gateway = dockerhost.ensure_network(dockerhost.client(), site.docker.network)
    return HostFacts(gateway, data, user_pw.value, admin_pw.value)


class PasswordTooShort(ValueError):
    """A password given through the environment is shorter than JupyterHub accepts."""


def _check_length(what: str, env_var: str, secret: StoredSecret, minimum: int) -> None:
    if len(secret.value) < minimum:
        where = f"${env_var}" if secret.path is None else str(secret.path)
        raise PasswordTooShort(
            f"The {what} from {where} has {len(secret.value)} characters; "
            f"it needs at least {minimum}. Choose a longer one."
        )


def _announce(what: str, env_var: str, secret: StoredSecret) -> None:
    if secret.created:
        say(f"Generated the {what} (stored in {secret.path}): {secret.value}")
    elif secret.path is not None:
        say(f"Using the {what} stored in {secret.path} (set {env_var} to choose your own)")


def say(message: str) -> None:
    print(f"[launcher] {message}", file=sys.stderr, flush=True)


def load_and_configure(c, path: str | Path | None = None) -> Site:
    """Entry point for jupyterhub_config.py: load the site file and configure ``c``."""
    site = load_site(path)
    configure(c, site, host_facts(site))
    return site

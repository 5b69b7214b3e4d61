"""Turn a validated site file into JupyterHub configuration.

``configure(c, site, host)`` is pure: it only sets traits on ``c`` and can be tested against a
bare ``traitlets.config.Config()``. ``load_and_configure(c)`` does the I/O around it (read the
site file, create the data directory and secrets, make sure the students' Docker network
exists) and is what ``jupyterhub_config.py`` calls.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from launcher import catalog, dockerhost, lifecycle, pidfiles, staff, swarm
from launcher.courses import staff_roles
from launcher.endpoints import (
    CLI_SERVICE,
    CULLER_SERVICE,
    DASHBOARD_SERVICE,
    HUB_API_PORT,
    METRICS_SCOPE,
    METRICS_SERVICE,
    PAGE_SERVICE,
    RESUME_SERVICE,
    SSH_SERVICE,
)
from launcher.gpu.broker import GpuBroker
from launcher.hub import firewall
from launcher.hub.admission import StartGate, default_slots
from launcher.hub.notices import stopped_notice
from launcher.images import prepull
from launcher.preflight import course_images, gpu_inventory
from launcher.secrets import (
    CLI_TOKEN_ENV,
    CLI_TOKEN_FILE,
    STAFF_PASSWORDS_FILE,
    StoredSecret,
    ensure_private_dir,
    env_or_file,
    proxy_token,
)
from launcher.settings import DEMO_SITE_FILE, Site, load_site
from launcher.signin import OAuthClient, configure_auth, oauth_client
from launcher.sshendpoint import ensure_keys
from launcher.store import Store, utcnow

#: what the instructor page may do with a visitor's token (JupyterHub narrows it to that
#: visitor's own rights): see the course's students and their servers
PAGE_TOKEN_SCOPES = ("list:users", "read:users", "read:servers")
#: what the instructor page may do with its own token, once it has checked that the visitor
#: runs the course and that the server is the student's server of that course
PAGE_SERVICE_SCOPES = ("servers",)
#: the culler's scopes
CULLER_SCOPES = (
    "list:users",
    "read:users:activity",
    "read:users:groups",
    "read:servers",
    "delete:servers",
)

#: the GPU dashboard reads with the visitor's identity only; it stops a server (an admin's
#: "release", a course's staff stopping a student's GPU server) with its own token, once it
#: has checked that the visitor is an admin or runs the course the server was started for
DASHBOARD_TOKEN_SCOPES = ()
DASHBOARD_SERVICE_SCOPES = ("delete:servers",)

#: the SSH endpoint's scopes: see who a user is (their groups: campus sign-in), their servers
#: and a start's progress, start a server (the browser's checks and sentences), and report an
#: open SSH session as the server's activity (the idle culler reads it)
SSH_SERVICE_SCOPES = (
    "read:users:name",
    "read:users:groups",
    "read:servers",
    "servers",
    "users:activity",
)

#: the variables that name the Docker engine (docker.from_env): passed on to the services
DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")

#: the launcher's page templates, extending JupyterHub's (its own are "templates/NAME.html")
TEMPLATES = Path(__file__).with_name("templates")

#: seconds after which a login is checked against the catalog again (roster changes)
AUTH_REFRESH_AGE = 60


@dataclass(frozen=True)
class HostFacts:
    """What configure() needs to know about the host (found by load_and_configure)."""

    hub_connect_ip: str  # gateway of the students' Docker network
    data_dir: Path
    user_password: str
    admin_password: str
    broker: GpuBroker | None = None  # the hub's one GPU broker (its inventory's units)
    cli_token: str = ""
    course_ids: list[str] = field(default_factory=list)  # the catalog when the hub starts
    members: list[str] = field(default_factory=list)  # everyone on its rosters
    site_file: str = ""  # for the managed services (the culler, the instructor page)
    page_port: int = 0  # a free port on 127.0.0.1 for the instructor page
    dashboard_port: int = 0  # a free port on 127.0.0.1 for the GPU dashboard
    metrics_token: str = ""  # the launcher-metrics service's token (Prometheus)
    oauth: OAuthClient | None = None  # the identity provider (auth.kind oidc / github)
    hub_pid: int = 0  # the hub's own PID: its managed services stop when it is gone
    ssh_public_key: str = ""  # the SSH endpoint's key into the containers; "": no SSH
    docker_env: dict = field(default_factory=dict)  # DOCKER_HOST... as the hub has them
    # the hub's token for resuming unfinished starts: new at each start, never written down
    resume_token: str = field(default_factory=lambda: secrets.token_hex(32))


def configure(c, site: Site, host: HostFacts) -> None:
    """Set every JupyterHub, proxy, authenticator and spawner trait the site needs."""
    data = host.data_dir

    # --- hub and proxy ---
    c.JupyterHub.bind_url = site.hub.listen_url + "/"
    if site.hub.listen:  # behind the HTTPS reverse proxy: links and sign-in use the public URL
        c.JupyterHub.public_url = site.hub.url + "/"
    c.JupyterHub.hub_ip = host.hub_connect_ip
    c.JupyterHub.hub_port = HUB_API_PORT
    c.JupyterHub.hub_connect_ip = host.hub_connect_ip
    c.JupyterHub.db_url = f"sqlite:///{data / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(data / "jupyterhub_cookie_secret")
    c.JupyterHub.cleanup_servers = site.hub.stop_servers_on_exit
    # the next `launcher up` finds a hub that still runs, or the proxy of one that died
    c.JupyterHub.pid_file = str(data / pidfiles.HUB_PID_FILE)
    c.ConfigurableHTTPProxy.pid_file = str(data / pidfiles.PROXY_PID_FILE)
    proxy_port = site.hub.proxy_api_port or site.hub.port + 1
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_port}"
    if site.hub.proxy == "external":  # `launcher proxy`, a service of its own
        c.ConfigurableHTTPProxy.should_start = False
        c.ConfigurableHTTPProxy.auth_token = proxy_token(data).value

    # --- who may log in: the course catalog (site file + store), admins ---
    site_courses = {cid: course.model_dump(mode="json") for cid, course in site.courses.items()}
    auth = configure_auth(c, site, host.oauth)  # the class password, OIDC or GitHub
    if not site.auth.oauth:  # students: the class password; staff: their own; admins: theirs
        c[auth].user_password = host.user_password
        c[auth].admin_password = host.admin_password
        c[auth].staff_passwords_file = str(data / STAFF_PASSWORDS_FILE)
    c[auth].courses = site_courses
    c[auth].store_url = site.store_url()
    c.Authenticator.admin_users = set(site.admins)
    c.Authenticator.auth_refresh_age = AUTH_REFRESH_AGE
    # the rosters' people exist in the hub from the start (admins and staff see the whole
    # class); who may log in is still decided by the catalog at each login
    c.Authenticator.allowed_users = set(host.members) - set(site.admins)

    # --- one server per course: the default server is the first course, the others are
    # named servers called by their course id (/user/ann/cv201) ---
    # (a server name that is not one of the user's courses is refused by the spawner)
    c.JupyterHub.allow_named_servers = True

    # --- students' servers ---
    c.JupyterHub.spawner_class = "launcher.hub.spawner.CourseSpawner"
    if site.docker.mode == "swarm":  # a service per server, on the swarm's nodes
        c.JupyterHub.spawner_class = "launcher.hub.swarmspawner.SwarmCourseSpawner"
        c.SwarmCourseSpawner.gpu_resource = site.docker.gpu_resource
        c.LauncherHub.swarm_gpu_resource = site.docker.gpu_resource
    c.CourseSpawner.courses = site_courses
    c.CourseSpawner.materials_root = str(data / "materials")
    c.CourseSpawner.name_prefix = site.docker.prefix
    c.CourseSpawner.network_name = site.docker.network
    c.CourseSpawner.use_internal_ip = True
    c.CourseSpawner.default_url = "/lab"
    c.CourseSpawner.poll_interval = site.hub.poll_interval
    c.CourseSpawner.pull_policy = site.images.pull_policy
    c.CourseSpawner.pull_stall_timeout = site.images.pull_stall_timeout
    c.CourseSpawner.min_free_disk_gb = site.docker.min_free_disk_gb
    # a start waiting in the GPU queue is a future, not a process: JupyterHub's limit on
    # concurrent spawns (which counts them) would answer 429 to everyone else at the start of
    # a large GPU class; the GPUs and the queue bound the starts instead
    c.JupyterHub.concurrent_spawn_limit = 0
    c.CourseSpawner.registry_mirror = site.images.registry_mirror
    c.CourseSpawner.session_pip_index_url = site.images.session_pip_index_url
    if site.images.session_ca_bundle is not None:
        c.CourseSpawner.session_ca_bundle = str(site.images.session_ca_bundle)
    # progress messages and refusals in the student's language (else the site's), times in
    # the site's zone
    c.CourseSpawner.language = site.hub.language
    c.CourseSpawner.timezone = site.hub.timezone

    # --- GPUs: one broker for the whole hub ---
    c.CourseSpawner.store_url = site.store_url()
    if host.broker is not None:
        c.CourseSpawner.gpu_broker = c.LauncherHub.gpu_broker = host.broker
    c.LauncherHub.gpu_reconcile_interval = site.gpus.reconcile_interval
    c.LauncherHub.container_prefix = site.docker.prefix
    c.LauncherHub.staff_share_interval = site.hub.staff_access_sync
    # --- a class that starts together: a few container starts at once, the rest in line
    # (each step bounds its own time, so JupyterHub's start_timeout stays at its last-resort
    # default); a start the hub did not finish is resumed by the next hub ---
    c.CourseSpawner.start_gate = StartGate(site.hub.concurrent_starts or default_slots())
    c.LauncherHub.store_url = site.store_url()
    c.LauncherHub.resume_token = host.resume_token
    # a student whose server stopped by itself reads why at the top of the hub's pages
    c.JupyterHub.template_vars = {"announcement": stopped_notice}

    # --- the front door: the course home (no start at login: a TA or instructor who signs
    # in to see their page takes no GPU), in the visitor's language, times in the site's zone
    c.JupyterHub.redirect_to_server = False
    c.JupyterHub.template_paths = [str(TEMPLATES)]
    c.JupyterHub.jinja_environment_options = {"extensions": ["jinja2.ext.i18n"]}
    c.LauncherHub.site_name = site.hub.name
    c.LauncherHub.site_language = site.hub.language
    c.LauncherHub.site_timezone = site.hub.timezone

    configure_services(c, host)
    configure_ssh(c, site, host)


def configure_ssh(c, site: Site, host: HostFacts) -> None:
    """The SSH endpoint (``ssh:`` of the site): a managed service with the scopes it needs,
    its key in every container of a course with SSH on, and its address on the key page."""
    if not (site.ssh.enabled and host.site_file and host.ssh_public_key):
        return
    c.CourseSpawner.ssh_authorized_keys = host.ssh_public_key
    c.CourseSpawner.ssh_agent_forwarding = site.ssh.agent_forwarding
    c.LauncherHub.ssh_endpoint = ssh_public_endpoint(site)
    c.JupyterHub.services = [
        *c.JupyterHub.services,
        {
            "name": SSH_SERVICE,
            "command": [sys.executable, "-m", "launcher.services.ssh.service"],
            "environment": service_env(host),
        },
    ]
    c.JupyterHub.load_roles = [
        *c.JupyterHub.load_roles,
        {
            "name": SSH_SERVICE,
            "description": "SSH endpoint: start a student's server, report SSH sessions",
            "scopes": list(SSH_SERVICE_SCOPES),
            "services": [SSH_SERVICE],
        },
    ]


def ssh_public_endpoint(site: Site) -> str:
    """``HOST:PORT`` as students give them to ``ssh``: ``ssh.public_host``, else the hub
    URL's host; ``ssh.public_port``, else the port the endpoint listens on."""
    host = site.ssh.public_host or urlparse(site.hub.url).hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{site.ssh.public_port or site.ssh.port}"


def configure_services(c, host: HostFacts) -> None:
    """The roles and the services: staff roles per course, the culler, the service pages, the
    metrics scraper's and the `launcher` command's tokens, each with least privilege."""
    # --- each course's TAs and instructors reach its students' servers, nobody else's ---
    roles = staff_roles(host.course_ids, extra_scopes=[f"access:services!service={PAGE_SERVICE}"])

    services = []
    # --- the culler: each course's idle, maximum-age and GPU-idle limits ---
    if host.site_file:
        services.append(
            {
                "name": CULLER_SERVICE,
                "command": [sys.executable, "-m", "launcher.services.culler.service"],
                "environment": service_env(host),
            }
        )
        roles.append(
            {
                "name": CULLER_SERVICE,
                "description": "launcher culler: stop servers past their course's limits",
                "scopes": list(CULLER_SCOPES),
                "services": [CULLER_SERVICE],
            }
        )

    # --- the service pages read with each visitor's own token; what the hub's roles cannot
    # narrow to one course (start and stop a student's server of that course) they do with a
    # token of their own, after checking the visitor's role in that course: the instructor
    # page (its course's staff), the GPU dashboard (every user: students see their own GPU
    # and quota) ---
    for name, scopes, description in (
        (PAGE_SERVICE, PAGE_SERVICE_SCOPES, "instructor page: start/stop its course's servers"),
        (DASHBOARD_SERVICE, DASHBOARD_SERVICE_SCOPES, "GPU dashboard: stop a GPU holder"),
    ):
        roles.append(
            {"name": name, "description": description, "scopes": list(scopes), "services": [name]}
        )
    if host.site_file and host.page_port:
        services.append(
            page_service(
                PAGE_SERVICE,
                "launcher.services.instructor.app",
                host.page_port,
                PAGE_TOKEN_SCOPES,
                host,
            )
        )
    if host.site_file and host.dashboard_port:
        services.append(
            page_service(
                DASHBOARD_SERVICE,
                "launcher.services.dashboard.app",
                host.dashboard_port,
                DASHBOARD_TOKEN_SCOPES,
                host,
            )
        )
        c.JupyterHub.extra_user_scopes = {f"access:services!service={DASHBOARD_SERVICE}"}
    c.JupyterHub.custom_scopes = {
        METRICS_SCOPE: {"description": "Read the GPU dashboard's Prometheus metrics (/metrics)."}
    }
    if host.metrics_token:
        services.append({"name": METRICS_SERVICE, "api_token": host.metrics_token})
        roles.append(
            {
                "name": METRICS_SERVICE,
                "description": "Prometheus: scrape the GPU dashboard's /metrics, nothing else",
                "scopes": [METRICS_SCOPE],
                "services": [METRICS_SERVICE],
            }
        )

    # --- the launcher command's service: may stop servers, nothing else ---
    if host.cli_token:
        services.append({"name": CLI_SERVICE, "api_token": host.cli_token})
        roles.append(
            {
                "name": CLI_SERVICE,
                "description": "launcher CLI: stop a GPU holder's server (launcher gpus release)",
                "scopes": ["servers", "read:users:name"],
                "services": [CLI_SERVICE],
            }
        )
    # --- the hub itself, resuming the starts its previous run left: starts servers only ---
    services.append({"name": RESUME_SERVICE, "api_token": host.resume_token})
    roles.append(
        {
            "name": RESUME_SERVICE,
            "description": "the hub: resume the starts a hub restart interrupted",
            "scopes": ["servers"],
            "services": [RESUME_SERVICE],
        }
    )
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles


def service_env(host: HostFacts) -> dict:
    """What a managed service needs to find the site (JupyterHub gives services a fixed
    environment, so a data directory chosen through $LAUNCHER_DATA_DIR is passed on), the
    Docker engine the hub uses, and the hub it must not outlive."""
    env = {"LAUNCHER_CONFIG": host.site_file, "LAUNCHER_DATA_DIR": str(host.data_dir)}
    # the engine the hub uses (a swarm's manager, a remote engine), not the local default
    env.update(host.docker_env)
    if host.hub_pid:
        env[lifecycle.HUB_PID_ENV] = str(host.hub_pid)
    return env


def page_service(name: str, module: str, port: int, scopes, host: HostFacts) -> dict:
    """A managed service page at /services/NAME/ behind Hub OAuth; ``scopes``: what it may do
    with a visitor's token (JupyterHub narrows them to that visitor's own rights)."""
    return {
        "name": name,
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, "-m", module],
        "environment": service_env(host),
        "oauth_client_allowed_scopes": list(scopes),
        # part of the deployment: no "allow NAME to ..." page at the first visit
        "oauth_no_confirm": True,
        "display": True,
    }


def host_facts(site: Site) -> HostFacts:
    """Create the data directory, secrets and network the hub needs (idempotent)."""
    data = ensure_private_dir(site.data_dir())
    user_pw, admin_pw = class_passwords(site, data)
    oauth = oauth_client(site, data)  # SignInConfigError: a sentence
    cli_token = env_or_file(CLI_TOKEN_ENV, data / CLI_TOKEN_FILE, 32)
    metrics_token = env_or_file("LAUNCHER_METRICS_TOKEN", data / "launcher-metrics-token", 32)
    client = dockerhost.client()
    if site.docker.mode == "swarm":  # SwarmUnavailable: a sentence
        # the nodes' own services are kept from the students by each node's packet filter
        # (the multi-host how-to), not by this host's
        gateway = swarm.hub_address(client, site.docker.hub_address)
        swarm.ensure_network(client, site.docker.network, site.docker.isolate)
    else:
        gateway = dockerhost.ensure_network(client, site.docker.network, site.docker.isolate)
        if site.docker.isolate:  # FirewallError: a sentence, and the hub does not start
            isolate_students(client, site, gateway)
    cat = catalog.for_site(site)  # the spawners' and the broker's: one store connection pool
    store = cat.store
    whole = site.model_copy(update={"courses": cat.courses()})  # site file + store courses
    if not site.auth.oauth:
        staff.ensure_for(whole.courses, data, site.admins, say)
    broker = GpuBroker(
        store,
        gpu_inventory(whole),
        when_full=site.gpus.when_full,
        queue_timeout=site.gpus.queue_timeout,
        zone=site.hub.timezone,
    )
    freed = reconcile_gpus(store, running_servers(client, site))
    store.clear_queue()  # the GPU queue lives in the hub's memory: a new hub has none
    for a in freed:
        say(f"GPU {a.unit_uuid} of {a.username} freed: container {a.container} no longer runs")
    if site.images.prepull and site.images.pull_policy != "never":
        refs = course_images(whole)
        say(f"Pre-pulling {len(refs)} course image(s) in the background")
        thread = prepull.start_background(client.api, refs, site.images.prepull_concurrency, say)
        if site.docker.mode == "swarm":  # then on every node (a global service per image)
            swarm.start_node_prepull(client, refs, site.docker.prefix, thread, say)
    ssh_key = ensure_keys(data).gateway_public if site.ssh.enabled else ""
    return HostFacts(
        gateway,
        data,
        user_pw,
        admin_pw,
        broker,
        cli_token.value,
        list(whole.courses),
        sorted({name for course in whole.courses.values() for name in course.members}),
        metrics_token=metrics_token.value,
        oauth=oauth,
        ssh_public_key=ssh_key,
        docker_env={k: os.environ[k] for k in DOCKER_ENV if os.environ.get(k)},
    )


def isolate_students(client, site: Site, gateway: str) -> None:
    """Keep student containers from this host's services (but the hub's API and the ports the
    site allows) and from the metadata address (see launcher.hub.firewall)."""
    network = client.networks.get(site.docker.network)
    firewall.apply(
        firewall.rules(
            firewall.bridge_of(network.attrs), gateway, HUB_API_PORT, site.docker.allow_host_ports
        )
    )


def running_servers(client, site: Site) -> set[str]:
    """The names of the servers that run: containers, or (swarm mode) services whose task
    runs."""
    if site.docker.mode == "swarm":
        return set(swarm.running_tasks(client, site.docker.prefix))
    return {c.name for c in client.containers.list()}


def reconcile_gpus(store: Store, running: set[str]) -> list:
    """End the allocations (and forget the servers) whose container (or service) does not
    run: it died while the hub was down."""
    for (user, server), found in store.running_servers().items():
        if found.container not in running:
            store.server_stopped(user, server)
    return store.end_vanished(lambda a: a.container in running, utcnow())


def class_passwords(site: Site, data: Path) -> tuple[str, str]:
    """The class and admin passwords (generated on first start); none with campus sign-in."""
    if site.auth.oauth:
        return "", ""
    user_pw = env_or_file(site.auth.password_env, data / "demo-password", 12)
    admin_pw = env_or_file(site.auth.admin_password_env, data / "demo-admin-password", 32)
    _check_length("class password", site.auth.password_env, user_pw, 8)
    _check_length("admin password", site.auth.admin_password_env, admin_pw, 32)
    _announce("class password", site.auth.password_env, user_pw)
    _announce("admin password", site.auth.admin_password_env, admin_pw)
    return user_pw.value, admin_pw.value


class PasswordTooShort(ValueError):
    """A password given through the environment is shorter than JupyterHub accepts."""


def _check_length(what: str, env_var: str, secret: StoredSecret, minimum: int) -> None:
    where = f"${env_var}" if secret.path is None else str(secret.path)
    if len(secret.value) < minimum:
        raise PasswordTooShort(
            f"The {what} from {where} has {len(secret.value)} characters; "
            f"it needs at least {minimum}. Choose a longer one."
        )
    if not secret.value.isascii():
        # JupyterHub compares it with hmac.compare_digest, which refuses non-ASCII text: no
        # login would ever succeed
        raise PasswordTooShort(
            f"The {what} from {where} has characters other than ASCII letters, digits and "
            "punctuation, with which nobody could sign in. Choose one without them."
        )


def _announce(what: str, env_var: str, secret: StoredSecret) -> None:
    """Where a password is (never the password itself: logs are kept and shared)."""
    if secret.created:
        say(f"Generated the {what}: read it with `cat {secret.path}` (root only)")
    elif secret.path is not None:
        say(f"Using the {what} stored in {secret.path} (set {env_var} to choose your own)")


def say(message: str) -> None:
    print(f"[launcher] {message}", file=sys.stderr, flush=True)


def load_and_configure(c, path: str | Path | None = None) -> Site:
    """Entry point for jupyterhub_config.py: load the site file and configure ``c``."""
    path = Path(path or os.environ.get("LAUNCHER_CONFIG") or DEMO_SITE_FILE).resolve()
    site = load_site(path)
    host = host_facts(site)
    ports = {"page_port": dockerhost.free_port(), "dashboard_port": dockerhost.free_port()}
    configure(c, site, replace(host, site_file=str(path), hub_pid=os.getpid(), **ports))
    return site

"""The site file: one YAML file that describes a deployment.

``load_site(path)`` parses and validates it and returns a :class:`Site`. Every problem is
reported as a :class:`SiteFileError` whose lines name the file, the line and the key, e.g.::

    launcher.yaml:12: courses.demo.imgae: unknown key (did you mean 'image'?)
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlparse

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from launcher import yamlfile
from launcher.i18n import LANGUAGES, normalize
from launcher.images.refs import parse as parse_image
from launcher.images.refs import split_mirror
from launcher.localtime import zone_problem

#: the site file used when none is given: the embedded demo
DEMO_SITE_FILE = Path(__file__).resolve().parent.parent / "deploy" / "demo" / "launcher.yaml"


class SiteFileError(ValueError):
    """A site file that cannot be used; ``problems`` holds one sentence per problem."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(problems))


def _username(value: str) -> str:
    """Normalise like JupyterHub's Authenticator.normalize_username (lower case)."""
    name = value.strip().lower()
    if not name or "/" in name or set(name) == {"."}:
        raise ValueError(f"{value!r} is not a valid JupyterHub username")
    return name


def _image_ref(value: str) -> str:
    """A course image is pinned to a version tag (never 'latest'), optionally with a digest:
    ``repo:tag`` or ``repo:tag@sha256:...``."""
    ref = parse_image(value)  # a malformed reference raises ValueError with a sentence
    if not ref.tag:
        raise ValueError(f"{value!r} has no version tag; pin one, e.g. {ref.name}:2.13-cpu")
    if ref.tag == "latest":
        raise ValueError(f"{value!r} uses 'latest'; pin a version tag such as 2.13-cpu")
    return value


def _course_id(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", value):
        raise ValueError(
            f"{value!r} is not a course id: use lower-case letters, digits and '-', "
            "starting with a letter, at most 31 characters (e.g. dl101)"
        )
    return value


def _host_path(value: Path) -> Path:
    if "\0" in str(value):
        raise ValueError(f"{str(value)!r} holds a NUL character, which no path can have")
    return value


Username = Annotated[str, AfterValidator(_username)]
#: a path on the hub's host
HostPath = Annotated[Path, AfterValidator(_host_path)]
CourseId = Annotated[str, AfterValidator(_course_id)]
ImageRef = Annotated[str, AfterValidator(_image_ref)]
M = TypeVar("M", bound=BaseModel)
_BYTES = re.compile(r"^\d+(\.\d+)?[KMGT]?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSettings(_Strict):
    url: str = Field("http://127.0.0.1:8000", description="public URL the proxy listens on")
    data_dir: HostPath | None = Field(
        None, description="hub database, secrets, generated passwords (default: see docs)"
    )
    proxy_api_port: int | None = Field(
        None, ge=1, le=65535, description="proxy REST API port on 127.0.0.1 (default: port+1)"
    )
    listen: str | None = Field(
        None,
        description="where the proxy listens when a reverse proxy in front of it serves url "
        "with HTTPS (the production install), e.g. http://127.0.0.1:8000; default: url",
    )
    proxy: Literal["managed", "external"] = Field(
        "managed",
        description="managed: the hub starts and stops its proxy (make up); external: the "
        "proxy runs as a service of its own (`launcher proxy`, the production install), so "
        "that a hub restart or upgrade keeps every student's connection",
    )
    stop_servers_on_exit: bool = Field(
        False, description="stop every student server when the hub exits (default: keep them)"
    )
    poll_interval: int = Field(
        10, ge=1, le=300, description="seconds between checks that each server still runs"
    )
    cull_interval: int = Field(
        60, ge=1, le=3600, description="seconds between the culler's checks of session limits"
    )
    staff_access_sync: int = Field(
        60,
        ge=1,
        le=3600,
        description="seconds within which a TA added to or removed from a course gains or "
        "loses its running servers",
    )
    concurrent_starts: int = Field(
        0,
        ge=0,
        le=256,
        description="container starts admitted at once when a class starts together, the "
        "others wait in line (0: one per CPU core of this host, and one more)",
    )

    name: str = Field(
        "GPU classroom",
        min_length=1,
        max_length=80,
        description="the site's name on the login page and every page's title, e.g. "
        "'Deep learning lab, Dept. of Computer Science'",
    )
    timezone: str = Field(
        "UTC",
        description="the site's time zone (IANA name, e.g. Asia/Shanghai): quota periods "
        "(a week starts Monday 00:00 there) and every time shown on pages, in messages and "
        "by the launcher command; the JSON API keeps UTC",
    )
    language: str = Field(
        "en",
        description="the language of a visitor whose browser asks for none the hub has "
        "(en or zh-CN); the browser's Accept-Language and the switch on every page come first",
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        problem = zone_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        found = normalize(value)
        if found is None:
            raise ValueError(
                f"{value!r} is not a language of this hub; use one of "
                + ", ".join(tag for tag in LANGUAGES.values())
            )
        return found

    @field_validator("url", "listen")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000")
        try:
            port = parsed.port
        except ValueError:  # not a number, or beyond 65535
            port = 0
        host_port = parsed.netloc.rsplit("@", 1)[-1]
        written = ":" in (host_port.rsplit("]", 1)[-1] if "]" in host_port else host_port)
        if port == 0 or (port is None and written):
            raise ValueError(f"{value!r} has no usable port: give one from 1 to 65535")
        return value.rstrip("/")

    @property
    def listen_url(self) -> str:
        """Where the proxy listens: ``listen``, else ``url``."""
        return self.listen or self.url

    @property
    def ip(self) -> str:
        """The proxy's address (``listen_url``'s host)."""
        return urlparse(self.listen_url).hostname or ""

    @property
    def port(self) -> int:
        """The proxy's port (``listen_url``'s)."""
        parsed = urlparse(self.listen_url)
        return parsed.port or (443 if parsed.scheme == "https" else 80)


class DockerSettings(_Strict):
    network: str = Field("launcher", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
    prefix: str = Field("launcher", pattern=r"^[a-z][a-z0-9]{0,19}$")
    isolate: bool = Field(
        True,
        description="student containers reach neither each other nor this host (but the hub)",
    )
    allow_host_ports: list[int] = Field(
        default_factory=list,
        description="ports on this host students may reach too, e.g. [3141] for a pip mirror",
    )
    min_free_disk_gb: float = Field(
        5,
        ge=0,
        description="new sessions are refused while the engine's disk has less free (0: never)",
    )
    mode: Literal["local", "swarm"] = Field(
        "local",
        description="local: containers on this host's engine; swarm: services on the nodes of "
        "the Docker Swarm whose manager this host's engine is (see the multi-host how-to)",
    )
    hub_address: str = Field(
        "",
        pattern=r"^([0-9.]+|[0-9a-fA-F:]+)?$",
        description="swarm mode: the IP address of this host that the nodes' containers reach "
        "the hub's API at (default: the swarm address of this node)",
    )
    gpu_resource: str = Field(
        "NVIDIA-GPU",
        pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,62}$",
        description="swarm mode: the generic resource each node advertises a GPU as "
        "(dockerd --node-generic-resource NVIDIA-GPU=GPU-<uuid>)",
    )


_ENV_VAR = r"^[A-Z_][A-Z0-9_]*$"


class AuthSettings(_Strict):
    """How people sign in: the class password (the demo), a campus OpenID Connect provider
    (Keycloak, Azure AD / Entra ID, Shibboleth's OIDC OP, Google, ...) or GitHub."""

    kind: Literal["class-password", "oidc", "github"] = Field(
        "class-password", description="class-password | oidc | github"
    )
    password_env: str = Field("LAUNCHER_DEMO_PASSWORD", pattern=_ENV_VAR)
    admin_password_env: str = Field("LAUNCHER_DEMO_ADMIN_PASSWORD", pattern=_ENV_VAR)
    # --- oidc and github ---
    client_id: str = Field("", description="the id the identity provider gave the hub")
    client_secret_env: str = Field(
        "LAUNCHER_OAUTH_CLIENT_SECRET",
        pattern=_ENV_VAR,
        description="environment variable with the client secret (else <data_dir>/oauth-client-secret)",
    )
    issuer: str = Field(
        "", description="OIDC issuer URL; its /.well-known/openid-configuration gives the endpoints"
    )
    authorize_url: str = Field("", description="instead of issuer: the endpoints one by one")
    token_url: str = ""
    userdata_url: str = ""
    scopes: list[str] = Field(
        default_factory=list,
        description="scopes to ask for (default oidc: openid profile email; github: read:org)",
    )
    username_claim: str = Field("preferred_username", min_length=1)
    groups_claim: str = Field("groups", min_length=1, description="the claim listing groups")
    allowed_groups: list[str] = Field(
        default_factory=list,
        description="only members of these groups (GitHub: org:team) may sign in at all",
    )
    admin_groups: list[str] = Field(
        default_factory=list, description="members of these groups are hub admins"
    )
    allowed_organizations: list[str] = Field(
        default_factory=list, description="github: only members of these orgs (or org:team)"
    )
    login_service: str = Field("", description="the sign-in button's text: 'Sign in with ...'")

    @field_validator("issuer", "authorize_url", "token_url", "userdata_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and urlparse(value).scheme not in ("http", "https"):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        if self.kind == "class-password":
            return self
        if not self.client_id:
            raise ValueError(
                f"kind {self.kind} needs client_id: the id your identity provider gave the hub "
                "when you registered it (redirect URI: <hub url>/hub/oauth_callback)"
            )
        endpoints = (self.authorize_url, self.token_url, self.userdata_url)
        if self.kind == "oidc" and not self.issuer and not all(endpoints):
            raise ValueError(
                "kind oidc needs issuer (e.g. https://idp.example.edu/realms/campus), or all "
                "of authorize_url, token_url and userdata_url"
            )
        return self

    @property
    def oauth(self) -> bool:
        return self.kind != "class-password"


#: host folders that may never be a course's materials (mounted read-write for its staff)
SYSTEM_DIRS = tuple(
    Path(p)
    for p in (
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib64",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/var/lib/docker",
        "/var/lib/containerd",
        "/var/lib/launcher",
        "/var/run",
    )
)


class Resources(_Strict):
    mem_limit: str = Field("2G", description="memory limit per student container, e.g. 2G")
    cpu_limit: float = Field(1.0, gt=0, le=256)
    pids_limit: int = Field(1024, ge=64)

    @field_validator("mem_limit")
    @classmethod
    def _check_mem(cls, value: str) -> str:
        if not _BYTES.fullmatch(str(value)):
            raise ValueError(f"{value!r} is not a size such as 512M or 2G")
        if not any(c in "123456789" for c in str(value)):  # Docker reads 0 as "no limit"
            raise ValueError(f"{value!r} is no memory at all (Docker would read it as unlimited)")
        return str(value)


class CourseGpu(_Strict):
    per_student: int = Field(0, ge=0, le=16, description="GPUs (or MIG instances) per student")
    mode: Literal["exclusive", "shared"] = "exclusive"
    max_students_per_gpu: int = Field(1, ge=1, le=64, description="with mode: shared")
    mig_profile: str = Field("", pattern=r"^(\d+g\.\d+gb(\+me)?)?$")
    pool: list[str] = Field(default_factory=list, description="GPU indices or UUIDs")
    max_gpus: int | None = Field(None, ge=1, description="course cap: units in use at once")
    cpu_fallback: bool = Field(False, description="CPU-only session instead of a refusal")

    @field_validator("pool", mode="before")
    @classmethod
    def _pool_as_strings(cls, value):
        return [str(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _check_mode(self) -> CourseGpu:
        if self.mode == "shared" and self.max_students_per_gpu < 2:
            raise ValueError("mode: shared needs max_students_per_gpu of 2 or more")
        if self.mode == "exclusive" and self.max_students_per_gpu != 1:
            raise ValueError("max_students_per_gpu only applies with mode: shared")
        return self


class CourseQuota(_Strict):
    gpu_hours: float | None = Field(None, gt=0, description="GPU-hours per student per period")
    period: Literal["day", "week", "month"] = "week"


class CourseGroups(_Strict):
    """Group names (JupyterHub groups, or the identity provider's group claims) whose members
    get a role in the course, in addition to the rosters."""

    students: list[str] = Field(default_factory=list, description="e.g. [cs-dl101-2026]")
    tas: list[str] = Field(default_factory=list)
    instructors: list[str] = Field(default_factory=list)


class CourseMaterials(_Strict):
    """A host directory mounted into every server of the course: read-only for students,
    read-write for instructors and TAs."""

    enabled: bool = Field(True, description="false: no materials directory")
    path: HostPath | None = Field(
        None, description="host directory (default: <data_dir>/materials/<course id>)"
    )

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        if not value.is_absolute():
            raise ValueError(f"{str(value)!r} is not a full path; give one such as /srv/dl101")
        clean = Path(os.path.normpath(value))
        if clean == Path("/") or any(clean.is_relative_to(p) for p in SYSTEM_DIRS):
            raise ValueError(
                f"{str(value)!r} is a system directory: the course's staff could write there "
                "(materials are read-write for them); give a folder of its own, e.g. /srv/dl101"
            )
        return clean


class CourseSession(_Strict):
    """Session limits, enforced by the launcher's culler service (0 turns a limit off)."""

    idle_timeout: int = Field(
        3600, ge=0, description="seconds without activity before a server is stopped"
    )
    max_age: int = Field(0, ge=0, description="seconds after its start a server is stopped")
    gpu_idle_timeout: int = Field(
        1800, ge=0, description="seconds at 0% GPU utilisation before a GPU server is stopped"
    )
    gpu_idle_warning: int = Field(
        300, ge=0, description="seconds before a GPU-idle stop that the student is warned"
    )
    quota_warning: int = Field(
        600,
        ge=0,
        description="seconds before the GPU-hour quota runs out that a running session is warned",
    )

    @model_validator(mode="after")
    def _warning_fits(self) -> CourseSession:
        if self.gpu_idle_timeout and self.gpu_idle_warning >= self.gpu_idle_timeout:
            raise ValueError("gpu_idle_warning must be shorter than gpu_idle_timeout")
        return self


class InstructorLimits(_Strict):
    """What a course's instructors may change on the instructor page (set by an admin)."""

    images: list[ImageRef] = Field(
        default_factory=list,
        description="pins instructors may choose (the current pin is always allowed)",
    )
    max_gpu_per_student: int | None = Field(
        None, ge=0, le=16, description="highest gpu.per_student (default: the current value)"
    )
    max_students: int | None = Field(None, ge=1, description="largest roster (default: any)")
    ssh: bool = Field(
        False, description="true: instructors may switch the course's SSH access on and off"
    )


class CourseSsh(_Strict):
    """SSH into the students' own containers through the hub's endpoint (``ssh:`` of the
    site), for this course."""

    enabled: bool = Field(
        True, description="false: the course's servers take no SSH sign-in (JupyterLab only)"
    )
    port_forwarding: bool = Field(
        True,
        description="local port forwarding (VS Code Remote-SSH, TensorBoard); false: shell, "
        "commands, scp and sftp only",
    )


class Course(_Strict):
    title: str = Field(min_length=1)
    image: ImageRef
    students: list[Username] = Field(default_factory=list)
    instructors: list[Username] = Field(default_factory=list)
    tas: list[Username] = Field(default_factory=list)
    groups: CourseGroups = CourseGroups()
    materials: CourseMaterials = CourseMaterials()
    session: CourseSession = CourseSession()
    instructor_limits: InstructorLimits = InstructorLimits()
    resources: Resources = Resources()
    gpu: CourseGpu = CourseGpu()
    quota: CourseQuota = CourseQuota()
    ssh: CourseSsh = CourseSsh()

    @property
    def members(self) -> list[str]:
        """Everyone on the rosters (staff first)."""
        return list(dict.fromkeys([*self.instructors, *self.tas, *self.students]))


class GpuDevice(_Strict):
    index: int = Field(ge=0)
    uuid: str = Field(pattern=r"^(GPU|MIG)-[A-Za-z0-9-]+$")
    model: str = "GPU"
    memory_mib: int = Field(0, ge=0)
    mig_profile: str = ""
    gpu_uuid: str = ""
    compute_cap: str = Field("", pattern=r"^(\d+\.\d+)?$", description="e.g. 8.0 for an A100")
    driver_version: str = Field("", description="the host's NVIDIA driver, e.g. 580.65.06")
    node: str = Field(
        "", description="swarm mode: the hostname of the node the GPU is in (docker node ls)"
    )


class GpuSettings(_Strict):
    source: Literal["auto", "nvidia-smi", "static", "swarm", "none"] = Field(
        "auto",
        description="auto: the declared devices, else (swarm mode) the nodes' GPU resources, "
        "else nvidia-smi if installed, else none",
    )
    nvidia_smi: str = Field("nvidia-smi", description="nvidia-smi executable")
    devices: list[GpuDevice] = Field(default_factory=list)
    when_full: Literal["queue", "refuse"] = "queue"
    queue_timeout: int = Field(600, ge=10, le=3600, description="seconds a spawn may queue")
    reconcile_interval: int = Field(
        60,
        ge=0,
        le=3600,
        description="seconds between two comparisons of the GPU ledger with the engine (0: off)",
    )


class ImagesSettings(_Strict):
    registry_mirror: str = Field(
        "", description="registry (host[:port][/prefix]) that replaces every image's registry"
    )

    @field_validator("registry_mirror")
    @classmethod
    def _check_mirror(cls, value: str) -> str:
        if value:
            split_mirror(value)  # raises ValueError with a sentence
        return value

    pull_policy: Literal["ifnotpresent", "always", "never"] = Field(
        "ifnotpresent", description="when a spawn may pull its course image"
    )
    prepull: bool = Field(True, description="pull every course image in the background at start")
    session_pip_index_url: str = Field(
        "", description="pip index for `pip install` inside student sessions (a campus mirror)"
    )
    session_ca_bundle: HostPath | None = Field(
        None, description="host PEM bundle trusted inside student sessions (TLS-intercepting proxy)"
    )
    prepull_concurrency: int = Field(2, ge=1, le=16)
    pull_stall_timeout: int = Field(
        60,
        ge=5,
        le=3600,
        description="seconds a start's download may go without a byte before it fails",
    )


class TlsSettings(_Strict):
    """HTTPS in front of the hub, served by Caddy (``launcher install``; ``hub.url`` is the
    public https address, ``hub.listen`` the proxy's behind it)."""

    mode: Literal["auto", "provided", "self-signed"] = Field(
        "self-signed",
        description="auto: Caddy obtains and renews certificates (hub.url's host is a public "
        "DNS name reachable on ports 80 and 443); provided: the cert and key files below; "
        "self-signed: Caddy's own authority, for a trial",
    )
    cert: HostPath | None = Field(None, description="PEM certificate chain (mode: provided)")
    key: HostPath | None = Field(None, description="PEM private key (mode: provided)")
    email: str = Field("", description="contact for the certificate authority (mode: auto)")

    @model_validator(mode="after")
    def _check_files(self) -> TlsSettings:
        if self.mode == "provided" and (self.cert is None or self.key is None):
            raise ValueError("mode: provided needs both cert and key")
        return self


class StoreSettings(_Strict):
    url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir")


class DashboardSettings(_Strict):
    """The admin GPU dashboard (``/services/dashboard/``): how often it samples the GPUs into
    the store for its charts, and how long the samples are kept."""

    sample_interval: int = Field(
        60, ge=1, le=3600, description="seconds between two samples of every GPU, e.g. 60"
    )
    retention_days: int = Field(
        90, ge=1, le=3650, description="days samples and spawn timings are kept, e.g. 90"
    )


class SshSettings(_Strict):
    """The hub's SSH endpoint: students' ssh, scp, sftp and VS Code Remote-SSH, each into
    their own container (launcher.services.ssh)."""

    enabled: bool = Field(True, description="false: no SSH endpoint on this site")
    listen: str = Field(
        "127.0.0.1:8022",
        pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$",
        description="address:port the endpoint listens on, e.g. 0.0.0.0:8022",
    )
    public_host: str = Field(
        "",
        pattern=r"^[A-Za-z0-9.:-]*$",
        description="the host name students type (default: the host of hub.url)",
    )
    public_port: int | None = Field(
        None, ge=1, le=65535, description="the port students type (default: listen's port)"
    )
    max_failures: int = Field(
        5, ge=1, le=1000, description="failed sign-ins per source or user in failure_window"
    )
    failure_window: int = Field(
        600, ge=10, le=86400, description="seconds: the window of max_failures and the lock"
    )
    activity_interval: int = Field(
        60, ge=5, le=3600, description="seconds between reports of an open session's activity"
    )
    agent_forwarding: bool = Field(
        False, description="true: students may forward their ssh-agent into their container"
    )

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def bind_host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @field_validator("listen")
    @classmethod
    def _port_in_range(cls, value: str) -> str:
        port = int(value.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            raise ValueError(f"{port} is not a TCP port (1 to 65535)")
        return value


class Site(_Strict):
    hub: HubSettings = HubSettings()
    docker: DockerSettings = DockerSettings()
    gpus: GpuSettings = GpuSettings()
    images: ImagesSettings = ImagesSettings()
    store: StoreSettings = StoreSettings()
    tls: TlsSettings = TlsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    auth: AuthSettings = AuthSettings()
    ssh: SshSettings = SshSettings()
    admins: list[Username] = Field(default_factory=list)
    courses: dict[CourseId, Course] = Field(
        default_factory=dict,
        description="courses declared in the site file (more come from `launcher courses apply`)",
    )

    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.data_dir() / 'launcher.sqlite'}"

    def data_dir(self) -> Path:
        """Where the hub keeps its database and secrets.

        ``hub.data_dir`` in the site file, else ``$LAUNCHER_DATA_DIR``, else
        ``/var/lib/launcher`` for root and ``~/.local/share/launcher`` for others.
        """
        if self.hub.data_dir is not None:
            return self.hub.data_dir
        if os.environ.get("LAUNCHER_DATA_DIR"):
            return Path(os.environ["LAUNCHER_DATA_DIR"])
        if os.geteuid() == 0:
            return Path("/var/lib/launcher")
        return Path.home() / ".local" / "share" / "launcher"


# --- loading -----------------------------------------------------------------------------------


def _node_at(root: yaml.Node | None, loc: tuple) -> yaml.Node | None:
    """Follow a pydantic error location through the YAML node tree.

    Returns the key node of the deepest mapping key found on the way, so that an unknown,
    invalid or incomplete entry points at the line of its own key; a sequence item points at
    the item itself.
    """
    node, best = root, root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node, best = value_node, key_node
                    break
            else:
                return best
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return best
            node = best = node.value[part]
        else:
            return best
    return best


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names valid at ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif isinstance(part, str) and current is not None:
            # a dict value (courses.<id>): step into its value type
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _describe(err: dict, root: yaml.Node | None, name: str, model: type[BaseModel]) -> str:
    loc = tuple(
        p
        for p in err["loc"]
        if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]"))
    )
    # a key with a control character (a stray \r) is shown escaped: one problem, one line
    key = ".".join(str(p) if str(p).isprintable() else repr(p) for p in loc) or "(top level)"
    node = _node_at(root, loc)
    line = (node.start_mark.line + 1) if node is not None else 1
    kind = err["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), _allowed_keys(model, loc), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{name}:{line}: {key}: unknown key{hint}"
    if kind == "missing":
        return f"{name}:{line}: {key}: required key is missing"
    message = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return f"{name}:{line}: {key}: {message}"


def parse_yaml(text: str, model: type[M], name: str, what: str = "site file") -> M:
    """Validate YAML ``text`` as ``model``; every problem names ``name``, the line and the key."""
    try:
        data, root = yamlfile.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SiteFileError(name, [f"{name}:{line}: YAML syntax error: {exc.problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SiteFileError(name, [f"{name}:1: the {what} must be a mapping of keys"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err, root, name, model) for err in exc.errors()]
        raise SiteFileError(name, problems) from None


def parse_site(text: str, name: str = "<site file>", base_dir: Path | None = None) -> Site:
    """Validate the text of a site file. Relative paths resolve against ``base_dir``."""
    site = parse_yaml(text, Site, name)
    if (
        base_dir is not None
        and site.hub.data_dir is not None
        and not site.hub.data_dir.is_absolute()
    ):
        hub = site.hub.model_copy(update={"data_dir": (base_dir / site.hub.data_dir).resolve()})
        site = site.model_copy(update={"hub": hub})
    bundle = site.images.session_ca_bundle
    if base_dir is not None and bundle is not None and not bundle.is_absolute():
        images = site.images.model_copy(update={"session_ca_bundle": (base_dir / bundle).resolve()})
        site = site.model_copy(update={"images": images})
    return site


def load_site(path: Path | str | None = None) -> Site:
    """Read and validate the site file at ``path`` (default: ``$LAUNCHER_CONFIG`` or the demo)."""
    path = Path(path or os.environ.get("LAUNCHER_CONFIG") or DEMO_SITE_FILE)
    text = _read(path, "site file")
    return parse_site(text, name=str(path), base_dir=path.resolve().parent)


class CourseFile(_Strict):
    """A course file for ``launcher courses apply -f FILE``: ``courses: {id: {...}}``."""

    courses: dict[CourseId, Course]


def load_course_file(path: Path | str) -> CourseFile:
    """Read and validate a course file; problems name the file, the line and the key."""
    path = Path(path)
    text = _read(path, "course file")
    return parse_yaml(text, CourseFile, str(path), what="course file")


def _read(path: Path, what: str) -> str:
    """The text of a site or course file; a sentence when it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SiteFileError(path, [f"{path}: cannot read the {what} ({exc.strerror})"]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SiteFileError(
            path,
            [
                f"{path}:{line}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                "save it as UTF-8"
            ],
        ) from None

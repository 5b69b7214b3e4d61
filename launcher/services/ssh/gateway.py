"""The SSH server students sign in to (asyncssh): one :class:`Gateway` for the endpoint,
one :class:`StudentConnection` per connection.

A connection signs in as ``student`` or ``student+course`` (:mod:`.login`) with one of the
student's registered keys or a JupyterHub API token of theirs as password. A malformed user
name and too many failures are refused before, with a sentence in the authentication banner
(OpenSSH prints it before "Permission denied"). Once signed in, the course is checked (one of
theirs, SSH on: refusals are sentences on the session's stderr, exit status 1, or the reason
of a refused forwarding channel; nobody learns who is in which course without signing in),
the student's server is started through the hub API if it is not running (its progress on
stderr too), the endpoint connects to the sshd in the container, and the student's channels
are bridged to it (:mod:`.bridge`); direct TCP/IP channels (``ssh -L``, VS Code) are opened
by the container's sshd, inside the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncssh
import docker
import docker.errors

from launcher import swarm
from launcher.catalog import Catalog
from launcher.gpu.inventory import parse_node
from launcher.i18n import Reader
from launcher.services.ssh import login as logins
from launcher.services.ssh.bridge import BridgedSession
from launcher.services.ssh.failures import FailureLimiter
from launcher.services.ssh.hubapi import HubApi, HubError
from launcher.settings import Site
from launcher.sshendpoint import CIPHERS, CONTAINER_SSH_PORT, CONTAINER_USER
from launcher.store import off_loop, utcnow

log = logging.getLogger("launcher.services.ssh")

#: JupyterHub's English prefix of a failed start's progress message (the sentence follows)
SPAWN_FAILED = "Spawn failed:"
#: seconds between two looks at whether a start the endpoint asked for is under way
PENDING_POLL = 0.2
#: seconds the container's sshd may take to answer once the server is ready
SSHD_TIMEOUT = 30


@dataclass
class Gateway:
    """What every connection shares: the site, its catalog and store, the hub API, the key
    into the containers, the failure limiter and the Docker engine."""

    site: Site
    catalog: Catalog
    hub: HubApi
    gateway_key: asyncssh.SSHKey
    limiter: FailureLimiter
    docker: docker.DockerClient

    @property
    def reader(self) -> Reader:
        """The sentences' language and zone: the site's (an SSH client says neither before
        signing in)."""
        return Reader(self.site.hub.language, self.site.hub.timezone)

    def connection(self) -> StudentConnection:
        return StudentConnection(self)

    # --- what the store and the engine say, off the event loop ---

    async def record_failure(self, user: str, source: str, reason: str) -> None:
        log.warning("failed SSH sign-in as %s from %s (%s)", user, source, reason)
        self.limiter.failed(source, user)
        try:
            await off_loop(self.catalog.store.record_ssh_failure, user, source, reason, utcnow())
        except Exception as exc:  # noqa: BLE001 -- the limiter holds it; the log says why
            log.warning("could not record the failure in the store: %s", exc)

    def address(self, container: str) -> tuple[str, int] | None:
        """Where the sshd of ``container`` answers: its address on the students' network
        (one host), or its node's address and the port its task publishes (a swarm)."""
        if self.site.docker.mode == "swarm":
            task = swarm.running_tasks(self.docker, self.site.docker.prefix).get(container)
            if task is None:
                return None
            node = parse_node(
                self.docker.api.inspect_node(task["NodeID"]), self.site.docker.gpu_resource
            )
            port = swarm.published_port(task, CONTAINER_SSH_PORT)
            return (node.address, port) if node.address and port else None
        try:
            found = self.docker.containers.get(container)
        except docker.errors.NotFound:
            return None
        networks = found.attrs.get("NetworkSettings", {}).get("Networks", {})
        ip = (networks.get(self.site.docker.network) or {}).get("IPAddress")
        return (ip, CONTAINER_SSH_PORT) if ip else None


class StudentConnection(asyncssh.SSHServer):
    """One student's connection: who signs in, where to, and the bridge once signed in."""

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.conn: asyncssh.SSHServerConnection | None = None
        self.source = ""
        self.username = ""
        self.login: logins.Login | None = None
        self.target: logins.Target | None = None  # known once signed in
        self.refused = False  # a sentence was sent: nothing can sign in on this connection
        self.keys: dict[bytes, int] = {}  # the student's registered keys -> their ids
        self.key_tried = False
        self.key_used: int | None = None
        self.signed_in = False
        self.upstream: asyncio.Task | None = None
        self.messages: list[str] = []
        self.listeners: list[Callable[[str], None]] = []
        self.activity: asyncio.Task | None = None
        self.address: tuple[str, int] | None = None  # the container's sshd, once reached

    # --- the connection ---

    def connection_made(self, conn):
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.source = str(peer[0])

    def connection_lost(self, exc):
        if not self.signed_in and self.key_tried and not self.refused and self.login:
            asyncio.ensure_future(self.gateway.record_failure(self.login.user, self.source, "key"))
        for task in (self.upstream, self.activity):
            if task is not None:
                task.cancel()
        if self.upstream is not None and self.upstream.done() and not self.upstream.cancelled():
            with contextlib.suppress(Exception):
                self.upstream.result().close()

    # --- signing in ---

    def _refuse(self, sentence: str) -> None:
        self.refused = True
        log.info("SSH sign-in as %r from %s refused: %s", self.username, self.source, sentence)
        self.conn.send_auth_banner(sentence + "\n")

    async def begin_auth(self, username):
        self.username = username
        reader = self.gateway.reader
        _ = reader._
        wanted = logins.parse(username)
        if wanted is None:
            self._refuse(
                _(
                    "{name} is not a user name here: sign in as your hub user name, or as "
                    "NAME+COURSE for one of your courses' servers."
                ).format(name=username)
            )
            return True
        locked = self.gateway.limiter.locked_for(self.source, wanted.user)
        if locked:
            until = reader.clock(utcnow() + timedelta(seconds=locked))
            self._refuse(
                _(
                    "Too many failed sign-ins from your address or for {user}: try again "
                    "after {time}."
                ).format(user=wanted.user, time=until)
            )
            return True
        self.login = wanted
        try:
            keys = await off_loop(self.gateway.catalog.store.ssh_keys, wanted.user)
        except Exception as exc:  # noqa: BLE001 -- the student reads a sentence, the log why
            log.warning("could not read the keys of %s: %s", wanted.user, exc)
            self._refuse(_("The hub cannot be asked right now; please try again in a minute."))
            return True
        for key in keys:
            with contextlib.suppress(asyncssh.KeyImportError):
                self.keys[asyncssh.import_public_key(key.key).public_data] = key.id
        return True

    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        if self.refused or self.login is None:
            return False
        self.key_tried = True
        found = self.keys.get(key.public_data)
        if found is not None:
            self.key_used = found
        return found is not None

    def password_auth_supported(self):
        return True

    async def validate_password(self, username, password):
        if self.refused or self.login is None:
            return False
        try:
            owner = await self.gateway.hub.whoami(password.strip())
        except HubError as exc:
            log.warning("could not check a token of %s: %s", self.login.user, exc)
            return False
        if owner == self.login.user:
            return True
        await self.gateway.record_failure(self.login.user, self.source, "token")
        return False

    def auth_completed(self):
        self.signed_in = True
        log.info("%s signed in over SSH from %s", self.login.user, self.source)
        if self.key_used is not None:
            asyncio.ensure_future(
                off_loop(self.gateway.catalog.store.ssh_key_used, self.key_used, utcnow())
            )
        self.upstream = asyncio.ensure_future(self._reach())
        self.activity = asyncio.ensure_future(self._report_activity())

    # --- the student's server ---

    def _say(self, message: str) -> None:
        self.messages.append(message)
        for listener in list(self.listeners):
            listener(message)

    def watch(self, listener: Callable[[str], None]) -> Callable[[], None]:
        for message in self.messages:
            listener(message)
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    async def ready(self) -> asyncssh.SSHClientConnection:
        """The connection to the sshd in the student's container (the start's refusal as a
        :class:`asyncssh.ChannelOpenError` with its sentence)."""
        return await asyncio.shield(self.upstream)

    async def with_agent(self, agent_path: str) -> asyncssh.SSHClientConnection:
        """A connection of its own to the container's sshd for a session whose client
        forwarded its ssh-agent (``ssh -A``, where the site allows it): the container's agent
        requests go to ``agent_path``, the endpoint's end of the student's agent."""
        await self.ready()
        return await self._connect(*self.address, agent_path=agent_path)

    async def _find_target(self, model: dict | None) -> logins.Target:
        """The student's server the sign-in leads to (asked once signed in: who is in which
        course is nobody else's to learn); ``model``: the student's, from the hub API."""
        courses = await off_loop(self.gateway.catalog.courses)
        started = await off_loop(self.gateway.catalog.store.running_servers)
        groups = list((model or {}).get("groups") or [])
        try:
            return logins.target(self.login, courses, groups, started, self.gateway.reader)
        except logins.Refused as exc:
            raise _closed(str(exc)) from None

    async def _reach(self) -> asyncssh.SSHClientConnection:
        _ = self.gateway.reader._
        try:
            model = await self.gateway.hub.user(self.login.user)
            self.target = target = await self._find_target(model)
            log.info("%s goes to their %s server %r", target.user, target.course_id, target.server)
            await self._ensure_running(_server_of(model, target.server))
            record = (await off_loop(self.gateway.catalog.store.running_servers)).get(
                (target.user, target.server)
            )
            address = record and await asyncio.to_thread(self.gateway.address, record.container)
        except asyncssh.ChannelOpenError:
            raise
        except HubError as exc:
            raise _closed(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 -- a sentence for the student, the log why
            log.warning("could not reach the server of %s: %s", self.login.user, exc)
            raise _closed(_("The hub cannot be asked right now; please try again in a minute."))
        if address is None:
            raise _closed(
                _("Your {course} server stopped; start it again and sign in again.").format(
                    course=target.course_id
                )
            )
        self.address = address
        return await self._connect(*address)

    async def _ensure_running(self, server: dict) -> None:
        """Start the student's server unless ``server`` (its model, from the hub API) says it
        is ready, following the start's steps."""
        if server.get("ready"):
            return
        target = self.target
        _ = self.gateway.reader._
        self._say(
            _("Starting your {course} server (as from the hub's home page)...").format(
                course=target.course_id
            )
        )
        outcome: dict = {}

        def event(data: dict) -> None:
            if data.get("ready") or data.get("failed"):
                outcome.update(data)
            elif data.get("message"):
                self._say(data["message"])

        asked = None
        if not server.get("pending"):
            # the hub answers the request once the start is done or slow (10 s): its steps
            # are followed meanwhile, from the first, as the browser's progress page does
            asked = asyncio.ensure_future(self.gateway.hub.start(target.user, target.server))
            while not asked.done() and not (await self._server()).get("pending"):
                await asyncio.sleep(PENDING_POLL)
        if asked is None or not asked.done():
            await self.gateway.hub.follow(target.user, target.server, event)
        if asked is not None:
            await asked  # a refusal the hub answered with (HubError: its sentence)
        if outcome.get("failed"):
            message = str(outcome.get("message") or "").removeprefix(SPAWN_FAILED).strip()
            raise _closed(message or _("Your server could not start."))
        if not (await self._server()).get("ready"):
            raise _closed(_("Your server could not start."))

    async def _server(self) -> dict:
        """The student's server's model, as the hub says now ({} when it has none)."""
        model = await self.gateway.hub.user(self.target.user)
        return _server_of(model, self.target.server)

    async def _connect(
        self, host: str, port: int, agent_path: str | None = None
    ) -> asyncssh.SSHClientConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SSHD_TIMEOUT
        while True:
            try:
                return await asyncssh.connect(
                    host,
                    port,
                    username=CONTAINER_USER,
                    client_keys=[self.gateway.gateway_key],
                    # the address is the student's own container on the hub's network (the
                    # store names it); its host key is made at each start
                    known_hosts=None,
                    agent_path=None,
                    agent_forwarding=agent_path or False,
                    config=None,
                    connect_timeout=10,
                    keepalive_interval=30,
                    encryption_algs=list(CIPHERS),
                )
            except (OSError, asyncssh.Error) as exc:
                if loop.time() > deadline:
                    log.warning("the sshd of %s does not answer: %s", self.target.user, exc)
                    _ = self.gateway.reader._
                    raise _closed(
                        _(
                            "Your {course} server runs but takes no SSH connection (it may "
                            "have been started before SSH was turned on): stop it on the "
                            "hub's home page and start it again."
                        ).format(course=self.target.course_id)
                    ) from None
                await asyncio.sleep(0.5)

    async def _report_activity(self) -> None:
        """Every ``ssh.activity_interval`` seconds while the connection is open, tell the hub
        the server is in use (the idle culler reads it)."""
        try:
            await self.upstream
        except Exception:  # noqa: BLE001 -- no server reached, no activity
            return
        interval = self.gateway.site.ssh.activity_interval
        while True:
            try:
                await self.gateway.hub.activity(self.target.user, self.target.server, utcnow())
            except HubError as exc:
                log.warning("could not report the activity of %s: %s", self.target.user, exc)
            await asyncio.sleep(interval)

    # --- channels ---

    def session_requested(self):
        agent = self.with_agent if self.gateway.site.ssh.agent_forwarding else None
        return BridgedSession(self.ready, self.watch, agent)

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        async def tunnel():
            upstream = await self.ready()
            if not self.target.course.ssh.port_forwarding:
                _ = self.gateway.reader._
                raise asyncssh.ChannelOpenError(
                    asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                    _("Port forwarding is turned off for the course {course}.").format(
                        course=self.target.course_id
                    ),
                )
            return await self.conn.forward_tunneled_connection(upstream, dest_host, dest_port)

        return tunnel()

    def server_requested(self, listen_host, listen_port):
        return False  # remote forwarding (ssh -R): nothing listens on the endpoint's host

    def unix_connection_requested(self, dest_path):
        return False

    def unix_server_requested(self, listen_path):
        return False


def _server_of(model: dict | None, server: str) -> dict:
    """One server's model (``ready``, ``pending``...) in a user's model; {} when it has none."""
    return ((model or {}).get("servers") or {}).get(server) or {}


def _closed(sentence: str) -> asyncssh.ChannelOpenError:
    return asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, sentence)

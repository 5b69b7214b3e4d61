"""The hub's own pages in the visitor's language, and the course home.

JupyterHub renders its pages (login, home, spawn progress, errors) from Jinja templates; the
launcher's templates (``launcher/hub/templates``, JupyterHub's ``template_paths``) extend
them. What a template cannot know, the handlers add here: the visitor's language (the
``launcher-lang`` cookie, else ``Accept-Language``, else ``hub.language``), the site's name
and zone, and on the home page the visitor's course cards. :class:`LauncherHub` wraps each
of JupyterHub's page handlers in :class:`Localized` and adds :class:`LanguageHandler` (the
switch on every page, at ``/hub/language?lang=zh-CN&next=/hub/home``) and
:class:`SshKeysHandler` (each user's SSH keys, at ``/hub/ssh-keys``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlparse

import docker.errors
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.handlers.pages import HomeHandler
from jupyterhub.utils import url_path_join
from sqlalchemy.exc import SQLAlchemyError
from tornado import web

from launcher import i18n, localtime
from launcher.courses import course_server, memberships
from launcher.endpoints import DASHBOARD_SERVICE, PAGE_SERVICE
from launcher.gpu.quota import Quota, period_bounds, use
from launcher.hub import home
from launcher.i18n import N_, Reader
from launcher.images.matrix import MatrixError, load_matrix
from launcher.images.refs import resolve as resolve_image
from launcher.sshkeys import (
    MAX_TEXT,
    BadSshKey,
    key_name,
    name_problem,
    parse_public_key,
    ssh_command,
    vscode_config,
)
from launcher.store import (
    MAX_SSH_KEYS,
    DuplicateSshKey,
    StoreUnavailable,
    TooManySshKeys,
    off_loop,
    utcnow,
)

#: seconds the home page waits for the store and the engine before it shows a sentence
#: instead of the cards (a store that does not answer must not hang the hub's front page)
CARDS_TIMEOUT = 3

#: the tornado setting that holds the site's facts (LauncherHub puts it there)
SITE_SETTING = "launcher_site"
#: the tornado setting that holds the SSH endpoint's facts (LauncherHub puts it there)
SSH_SETTING = "launcher_ssh"


@dataclass(frozen=True)
class SiteFacts:
    """What every page shows of the site: its name, default language and time zone."""

    name: str = "GPU classroom"
    language: str = i18n.DEFAULT
    timezone: str = localtime.DEFAULT_ZONE


@dataclass(frozen=True)
class SshFacts:
    """Where students reach the hub's SSH endpoint (``ssh -p PORT USER@HOST``); ``enabled``
    False: SSH is off on this site."""

    host: str = ""
    port: int = 22
    enabled: bool = False

    @classmethod
    def from_endpoint(cls, endpoint: str) -> SshFacts:
        """``"HOST:PORT"`` (``"[::1]:2222"`` for an IPv6 address); "" is SSH off. ValueError
        with a sentence for anything else."""
        endpoint = endpoint.strip()
        if not endpoint:
            return cls()
        host, _, port = endpoint.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not host or any(c.isspace() or c in "@/" for c in host) or not port.isdigit():
            raise ValueError(
                f"{endpoint!r} is not an SSH endpoint: write HOST:PORT as students type it, "
                "e.g. lab.example.edu:2222"
            )
        if not 0 < int(port) < 65536:
            raise ValueError(f"{endpoint!r}: the port {port} is not between 1 and 65535")
        return cls(host, int(port), True)


class Localized:
    """Mixed into each of JupyterHub's page handlers: templates get the visitor's Reader
    (``_``, ``gettext``, ``ngettext``; ``reader.clock``/``when`` in the site's zone), the
    site's name, the languages and the URL of the language switch."""

    @property
    def site(self) -> SiteFacts:
        return self.settings.get(SITE_SETTING) or SiteFacts()

    @property
    def reader(self) -> Reader:
        site = self.site
        return Reader(i18n.from_request(self.request, site.language), site.timezone)

    @property
    def template_namespace(self):
        ns = super().template_namespace
        reader = self.reader
        ns.update(
            reader=reader,
            _=reader.gettext,
            gettext=reader.gettext,
            ngettext=reader.ngettext,
            site_name=self.site.name,
            languages=[(lang, i18n.LANGUAGES[lang], i18n.NAMES[lang]) for lang in i18n.LANGUAGES],
            language_url=url_path_join(self.hub.base_url, "language"),
            here=self.request.uri,
            courses_url=url_path_join(self.base_url, "services", PAGE_SERVICE) + "/",
            dashboard_url=url_path_join(self.base_url, "services", DASHBOARD_SERVICE) + "/",
            ssh_keys_url=url_path_join(self.hub.base_url, "ssh-keys") if self.ssh.enabled else None,
        )
        return ns

    @property
    def ssh(self) -> SshFacts:
        return self.settings.get(SSH_SETTING) or SshFacts()


class CourseHome(Localized, HomeHandler):
    """JupyterHub's home page with the visitor's course cards (``cards`` in the template)."""

    def render_template(self, name, sync=False, **ns):
        if name != "home.html" or sync or self.current_user is None:
            return super().render_template(name, sync=sync, **ns)
        return self._with_cards(name, ns)

    async def _with_cards(self, name, ns):
        user = self.current_user
        try:
            cards = await asyncio.wait_for(
                gather_cards(user, self.base_url, self.hub.base_url), CARDS_TIMEOUT
            )
        except Exception as exc:  # noqa: BLE001 -- the page still shows, with a sentence
            self.log.warning("Could not gather the course cards of %s: %s", user.name, exc)
            cards = None
        return await super().render_template(name, cards=cards, **ns)


class LanguageHandler(Localized, BaseHandler):
    """The language switch: remember the choice in a cookie for a year, go back."""

    def get(self):
        choice = i18n.normalize(self.get_argument("lang", ""))
        if choice is not None:
            self.set_cookie(
                i18n.COOKIE,
                i18n.LANGUAGES[choice],
                path="/",
                expires_days=i18n.COOKIE_DAYS,
                samesite="Lax",
                httponly=False,
            )
        self.redirect(self._back())

    def _back(self) -> str:
        """Where to go back: a path on this site only (no open redirect)."""
        target = self.get_argument("next", "")
        parsed = urlparse(target)
        if parsed.scheme or parsed.netloc or not target.startswith("/") or "\\" in target:
            return url_path_join(self.hub.base_url, "home")
        return target


class SshKeysHandler(Localized, BaseHandler):
    """``/hub/ssh-keys``: the signed-in user's SSH keys (theirs only; an admin has no more
    here): the list, a form to add one (a name and the public key), a button to remove each,
    and how to sign in (``ssh``, VS Code's ``~/.ssh/config``). A refusal is a sentence on the
    page (HTTP 400), never a traceback; the store is asked off the event loop."""

    @web.authenticated
    async def get(self):
        done = self.get_argument("done", "")
        await self._page(done=done if done in ("added", "removed") else "")

    @web.authenticated
    async def post(self):
        _ = self.reader.gettext
        user = self.current_user
        if not self.ssh.enabled:
            return await self._page(status=400)
        action = self.get_body_argument("action", "")
        try:
            if action == "add":
                name = self.get_body_argument("name", "")
                text = self.get_body_argument("key", "")
                refused = await off_loop(
                    _add_key, user.spawner, user.name, name, text, _("key {n}")
                )
                if refused:
                    kept = "" if refused.kind == "private" else text[:MAX_TEXT]  # no secret back
                    return await self._page(refused.sentence(_), name, kept, status=400)
                return self._back("added")
            if action == "remove":
                key_id = self.get_body_argument("key_id", "")
                if (
                    key_id.isdigit()
                    and len(key_id) < 19
                    and await off_loop(_remove_key, user.spawner, user.name, int(key_id))
                ):
                    return self._back("removed")
                sentence = _("This key is not among yours (it may have been removed already).")
                return await self._page(sentence, status=404)
        except (SQLAlchemyError, StoreUnavailable) as exc:
            self.log.warning("Could not change the SSH keys of %s: %s", user.name, exc)
            sentence = _(
                "Nothing was changed: the launcher's database does not answer. Try again in a "
                "minute; if it keeps failing, tell the admin."
            )
            return await self._page(sentence, status=503)
        await self._page(_("The request was not understood"), status=400)

    def _back(self, done: str) -> None:
        """After a change, the page again (a reload does not send the form twice)."""
        self.redirect(url_path_join(self.hub.base_url, "ssh-keys") + f"?done={done}", status=303)

    async def _page(
        self, problem: str = "", name: str = "", text: str = "", status: int = 200, done: str = ""
    ) -> None:
        """The page, with ``problem`` (a sentence) and the form as the user filled it."""
        user, ssh = self.current_user, self.ssh
        facts = None
        if ssh.enabled:
            groups = [g.name for g in user.groups]
            try:
                facts = await off_loop(_ssh_facts, user.spawner, user.name, groups)
            except Exception as exc:  # noqa: BLE001 -- the page still shows, with a sentence
                self.log.warning("Could not read the SSH keys of %s: %s", user.name, exc)
                status = 503 if status == 200 else status
        html = await self.render_template(
            "ssh_keys.html",
            ssh=ssh,
            facts=facts,
            command=ssh_command(user.name, ssh.host, ssh.port),
            course_commands=[
                (course_id, title, on, ssh_command(user.name, ssh.host, ssh.port, course_id))
                for course_id, title, on in (facts.courses if facts else [])
            ],
            vscode=vscode_config(user.name, ssh.host, ssh.port),
            problem=problem,
            typed_name=name,
            typed_key=text,
            done=done,
            max_keys=MAX_SSH_KEYS,
        )
        self.set_status(status)
        self.finish(html)


def localize(handlers: list) -> list:
    """JupyterHub's handler list with each page handler localized (the home with cards)."""
    result = []
    for entry in handlers:
        pattern, cls, *rest = entry
        if isinstance(cls, type) and issubclass(cls, BaseHandler) and Localized not in cls.mro():
            if cls is HomeHandler:
                cls = CourseHome
            else:
                cls = type(cls.__name__, (Localized, cls), {"__module__": cls.__module__})
        result.append((pattern, cls, *rest))
    return result


# --- the facts of the cards (I/O) ---


async def gather_cards(user, base_url: str, hub_url: str) -> list[home.Card]:
    """The course cards of ``user``: the catalog, the store and the engine asked off the
    event loop."""
    spawner = user.spawner  # the default server's: its configuration is every server's
    states = {
        name: ("ready" if s.ready else "pending" if s.pending else "stopped")
        for name, s in user.spawners.items()
    }
    groups = [g.name for g in user.groups]
    facts = await off_loop(_facts, spawner, user.name, groups)
    present = await asyncio.gather(*(_image_present(spawner, image) for image in facts.images))
    images = dict(zip(facts.images, present, strict=True))
    cards = []
    for course_id, role in facts.mine.items():
        course = facts.courses[course_id]
        server = course_server(course_id, user.name, facts.mine, facts.started)
        spawn = url_path_join(hub_url, "spawn", user.escaped_name, server)
        cards.append(
            home.card(
                course_id,
                course,
                role,
                server=server,
                state=states.get(server, "stopped"),
                held=tuple(
                    spawner._describe(a.unit_uuid)
                    for a in facts.held
                    if a.server == server and a.course == course_id
                ),
                quota=facts.quotas.get(course_id),
                image_present=images[resolve_image(course.image, spawner.registry_mirror)],
                pull_policy=spawner.pull_policy,
                matrix=facts.matrix,
                start_url=spawn if server else url_path_join(hub_url, "spawn", user.escaped_name),
                open_url=user.server_url(server),
                staff_url=url_path_join(base_url, "services", PAGE_SERVICE, "c", course_id),
                warning=facts.warnings.get(server),
            )
        )
    return cards


@dataclass(frozen=True)
class _Facts:
    courses: dict
    mine: dict
    started: dict
    held: list
    quotas: dict
    images: list
    matrix: dict
    warnings: dict  # server -> (reason, stop time): the culler's


def _facts(spawner, username: str, groups: list[str]) -> _Facts:
    courses = spawner.catalog.courses()
    mine = memberships(courses, username, groups)
    store = spawner.catalog.store
    started = {k: v for k, v in store.running_servers().items() if k[0] == username}
    held = [a for a in store.active() if a.username == username]
    now = utcnow()
    quotas = {}
    for course_id in mine:
        course = courses[course_id]
        if course.gpu.per_student and course.quota.gpu_hours is not None:
            quota = Quota.of(course.quota)
            zone = spawner.broker.zone  # the site's quota periods, as the broker admits
            start, _ = period_bounds(quota.period, now, zone)
            quotas[course_id] = use(quota, *store.usage(username, course_id, start), now, zone)
    try:
        matrix = load_matrix()
    except MatrixError:
        matrix = {}
    images = sorted({resolve_image(courses[c].image, spawner.registry_mirror) for c in mine})
    warnings = store.warnings_of(username)
    return _Facts(courses, mine, started, held, quotas, images, matrix, warnings)


@dataclass(frozen=True)
class _SshFacts:
    keys: list  # the user's SshKey rows, oldest first
    courses: list  # (course id, title, SSH on) of the user's courses, the first one first


def _ssh_facts(spawner, username: str, groups: list[str]) -> _SshFacts:
    catalog = spawner.catalog
    keys = catalog.store.ssh_keys(username)
    courses = catalog.courses()
    mine = memberships(courses, username, groups)
    return _SshFacts(keys, [(c, courses[c].title, courses[c].ssh.enabled) for c in mine])


def _add_key(spawner, username: str, typed: str, text: str, numbered: str) -> BadSshKey | None:
    """Register the key in ``text`` for ``username``, named ``typed`` (else the key's comment,
    else ``numbered``: "key N" in the user's language); what refuses it, None when added."""
    try:
        key = parse_public_key(text)
    except BadSshKey as exc:
        return exc
    store = spawner.catalog.store
    have = store.ssh_keys(username)
    name = key_name(typed, key.comment, {k.name for k in have}, numbered)
    problem = name_problem(name)
    if problem:
        return problem
    try:
        store.add_ssh_key(username, name, key.line, key.fingerprint, utcnow())
    except DuplicateSshKey as exc:
        if exc.what == "key":
            same = next((k.name for k in have if k.fingerprint == key.fingerprint), name)
            return BadSshKey(
                "duplicate-key",
                N_("You have registered this key already, as {name}."),
                name=same,
            )
        return BadSshKey(
            "duplicate-name",
            N_("You have a key named {name} already: give this one another name."),
            name=name,
        )
    except TooManySshKeys:
        return BadSshKey(
            "too-many",
            N_("You have {most} keys already, the most one may have: remove one first."),
            most=MAX_SSH_KEYS,
        )
    return None


def _remove_key(spawner, username: str, key_id: int) -> bool:
    return spawner.catalog.store.remove_ssh_key(username, key_id)


async def _image_present(spawner, image: str) -> bool:
    try:
        await spawner.docker("inspect_image", image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.DockerException:
        return True  # the engine does not answer: the start will say why
    return True

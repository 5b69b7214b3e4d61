"""What the launcher's web pages share: JupyterHub-managed services behind Hub OAuth.

Each page (the instructor page, the GPU dashboard) is a small Tornado app that JupyterHub
starts as a managed service at ``/services/<name>/``. People log in through the hub; a page
acts on the hub with the visitor's own OAuth token, whose scopes JupyterHub narrows to what
that person may do, so a page holds no power of its own over servers. Errors are sentences on
a page (never a traceback), and templates live in ``launcher/services/templates``.

Every request has a :class:`~launcher.i18n.Reader` (:attr:`ServicePage.reader`): the visitor's
language (the ``launcher-lang`` cookie the switch on every page sets, else the browser's
``Accept-Language``, else the site's ``hub.language``) and the site's time zone
(``hub.timezone``). Templates get its ``_`` and the reader itself; what a person reads is
marked ``_("...")`` in the catalog "pages" (``make i18n``). The JSON API and /metrics keep
UTC.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from urllib.parse import urlencode, urlparse

import requests
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from sqlalchemy.exc import SQLAlchemyError
from tornado import ioloop, web

from launcher import catalog, i18n, localtime
from launcher.courses import STAFF, memberships
from launcher.endpoints import DASHBOARD_SERVICE, PAGE_SERVICE
from launcher.i18n import N_, Reader
from launcher.settings import Course, Site

TEMPLATES = Path(__file__).with_name("templates")

#: the default sentence for an error status when the handler gave none
DEFAULT_ERRORS = {
    400: N_("The request was not understood; go back and try again."),
    403: N_("You do not have access to this page."),
    404: N_("There is no such page."),
    405: N_("That action is not possible on this page."),
    503: N_(
        "The launcher's database does not answer right now; this page comes back when it "
        "does. Try again in a minute; if it keeps failing, tell the admin."
    ),
}
OTHER_ERROR = N_("Something went wrong on the server; please tell the admin.")
#: a course role as the pages name it (the roles' ids are "student", "ta", "instructor";
#: an admin runs every course)
ROLES = {
    "student": N_("student"),
    "ta": N_("ta"),
    "instructor": N_("instructor"),
    "admin": N_("admin"),
}


class ServicePage(HubOAuthenticated, web.RequestHandler):
    """Base handler: the visitor from Hub OAuth, the catalog, the hub API as the visitor."""

    @property
    def catalog(self) -> catalog.Catalog:
        return self.settings["catalog"]

    @property
    def visitor(self) -> dict:
        return self.current_user or {}

    def is_admin(self) -> bool:
        return bool(self.visitor.get("admin"))

    @cached_property
    def reader(self) -> Reader:
        """Who reads this page: the visitor's language, the site's time zone."""
        language = self.settings.get("language", i18n.DEFAULT)
        return Reader(i18n.from_request(self.request, language), self.zone_name)

    def set_default_headers(self) -> None:
        """The page's language, and what it depends on (for any cache on the way)."""
        self.set_header("Content-Language", self.reader.tag)
        self.set_header("Vary", "Accept-Language, Cookie")

    @property
    def zone_name(self) -> str:
        return self.settings.get("timezone") or localtime.DEFAULT_ZONE

    def _(self, message: str) -> str:
        """``message`` in the visitor's language."""
        return self.reader._(message)

    def role_name(self, role: str) -> str:
        return self._(ROLES[role]) if role in ROLES else role

    def zone_label(self) -> str:
        """The site's zone as people read it: ``Asia/Shanghai (CST)``, ``UTC``."""
        abbreviation = localtime.local(datetime.now(UTC), self.zone_name).strftime("%Z")
        name = self.zone_name
        return name if abbreviation in ("", name) else f"{name} ({abbreviation})"

    def get_template_namespace(self) -> dict:
        """Templates get the visitor's ``_`` (and ``ngettext``), their ``reader`` and what
        the header shows (the site's name, the language switch)."""
        ns = super().get_template_namespace()
        reader = self.reader
        ns.update(
            _=reader._,
            gettext=reader._,
            ngettext=reader.ngettext,
            reader=reader,
            site_name=self.settings.get("site_name") or "GPU classroom",
            languages=self.languages(),
            role_name=self.role_name,
        )
        return ns

    def languages(self) -> list[dict]:
        """The language switch: one link per language to the hub's switch, which remembers
        the choice (a cookie on the whole site) and comes back here."""
        switch = url_path_join(self.settings.get("base_url", "/"), "hub/language")
        # back to this page (a form's answer: the page's front, a GET)
        here = self.request.uri if self.request.method in ("GET", "HEAD") else ""
        here = here or self.settings.get("prefix", "/")
        return [
            {
                "lang": lang,
                "tag": tag,
                "name": i18n.NAMES[lang],
                "href": switch + "?" + urlencode({"lang": tag, "next": here}),
                "current": lang == self.reader.lang,
            }
            for lang, tag in i18n.LANGUAGES.items()
        ]

    def nav(self) -> list[tuple[str, str]]:
        """The header's links: the hub's home, the instructor page (for its staff and
        admins) and the GPU dashboard (for everyone)."""
        _ = self._
        base = self.settings.get("base_url", "/")
        links = [(_("Home"), url_path_join(base, "hub/home"))]
        if self.current_user and (self.is_admin() or self.staff_courses()):
            links.append((_("Courses"), url_path_join(base, "services", PAGE_SERVICE) + "/"))
        links.append((_("GPU dashboard"), url_path_join(base, "services", DASHBOARD_SERVICE) + "/"))
        return links

    def memberships(self, courses: dict[str, Course] | None = None) -> dict[str, str]:
        """Course id -> the visitor's role (rosters and groups)."""
        courses = self.catalog.courses() if courses is None else courses
        return memberships(courses, self.visitor.get("name", ""), self.visitor.get("groups") or [])

    def staff_courses(self) -> dict[str, tuple[Course, str]]:
        """Course id -> (course, the visitor's role) for the courses this visitor runs
        (every course, as ``admin``, for an admin)."""
        courses = self.catalog.courses()
        if self.is_admin():
            return {cid: (c, "admin") for cid, c in courses.items()}
        mine = self.memberships(courses)
        return {cid: (courses[cid], role) for cid, role in mine.items() if role in STAFF}

    async def hub(
        self, method: str, path: str, as_service: bool = False, **kwargs
    ) -> requests.Response:
        """Call the hub's REST API with the visitor's own token, or (``as_service``, once the
        page has checked the visitor's role in the course the call is for) with the page's
        own least-privilege token: starting and stopping a student's server of a course is
        the page's to allow, since the hub's roles cannot say "this course's server"."""
        url = self.hub_auth.api_url.rstrip("/") + path
        token = self.hub_auth.api_token if as_service else self.hub_auth.get_token(self)
        headers = {"Authorization": f"token {token}", **kwargs.pop("headers", {})}
        return await asyncio.to_thread(
            requests.request, method, url, headers=headers, timeout=30, **kwargs
        )

    async def hub_users(self) -> list[dict]:
        """Every user model the visitor may list (their own course's students for staff)."""
        users: list[dict] = []
        while True:
            resp = await self.hub_or_error(
                "GET",
                "/users",
                params={"offset": len(users), "limit": 200},
                headers={"Accept": "application/jupyterhub-pagination+json"},
            )
            page = resp.json()
            users += page["items"]
            if not page["_pagination"].get("next"):
                return users

    async def hub_or_error(
        self, method: str, path: str, as_service: bool = False, **kwargs
    ) -> requests.Response:
        """:meth:`hub`, turning a refusal into an error page that quotes the hub's sentence."""
        resp = await self.hub(method, path, as_service, **kwargs)
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message") or resp.reason
            except ValueError:
                message = resp.reason
            raise web.HTTPError(
                resp.status_code, self._("The hub refused: {message}").format(message=message)
            )
        return resp

    def write_error(self, status_code: int, **kwargs) -> None:
        """Every error is a sentence, never a traceback: the handler's own (its HTTPError's
        message), else the default one for the status; :meth:`show_error` renders it."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, SQLAlchemyError):  # the store does not answer (it says so in 10 s)
            status_code = 503
            self.set_status(status_code)
        message = getattr(exc, "log_message", None) or self._(
            DEFAULT_ERRORS.get(status_code, OTHER_ERROR)
        )
        self.show_error(status_code, message)

    def show_error(self, status_code: int, message: str) -> None:
        """An error page (the JSON API and /metrics answer in their own formats)."""
        self.render("error.html", status=status_code, message=message)


class NotFound(ServicePage):
    """Any path the app does not serve: the 404 page, in the visitor's language."""

    def prepare(self):
        raise web.HTTPError(404)


def site_settings(site: Site) -> dict:
    """What the pages take from the site file: its name, default language and time zone."""
    return {
        "site_name": site.hub.name,
        "language": site.hub.language,
        "timezone": site.hub.timezone,
    }


def make_app(
    prefix: str, routes: Sequence[tuple], cat: catalog.Catalog, **settings
) -> web.Application:
    """A service app at ``prefix``: ``routes`` are (path relative to the prefix, handler).
    ``settings`` may hold :func:`site_settings` (else English and UTC)."""
    handlers = [(url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler)]
    handlers += [(url_path_join(prefix, path) if path else prefix, h) for path, h in routes]
    return web.Application(
        handlers,
        prefix=prefix,
        catalog=cat,
        cookie_secret=secrets.token_bytes(32),
        xsrf_cookies=True,
        template_path=str(TEMPLATES),
        default_handler_class=NotFound,
        base_url=os.environ.get("JUPYTERHUB_BASE_URL", "/"),
        **settings,
    )


#: seconds a page trusts what the hub said of a visitor (their groups): a TA removed from a
#: course loses the page within a minute (JupyterHub's default is five)
VISITOR_CACHE_S = 30


def listen(app: web.Application, log: logging.Logger) -> None:
    """Serve ``app`` where the hub said (``$JUPYTERHUB_SERVICE_URL``) until SIGINT or SIGTERM
    (:func:`launcher.lifecycle.run_service` turns either into a quiet exit)."""
    HubOAuth.instance().cache_max_age = VISITOR_CACHE_S
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname)
    log.info("serving %s on %s", app.settings["prefix"], url.netloc)
    ioloop.IOLoop.current().start()


def service_prefix() -> str:
    return os.environ["JUPYTERHUB_SERVICE_PREFIX"]

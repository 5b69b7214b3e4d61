"""What the launcher's web pages share: JupyterHub-managed services behind Hub OAuth.

Each page (the instructor page, the GPU dashboard) is a small Tornado app that JupyterHub
starts as a managed service at ``/services/<name>/``. People log in through the hub; a page
acts on the hub with the visitor's own OAuth token, whose scopes JupyterHub narrows to what
that person may do, so a page holds no power of its own over servers. Errors are sentences on
a page (never a traceback), and templates live in ``launcher/services/templates``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import requests
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from sqlalchemy.exc import SQLAlchemyError
from tornado import ioloop, web

from launcher import catalog
from launcher.courses import STAFF, memberships
from launcher.endpoints import DASHBOARD_SERVICE, PAGE_SERVICE
from launcher.settings import Course

TEMPLATES = Path(__file__).with_name("templates")

#: the default sentence for an error status when the handler gave none
DEFAULT_ERRORS = {
    400: "The request was not understood; go back and try again.",
    403: "You do not have access to this page.",
    404: "There is no such page.",
    405: "That action is not possible on this page.",
    503: "The launcher's database does not answer right now; this page comes back when it "
    "does. Try again in a minute; if it keeps failing, tell the admin.",
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

    def nav(self) -> list[tuple[str, str]]:
        """The header's links: the hub's home, the instructor page (for its staff and
        admins) and the GPU dashboard (for everyone)."""
        base = self.settings.get("base_url", "/")
        links = [("Home", url_path_join(base, "hub/home"))]
        if self.current_user and (self.is_admin() or self.staff_courses()):
            links.append(("Courses", url_path_join(base, "services", PAGE_SERVICE) + "/"))
        links.append(("GPU dashboard", url_path_join(base, "services", DASHBOARD_SERVICE) + "/"))
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
            raise web.HTTPError(resp.status_code, f"The hub refused: {message}")
        return resp

    def write_error(self, status_code: int, **kwargs) -> None:
        """Every error is a sentence, never a traceback: the handler's own (its HTTPError's
        message), else the default one for the status; :meth:`show_error` renders it."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, SQLAlchemyError):  # the store does not answer (it says so in 10 s)
            status_code = 503
            self.set_status(status_code)
        message = getattr(exc, "log_message", None) or DEFAULT_ERRORS.get(
            status_code, "Something went wrong on the server; please tell the admin."
        )
        self.show_error(status_code, message)

    def show_error(self, status_code: int, message: str) -> None:
        """An error page (the JSON API and /metrics answer in their own formats)."""
        self.render("error.html", status=status_code, message=message)


def make_app(
    prefix: str, routes: Sequence[tuple], cat: catalog.Catalog, **settings
) -> web.Application:
    """A service app at ``prefix``: ``routes`` are (path relative to the prefix, handler)."""
    handlers = [(url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler)]
    handlers += [(url_path_join(prefix, path) if path else prefix, h) for path, h in routes]
    return web.Application(
        handlers,
        prefix=prefix,
        catalog=cat,
        cookie_secret=secrets.token_bytes(32),
        xsrf_cookies=True,
        template_path=str(TEMPLATES),
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

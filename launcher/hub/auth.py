"""Who may log in, and which course groups they hold: the catalog decides.

``CourseMembershipMixin`` turns any JupyterHub authenticator into one whose allow list is the
course catalog: anyone on a roster, or in a group a course maps (an identity provider's group
claim, a GitHub team), may log in; admins always. At every login and token refresh the user's
JupyterHub groups are set from the catalog (``course-<id>-students`` ...), next to the
identity provider's own groups, so a roster change reaches the hub's roles within
``auth_refresh_age`` seconds, and someone removed from every course is logged out at their
next refresh. Someone who is refused learns why in a sentence (HTTP 403), not a bare
"Forbidden", in the language of their browser (the hub's language switch, else
Accept-Language).

* ``CoursePasswordAuthenticator``: the class password (JupyterHub's shared password).
* ``CourseOIDCAuthenticator``: oauthenticator's GenericOAuthenticator (any OIDC provider).
* ``CourseGitHubAuthenticator``: oauthenticator's GitHubOAuthenticator (teams as groups).

Presets that fill their traits from the site file: :mod:`launcher.signin`.
"""

from __future__ import annotations

from contextvars import ContextVar
from hmac import compare_digest
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator
from sqlalchemy.exc import SQLAlchemyError
from tornado import web
from traitlets import Dict, Set, Unicode, default

from launcher import catalog, i18n
from launcher.courses import STAFF, hub_groups, memberships
from launcher.i18n import ENGLISH, Reader
from launcher.secrets import staff_passwords
from launcher.store import off_loop


def _is_course_group(name: str) -> bool:
    return name.startswith("course-") and name.endswith(("-students", "-tas", "-instructors"))


#: who reads the refusals of the sign-in under way (JupyterHub's ``check_allowed`` is given
#: no request): set for the length of :meth:`CourseMembershipMixin.get_authenticated_user`
_SIGNING_IN: ContextVar[Reader | None] = ContextVar("launcher_sign_in_reader", default=None)


def reader_of(handler=None) -> Reader:
    """Who reads a sign-in's sentences: the handler's visitor (the hub's localized pages know
    their reader; else the request's language), else the sign-in under way, else English."""
    found = getattr(handler, "reader", None)
    if isinstance(found, Reader):
        return found
    request = getattr(handler, "request", None)
    if request is not None:
        return Reader(i18n.from_request(request))
    return _SIGNING_IN.get() or ENGLISH


class CourseMembershipMixin(Authenticator):
    """Allow list and group sync from the course catalog; put it before any JupyterHub
    authenticator class (``class X(CourseMembershipMixin, GenericOAuthenticator)``)."""

    courses = Dict(
        config=True,
        help="""Courses declared in the site file (course id -> settings); the store's courses
        (``launcher courses apply``) are added to them. Example::

            {"dl101": {"title": "Deep Learning", "image": "launcher/pytorch:2.13-cpu",
                       "students": ["ann"], "instructors": ["teacher"]}}
        """,
    )

    store_url = Unicode(
        "sqlite://",
        config=True,
        help="""SQLAlchemy URL of the launcher's store, which holds the course catalog, e.g.
        ``sqlite:////var/lib/launcher/launcher.sqlite``.""",
    )

    required_groups = Set(
        Unicode(),
        config=True,
        help="""Groups (identity-provider group claims; GitHub ``org:team``) of which a person
        must hold at least one to sign in at all, on top of being in a course; empty: no such
        gate. Example: ``{"cs-department"}``.""",
    )

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    async def _memberships(self, username: str, idp_groups) -> dict[str, str]:
        """Course id -> role, from the catalog read off the event loop; a store that does not
        answer is a sentence (HTTP 503), never a frozen hub."""
        shared = catalog.shared(self.courses, self.store_url)
        try:
            found = await off_loop(shared.courses)
        except SQLAlchemyError as exc:
            self.log.error("The launcher's store failed at a sign-in: %s", exc)
            _ = reader_of()._
            raise web.HTTPError(
                503,
                _(
                    "The launcher's database does not answer right now, so the hub cannot "
                    "check your courses. Try again in a minute; if it keeps failing, tell the "
                    "admin."
                ),
            ) from None
        return memberships(found, username, idp_groups)

    async def get_authenticated_user(self, handler, data):
        """JupyterHub's sign-in, its refusals in the language of the person signing in."""
        token = _SIGNING_IN.set(reader_of(handler))
        try:
            return await super().get_authenticated_user(handler, data)
        finally:
            _SIGNING_IN.reset(token)

    async def idp_allows(self, username: str, authentication: dict) -> bool:
        """A further gate of the identity provider (GitHub organisations); default: open."""
        return True

    async def check_allowed(self, username, authentication=None):
        """Admins; else people in a course who pass the identity provider's gates. A refusal
        is an HTTP 403 whose sentence the hub shows on its error page."""
        model = authentication or {}
        if username in self.admin_users or model.get("admin"):
            return True
        _ = reader_of()._
        idp = [g for g in model.get("groups") or [] if not _is_course_group(g)]
        if self.required_groups and not self.required_groups.intersection(idp):
            raise web.HTTPError(
                403,
                _(
                    "You are signed in as {user}, but this hub is only for members of "
                    "{groups}. If you should have access, ask the admin or your instructor."
                ).format(user=username, groups=", ".join(sorted(self.required_groups))),
            )
        if not await self.idp_allows(username, model):
            raise web.HTTPError(
                403,
                _(
                    "You are signed in as {user}, but not as a member of an organisation this "
                    "hub admits. Ask your instructor to invite you."
                ).format(user=username),
            )
        if not await self._memberships(username, idp):
            raise web.HTTPError(
                403,
                _(
                    "You are signed in as {user}, but you are not on the roster of any course "
                    "on this hub. Ask your instructor to add you to the course roster."
                ).format(user=username),
            )
        return True

    async def _with_course_groups(self, model: dict) -> dict:
        idp = [g for g in model.get("groups") or [] if not _is_course_group(g)]
        course_groups = hub_groups(await self._memberships(model["name"], idp))
        return {**model, "groups": sorted(set(idp) | set(course_groups))}

    async def authenticate(self, handler, data):
        model = await super().authenticate(handler, data)
        if model is None:
            return None
        if isinstance(model, str):
            model = {"name": model}
        return await self._with_course_groups(model)

    async def refresh_user(self, user, handler=None, **kwargs):
        """Re-read the catalog: new course groups, or a logout for someone in no course. (The
        identity provider's groups are those of the last sign-in.)"""
        token = _SIGNING_IN.set(reader_of(handler))
        try:
            idp = [g.name for g in user.groups if not _is_course_group(g.name)]
            if user.name in self.admin_users or user.admin:
                return await self._with_course_groups({"name": user.name, "groups": idp})
            if not await self._memberships(user.name, idp):
                self.log.info("%s is in no course any more: asking for a new login", user.name)
                return False
            return await self._with_course_groups({"name": user.name, "groups": idp})
        finally:
            _SIGNING_IN.reset(token)


class CoursePasswordAuthenticator(CourseMembershipMixin, SharedPasswordAuthenticator):
    """The class password, for the students in the course catalog only. Instructors and TAs
    sign in with a password of their own (``staff_passwords_file``); admins with the admin
    password. With the class password nobody can sign in as staff."""

    staff_passwords_file = Unicode(
        "",
        config=True,
        help="""JSON file of the instructors' and TAs' own passwords (name -> password, mode
        0600), written by the hub at start for everyone on a roster's ``instructors`` or
        ``tas`` who has none, e.g. ``/var/lib/launcher/staff-passwords.json``.""",
    )

    async def authenticate(self, handler, data):
        _ = reader_of(handler)._
        if not all(isinstance(data.get(key), str) for key in ("username", "password")):
            # JupyterHub's login page reads both (a KeyError, a 500 page, when one is missing)
            raise web.HTTPError(
                400, _("Sign in with the form: it sends a username and a password.")
            )
        username = self.normalize_username(data["username"])
        password = data["password"]
        roles = (await self._memberships(username, [])).values()
        if username in self.admin_users or not any(role in STAFF for role in roles):
            if not password.isascii():
                # JupyterHub compares the class and admin passwords as text with
                # hmac.compare_digest, which raises on non-ASCII text (a 500 page): those are
                # ASCII, so this one matches neither
                return None
            return await super().authenticate(handler, data)
        own = self.staff_passwords_file and staff_passwords(Path(self.staff_passwords_file))
        own = (own or {}).get(username)
        if own and _same(password, own):
            return await self._with_course_groups({"name": username, "admin": False, "groups": []})
        if self.user_password and _same(password, self.user_password):
            raise web.HTTPError(
                403,
                _(
                    "{user} is an instructor or TA: staff sign in with their own password, not "
                    "the class password. Ask the admin for yours."
                ).format(user=username),
            )
        return None


def _same(given: str, expected: str) -> bool:
    """Two passwords are equal, compared in constant time as UTF-8 (``compare_digest`` on
    text raises a TypeError when either holds a non-ASCII character)."""
    return compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


class _OAuthUsername:
    """A sign-in whose identity provider sent no username becomes a sentence, not a 500."""

    def user_info_to_username(self, user_info):
        claim = self.username_claim
        name = claim(user_info) if callable(claim) else user_info.get(claim)
        if not name:
            _ = reader_of()._
            raise web.HTTPError(
                403,
                _(
                    "The identity provider did not send your username (the claim {claim}); "
                    "please tell the admin (auth.username_claim in the site file)."
                ).format(claim=repr(claim)),
            )
        return name


class CourseOIDCAuthenticator(CourseMembershipMixin, _OAuthUsername, GenericOAuthenticator):
    """Any OpenID Connect provider (Keycloak, Azure AD, a campus IdP), limited to the people in
    the course catalog; the groups claim maps people to courses and roles."""

    @default("username_claim")
    def _default_username_claim(self):
        return "preferred_username"


def github_team_groups(auth_state: dict) -> list[str]:
    """A GitHub user's groups: their teams as ``org:team-slug``."""
    return [f"{t['organization']['login']}:{t['slug']}" for t in auth_state.get("teams") or []]


class CourseGitHubAuthenticator(CourseMembershipMixin, _OAuthUsername, GitHubOAuthenticator):
    """GitHub, limited to the people in the course catalog; teams (``org:team``) are groups,
    and ``allowed_organizations`` a further gate."""

    @default("auth_state_groups_key")
    def _default_groups_key(self):
        return github_team_groups

    async def idp_allows(self, username: str, authentication: dict) -> bool:
        if not self.allowed_organizations:
            return True
        state = authentication.get("auth_state") or {}
        token = state.get("access_token", "")
        token_type = (state.get("token_response") or {}).get("token_type", "bearer")
        for org in self.allowed_organizations:
            if await self._check_membership_allowed_organizations(org, username, token, token_type):
                return True
        return False

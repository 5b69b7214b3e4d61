"""Who may log in, and which course groups they hold: the catalog decides.

``CoursePasswordAuthenticator`` is JupyterHub's shared-password authenticator (the class
password) with the catalog as its allow list: anyone on a roster, or in a group a course maps,
may log in; admins log in with the admin password. At every login and token refresh the user's
JupyterHub groups are set from the catalog (``course-<id>-students`` ...), so a roster change
reaches the hub's roles within ``auth_refresh_age`` seconds, and someone removed from every
course is logged out at their next refresh.
"""

from __future__ import annotations

from jupyterhub.auth import Authenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from traitlets import Dict, Unicode, default

from . import catalog
from .courses import hub_groups, memberships


def _is_course_group(name: str) -> bool:
    return name.startswith("course-") and name.endswith(("-students", "-tas", "-instructors"))


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

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    def _memberships(self, username: str, idp_groups) -> dict[str, str]:
        found = catalog.shared(self.courses, self.store_url).courses()
        return memberships(found, username, idp_groups)

    def check_allowed(self, username, authentication=None):
        if username in self.admin_users:
            return True
        idp = [g for g in (authentication or {}).get("groups") or [] if not _is_course_group(g)]
        return bool(self._memberships(username, idp))

    def _with_course_groups(self, model: dict) -> dict:
        idp = [g for g in model.get("groups") or [] if not _is_course_group(g)]
        course_groups = hub_groups(self._memberships(model["name"], idp))
        return {**model, "groups": sorted(set(idp) | set(course_groups))}

    async def authenticate(self, handler, data):
        model = await super().authenticate(handler, data)
        if model is None:
            return None
        if isinstance(model, str):
            model = {"name": model}
        return self._with_course_groups(model)

    async def refresh_user(self, user, handler=None):
        """Re-read the catalog: new course groups, or a logout for someone in no course."""
        if user.name in self.admin_users or user.admin:
            return self._with_course_groups({"name": user.name, "groups": []})
        idp = [g.name for g in user.groups if not _is_course_group(g.name)]
        if not self._memberships(user.name, idp):
            self.log.info("%s is in no course any more: asking for a new login", user.name)
            return False
        return self._with_course_groups({"name": user.name, "groups": idp})


class CoursePasswordAuthenticator(CourseMembershipMixin, SharedPasswordAuthenticator):
    """The class password, limited to the people in the course catalog."""

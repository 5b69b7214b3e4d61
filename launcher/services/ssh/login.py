"""Which student and course an SSH user name selects, and whether they may sign in (pure).

``ann`` is Ann's server of her first course (her default server); ``ann+cv201`` her server
of the course ``cv201``. The course must be one of hers, with SSH on (``ssh.enabled`` of the
course); her server is the one the hub would start for it, or the one already running it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from launcher.courses import course_server, memberships
from launcher.i18n import ENGLISH, Reader
from launcher.settings import Course
from launcher.sshendpoint import LOGIN_SEPARATOR

_COURSE = re.compile(r"[a-z][a-z0-9-]{0,30}")


@dataclass(frozen=True)
class Login:
    user: str
    course: str | None  # None: the student's first course


@dataclass(frozen=True)
class Target:
    """Where a sign-in leads: the student's server ``server`` (``""``: the default) of
    ``course_id``."""

    user: str
    course_id: str
    course: Course
    server: str


class Refused(Exception):
    """A sign-in that cannot lead anywhere; the message is the sentence the student reads."""


def parse(name: str) -> Login | None:
    """``ann`` or ``ann+cv201`` (lower case, as the hub's names are); None when it is neither."""
    name = name.strip().lower()
    user, sep, course = name.partition(LOGIN_SEPARATOR)
    if not user or "/" in user or set(user) == {"."} or any(c.isspace() for c in user):
        return None
    if sep and not _COURSE.fullmatch(course):
        return None
    return Login(user, course if sep else None)


def target(
    login: Login,
    courses: Mapping[str, Course],
    groups: list[str],
    started: Mapping,
    reader: Reader = ENGLISH,
) -> Target:
    """The server ``login`` leads to, or :class:`Refused` with a sentence. ``courses``: the
    catalog; ``groups``: the student's hub groups (campus sign-in); ``started``: the store's
    running servers ((user, server) -> record with ``.course``)."""
    _ = reader._
    mine = memberships(courses, login.user, groups)
    if not mine:
        raise Refused(
            _("{user} is in no course on this hub, so there is no server to sign in to.").format(
                user=login.user
            )
        )
    course_id = login.course or next(iter(mine))
    if course_id not in mine:
        raise Refused(
            _(
                "{user} is not in the course {course}. Your courses: {mine} (sign in as "
                "{user}+COURSE to choose one)."
            ).format(user=login.user, course=course_id, mine=", ".join(mine))
        )
    course = courses[course_id]
    if not course.ssh.enabled:
        raise Refused(
            _(
                "SSH is turned off for the course {course}: use JupyterLab in your browser "
                "(its terminal works as a shell). Ask the course's instructor if you need SSH."
            ).format(course=course_id)
        )
    return Target(
        login.user, course_id, course, course_server(course_id, login.user, mine, started)
    )

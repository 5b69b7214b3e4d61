"""Course membership and the JupyterHub groups and roles that follow from it (pure functions).

A person's role in a course comes from the course's rosters (``students``, ``tas``,
``instructors``) and from groups: ``groups.students: [cs-dl101]`` gives every member of the
JupyterHub / identity-provider group ``cs-dl101`` the student role. The highest role wins
(instructor > ta > student).

Each course has three JupyterHub groups, ``course-<id>-students``, ``course-<id>-tas`` and
``course-<id>-instructors``, which the authenticator keeps in step with the catalog at every
login and token refresh, and one role, ``course-<id>-staff``, held by its TAs' and instructors'
groups, whose scopes reach the servers of that course's students and nobody else's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from launcher.settings import Course

ROLES = ("student", "ta", "instructor")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
STAFF = ("ta", "instructor")


def group_name(course_id: str, role: str) -> str:
    """The JupyterHub group of one role in one course, e.g. ``course-dl101-students``."""
    return f"course-{course_id}-{role}s"


def staff_role_name(course_id: str) -> str:
    return f"course-{course_id}-staff"


def role_in(
    course_id: str, course: Course, username: str, user_groups: Iterable[str] = ()
) -> str | None:
    """``username``'s role in ``course`` (None: not a member). ``user_groups`` may hold the
    identity provider's groups and the user's JupyterHub groups (``course-<id>-tas`` counts)."""
    groups = set(user_groups)
    found = []
    for role, roster, mapped in (
        ("student", course.students, course.groups.students),
        ("ta", course.tas, course.groups.tas),
        ("instructor", course.instructors, course.groups.instructors),
    ):
        if username in roster or groups.intersection([*mapped, group_name(course_id, role)]):
            found.append(role)
    return max(found, key=_RANK.__getitem__) if found else None


def memberships(
    catalog: Mapping[str, Course], username: str, user_groups: Iterable[str] = ()
) -> dict[str, str]:
    """Course id -> role for every course ``username`` belongs to, in catalog order."""
    groups = list(user_groups)
    found = {}
    for course_id, course in catalog.items():
        role = role_in(course_id, course, username, groups)
        if role:
            found[course_id] = role
    return found


def hub_groups(memberships_: Mapping[str, str]) -> list[str]:
    """The JupyterHub groups a user belongs to, given their memberships."""
    return sorted(group_name(cid, role) for cid, role in memberships_.items())


def staff_scopes(course_id: str) -> list[str]:
    """See the course's students and their servers; nothing else. (JupyterHub's group filter
    would reach *every* server of a student, those of their other courses too, so it grants
    no access and no start or stop: opening a server of the course comes from the server
    itself, shared with the course's staff groups at each start, and starting or stopping one
    from the instructor page, which checks the course.)"""
    students = f"group={group_name(course_id, 'student')}"
    return [
        f"list:users!{students}",
        f"read:users!{students}",
        f"read:servers!{students}",
        f"read:users:activity!{students}",
        f"read:groups!{students}",
    ]


def staff_groups(course_id: str) -> list[str]:
    """The groups whose members open the course's servers: its TAs and its instructors."""
    return [group_name(course_id, "ta"), group_name(course_id, "instructor")]


def staff_roles(course_ids: Iterable[str], extra_scopes: Iterable[str] = ()) -> list[dict]:
    """``JupyterHub.load_roles`` entries: one staff role per course, held by its staff groups
    (``extra_scopes``: e.g. access to the instructor page)."""
    extra = list(extra_scopes)
    return [
        {
            "name": staff_role_name(cid),
            "description": f"TAs and instructors of {cid}: see their students' servers",
            "scopes": staff_scopes(cid) + extra,
            "groups": staff_groups(cid),
        }
        for cid in course_ids
    ]


def default_course(memberships_: Mapping[str, str]) -> str | None:
    """The course of a user's default server: their first course in catalog order."""
    return next(iter(memberships_), None)


def course_to_start(server_name: str, memberships_: Mapping[str, str]) -> str | None:
    """The course a server is started for: a named server the course of its name, the
    default server the user's first course. Asked once, when the server starts; from then on
    the course is the one recorded (the store's ``servers``), whatever the rosters say."""
    return server_name or default_course(memberships_)


def server_to_start(course_id: str, memberships_: Mapping[str, str]) -> str:
    """The server that starts ``course_id`` for a user (the inverse of :func:`course_to_start`):
    the default server ("") for their first course, else the named server of that name."""
    return "" if default_course(memberships_) == course_id else course_id


def course_server(
    course_id: str, username: str, memberships_: Mapping[str, str], started: Mapping
) -> str:
    """The server of ``username`` that runs ``course_id``: the one recorded as started for it
    (``started``: (user, server) -> record with ``.course``), else the one that would start it."""
    running = [s for (u, s), r in started.items() if u == username and r.course == course_id]
    return running[0] if running else server_to_start(course_id, memberships_)


def materials_dir(course_id: str, course: Course, root: str | Path = "") -> Path:
    """The host folder of a course's materials: ``materials.path``, else ``root/<course id>``
    (``root``: ``<data_dir>/materials``)."""
    if course.materials.path is not None:
        return course.materials.path
    return Path(root or "/var/lib/launcher/materials") / course_id

"""Instructors' and TAs' own passwords on class-password sites (nobody signs in as staff with
the class password): every instructor and TA on a roster has one, generated when the hub
starts, when `launcher courses apply` changes the catalog, and when the instructor page adds
a TA, into ``<data_dir>/staff-passwords.json`` (mode 0600). Never written to a log.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from launcher.secrets import STAFF_PASSWORDS_FILE, ensure_staff_passwords
from launcher.settings import Course


def ensure_for(
    courses: Mapping[str, Course],
    data_dir: Path,
    admins: Collection[str],
    say: Callable[[str], None],
) -> list[str]:
    """Give every instructor and TA of ``courses`` without one a password (admins have
    theirs); says where they are. Returns the names that got one."""
    staff = [n for c in courses.values() for n in [*c.instructors, *c.tas] if n not in admins]
    path = data_dir / STAFF_PASSWORDS_FILE
    new = ensure_staff_passwords(path, staff)
    if new:
        say(
            f"Generated the own passwords of {len(new)} instructor(s) and TA(s) "
            f"({', '.join(new)}): read them with `cat {path}` (root only)"
        )
    return new

"""Turn the instructor page's form into a changed course, within the admin's limits (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from launcher.courses import STAFF, memberships
from launcher.i18n import Translate
from launcher.settings import Course


@dataclass(frozen=True)
class EditForm:
    image: str
    gpu_per_student: str
    students: str  # one username per line (or separated by commas / spaces)
    tas: str
    materials: bool
    # SSH sign-in and its port forwarding (course.ssh); None: unchanged (the form had no box)
    ssh: bool | None = None
    port_forwarding: bool | None = None


class EditRefused(ValueError):
    """Edits that cannot be made; ``problems`` holds one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def allowed_images(course: Course) -> list[str]:
    return list(dict.fromkeys([course.image, *course.instructor_limits.images]))


def gpu_cap(course: Course) -> int:
    cap = course.instructor_limits.max_gpu_per_student
    return course.gpu.per_student if cap is None else cap


def checkbox(value: str | None, shown: bool) -> bool | None:
    """A checkbox's field as the form sent it (``value``: None when absent; a browser sends
    nothing for an unchecked box, so the form marks the boxes it ``shown``): True or False,
    or None when the form had no such box and no such field came (unchanged)."""
    if value is None:
        return False if shown else None
    return value == "on"


def names(text: str) -> list[str]:
    return list(dict.fromkeys(n for n in text.replace(",", " ").split() if n))


def apply_form(course: Course, form: EditForm, _: Translate = str) -> Course:
    """The course with the form's changes; EditRefused with sentences (in the language of
    ``_``) when outside limits."""
    problems = []
    if form.image not in allowed_images(course):
        problems.append(
            _(
                "{image!r} is not one of the images the admin allows for this course ({images})."
            ).format(image=form.image, images=", ".join(allowed_images(course)))
        )
    try:
        per_student = int(form.gpu_per_student)
    except ValueError:
        per_student = -1
    if not 0 <= per_student <= gpu_cap(course):
        problems.append(
            _("GPUs per student must be a whole number from 0 to {cap}.").format(
                cap=gpu_cap(course)
            )
        )
    students, tas = names(form.students), names(form.tas)
    limit = course.instructor_limits.max_students
    if limit is not None and len(students) > limit:
        problems.append(
            _("The roster may hold at most {limit} students; it has {count}.").format(
                limit=limit, count=len(students)
            )
        )
    ssh = course.ssh.enabled if form.ssh is None else form.ssh
    forwarding = (
        course.ssh.port_forwarding if form.port_forwarding is None else form.port_forwarding
    )
    if not course.instructor_limits.ssh and (
        (ssh, forwarding) != (course.ssh.enabled, course.ssh.port_forwarding)
    ):
        problems.append(
            _(
                "Only an admin can switch this course's SSH access on or off (the admin lets "
                "instructors do it with instructor_limits.ssh)."
            )
        )
    if problems:
        raise EditRefused(problems)
    data = course.model_dump(mode="json")
    data.update(image=form.image, students=students, tas=tas)
    data["gpu"]["per_student"] = per_student
    data["materials"]["enabled"] = form.materials
    data["ssh"].update(enabled=ssh, port_forwarding=forwarding)
    try:
        return Course.model_validate(data)
    except ValidationError as exc:
        raise EditRefused(
            [
                f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            ]
        ) from None


def added_people_refused(
    course_id: str,
    before: Course,
    after: Course,
    courses: Mapping[str, Course],
    admins: Collection[str],
    _: Translate = str,
) -> list[str]:
    """Sentences for the people an instructor may not add to their course's rosters from the
    page: admins and the staff of other courses (on a roster, they would let the instructor
    open their servers of this course); an admin adds them with `launcher courses apply`."""
    added = [n for n in [*after.students, *after.tas] if n not in before.members]
    others = {cid: c for cid, c in courses.items() if cid != course_id}
    refused = []
    for name in added:
        staff_of = [cid for cid, role in memberships(others, name).items() if role in STAFF]
        if name in admins or staff_of:
            if name in admins:
                sentence = _(
                    "{name} is an admin: only an admin can add them to {course} (with "
                    "`launcher courses apply`)."
                )
            else:
                sentence = _(
                    "{name} is staff of {courses}: only an admin can add them to {course} (with "
                    "`launcher courses apply`)."
                )
            refused.append(
                sentence.format(name=name, course=course_id, courses=", ".join(staff_of))
            )
    return refused

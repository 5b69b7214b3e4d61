"""The instructor page, a JupyterHub-managed service at ``/services/courses/``.

People log in through the hub (Hub OAuth). The page acts on the hub with the visitor's own
OAuth token, whose scopes JupyterHub cuts down to what that person may do: a TA or an
instructor reaches their own course's students and nobody else, so the service itself holds
no power over servers. Course edits go through the catalog (validated, within the admin's
``instructor_limits``, audited with the instructor's name).

The page is in the visitor's language; its times (the audit log, "running since") are in the
site's time zone (``hub.timezone``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from jupyterhub.utils import url_path_join
from tornado import web

from launcher import catalog, lifecycle, staff
from launcher.catalog import CatalogConflict
from launcher.courses import course_server, group_name, materials_dir, memberships
from launcher.i18n import ENGLISH, N_, Reader
from launcher.names import server_path
from launcher.services.instructor.edits import (
    EditForm,
    EditRefused,
    added_people_refused,
    allowed_images,
    apply_form,
    checkbox,
    gpu_cap,
)
from launcher.services.page import ServicePage, listen, make_app, service_prefix, site_settings
from launcher.settings import Course, load_site
from launcher.store import RunningServer

log = logging.getLogger("launcher.services.instructor")


class Page(ServicePage):
    def course_or_403(self, course_id: str) -> tuple[Course, str]:
        found = self.staff_courses().get(course_id)
        if found is None:
            raise web.HTTPError(
                403,
                self._("You are not a TA or an instructor of {course}.").format(course=course_id),
            )
        return found


class CoursesHandler(Page):
    @web.authenticated
    async def get(self):
        courses = self.staff_courses()
        if not courses:
            raise web.HTTPError(403, self._("You are not a TA or an instructor of any course."))
        self.render("instructor/courses.html", courses=courses, user=self.current_user)


class CourseHandler(Page):
    @web.authenticated
    async def get(self, course_id: str, problems: list[str] = (), saved: str = ""):
        course, role = self.course_or_403(course_id)
        self.render(
            "instructor/course.html",
            course_id=course_id,
            course=course,
            role=role,
            editable=role in ("instructor", "admin") and self.catalog.source(course_id) == "store",
            source=self.catalog.source(course_id),
            images=allowed_images(course),
            gpu_cap=gpu_cap(course),
            roster=await self._roster(course_id, course),
            materials=materials_listing(
                materials_dir(course_id, course, self.settings["materials_root"])
            ),
            audit=[
                audit_row(e, self.reader)
                for e in self.catalog.store.audit_log(course_id)[-20:][::-1]
            ],
            problems=problems,
            saved=saved,
        )

    async def _roster(self, course_id: str, course: Course) -> list[dict]:
        """The course's students (roster, and those in its group through an identity
        provider's group) with the state of their server of this course."""
        models = {u["name"]: u for u in await self.hub_users()}  # those the visitor may see
        group = group_name(course_id, "student")
        by_group = [n for n, u in models.items() if group in (u.get("groups") or [])]
        courses = self.catalog.courses()
        started = self.catalog.store.running_servers()
        return [
            roster_row(course_id, name, models.get(name), courses, started, self.reader)
            for name in dict.fromkeys([*course.students, *sorted(by_group)])
        ]

    @web.authenticated
    async def post(self, course_id: str):
        course, role = self.course_or_403(course_id)
        if role not in ("instructor", "admin"):
            raise web.HTTPError(403, self._("Only the course's instructors change the course."))
        shown = "ssh_shown" in self.request.body_arguments  # the form had the SSH boxes
        form = EditForm(
            image=self.get_body_argument("image", course.image),
            gpu_per_student=self.get_body_argument("gpu_per_student", "0"),
            students=self.get_body_argument("students", ""),
            tas=self.get_body_argument("tas", ""),
            materials=self.get_body_argument("materials", "") == "on",
            ssh=checkbox(self.get_body_argument("ssh", None), shown),
            port_forwarding=checkbox(self.get_body_argument("port_forwarding", None), shown),
        )
        _ = self._
        try:
            changed = apply_form(course, form, _)
            if role != "admin":
                refused = added_people_refused(
                    course_id, course, changed, self.catalog.courses(), self.settings["admins"], _
                )
                if refused:
                    raise EditRefused(refused)
            change = self.catalog.update(course_id, changed, self.current_user["name"])
        except (EditRefused, CatalogConflict) as exc:
            problems = getattr(exc, "problems", [str(exc)])
            self.set_status(400)
            return await self.get(course_id, problems=problems)
        log.info("%s changed %s: %s", self.current_user["name"], course_id, change.line())
        saved = "; ".join(change.details) if change.details else _("nothing changed")
        if self.settings["staff_passwords_in"] is not None:  # a new TA signs in with their own
            new = staff.ensure_for(
                {course_id: changed},
                self.settings["staff_passwords_in"],
                self.settings["admins"],
                log.info,
            )
            if new:
                saved = _("{changes} ({names}: ask the admin for their own password)").format(
                    changes=saved, names=", ".join(new)
                )
        return await self.get(
            course_id, saved=_("Saved: {changes}. New starts use it.").format(changes=saved)
        )


def materials_listing(path: Path, limit: int = 30) -> dict:
    """What a course's materials folder holds: the first ``limit`` files (names relative to
    the folder, sizes), how many there are, and whether the folder exists yet."""
    if not path.is_dir() or path.is_symlink():
        return {"path": str(path), "exists": False, "total": 0, "files": []}
    files = []
    # symbolic links are neither followed nor listed: a link staff made to a host file would
    # otherwise tell them its existence and size
    for folder, dirs, names in os.walk(path, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        here = Path(folder)
        files += [
            here / n
            for n in names
            if not n.startswith(".") and not (here / n).is_symlink() and (here / n).is_file()
        ]
    files.sort()
    shown = [(str(f.relative_to(path)), f.lstat().st_size) for f in files[:limit]]
    return {"path": str(path), "exists": True, "total": len(files), "files": shown}


#: a server's pending action (JupyterHub's ``pending``) as the roster says it
PENDING = {"spawn": N_("spawning"), "stop": N_("stopping")}
#: the catalog's audit actions as the page's log says them
AUDIT_ACTIONS = {"create": N_("create"), "update": N_("update"), "remove": N_("remove")}


def started_at(iso: str | None) -> datetime | None:
    """The hub's ``started`` (``2026-11-25T09:30:12.000Z``) as an aware datetime."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def roster_row(
    course_id: str,
    student: str,
    model: dict | None,
    courses: dict,
    started: Mapping[tuple[str, str], RunningServer],
    reader: Reader = ENGLISH,
) -> dict:
    """One roster line: the student's server of this course and what it is doing (in the
    reader's language, the time in its zone). A server runs the course it was started for
    (``started``: the store's record); a stopped one is started under the name that starts
    this course."""
    _ = reader._
    if model is None:
        return {"name": student, "state": _("never logged in"), "server": None, "running": False}
    mine = memberships(courses, student, model.get("groups") or [])
    server = course_server(course_id, student, mine, started)
    spawner = (model.get("servers") or {}).get(server)
    if spawner is None:
        state = _("stopped")
    elif spawner.get("pending"):
        pending = spawner["pending"]
        state = _(PENDING[pending]) if pending in PENDING else f"{pending}ing"
    else:
        since = started_at(spawner.get("started"))
        state = _("running since {time}").format(time=reader.when(since)) if since else _("running")
    return {"name": student, "state": state, "server": server, "running": bool(spawner)}


def audit_row(entry: dict, reader: Reader = ENGLISH) -> dict:
    """One line of the course's audit log as the page shows it: when (in the site's zone),
    who, what."""
    action = entry["action"]
    return {
        "at": reader.when(entry["at"]) if entry.get("at") else "",
        "actor": entry["actor"],
        "action": reader._(AUDIT_ACTIONS[action]) if action in AUDIT_ACTIONS else action,
        "details": entry.get("details") or "",
    }


class ServerHandler(Page):
    """Start or stop one student's server of this course: the page checks that the visitor
    runs this course and that the server is the student's server of this course (never one of
    their other courses), then acts with its own token, and logs who did it."""

    @web.authenticated
    async def post(self, course_id: str, student: str, action: str):
        self.course_or_403(course_id)
        courses = self.catalog.courses()
        # the visitor may read the models of their course's students only
        found = await self.hub("GET", f"/users/{quote(student, safe='')}")
        groups = found.json().get("groups") or [] if found.status_code == 200 else []
        mine = memberships(courses, student, groups)
        if found.status_code != 200 or mine.get(course_id) != "student":
            raise web.HTTPError(
                404,
                self._("{student} is not a student of {course}.").format(
                    student=student, course=course_id
                ),
            )
        server = course_server(course_id, student, mine, self.catalog.store.running_servers())
        await self.hub_or_error(
            "POST" if action == "start" else "DELETE", server_path(student, server), as_service=True
        )
        log.info("%s: %s %s's %s server", self.current_user["name"], action, student, course_id)
        self.redirect(url_path_join(self.settings["prefix"], "c", course_id))


def app(
    prefix: str,
    cat: catalog.Catalog,
    materials_root: Path,
    admins: Collection[str] = (),
    staff_passwords_in: Path | None = None,
    **site,
):
    """The instructor page at ``prefix``; ``site``:
    :func:`~launcher.services.page.site_settings` (the site's name, language and zone)."""
    course = r"c/([a-z][a-z0-9-]{0,30})"
    return make_app(
        prefix,
        [
            ("", CoursesHandler),
            (course, CourseHandler),
            (course + r"/servers/([^/]+)/(start|stop)", ServerHandler),
        ],
        cat,
        materials_root=materials_root,
        admins=set(admins),
        staff_passwords_in=staff_passwords_in,
        **site,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[launcher-courses] %(message)s")
    site = load_site()
    cat = catalog.for_site(site)
    data = site.data_dir()
    passwords_in = None if site.auth.oauth else data  # class-password sites: staff's own
    listen(
        app(
            service_prefix(),
            cat,
            data / "materials",
            site.admins,
            passwords_in,
            **site_settings(site),
        ),
        log,
    )


if __name__ == "__main__":
    raise SystemExit(lifecycle.run_service(main))

"""`launcher courses`: list, apply and export the course catalog."""

from __future__ import annotations

import os
import sys

from launcher import staff
from launcher.catalog import Catalog, CatalogConflict, for_site
from launcher.courses import memberships
from launcher.secrets import ensure_private_dir
from launcher.settings import Site, SiteFileError, load_course_file


def catalog(site: Site) -> Catalog:
    if site.store.url is None:  # the default SQLite store lives in the data directory
        ensure_private_dir(site.data_dir())
    return for_site(site)


def cmd_list(site: Site) -> int:
    cat = catalog(site)
    courses = cat.courses()
    if not courses:
        print("No courses yet: declare them in the site file or `launcher courses apply -f FILE`.")
        return 0
    print(f"{'COURSE':<16} {'SOURCE':<10} {'IMAGE':<36} {'GPU':>4} STUDENTS/TAS/INSTRUCTORS")
    for course_id, course in courses.items():
        gpu = str(course.gpu.per_student)
        people = f"{len(course.students)}/{len(course.tas)}/{len(course.instructors)}"
        print(f"{course_id:<16} {cat.source(course_id):<10} {course.image:<36} {gpu:>4} {people}")
    return 0


def cmd_apply(site: Site, path: str, prune: bool, dry_run: bool, actor: str) -> int:
    try:
        wanted = load_course_file(path).courses
    except SiteFileError as exc:
        print(f"The course file {exc.path} has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    try:
        changes = catalog(site).apply(wanted, actor, prune=prune, dry_run=dry_run)
    except CatalogConflict as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 2
    for change in changes:
        print(change.line())
    real = [c for c in changes if c.action != "unchanged"]
    verb = "would change" if dry_run else "changed"
    print(f"{len(real)} course(s) {verb}." if real else "No changes.")
    if real and not dry_run and not site.auth.oauth:  # new staff sign in with their own
        staff.ensure_for(catalog(site).courses(), site.data_dir(), site.admins, print)
    if any(c.action == "create" for c in real) and not dry_run:
        print(
            "Restart the hub (launcher up) so that the new course's TAs and instructors get "
            "their role; students can start servers at once."
        )
    return 0


def cmd_export(site: Site, output: str | None) -> int:
    text = catalog(site).export()
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(output, 0o644)
    else:
        sys.stdout.write(text)
    return 0


def cmd_whois(site: Site, username: str) -> int:
    found = memberships(catalog(site).courses(), username)
    if not found:
        print(f"{username} is in no course.")
        return 1
    for course_id, role in found.items():
        print(f"{course_id}: {role}")
    return 0

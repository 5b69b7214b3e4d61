"""The course catalog: the site file's courses plus those kept in the store.

Small setups declare courses in the site file. Departments keep them in the store with
``launcher courses apply -f FILE`` (declarative and idempotent: it prints what changes, and a
second run changes nothing) and read them back with ``launcher courses export``. A course id
lives in exactly one of the two places; the site file's courses are changed in the site file.
Every change to the store's catalog is written to its audit log (who, what, when).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from launcher.settings import Course, Site
from launcher.store import Store, utcnow
from launcher.store import shared as shared_store

Action = Literal["create", "update", "remove", "unchanged"]
log = logging.getLogger("launcher.catalog")


class CatalogConflict(ValueError):
    """A course file that would change a course the site file owns."""


@dataclass(frozen=True)
class Change:
    course: str
    action: Action
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        sign = {"create": "+", "update": "~", "remove": "-", "unchanged": "="}[self.action]
        text = f"{sign} {self.course}: {self.action}"
        return text + (f" ({'; '.join(self.details)})" if self.details else "")


#: the format of the course specs this launcher writes (the store's ``spec_version``);
#: release 0.1.0 wrote version 1
SPEC_VERSION = 1

#: how a spec of version N becomes one of version N + 1 (pure functions of the JSON): a
#: release that changes the format adds one, and bumps :data:`SPEC_VERSION`
UPGRADES: dict[int, Callable[[dict], dict]] = {}


class SpecTooNew(ValueError):
    """A stored spec written by a newer launcher."""


def spec(course: Course) -> dict:
    """What the store keeps of a course (JSON types only)."""
    return course.model_dump(mode="json")


def current_spec(
    course_id: str,
    version: int,
    data: dict,
    latest: int = SPEC_VERSION,
    upgrades: Mapping[int, Callable[[dict], dict]] = UPGRADES,
) -> dict:
    """A stored spec in today's format: older ones go through each upgrade in turn; one newer
    than ``latest`` raises :class:`SpecTooNew` with a sentence."""
    if version > latest:
        raise SpecTooNew(
            f"The course {course_id} in the store was written by a newer launcher (course "
            f"format {version}; this launcher reads up to {latest}): run that launcher, or "
            "apply the course again with this one (`launcher courses apply`)."
        )
    for step in range(version, latest):
        data = upgrades[step](data)
    return data


def diff_specs(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences, e.g. ``image: a:1 -> a:2``, ``students: +ann -bob``."""
    found = []
    for key in dict.fromkeys([*old, *new]):
        a, b, name = old.get(key), new.get(key), f"{prefix}{key}"
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += diff_specs(a, b, name + ".")
        elif isinstance(a, list) and isinstance(b, list):
            added = [f"+{v}" for v in b if v not in a]
            removed = [f"-{v}" for v in a if v not in b]
            found.append(f"{name}: {' '.join(added + removed) or 'reordered'}")
        else:
            found.append(f"{name}: {a} -> {b}")
    return found


def plan(
    current: Mapping[str, dict],
    wanted: Mapping[str, dict],
    site_owned: Mapping[str, Course],
    prune: bool = False,
) -> list[Change]:
    """The changes that turn the store's ``current`` specs into ``wanted`` (pure)."""
    clashes = sorted(set(wanted) & set(site_owned))
    if clashes:
        raise CatalogConflict(
            f"The course(s) {', '.join(clashes)} are declared in the site file; change them "
            "there, or remove them from the site file before managing them with "
            "`launcher courses apply`."
        )
    changes = []
    for course_id, new in wanted.items():
        old = current.get(course_id)
        if old is None:
            changes.append(Change(course_id, "create", [f"image: {new['image']}"]))
        elif old != new:
            changes.append(Change(course_id, "update", diff_specs(old, new)))
        else:
            changes.append(Change(course_id, "unchanged"))
    for course_id in current:
        if course_id not in wanted:
            if prune:
                changes.append(Change(course_id, "remove", ["workspaces are kept"]))
            else:
                changes.append(Change(course_id, "unchanged", ["not in the file; --prune removes"]))
    return changes


class Catalog:
    """Read and change the effective catalog (site file first, then the store)."""

    def __init__(self, site_courses: Mapping[str, Course], store: Store):
        self.site_courses = dict(site_courses)
        self.store = store

    def courses(self) -> dict[str, Course]:
        """Site-file courses, then the store's; a store course this version cannot read (written
        by a newer launcher) is left out with a warning instead of breaking every login."""
        merged = dict(self.site_courses)
        for course_id, data in self.stored_specs().items():
            if course_id in merged:
                continue
            try:
                merged[course_id] = Course.model_validate(data)
            except ValidationError as exc:
                log.warning(
                    "course %s in the store is not valid for this launcher and is left out "
                    "(re-apply it with `launcher courses apply`): %s",
                    course_id,
                    "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                )
        return merged

    def stored_specs(self) -> dict[str, dict]:
        """The store's course specs in today's format; one written by a newer launcher is left
        out with a warning."""
        found = {}
        for course_id, (version, data) in self.store.course_specs().items():
            try:
                found[course_id] = current_spec(course_id, version, data)
            except SpecTooNew as exc:
                log.warning("%s", exc)
        return found

    def migrate(self, now: datetime | None = None) -> list[str]:
        """Rewrite the store's specs of an older format in today's (``launcher upgrade``);
        audited; returns the courses rewritten."""
        older = {
            cid: current_spec(cid, version, data)
            for cid, (version, data) in self.store.course_specs().items()
            if version < SPEC_VERSION
        }
        if older:
            self.store.write_courses(
                older,
                [],
                [(cid, "migrate", f"course format -> {SPEC_VERSION}") for cid in older],
                "launcher upgrade",
                now or utcnow(),
                SPEC_VERSION,
            )
        return sorted(older)

    def source(self, course_id: str) -> str:
        return "site file" if course_id in self.site_courses else "store"

    def apply(
        self,
        wanted: Mapping[str, Course],
        actor: str,
        *,
        prune: bool = False,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> list[Change]:
        """Make the store's catalog match ``wanted``; returns the changes (audited)."""
        wanted_specs = {cid: spec(c) for cid, c in wanted.items()}
        changes = plan(self.stored_specs(), wanted_specs, self.site_courses, prune)
        real = [c for c in changes if c.action != "unchanged"]
        if real and not dry_run:
            self.store.write_courses(
                {c.course: wanted_specs[c.course] for c in real if c.action != "remove"},
                [c.course for c in real if c.action == "remove"],
                [(c.course, c.action, "; ".join(c.details)) for c in real],
                actor,
                now or utcnow(),
                SPEC_VERSION,
            )
        return changes

    def update(self, course_id: str, course: Course, actor: str) -> Change:
        """Replace one store course (the instructor page's edits); audited."""
        if course_id in self.site_courses:
            raise CatalogConflict(
                f"{course_id} is declared in the site file; an admin changes it there."
            )
        return next(c for c in self.apply({course_id: course}, actor) if c.course == course_id)

    def export(self) -> str:
        """The store's courses as a course file (defaults left out); applying it changes
        nothing."""
        courses = {
            cid: Course.model_validate(data).model_dump(mode="json", exclude_defaults=True)
            for cid, data in self.stored_specs().items()
        }
        return yaml.safe_dump({"courses": courses}, sort_keys=False, allow_unicode=True)


#: one catalog per process, store and site file (in the hub, the authenticator, every spawner
#: and the GPU broker share it, and with it one connection pool to the store)
_SHARED: dict[tuple[str, str], Catalog] = {}


def shared(site_courses: Mapping[str, Mapping], store_url: str) -> Catalog:
    """The process-wide catalog for ``store_url`` and the site file's courses
    (``site_courses`` as dumped by the hub config; raises StoreUnavailable)."""
    key = (store_url, json.dumps(site_courses, sort_keys=True, default=str))
    found = _SHARED.get(key)
    if found is None:
        courses = {cid: Course.model_validate(data) for cid, data in site_courses.items()}
        found = _SHARED[key] = Catalog(courses, shared_store(store_url))
    return found


def for_site(site: Site) -> Catalog:
    """The catalog of ``site``: its site file's courses and its store's (raises
    StoreUnavailable when the store cannot be opened)."""
    return shared({cid: spec(c) for cid, c in site.courses.items()}, site.store_url())


def effective_site(site: Site) -> Site:
    """``site`` with the store's courses added, as the hub sees its catalog (raises
    StoreUnavailable when the store cannot be opened)."""
    return site.model_copy(update={"courses": for_site(site).courses()})

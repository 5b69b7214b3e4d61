"""``launcher backup`` and ``launcher restore``: what goes into an archive and what comes back.

- A backup holds the whole store (a snapshot while the hub runs) and the workspaces of the
  site, of one course or of one student; a site's or a course's backup also holds the
  courses' materials folders.
- A whole-site restore (from a site backup) puts the store back into an empty store (or one
  it is told to replace) and every workspace; ``--user``/``--course`` restores only those
  workspaces and leaves the store and everyone else alone.
- A workspace changed since the backup (a newer file or folder in it) is not overwritten
  unless asked (``--overwrite``); a workspace in use by a running server is never touched;
  what a restore replaces is first saved under ``<data_dir>/backups/replaced/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import docker

from launcher import names
from launcher.backup import storedump, volumes
from launcher.backup.archive import STORE, Manifest, Reader, Writer, sha256_of
from launcher.courses import materials_dir
from launcher.secrets import ensure_private_dir
from launcher.settings import Site

ARCHIVE_GLOB = "launcher-*.tar.gz"


def default_path(site: Site, now: datetime | None = None) -> Path:
    """``<data_dir>/backups/launcher-<UTC time>.tar.gz``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return backups_dir(site) / f"launcher-{stamp}.tar.gz"


def backups_dir(site: Site) -> Path:
    return site.data_dir() / "backups"


def owners(site: Site) -> tuple[dict[str, str], dict[str, str]]:
    """Slug -> username and slug -> course id, for the catalog's members and courses (the
    manifest names people and courses, not slugs, where it can)."""
    users = {names.safe_slug(m): m for course in site.courses.values() for m in course.members}
    courses = {names.safe_slug(c): c for c in site.courses}
    return users, courses


def backup(
    site: Site,
    out: Path,
    client: docker.DockerClient,
    *,
    user: str | None = None,
    course: str | None = None,
    say=print,
) -> Path:
    """Write one archive of the store and the chosen workspaces to ``out``."""
    scope = {"kind": "site"}
    if user or course:
        scope = {"kind": "user" if user else "course", "user": user, "course": course}
    manifest = Manifest(scope=scope)
    if out.parent == backups_dir(site):
        ensure_private_dir(out.parent)  # backups hold the students' files
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = Writer(out)
    try:
        dump = storedump.snapshot(site.store_url())
        raw = json.dumps(dump, ensure_ascii=False).encode()
        writer.add_bytes(STORE, raw)
        manifest.store = {
            "file": STORE,
            "schema": dump["schema"],
            "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "rows": {name: len(rows) for name, rows in dump["tables"].items()},
        }
        say(f"store: schema {dump['schema']}, {sum(manifest.store['rows'].values())} rows")
        users, courses = owners(site)
        chosen = volumes.select(volumes.workspaces(client, site.docker.prefix), user, course)
        for w in chosen:
            running = [c.name for c in volumes.users_of(client, w.volume)]
            with tempfile.TemporaryFile(dir=out.parent) as spool:
                copied = volumes.read(client, w.volume, spool)
                member = f"volumes/{w.volume}.tar"
                writer.add_file(member, spool)
            manifest.volumes.append(
                {
                    "name": w.volume,
                    "file": member,
                    "user": users.get(w.user_slug, w.user_slug),
                    "user_slug": w.user_slug,
                    "course": courses.get(w.course_slug, w.course_slug),
                    "course_slug": w.course_slug,
                    "bytes": copied.bytes,
                    "sha256": copied.sha256,
                    "files": copied.files,
                    "newest_mtime": copied.newest_mtime,
                    "paused": running,
                }
            )
            paused = f" (paused {', '.join(running)} meanwhile)" if running else ""
            say(f"workspace {w.volume}: {copied.files} files, {copied.bytes} bytes{paused}")
        if not user:  # a course's materials belong to its site and course backups
            for course_id, path in materials_dirs(site, course):
                with tempfile.TemporaryFile(dir=out.parent) as spool:
                    entry = folder_tar(path, spool)
                    member = f"materials/{course_id}.tar"
                    writer.add_file(member, spool)
                manifest.materials.append(
                    {"course": course_id, "path": str(path), "file": member, **entry}
                )
                say(f"materials of {course_id}: {entry['files']} files from {path}")
    except BaseException:
        writer.abort()
        raise
    return writer.close(manifest)


def materials_dirs(site: Site, course: str | None = None) -> list[tuple[str, Path]]:
    """(course id, folder) of each course's materials folder that exists on this host."""
    root = site.data_dir() / "materials"
    found = []
    for course_id, c in sorted(site.courses.items()):
        path = materials_dir(course_id, c, root)
        if c.materials.enabled and (course is None or course == course_id) and path.is_dir():
            found.append((course_id, path))
    return found


def folder_tar(path: Path, out) -> dict:
    """``path``'s files as a tar stream (member names relative to it) written to ``out``:
    its size, SHA-256, file count and newest change."""
    files, newest = 0, 0.0
    with tarfile.open(fileobj=out, mode="w") as tar:
        for item in sorted([path, *path.rglob("*")]):
            tar.add(item, arcname=str(item.relative_to(path)), recursive=False)
            files += item.is_file()
            newest = max(newest, item.lstat().st_mtime)
    out.seek(0)
    size, digest = sha256_of(out)
    return {"bytes": size, "sha256": digest, "files": files, "newest_mtime": newest}


def restore_materials(site: Site, reader: Reader, entry: dict, overwrite: bool, say) -> str | None:
    """A course's materials folder back from the archive (to where the site puts it now)."""
    course_id = entry["course"]
    c = site.courses.get(course_id)
    path = materials_dir(course_id, c, site.data_dir() / "materials") if c else Path(entry["path"])
    if path.exists() and any(path.iterdir()):
        saved, newest = keep_current(
            site, f"materials-{course_id}", lambda out: folder_tar(path, out)["newest_mtime"]
        )
        if newest > entry["newest_mtime"] and not overwrite:
            saved.unlink()
            return (
                f"The materials of {course_id} ({path}) were not restored: they changed after "
                "the backup. Restore them anyway with --overwrite (the files now are saved first)."
            )
        shutil.rmtree(path)
        say(f"materials of {course_id}: the files now are saved in {saved}")
    path.mkdir(parents=True, exist_ok=True)
    with reader.volume_to_file(entry) as data, tarfile.open(fileobj=data) as tar:
        tar.extractall(path, filter="tar")  # owners and modes kept, nothing outside path
    say(f"materials of {course_id}: {entry['files']} files restored to {path}")
    return None


def restore(
    site: Site,
    path: Path,
    client: docker.DockerClient,
    *,
    user: str | None = None,
    course: str | None = None,
    overwrite: bool = False,
    replace_store: bool = False,
    say=print,
) -> list[str]:
    """Put back what ``path`` holds (see the module docstring); returns the problems (one
    sentence each; the rest was restored). Raises BadArchive before changing anything when
    a member does not match its checksum, StoreNotEmpty when the store holds rows."""
    reader = Reader(path)
    ensure_private_dir(site.data_dir())  # a new machine's: the store's place
    try:
        manifest = reader.manifest
        whole = user is None and course is None
        if whole and manifest.scope["kind"] == "site":
            dump = reader.store_dump()
            if replace_store:
                storedump.replace(site.store_url(), dump, say)
            else:
                storedump.load(site.store_url(), dump, say)
            say(f"store: {sum(len(r) for r in dump['tables'].values())} rows restored")
        problems = []
        for entry in pick(manifest, user, course):
            problem = restore_volume(site, reader, entry, client, overwrite, say)
            if problem:
                problems.append(problem)
        if user is None:
            for entry in manifest.materials:
                if course is None or entry["course"] == course:
                    problem = restore_materials(site, reader, entry, overwrite, say)
                    if problem:
                        problems.append(problem)
        return problems
    finally:
        reader.close()


def pick(manifest: Manifest, user: str | None, course: str | None) -> list[dict]:
    """The manifest's workspaces of ``user`` and/or ``course`` (pure)."""
    return [
        v
        for v in manifest.volumes
        if (user is None or v["user_slug"] == names.safe_slug(user))
        and (course is None or v["course_slug"] == names.safe_slug(course))
    ]


def restore_volume(
    site: Site, reader: Reader, entry: dict, client, overwrite: bool, say
) -> str | None:
    name = entry["name"]
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        exists = False
    else:
        exists = True
    if exists:
        running = volumes.users_of(client, name)
        if running:
            return (
                f"{name} was not restored: the server {running[0].name} uses it. Stop that "
                "server first (the student's files stay as they are meanwhile)."
            )
        saved, newest = keep_current(
            site, name, lambda out: volumes.read(client, name, out).newest_mtime
        )
        if newest > entry["newest_mtime"] and not overwrite:
            saved.unlink()
            changed = datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds")
            return (
                f"{name} was not restored: it changed after the backup (at {changed}). "
                "Restore it anyway with --overwrite (its files now are saved first)."
            )
        say(f"workspace {name}: its files now are saved in {saved}")
    with reader.volume_to_file(entry) as data:
        volumes.write(client, name, data)
    say(f"workspace {name}: {entry['files']} files restored ({entry['user']}, {entry['course']})")
    return None


def keep_current(site: Site, name: str, write) -> tuple[Path, float]:
    """What is about to be replaced, saved as ``<data_dir>/backups/replaced/NAME-<UTC>.tar``
    by ``write(out)``, which returns the newest change in it (read once: the same copy says
    whether the files changed after the backup); returns the copy's path and that time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = ensure_private_dir(ensure_private_dir(backups_dir(site)) / "replaced")
    target = folder / f"{name}-{stamp}.tar"
    with open(target, "w+b", opener=_private) as out:
        newest = write(out)
    return target, newest


def _private(path, flags):
    return os.open(path, flags, 0o600)


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest archives in ``folder``; returns those removed."""
    archives = sorted(folder.glob(ARCHIVE_GLOB), key=lambda p: p.name, reverse=True)
    gone = archives[keep:]
    for old in gone:
        old.unlink()
    return gone

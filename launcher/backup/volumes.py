"""Workspace volumes read into and written from tar streams, through the engine's archive API.

No program runs for it: the volume is mounted into a container that is created and never
started, from an image with no files at all (``launcher/volume-access``, imported from an
empty archive on first use), and the engine copies the files out of or into the mount. So a
backup needs neither a shell in an image nor access to the engine's data directory, and works
against a remote engine too. The student's uid, modes and times travel in the tar headers.

A student writing during a backup: the student's running container is paused (the kernel's
processes are frozen, not ended) while their volume is read, so the copy is one moment of it;
it goes on where it was when the copy is done (seconds for a typical workspace).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import docker

from launcher import names

ACCESS_IMAGE = "launcher/volume-access:1"
#: where the volume is mounted in the access container: its archive's members are
#: ``workspace`` (the volume's root, with its owner: the student) and ``workspace/...``
PARENT = "/launcher"
ROOT = "workspace"
MOUNT = f"{PARENT}/{ROOT}"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Workspace:
    """A home volume, by the parts of its name (``{prefix}_home_{user}_{course}``)."""

    volume: str
    user_slug: str
    course_slug: str


def workspaces(client: docker.DockerClient, prefix: str) -> list[Workspace]:
    """Every home volume of this site's prefix, by name."""
    found = []
    for volume in client.volumes.list():
        parts = volume.name.split("_")
        if len(parts) == 4 and parts[:2] == [prefix, "home"]:
            found.append(Workspace(volume.name, parts[2], parts[3]))
    return sorted(found, key=lambda w: w.volume)


def select(
    found: list[Workspace], user: str | None = None, course: str | None = None
) -> list[Workspace]:
    """Those of one student and/or one course (pure)."""
    return [
        w
        for w in found
        if (user is None or w.user_slug == names.safe_slug(user))
        and (course is None or w.course_slug == names.safe_slug(course))
    ]


def access_image(client: docker.DockerClient) -> str:
    """The empty image the access containers are made from (imported once)."""
    try:
        client.images.get(ACCESS_IMAGE)
    except docker.errors.ImageNotFound:
        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        repository, tag = ACCESS_IMAGE.split(":")
        client.api.import_image_from_data(
            empty.getvalue(),
            repository=repository,
            tag=tag,
            changes=['CMD ["/never-started"]', "LABEL io.launcher.purpose=volume-access"],
        )
    return ACCESS_IMAGE


@contextlib.contextmanager
def _mounted(client: docker.DockerClient, volume: str, mode: str) -> Iterator:
    holder = client.containers.create(
        access_image(client),
        volumes={volume: {"bind": MOUNT, "mode": mode}},
        network_disabled=True,
        labels={"io.launcher.purpose": "volume-access"},
    )
    try:
        yield holder
    finally:
        holder.remove(force=True)


def users_of(client: docker.DockerClient, volume: str) -> list:
    """The running containers that mount ``volume``."""
    return client.containers.list(filters={"volume": volume, "status": "running"})


@contextlib.contextmanager
def paused(containers: list) -> Iterator[None]:
    """The containers frozen for the block (their processes resume after it, even on error)."""
    done = []
    try:
        for c in containers:
            c.pause()
            done.append(c)
        yield
    finally:
        for c in done:
            with contextlib.suppress(docker.errors.APIError):
                c.unpause()


@dataclass(frozen=True)
class Copied:
    bytes: int
    sha256: str
    files: int
    newest_mtime: float


def read(client: docker.DockerClient, volume: str, out) -> Copied:
    """Write the volume's files as a tar stream to ``out`` (a binary file); the running
    containers that use it are paused meanwhile."""
    digest = hashlib.sha256()
    size = 0
    with paused(users_of(client, volume)), _mounted(client, volume, "ro") as holder:
        stream, _ = holder.get_archive(MOUNT, chunk_size=CHUNK)
        for chunk in stream:
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    files, newest = _census(out, size)
    return Copied(size, digest.hexdigest(), files, newest)


def _census(out, size: int) -> tuple[int, float]:
    """How many files the tar just written to ``out`` holds, and the newest mtime of a file or
    folder in it."""
    out.flush()
    out.seek(out.tell() - size)
    files, newest = 0, 0.0
    with tarfile.open(fileobj=out, mode="r|") as tar:
        for member in tar:
            files += member.isfile()
            newest = max(newest, float(member.mtime))  # a folder's too: a file removed
    out.seek(0, io.SEEK_END)
    return files, newest


def write(client: docker.DockerClient, volume: str, data) -> None:
    """Make ``volume`` hold exactly the files of the tar stream ``data`` (a binary file): the
    volume is removed and created again (no running container may use it)."""
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(volume).remove()
    client.volumes.create(volume, labels={"io.launcher.restored": "true"})
    with _mounted(client, volume, "rw") as holder:
        if not holder.put_archive(PARENT, data):  # the root's owner and mode too
            raise RuntimeError(f"the engine did not take the files of {volume}")

"""One backup archive: ``manifest.json``, ``store.json``, ``volumes/NAME.tar`` for each
workspace and ``materials/COURSE.tar`` for each course's materials folder, in a
gzip-compressed tar file.

The manifest says when the backup was taken, by which launcher, of what (the site, one
course, one student), the store's schema version, and for each member its size and SHA-256;
``restore`` checks every checksum before it changes anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

FORMAT = 1
MANIFEST = "manifest.json"
STORE = "store.json"


class BadArchive(ValueError):
    """Not a launcher backup, or one whose member does not match its checksum."""


def launcher_version() -> str:
    try:
        return version("gpu-classroom-launcher")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class Manifest:
    scope: dict  # {"kind": "site"} | {"kind": "course", "course": C} | {"kind": "user", ...}
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    launcher: str = field(default_factory=launcher_version)
    format: int = FORMAT
    store: dict = field(default_factory=dict)  # file, schema, bytes, sha256
    volumes: list[dict] = field(default_factory=list)  # name, file, user, course, bytes, ...
    materials: list[dict] = field(default_factory=list)  # course, path, file, bytes, ...

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise BadArchive(
                f"The archive's format is {data.get('format')!r}; this launcher reads {FORMAT}."
            )
        return cls(**data)


def sha256_of(fileobj) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


class Writer:
    """Adds members to a new archive at ``path`` (written to ``path.partial`` and renamed
    when complete, so that a half-written backup never looks like a whole one)."""

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.partial.touch(mode=0o600)
        self.tar = tarfile.open(self.partial, "w:gz")

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(datetime.now(UTC).timestamp())
        info.mode = 0o600
        self.tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, fileobj) -> None:
        fileobj.seek(0, io.SEEK_END)
        info = tarfile.TarInfo(name)
        info.size = fileobj.tell()
        info.mtime = int(datetime.now(UTC).timestamp())
        info.mode = 0o600
        fileobj.seek(0)
        self.tar.addfile(info, fileobj)

    def close(self, manifest: Manifest) -> Path:
        self.add_bytes(MANIFEST, manifest.to_json())
        self.tar.close()
        self.partial.rename(self.path)
        return self.path

    def abort(self) -> None:
        self.tar.close()
        self.partial.unlink(missing_ok=True)


class Reader:
    """An archive whose every member matches its manifest's checksum (checked on opening)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.tar = tarfile.open(path, "r:*")
            member = self.tar.extractfile(MANIFEST)
        except (tarfile.TarError, KeyError, OSError) as exc:
            raise BadArchive(f"{path} is not a launcher backup ({exc}).") from None
        self.manifest = Manifest.from_json(member.read())
        self._verify()

    def _verify(self) -> None:
        expected = {self.manifest.store["file"]: self.manifest.store}
        expected.update({v["file"]: v for v in self.manifest.volumes + self.manifest.materials})
        for name, entry in expected.items():
            with self.open(name) as member:
                size, digest = sha256_of(member)
            if (size, digest) != (entry["bytes"], entry["sha256"]):
                raise BadArchive(
                    f"{self.path}: {name} does not match its checksum (damaged or changed "
                    "since the backup); nothing was restored."
                )

    def open(self, name: str):
        try:
            found = self.tar.extractfile(name)
        except KeyError:
            found = None
        if found is None:
            raise BadArchive(f"{self.path} lacks {name}; nothing was restored.")
        return found

    def store_dump(self) -> dict:
        with self.open(self.manifest.store["file"]) as member:
            return json.loads(member.read())

    def volume_to_file(self, entry: dict):
        """A member's tar (a volume's, a course's materials), in a temporary file."""
        spool = tempfile.TemporaryFile()
        with self.open(entry["file"]) as member:
            while chunk := member.read(1 << 20):
                spool.write(chunk)
        spool.seek(0)
        return spool

    def close(self) -> None:
        self.tar.close()

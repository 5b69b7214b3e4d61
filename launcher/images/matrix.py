"""Load images/matrix.yaml, the version matrix of the teaching images, into ``ImageSpec``s.

Only the file's shape is checked here (every field present, scalars of the right kind,
versions and architectures well formed); the rules between fields (torch vs torchvision,
tag vs cuda, driver vs CUDA) are in ``launcher.images.compat``. Every error is a
``MatrixError`` whose message names the tag and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from launcher import yamlfile
from launcher.images.refs import parse

DEFAULT_MATRIX = Path(__file__).resolve().parents[2] / "images" / "matrix.yaml"

_VERSION_RE = re.compile(r"\d+(?:\.\d+)+")
_ARCH_RE = re.compile(r"(?:sm|compute)_\d{2,3}")
_TEXT = ("base", "index_url")
_VERSIONS = ("torch", "torchvision", "torchaudio", "python", "cuda", "cudnn", "min_driver")
_REQUIRED = ("torch", "python", "base")  # never null
FIELDS = (
    "torch",
    "torchvision",
    "torchaudio",
    "python",
    "cuda",
    "cudnn",
    "base",
    "index_url",
    "min_driver",
    "cuda_arch_list",
)


class MatrixError(ValueError):
    """The matrix file is missing or malformed; the message is a sentence for a person."""


@dataclass(frozen=True)
class ImageSpec:
    """One entry of the matrix: the image launcher/pytorch:TAG. None means null."""

    tag: str
    torch: str
    torchvision: str | None
    torchaudio: str | None
    python: str
    cuda: str | None
    cudnn: str | None
    base: str
    index_url: str | None
    min_driver: str | None
    cuda_arch_list: tuple[str, ...]

    @property
    def is_cpu(self) -> bool:
        return self.cuda is None


def load_matrix(path: str | Path | None = None) -> dict[str, ImageSpec]:
    """The matrix file's entries by tag, in file order."""
    path = Path(path) if path is not None else DEFAULT_MATRIX
    try:
        data, _ = yamlfile.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MatrixError(f"The image matrix {path} cannot be read: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise MatrixError(f"The image matrix {path} is not valid YAML: {exc}") from exc
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict) or not images:
        raise MatrixError(f"The image matrix {path} has no `images:` mapping of tags to entries.")
    return {_tag(tag): _spec(_tag(tag), entry) for tag, entry in images.items()}


def tag_for_image(ref: str) -> str:
    """The tag of ``repo:tag`` or ``repo:tag@sha256:...``; ValueError when it has none."""
    tag = parse(ref).tag
    if not tag:
        raise ValueError(f"The image reference {ref!r} has no tag, so it names no matrix entry.")
    return tag


def _tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag:
        raise MatrixError(f"The image matrix has a tag {tag!r} that is not quoted text.")
    return tag


def _spec(tag: str, entry: object) -> ImageSpec:
    if not isinstance(entry, dict):
        raise MatrixError(f"Image {tag}: the entry must be a mapping of fields to values.")
    unknown = sorted(set(map(str, entry)) - set(FIELDS))
    if unknown:
        raise MatrixError(
            f"Image {tag}: unknown field {unknown[0]!r} (the fields are {', '.join(FIELDS)})."
        )
    values = {name: _field(tag, entry, name) for name in FIELDS}
    values["cuda_arch_list"] = _arch_list(tag, values["cuda_arch_list"])
    return ImageSpec(tag=tag, **values)


def _field(tag: str, entry: dict, name: str) -> str | None:
    if name not in entry:
        raise MatrixError(f"Image {tag}: field {name!r} is missing (write `{name}: null`?).")
    value = entry[name]
    if value is None:
        if name in _REQUIRED:
            raise MatrixError(f"Image {tag}: field {name!r} must not be null.")
        return None
    if not isinstance(value, str):
        raise MatrixError(
            f"Image {tag}: field {name!r} is {value!r}, not a quoted string "
            "(YAML reads an unquoted 3.10 as the number 3.1)."
        )
    if name in _VERSIONS and not _VERSION_RE.fullmatch(value):
        raise MatrixError(f"Image {tag}: field {name!r} is {value!r}, not a version like '1.2.3'.")
    if name in _TEXT and not value.strip():
        raise MatrixError(f"Image {tag}: field {name!r} is empty; write null instead.")
    return value


def _arch_list(tag: str, value: str | None) -> tuple[str, ...]:
    archs = tuple(value.split()) if value else ()
    for arch in archs:
        if not _ARCH_RE.fullmatch(arch):
            raise MatrixError(
                f"Image {tag}: field 'cuda_arch_list' has {arch!r}, not an architecture "
                "like 'sm_86' or 'compute_90'."
            )
    return archs


def shell_fields(spec: ImageSpec) -> str:
    """``KEY=VALUE`` lines of an entry, as images/build.sh reads them (null: empty)."""
    values = {name: getattr(spec, name) for name in FIELDS}
    values["cuda_arch_list"] = " ".join(spec.cuda_arch_list) or None
    return "".join(f"{k}={'' if v is None else v}\n" for k, v in values.items())


def main(argv: list[str] | None = None) -> int:
    """``python -m launcher.images.matrix TAG [MATRIX]``: the entry's fields for build.sh
    (exit 3 with the known tags for an unknown TAG, 2 for a broken matrix)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        specs = load_matrix(args[1] if len(args) > 1 else None)
    except MatrixError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args or args[0] not in specs:
        print(f"tag {args[0] if args else ''!r} is not in the matrix (known: {' '.join(specs)})")
        return 3
    sys.stdout.write(shell_fields(specs[args[0]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Image references (``[registry/]repository[:tag][@sha256:...]``) and registry mirrors.

Pure functions, no I/O. The grammar is Docker's (github.com/distribution/reference): the first
path component is a registry when it contains '.' or ':' or is 'localhost'; otherwise the image
lives on Docker Hub and ``registry`` is "". Every ``ImageRef`` is valid: the constructor checks
it, and ``str()`` gives back the reference as it was written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# Docker's grammar, component by component.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_NAME_MAX = 255

# Docker Hub's own names; an official image ("ubuntu") lives at "library/ubuntu" there.
DOCKER_HUB_NAMES = ("", "docker.io", "index.docker.io", "registry-1.docker.io")


def _is_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


@dataclass(frozen=True)
class ImageRef:
    """One image reference, split into its parts.

    registry: host[:port], or "" for Docker Hub's default. repository: the path without the
    registry ("pytorch/pytorch", "ubuntu"). tag: "" when absent. digest: "sha256:<64 hex>" or "".
    """

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    def __post_init__(self) -> None:
        _check(self)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def name(self) -> str:
        """The repository with its registry, as Docker names it ("127.0.0.1:5000/ns/repo")."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def is_docker_hub(self) -> bool:
        return self.registry.lower() in DOCKER_HUB_NAMES

    @property
    def hub_path(self) -> str:
        """The repository's path on its registry: Docker Hub official images get "library/"."""
        if self.is_docker_hub and "/" not in self.repository:
            return f"library/{self.repository}"
        return self.repository

    def pull_args(self) -> tuple[str, str]:
        """(repository, tag) for docker-py's ``client.api.pull(repository, tag=tag)``.

        With a digest the tag argument is the digest: the engine's POST /images/create takes a
        "tag" that parses as a digest as a pull by digest (``fromImage=name&tag=sha256:...``).
        The repository never carries ":tag" or "@digest", so docker-py's own last-':' split
        never sees it. Without tag or digest Docker pulls "latest".
        """
        return self.name, self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> ImageRef:
        return replace(self, digest=digest)


def _check(ref: ImageRef) -> None:
    if not isinstance(ref.registry, str) or not isinstance(ref.repository, str):
        raise ValueError("An image reference's registry and repository must be text.")
    if ref.registry and (not _DOMAIN_RE.fullmatch(ref.registry) or not _is_registry(ref.registry)):
        raise ValueError(
            f"The registry {ref.registry!r} is not a registry host: a registry is host[:port] and its name "
            "contains a '.' or a ':' or is 'localhost'."
        )
    if not ref.repository:
        raise ValueError("The image reference has no repository name.")
    for component in ref.repository.split("/"):
        if not _PATH_COMPONENT_RE.fullmatch(component):
            why = " (repository names are lowercase)" if component.lower() != component else ""
            raise ValueError(
                f"The repository name {ref.repository!r} is not valid{why}: each part between "
                "'/' is lowercase letters and digits, separated by '.', '_', '__' or '-'."
            )
    if not ref.registry and _is_registry(ref.repository.split("/")[0]) and "/" in ref.repository:
        raise ValueError(
            f"The repository {ref.repository!r} starts with a registry host; give it as the registry instead."
        )
    if len(ref.name) > _NAME_MAX:
        raise ValueError(
            f"The image name {ref.name[:40]}... is longer than {_NAME_MAX} characters."
        )
    if ref.tag and not _TAG_RE.fullmatch(ref.tag):
        raise ValueError(
            f"The tag {ref.tag!r} is not a valid tag: a tag is up to 128 letters, digits, '_', '.' and "
            "'-', and does not start with '.' or '-'."
        )
    if ref.digest and not _DIGEST_RE.fullmatch(ref.digest):
        raise ValueError(
            f"The digest {ref.digest!r} is not a valid digest: a pin is 'sha256:' followed by exactly 64 "
            "lowercase hexadecimal characters."
        )


def parse(ref: str) -> ImageRef:
    """Split an image reference; a ValueError's message says what is wrong with it."""
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError("The image reference is empty.")
    if ref != ref.strip() or any(c.isspace() for c in ref):
        raise ValueError(f"The image reference {ref!r} contains spaces.")
    if "://" in ref:
        raise ValueError(
            f"The image reference {ref!r} contains a URL scheme; write host[:port]/repository:tag."
        )
    rest, digest = ref, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not digest:
            raise ValueError(f"The image reference {ref!r} ends with '@' but gives no digest.")
        if not digest.startswith("sha256:"):
            raise ValueError(
                f"The digest in {ref!r} is not a sha256 digest: write @sha256:<64 hex characters>."
            )
    registry, path = "", rest
    first, slash, remainder = rest.partition("/")
    if slash and _is_registry(first):
        registry, path = first, remainder
    tag = ""
    # The tag is after the last ':' of the path (the registry's port is no longer in it).
    if ":" in path:
        path, tag = path.rsplit(":", 1)
        if not tag:
            raise ValueError(f"The image reference {ref!r} ends with ':' but gives no tag.")
    if not path:
        raise ValueError(f"The image reference {ref!r} has no repository name.")
    return ImageRef(registry=registry, repository=path, tag=tag, digest=digest)


def split_mirror(mirror: str) -> tuple[str, str]:
    """A ``registry_mirror`` setting -> (host[:port], path prefix or "")."""
    value = mirror.strip().rstrip("/")
    if not value:
        raise ValueError("The registry mirror is empty.")
    if "://" in value:
        raise ValueError(
            f"The registry mirror {mirror!r} contains a URL scheme; write host[:port][/path] "
            "(Docker picks https itself, and plain http only for 127.0.0.0/8 or insecure "
            "registries)."
        )
    host, _, prefix = value.partition("/")
    if not _DOMAIN_RE.fullmatch(host) or not _is_registry(host):
        raise ValueError(
            f"The registry mirror {mirror!r} does not start with a registry host: the host "
            "contains a '.' or a ':' or is 'localhost' (e.g. 127.0.0.1:5000 or "
            "mirror.example.edu/dockerhub)."
        )
    for component in prefix.split("/") if prefix else ():
        if not _PATH_COMPONENT_RE.fullmatch(component):
            raise ValueError(
                f"The registry mirror {mirror!r} has an invalid path {prefix!r}: each part "
                "between '/' is lowercase letters and digits, separated by '.', '_' or '-'."
            )
    return host, prefix


def rewrite_for_mirror(ref: ImageRef, mirror: str) -> ImageRef:
    """The same image (tag and digest kept) on a site-wide mirror.

    The mirror's host replaces the registry; a mirror path prefix goes in front of the
    repository; Docker Hub official images keep their "library/" path ("ubuntu" ->
    "MIRROR/library/ubuntu"), as registry pull-through caches store them. A reference that
    already points at the mirror is returned unchanged.
    """
    host, prefix = split_mirror(mirror)
    if ref.registry == host and (not prefix or ref.repository.startswith(prefix + "/")):
        return ref
    path = ref.hub_path
    return replace(ref, registry=host, repository=f"{prefix}/{path}" if prefix else path)


def resolve(image: str, mirror: str = "") -> str:
    """The reference the engine should use for a course's ``image``: mirrored if a mirror is set."""
    return str(rewrite_for_mirror(parse(image), mirror)) if mirror else image

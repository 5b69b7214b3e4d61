"""Pull an image with progress in bytes, and turn registry errors into sentences.

``PullProgress`` (pure) folds the engine's JSON progress stream into totals; ``pull`` (I/O,
blocking: run it in an executor) drives docker-py's low-level pull and calls ``on_progress``
at most every ``interval`` seconds and once at the end. The sentences are the student's (a
start's progress and refusal), in the language of the ``_`` they are given (English by
default); ``launcher.images.registry`` words the same failures for the admin's commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from docker.errors import APIError

from launcher.i18n import Translate
from launcher.images.refs import parse
from launcher.images.registry import (
    _DENIED,
    _UNREACHABLE,
    _explanation,
    _go_error,
    _is_not_found,
    _where,
)


class PullError(RuntimeError):
    """A pull that failed; the message is a sentence for a person."""


@dataclass
class PullProgress:
    """Byte totals over all layers, from the engine's progress events."""

    layers: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (current, total)
    done: set[str] = field(default_factory=set)
    cached: set[str] = field(default_factory=set)

    def update(self, event: dict) -> None:
        layer, status = event.get("id", ""), event.get("status", "")
        detail = event.get("progressDetail") or {}
        if not layer or layer.startswith(("sha256:", "latest")) or ":" in layer:
            return
        if status == "Pulling fs layer" or status == "Waiting":
            self.layers.setdefault(layer, (0, 0))
        elif status == "Downloading" and detail.get("total"):
            self.layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
        elif status in ("Download complete", "Verifying Checksum", "Extracting", "Pull complete"):
            _, total = self.layers.get(layer, (0, 0))
            self.layers[layer] = (total, total)
            if status == "Pull complete":
                self.done.add(layer)
        elif status == "Already exists":
            self.cached.add(layer)
            self.done.add(layer)

    @property
    def current_bytes(self) -> int:
        return sum(c for c, _ in self.layers.values())

    @property
    def total_bytes(self) -> int:
        return sum(t for _, t in self.layers.values())

    def sentence(self, _: Translate = str) -> str:
        total = len(self.layers) + len(self.cached - self.layers.keys())
        return _(
            "Downloading the course image: {current} of {size} ({done} of {layers} layers done)"
        ).format(
            current=_size(self.current_bytes),
            size=_size(self.total_bytes),
            done=len(self.done),
            layers=total,
        )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def stalled(ref: str, seconds: float | None, _: Translate = str) -> str:
    """The sentence for a download that stopped receiving anything."""
    if not seconds:
        return _(
            "The download of the course image {image} stalled: nothing arrived for a long "
            "time (the registry or its mirror does not answer). Try again in a few minutes; "
            "if it keeps failing, tell the admin."
        ).format(image=ref)
    return _(
        "The download of the course image {image} stalled: nothing arrived for {seconds} "
        "seconds (the registry or its mirror does not answer). Try again in a few minutes; "
        "if it keeps failing, tell the admin."
    ).format(image=ref, seconds=f"{seconds:g}")


def explain(ref_str: str, exc: Exception, _: Translate = str) -> str:
    """The sentence for a failed pull of ``ref_str`` (the registry's words for the admin's
    commands, said to the student who waits for the image)."""
    ref = parse(ref_str)
    where = _("Docker Hub") if ref.is_docker_hub else _where(ref)
    if _is_not_found(exc):
        if ref.digest:  # say nothing about the tag: a pull does not tell whether it exists
            return _(
                "The pinned digest {digest} of {repository} is not on the registry {registry}, "
                "so this exact image cannot be downloaded from there. If it is a mirror, it "
                "may not have synced this image yet; ask the admin."
            ).format(digest=ref.digest, repository=ref.repository, registry=where)
        return _(
            "The registry {registry} has no {repository}:{tag} yet: if it is a mirror, the "
            "mirror has not synced {tag} yet; ask the admin to push it or wait for the next "
            "sync."
        ).format(registry=where, repository=ref.repository, tag=ref.tag or "latest")
    if not isinstance(exc, APIError):  # requests' ConnectionError: the engine
        return _(
            "The Docker engine on this server did not answer while downloading {image} "
            "({error}); is dockerd running?"
        ).format(image=ref, error=f"{type(exc).__name__}: {exc}")
    text = _explanation(exc)
    lowered = text.lower()
    if any(word in lowered for word in _DENIED):
        return _(
            "The registry {registry} refused access to {repository}: the repository does not "
            "exist there or needs a login (docker login on this server)."
        ).format(registry=where, repository=ref.repository)
    if any(word in lowered for word in _UNREACHABLE):
        return _(
            "The registry {registry} does not answer, so {image} cannot be downloaded now "
            "({error})."
        ).format(registry=where, image=ref, error=_go_error(text))
    return _("Downloading {image} from the registry {registry} failed: {error}").format(
        image=ref, registry=where, error=_go_error(text)
    )


def pull(
    api,
    ref: str,
    on_progress: Callable[[PullProgress], None] | None = None,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    stall_timeout: float | None = None,
    _: Translate = str,
) -> PullProgress:
    """Pull ``ref`` (tag or digest pin) through docker-py's APIClient ``api``;
    ``stall_timeout``: the read timeout of ``api``, named in the sentence when it runs out;
    ``_``: the language of the PullError's sentence."""
    repository, tag = parse(ref).pull_args()
    progress = PullProgress()
    last = 0.0
    try:
        for event in api.pull(repository, tag=tag, stream=True, decode=True):
            if event.get("error"):
                raise APIError(event["error"])
            progress.update(event)
            if on_progress and clock() - last >= interval:
                last = clock()
                on_progress(progress)
    except requests.exceptions.Timeout:
        raise PullError(stalled(ref, stall_timeout, _)) from None
    except Exception as exc:  # docker.errors.APIError / NotFound, connection errors
        raise PullError(explain(ref, exc, _)) from None
    if on_progress:
        on_progress(progress)
    return progress

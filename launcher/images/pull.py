"""Pull an image with progress in bytes, and turn registry errors into sentences.

``PullProgress`` (pure) folds the engine's JSON progress stream into totals; ``pull`` (I/O,
blocking: run it in an executor) drives docker-py's low-level pull and calls ``on_progress``
at most every ``interval`` seconds and once at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from docker.errors import APIError

from launcher.images.refs import parse
from launcher.images.registry import explain


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

    def sentence(self) -> str:
        total = len(self.layers) + len(self.cached - self.layers.keys())
        return (
            f"Downloading the course image: {_size(self.current_bytes)} of "
            f"{_size(self.total_bytes)} ({len(self.done)} of {total} layers done)"
        )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def stalled(ref: str, seconds: float | None) -> str:
    """The sentence for a download that stopped receiving anything."""
    return (
        f"The download of the course image {ref} stalled: nothing arrived for "
        f"{seconds or 'many'} seconds (the registry or its mirror does not answer). "
        "Try again in a few minutes; if it keeps failing, tell the admin."
    )


def pull(
    api,
    ref: str,
    on_progress: Callable[[PullProgress], None] | None = None,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    stall_timeout: float | None = None,
) -> PullProgress:
    """Pull ``ref`` (tag or digest pin) through docker-py's APIClient ``api``;
    ``stall_timeout``: the read timeout of ``api``, named in the sentence when it runs out."""
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
        raise PullError(stalled(ref, stall_timeout)) from None
    except Exception as exc:  # docker.errors.APIError / NotFound, connection errors
        raise PullError(explain(ref, exc)) from None
    if on_progress:
        on_progress(progress)
    return progress

"""Pull every course image before students need it (bounded concurrency).

``prepull`` runs in the foreground (``launcher images prepull``); ``start_background`` runs the
same in a daemon thread of the hub process at hub start, so that the first student after a new
pin does not wait for a multi-GB download.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import docker.errors

from launcher.images.pull import PullError, pull


def prepull(
    api, refs: list[str], concurrency: int = 2, say: Callable[[str], None] = print
) -> dict[str, str | None]:
    """Make every ref present locally. Returns ref -> None (present) or the failure sentence."""

    def one(ref: str) -> str | None:
        try:
            api.inspect_image(ref)
            say(f"{ref}: already present")
            return None
        except docker.errors.ImageNotFound:
            pass
        say(f"{ref}: pulling")
        last = [""]

        def report(progress):
            text = progress.sentence()
            if text != last[0]:
                last[0] = text
                say(f"{ref}: {text}")

        try:
            pull(api, ref, report, interval=5)
        except PullError as exc:
            say(f"{ref}: {exc}")
            return str(exc)
        say(f"{ref}: pulled")
        return None

    unique = list(dict.fromkeys(refs))
    with ThreadPoolExecutor(max(1, min(concurrency, len(unique) or 1))) as pool:
        return dict(zip(unique, pool.map(one, unique)))


def start_background(api, refs: list[str], concurrency: int, say) -> threading.Thread:
    thread = threading.Thread(
        target=prepull, args=(api, refs, concurrency, say), name="launcher-prepull", daemon=True
    )
    thread.start()
    return thread

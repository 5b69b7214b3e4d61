"""Which processes the test session started are still running.

The pytest process makes itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): a
process whose parent dies (a proxy or a managed service of a hub a test killed) is handed to
pytest instead of to init, so it stays findable. At the end of the session every process
below pytest must be gone; :func:`leftovers` lists the ones that are not.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(on: bool = True) -> bool:
    """Orphans of this process's descendants become its children (False: not supported);
    ``on=False``: they go to init again (see :func:`detached`)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def detached():
    """Within the block, what a test starts to outlive the session on purpose (the Docker
    engine it restarts) is handed to init when its starter exits, not to pytest."""
    become_subreaper(False)
    try:
        yield
    finally:
        become_subreaper(True)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent PID, state) of a process; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), fields[0]


def command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def descendants(root: int) -> dict[int, str]:
    """PID -> command line of every living (not zombie) process below ``root``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) and stat[1] != "Z":
            parents[int(entry)] = stat[0]
    below: set[int] = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in below and pid not in below:
                below.add(pid)
                grew = True
    below.discard(root)
    return {pid: command(pid) for pid in sorted(below)}


def reap_zombies() -> None:
    """Collect the exit status of orphans handed to this process (they would stay zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def leftovers(root: int, grace: float) -> dict[int, str]:
    """The processes still below ``root`` after waiting up to ``grace`` seconds for them to go
    (a managed service notices its hub's death within a second)."""
    deadline = time.monotonic() + grace
    while True:
        reap_zombies()
        found = descendants(root)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def end(proc: subprocess.Popen, grace: float) -> None:
    """End a process a test started in a session of its own, as a service manager does:
    SIGTERM, and its whole process group killed if it has not exited within ``grace``
    seconds (nothing when it has exited already)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

"""What an earlier hub of the same data directory left running, found by its pid files.

JupyterHub writes the hub's PID (``JupyterHub.pid_file``) and the PID of the proxy it started
(``ConfigurableHTTPProxy.pid_file``) into the data directory and removes both when it stops. A
hub that was killed (SIGKILL, an OOM kill, a power cut of the terminal) leaves them behind, and
its proxy still running and holding the public port. ``launcher up`` uses this module to refuse
a second hub of a data directory whose hub still runs, and to end the proxy the dead one left
(JupyterHub would signal whatever process now has that PID; this checks that it is a proxy).
A proxy run as its own service (production) writes no such file and is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

HUB_PID_FILE = "jupyterhub.pid"
PROXY_PID_FILE = "jupyterhub-proxy.pid"
#: what the command line of each kind of process contains
HUB_MARKERS = ("jupyterhub", "launcher.hub.app")
PROXY_MARKERS = ("configurable-http-proxy",)


class LeftProcessError(RuntimeError):
    """A process an earlier hub left behind does not stop."""


def command_line(pid: int) -> list[str] | None:
    """The command line of a running process; None when it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def running_from(pid_file: Path, markers: tuple[str, ...]) -> int | None:
    """The PID in ``pid_file`` when that process runs and its command line names one of
    ``markers``; None otherwise (no file, no number, gone, or another program)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    argv = command_line(pid)
    if argv and any(marker in arg for arg in argv for marker in markers):
        return pid
    return None


def running_hub(data_dir: Path) -> int | None:
    """The PID of a hub of this data directory that still runs."""
    return running_from(data_dir / HUB_PID_FILE, HUB_MARKERS)


def end_left_proxy(data_dir: Path, say: Callable[[str], None], grace: float = 5.0) -> int | None:
    """End the proxy that a hub of ``data_dir`` started and left running when it died; returns
    its PID (None when there was none). A pid file naming no proxy is removed."""
    pid_file = data_dir / PROXY_PID_FILE
    pid = running_from(pid_file, PROXY_MARKERS)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return None
    say(
        f"The proxy (PID {pid}) of an earlier hub of {data_dir} is still running: that hub "
        "stopped without ending it. Ending it; this hub starts its own."
    )
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _gone_within(pid, grace):
            break
    else:
        raise LeftProcessError(
            f"The proxy (PID {pid}) left by an earlier hub does not stop; end it and try again."
        )
    pid_file.unlink(missing_ok=True)
    return pid


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while command_line(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True

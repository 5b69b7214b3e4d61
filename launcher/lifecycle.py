"""How the hub's managed services live and die.

JupyterHub stops a managed service with SIGINT, then SIGTERM, then SIGKILL, waiting
``interrupt_timeout`` (10 s) after the first. A service that inherited an ignored SIGINT (a hub
started from a script, CI, ``nohup``) used to sit out that wait, so the hub took a minute and a
half to stop. And a hub killed outright (SIGKILL, an OOM kill, a test timeout) left its services
running for ever, polling and sampling. So every service runs its ``main`` through
:func:`run_service`:

- SIGINT and SIGTERM both raise :class:`KeyboardInterrupt` in the main thread, whatever the
  disposition the process inherited, so ``except KeyboardInterrupt`` is the one way out;
- the service never outlives the hub: the kernel sends it SIGTERM when its parent dies
  (``PR_SET_PDEATHSIG``), and a watcher thread checks the parent every half second as well
  (for a parent that died before the service could ask, or a kernel without prctl);
- a stop at any moment, start-up included, ends the process quietly with status 0.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

log = logging.getLogger("launcher.lifecycle")

#: the hub's PID, passed to its managed services (the parent they must not outlive)
HUB_PID_ENV = "LAUNCHER_HUB_PID"
PR_SET_PDEATHSIG = 1
#: seconds between two looks at the parent (a service outlives a dead hub at most this long,
#: where the kernel's parent-death signal did not reach it)
WATCH_INTERVAL = 0.5


def stop_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread (also when inherited
    ignored: JupyterHub starts services with the hub's own dispositions)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)


def parent_to_watch() -> int:
    """The process this one must not outlive: ``$LAUNCHER_HUB_PID`` when the hub said, else the
    parent it has now."""
    try:
        return int(os.environ.get(HUB_PID_ENV, ""))
    except ValueError:
        return os.getppid()


def _ask_kernel_for_parent_death_signal() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watcher thread alone
        pass


def exit_with_parent(parent: int, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Send this process SIGTERM as soon as ``parent`` is no longer its parent (it died, and
    the process was handed to init or to a subreaper). Returns the daemon watcher thread."""
    _ask_kernel_for_parent_death_signal()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        log.warning("the hub (PID %d) is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def run_service(main: Callable[[], int | None]) -> int:
    """Run a managed service's ``main``: stop on SIGINT or SIGTERM, never outlive the hub;
    the exit status (0 when stopped)."""
    stop_on_signals()
    try:
        exit_with_parent(parent_to_watch())
        return main() or 0
    except KeyboardInterrupt:
        log.info("stopped")
        return 0

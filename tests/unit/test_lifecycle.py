"""Managed services stop at once on SIGINT or SIGTERM, and never outlive the hub."""

import os
import signal
import subprocess
import sys
import time

import pytest

from launcher.pidfiles import command_line
from tests.processes import descendants

SERVICE = """
import atexit, time
from launcher import lifecycle
def main():
    print("serving", flush=True)
    while True:
        time.sleep(60)
atexit.register(print, "stopped", flush=True)
raise SystemExit(lifecycle.run_service(main))
"""


def ignore_sigint():
    """As a hub started from a script or CI hands it on: SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def gone_within(pid: int, seconds: float) -> bool:
    """True once ``pid`` has exited (a zombie not yet reaped counts as exited)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if command_line(pid) is None:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_service_stops_on_the_signal_even_with_sigint_inherited_ignored(sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True, preexec_fn=ignore_sigint
    )
    assert proc.stdout.readline() == "serving\n"
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
    assert time.monotonic() - started < 2
    assert proc.stdout.read() == "stopped\n"


HUB = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {SERVICE!r}], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "serving\\n"
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_service_stops_within_seconds_when_its_hub_is_killed():
    hub = subprocess.Popen([sys.executable, "-c", HUB], stdout=subprocess.PIPE, text=True)
    service = int(hub.stdout.readline())
    assert service in descendants(os.getpid())
    hub.kill()
    hub.wait()
    try:
        assert gone_within(service, 5), f"service {service} outlived its hub"
    finally:
        if command_line(service) is not None:
            os.kill(service, signal.SIGKILL)


def test_a_service_whose_hub_died_before_it_started_watching_stops_at_once():
    env = {**os.environ, "LAUNCHER_HUB_PID": "1"}  # not this service's parent: already gone
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVICE], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()

"""What a dead hub left: a proxy to end (only a proxy), a hub that still runs."""

import subprocess
import sys

import pytest

from launcher import pidfiles


@pytest.fixture
def program():
    """``program(*argv)``: a sleeping process whose command line ends with ``argv``."""
    procs = []

    def start(*argv: str) -> subprocess.Popen:
        procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *argv]))
        return procs[-1]

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_pid_file_counts_only_for_a_running_program_of_that_kind(tmp_path, program):
    pid_file = tmp_path / "x.pid"
    assert pidfiles.running_from(pid_file, ("jupyterhub",)) is None  # no file
    hub = program("-m", "launcher.hub.app")
    pid_file.write_text(f"{hub.pid}\n")
    assert pidfiles.running_from(pid_file, pidfiles.HUB_MARKERS) == hub.pid
    assert pidfiles.running_from(pid_file, pidfiles.PROXY_MARKERS) is None  # another program
    hub.kill()
    hub.wait()
    assert pidfiles.running_from(pid_file, pidfiles.HUB_MARKERS) is None  # gone


def test_the_proxy_a_dead_hub_left_is_ended_and_said(tmp_path, program):
    proxy = program("configurable-http-proxy", "--port", "8000")
    (tmp_path / pidfiles.PROXY_PID_FILE).write_text(str(proxy.pid))
    said = []
    assert pidfiles.end_left_proxy(tmp_path, said.append) == proxy.pid
    assert proxy.wait(timeout=5) == -15  # SIGTERM
    assert said and f"The proxy (PID {proxy.pid}) of an earlier hub of {tmp_path}" in said[0]
    assert not (tmp_path / pidfiles.PROXY_PID_FILE).exists()


def test_a_stale_proxy_pid_file_never_ends_another_program(tmp_path, program):
    other = program("not-a-proxy")
    (tmp_path / pidfiles.PROXY_PID_FILE).write_text(str(other.pid))
    said = []
    assert pidfiles.end_left_proxy(tmp_path, said.append) is None
    assert other.poll() is None and said == []
    assert not (tmp_path / pidfiles.PROXY_PID_FILE).exists()

"""`launcher up` stops in seconds, leaves nothing running and never deletes a workspace; a
hub that was killed leaves no managed service behind, and the next one starts cleanly."""

import os
import signal
import time

import pytest

from launcher.pidfiles import PROXY_PID_FILE, command_line
from tests.integration.hub import running_hub, start_hub, wait_for
from tests.processes import descendants

pytestmark = pytest.mark.integration

#: what a person accepts between Ctrl-C and the prompt (the issue's bar, on 2 cores)
STOP_S = 10
SERVICES = (
    "launcher.services.culler.service",
    "launcher.services.instructor.app",
    "launcher.services.dashboard.app",
)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    return command_line(pid) is not None


def services_of(hub_pid: int) -> dict[str, int]:
    """Managed service -> PID, for the hub ``hub_pid`` (its children)."""
    found = {}
    for pid, cmd in descendants(hub_pid).items():
        for module in SERVICES:
            if f"-m {module}" in cmd:
                found[module] = pid
    return found


def wait_all_gone(pids: list[int], seconds: float, what: str) -> float:
    started = time.monotonic()
    wait_for(lambda: not any(alive(p) for p in pids), seconds, what, interval=0.05)
    return time.monotonic() - started


@pytest.mark.parametrize(
    "how",
    ["ctrl-c", "sigterm"],
)
def test_a_signal_stops_hub_proxy_and_services_in_seconds_and_keeps_workspaces(tmp_path, how):
    with running_hub(tmp_path, f"lifecycle-{how}", start=False) as hub:
        # as CI, a script or nohup starts it: SIGINT arrives ignored (services inherit that)
        start_hub(hub, sigint_ignored=True)
        s = hub.session("student1")
        s.start_server()
        s.stop_server()
        volumes = [v.name for v in hub.volumes()]
        assert len(volumes) == 1
        proxy_pid = int((hub.data_dir / PROXY_PID_FILE).read_text())
        services = services_of(hub.proc.pid)
        assert set(services) == set(SERVICES) and alive(proxy_pid)

        started = time.monotonic()
        if how == "ctrl-c":  # the terminal sends SIGINT to the foreground process group
            os.killpg(hub.proc.pid, signal.SIGINT)
        else:
            hub.proc.send_signal(signal.SIGTERM)
        assert hub.proc.wait(timeout=STOP_S) == 0
        wait_all_gone([proxy_pid, *services.values()], STOP_S, "the proxy and the services")
        took = time.monotonic() - started
        print(f"[lifecycle] {how}: hub, proxy and {len(services)} services gone in {took:.1f} s")
        assert took < STOP_S
        assert [v.name for v in hub.volumes()] == volumes, "the workspace is kept"
        assert "Traceback" not in hub.log()
        assert not (hub.data_dir / PROXY_PID_FILE).exists()


def test_a_killed_hub_leaves_no_service_and_the_next_up_ends_its_proxy(tmp_path):
    with running_hub(tmp_path, "lifecycle-kill") as hub:
        s = hub.session("student1")
        s.start_server()
        container = hub.container_of("student1")
        proxy_pid = int((hub.data_dir / PROXY_PID_FILE).read_text())
        services = services_of(hub.proc.pid)
        assert set(services) == set(SERVICES)

        hub.proc.kill()  # SIGKILL: no clean-up of its own at all
        hub.proc.wait()
        took = wait_all_gone(list(services.values()), STOP_S, "the managed services")
        print(f"[lifecycle] SIGKILL: {len(services)} services gone {took:.1f} s after the hub")
        # the proxy outlives it on purpose (open sessions keep working) until the next start
        assert alive(proxy_pid)

        start_hub(hub)  # the next `launcher up` of the same data directory
        assert not alive(proxy_pid)
        assert f"The proxy (PID {proxy_pid}) of an earlier hub of {hub.data_dir}" in hub.log()
        new_proxy = int((hub.data_dir / PROXY_PID_FILE).read_text())
        assert new_proxy != proxy_pid and alive(new_proxy)
        # the student's server ran on through all this and the new hub knows it
        container.reload()
        assert container.status == "running"
        assert hub.session("student1").user_model()["servers"][""]["ready"]

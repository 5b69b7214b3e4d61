"""`launcher up` stops cleanly on Ctrl-C and never deletes a workspace."""

import signal

import pytest

from tests.integration.hub import running_hub, wait_for

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_ctrl_c_stops_hub_and_proxy_and_keeps_workspaces(tmp_path):
    with running_hub(tmp_path, "lifecycle") as hub:
        s = hub.session("student1")
        s.start_server()
        s.stop_server()
        volumes = [v.name for v in hub.volumes()]
        assert len(volumes) == 1
        proxy_pid = int((hub.data_dir / "jupyterhub-proxy.pid").read_text())
        assert alive(proxy_pid)

        hub.proc.send_signal(signal.SIGINT)
        assert hub.proc.wait(timeout=30) == 0
        wait_for(lambda: not alive(proxy_pid), 10, "the proxy to exit")
        assert [v.name for v in hub.volumes()] == volumes, "the workspace is kept"
        assert "Traceback" not in hub.log()

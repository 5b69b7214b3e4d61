"""The culler's stop on a real store: the GPU stays held until the server's container is gone,
and the ledger then says why it came back."""

from datetime import datetime, timedelta

import docker.errors

from launcher.services.culler.rules import Server, Verdict
from launcher.services.culler.service import Culler
from launcher.settings import parse_site

T0 = datetime(2026, 12, 1, 9, 0)
SITE = """
hub: {data_dir: DATA}
courses:
  gpuidle:
    title: GPU idle
    image: launcher/pytorch:2.13-cpu
    students: [ann]
    gpu: {per_student: 1}
"""


class Hub:
    """The hub API as the culler uses it (the hub is not what is tested here)."""

    def __init__(self):
        self.stopped = []

    def stop(self, user, server):
        self.stopped.append((user, server))


class NoContainers:
    """An engine on which the server's container is already gone (no notice to write)."""

    class containers:  # noqa: N801 - docker-py's attribute
        @staticmethod
        def get(name):
            raise docker.errors.NotFound(name)


def test_a_culled_server_keeps_its_gpu_until_its_container_is_gone(tmp_path):
    site = parse_site(SITE.replace("DATA", str(tmp_path)), "site.yaml")
    hub = Hub()
    culler = Culler(site, hub, [], dict, NoContainers(), clock=lambda: T0)
    store = culler.catalog.store
    store.add(["GPU-a"], "ann", "gpuidle", "", "l_ann_gpuidle", T0)
    server = Server("ann", "", "gpuidle", T0, T0, ("GPU-a",), "l_ann_gpuidle")
    culler._carry_out(Verdict(server, "stop", "gpu_idle", "idle GPU"), T0 + timedelta(hours=1))
    assert hub.stopped == [("ann", "")]
    (held,) = store.active()  # the container may still run: nobody else gets GPU-a yet
    assert held.unit_uuid == "GPU-a" and held.end_reason == "gpu_idle"
    # the hub's post-stop hook, once the container is gone
    assert store.end_server("ann", "", "stopped", T0 + timedelta(hours=1, seconds=5)) == 1
    assert store.active() == []
    (ended,) = store.history(T0)
    assert ended.end_reason == "gpu_idle"

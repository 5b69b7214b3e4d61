"""What the dashboard keeps in the store (queue copy, spawn timings, samples, audit), its
sampler, its site-file section and how the hub registers it (against a bare Config)."""

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from traitlets.config import Config

from launcher.board.live import LiveReadings
from launcher.gpu.allocator import GpuPolicy
from launcher.gpu.broker import CourseRules, GpuBroker
from launcher.gpu.inventory import from_declared
from launcher.gpu.metrics import Reading
from launcher.hub.config import configure
from launcher.services.dashboard.sampler import Sampler
from launcher.settings import (
    DEMO_SITE_FILE,
    DashboardSettings,
    SiteFileError,
    load_site,
    parse_site,
)
from launcher.store import Sample, Store
from tests.asyncpoll import until
from tests.unit.test_hubconfig import FACTS

T0 = datetime(2026, 11, 25, 10, 0)
UNITS = from_declared([{"index": i, "uuid": f"GPU-{i}"} for i in range(2)])


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'store.sqlite'}")


def test_queue_copy_spawn_timings_and_audit(store):
    first = store.enqueue("ann", "dl", "", T0)
    store.enqueue("bob", "dl", "cv", T0 + timedelta(seconds=1))
    assert [(q["username"], q["server"]) for q in store.queued()] == [("ann", ""), ("bob", "cv")]
    store.dequeue(first)
    assert [q["username"] for q in store.queued()] == ["bob"]
    store.clear_queue()
    assert store.queued() == []

    store.record_spawn("ann", "dl", "", T0, 3.5, "ready")
    store.record_spawn("bob", "dl", "", T0 + timedelta(days=2), 0.2, "failed", "quota")
    assert [(s["outcome"], s["reason"]) for s in store.spawns()] == [
        ("ready", ""),
        ("failed", "quota"),
    ]
    assert len(store.spawns(T0 + timedelta(days=1))) == 1

    grant = store.grant("ann", "dl", 2.5, by="admin", at=T0)
    stop = store.audit("admin", "stop_server", "bob", "dl", "GPU 1", T0 + timedelta(minutes=1))
    newest, oldest = store.admin_actions()
    assert (newest["id"], newest["action"], newest["target"]) == (stop, "stop_server", "bob")
    assert (oldest["id"], oldest["action"], oldest["details"]) == (
        grant,
        "grant",
        "+2.5 GPU-hours this period",
    )
    assert [g["extra_hours"] for g in store.grants(T0)] == [2.5]
    assert store.grants(T0 + timedelta(seconds=1)) == []


def test_samples_are_kept_for_the_retention_then_pruned(store):
    store.add_samples([Sample(T0 - timedelta(days=d), "GPU-0", 50, 10, 1, "dl") for d in (0, 3)])
    store.record_spawn("ann", "dl", "", T0 - timedelta(days=3), 3.0, "ready")
    assert len(store.samples(T0 - timedelta(days=7))) == 2
    assert store.prune(T0 - timedelta(days=1)) == 2  # the old sample and the old timing
    (kept,) = store.samples(T0 - timedelta(days=7))
    assert kept == Sample(T0, "GPU-0", 50, 10, 1, "dl")
    assert store.spawns() == []


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_live_readings_ask_nvidia_smi_at_most_every_max_age():
    calls = []

    def read():
        calls.append(1)
        return {"GPU-0": Reading(len(calls), 0, 30)}

    clock = Clock(100.0)
    live = LiveReadings(read, UNITS, max_age=5, clock=clock)
    assert live.get()["GPU-0"].utilisation == 1
    clock.now += 4
    assert live.get()["GPU-0"].utilisation == 1 and len(calls) == 1
    assert live.get(max_age=0)["GPU-0"].utilisation == 2
    assert live.get()["GPU-1"] == Reading(None, None, None)  # not reported: unknown
    assert LiveReadings(read, [], clock=clock).get() == {} and len(calls) == 2


def test_sampler_writes_one_row_per_unit_and_drops_old_ones(store):
    clock = Clock(T0)
    store.add(["GPU-1"], "ann", "dl", "", "c_ann", T0)
    live = LiveReadings(
        lambda: {"GPU-0": Reading(7, 100, 30), "GPU-1": Reading(90, 900, 60)}, UNITS
    )
    sampler = Sampler(store, UNITS, live, DashboardSettings(retention_days=2), clock)
    assert sampler.sample() == 2
    clock.now += timedelta(days=3)
    sampler.sample()
    rows = store.samples(T0 - timedelta(days=30))
    assert [(s.at, s.unit_uuid, s.utilisation, s.holders, s.course) for s in rows] == [
        (clock.now, "GPU-0", 7, 0, None),
        (clock.now, "GPU-1", 90, 1, "dl"),
    ]


def test_the_store_shows_the_queue_and_a_stop_by_another_process_wakes_it(store):
    async def run():
        broker = GpuBroker(store, UNITS[:1], when_full="queue")
        dl = CourseRules(GpuPolicy(per_student=1))
        await broker.acquire("ann", "dl", dl)
        waiting = asyncio.create_task(broker.acquire("bob", "dl", dl, container="c_bob"))
        await until(lambda: [q["username"] for q in store.queued()] == ["bob"], what="bob queued")
        # the culler ends ann's allocation in the store, then the hub stops her server: the
        # post-stop release finds nothing left to end, and must still serve the queue
        store.end_server("ann", "", "gpu_idle", T0)
        assert await broker.release("ann") == 0
        assert (await asyncio.wait_for(waiting, 5)).units == ["GPU-0"]
        assert store.queued() == []
        # a start that gives up while queued leaves the store's queue too
        late = asyncio.create_task(broker.acquire("cat", "dl", dl))
        await until(lambda: [q["username"] for q in store.queued()] == ["cat"], what="cat queued")
        late.cancel()
        with pytest.raises(asyncio.CancelledError):
            await late
        assert store.queued() == []

    asyncio.run(run())


def test_dashboard_settings_defaults_and_errors():
    site = load_site(DEMO_SITE_FILE)
    assert (site.dashboard.sample_interval, site.dashboard.retention_days) == (60, 90)
    good = parse_site("dashboard:\n  sample_interval: 5\n  retention_days: 7\n")
    assert (good.dashboard.sample_interval, good.dashboard.retention_days) == (5, 7)
    with pytest.raises(SiteFileError) as info:
        parse_site(
            "admins: [admin]\ndashboard:\n  sample_interval: 0\n  retension_days: 7\n", "s.yaml"
        )
    problems = info.value.problems
    assert any(p.startswith("s.yaml:3: dashboard.sample_interval: ") for p in problems), problems
    assert (
        "s.yaml:4: dashboard.retension_days: unknown key (did you mean 'retention_days'?)"
        in problems
    )


def test_the_hub_runs_the_dashboard_with_least_privilege():
    c = Config()
    facts = replace(
        FACTS,
        site_file="/srv/site.yaml",
        page_port=40123,
        dashboard_port=40124,
        metrics_token="m" * 32,
    )
    configure(c, load_site(DEMO_SITE_FILE), facts)
    services = {s["name"]: s for s in c.JupyterHub.services}
    dash = services["dashboard"]
    assert dash["url"] == "http://127.0.0.1:40124"
    assert dash["command"][1:] == ["-m", "launcher.services.dashboard.app"]
    assert dash["environment"] == {
        "LAUNCHER_CONFIG": "/srv/site.yaml",
        "LAUNCHER_DATA_DIR": "/srv/launcher",
    }
    # a visitor's token only identifies them; the dashboard's own token may only stop
    # servers, which it does after checking that the visitor is an admin or the course's staff
    assert "api_token" not in dash and dash["oauth_client_allowed_scopes"] == []
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["dashboard"]["scopes"] == ["delete:servers"]
    assert [r["name"] for r in roles.values() if "dashboard" in r.get("services", [])] == [
        "dashboard"
    ]
    # every user may open it (their own panel); the user role keeps its defaults
    assert c.JupyterHub.extra_user_scopes == {"access:services!service=dashboard"}
    assert "user" not in roles
    # Prometheus: a service whose token has one custom scope, nothing else
    assert services["launcher-metrics"] == {"name": "launcher-metrics", "api_token": "m" * 32}
    assert roles["launcher-metrics"]["scopes"] == ["custom:launcher:read-metrics"]
    assert "custom:launcher:read-metrics" in c.JupyterHub.custom_scopes


def test_no_dashboard_without_a_site_file_or_port():
    c = Config()
    configure(c, load_site(DEMO_SITE_FILE), FACTS)
    assert "dashboard" not in {s["name"] for s in c.JupyterHub.services}
    assert "launcher-metrics" not in {s["name"] for s in c.JupyterHub.services}

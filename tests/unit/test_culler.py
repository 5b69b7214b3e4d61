"""Session limits (pure): idle, maximum age and GPU-idle culling, with a controlled clock;
and the culler's round that feeds them (a job run over SSH keeps a busy GPU from being idle)."""

from datetime import datetime, timedelta

import pytest

from launcher.gpu import metrics
from launcher.gpu.inventory import Unit
from launcher.gpu.quota import Quota, QuotaUse
from launcher.services.culler.rules import Server, gpu_busy_servers, judge, track_gpu_idle
from launcher.services.culler.service import Culler
from launcher.settings import CourseSession, parse_site
from tests.unit.test_culler_service import NoContainers

T0 = datetime(2026, 11, 24, 9, 0)
SH, BERLIN = "Asia/Shanghai", "Europe/Berlin"
LIMITS = CourseSession(
    idle_timeout=3600, max_age=4 * 3600, gpu_idle_timeout=1800, gpu_idle_warning=300
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


GPU_SERVER = Server("ann", "", "dl101", T0, at(0), ("GPU-a",))


@pytest.mark.parametrize(
    "now, last_activity, gpu_idle_since, expected",
    [
        (at(10), at(9), None, None),
        (at(59), at(0), None, None),
        (at(60), at(0), None, ("stop", "idle")),  # an hour without activity
        (at(60), None, None, ("stop", "idle")),  # never active: counted from the start
        (at(239), at(238), None, None),
        (at(240), at(239), None, ("stop", "max_age")),  # however busy
        # GPU idle: warned in the last 5 of 30 minutes, then stopped
        (at(20), at(19), at(0), None),
        (at(25), at(24), at(0), ("warn", "gpu_idle")),
        (at(29), at(28), at(0), ("warn", "gpu_idle")),
        (at(30), at(29), at(0), ("stop", "gpu_idle")),
        (at(30), at(29), at(5), ("warn", "gpu_idle")),  # idle only since minute 5
    ],
)
def test_judge(now, last_activity, gpu_idle_since, expected):
    server = Server("ann", "", "dl101", T0, last_activity, ("GPU-a",))
    verdict = judge(server, LIMITS, now, gpu_idle_since)
    assert (verdict and (verdict.action, verdict.reason)) == expected


def test_limits_of_zero_never_cull():
    off = CourseSession(idle_timeout=0, max_age=0, gpu_idle_timeout=0)
    assert judge(GPU_SERVER, off, at(10_000), gpu_idle_since=at(0)) is None


def test_sentences_say_what_happens_and_that_files_are_kept():
    warn = judge(GPU_SERVER, LIMITS, at(26), at(0))
    assert "stopped in 4 minutes" in warn.message and "files are kept" in warn.message
    stop = judge(GPU_SERVER, LIMITS, at(31), at(0))
    assert "GPU was unused for 30 minutes" in stop.message
    assert "files are kept" in judge(GPU_SERVER, LIMITS, at(61), None).message


def test_gpu_idle_tracking_restarts_on_any_use_or_unknown_reading():
    a = Server("ann", "", "dl101", T0, None, ("GPU-a",))
    b = Server("bob", "", "dl101", T0, None, ("MIG-1", "GPU-b"))
    cpu = Server("cy", "", "dl101", T0, None, ())
    seen = track_gpu_idle({}, [a, b, cpu], {"GPU-a": 0, "MIG-1": 0, "GPU-b": 0}, at(0))
    assert seen == {("ann", ""): at(0), ("bob", ""): at(0)}  # a CPU server is never GPU-idle
    seen = track_gpu_idle(seen, [a, b, cpu], {"GPU-a": 0, "MIG-1": 0, "GPU-b": 3}, at(5))
    assert seen == {("ann", ""): at(0)}, "one busy unit makes the server busy"
    seen = track_gpu_idle(seen, [a, b], {"GPU-a": None, "MIG-1": 0, "GPU-b": 0}, at(6))
    assert seen == {("bob", ""): at(6)}, "an unreadable GPU is never called idle"


def test_session_warning_must_fit_in_the_timeout():
    with pytest.raises(ValueError, match="shorter than gpu_idle_timeout"):
        CourseSession(gpu_idle_timeout=60, gpu_idle_warning=60)


def test_nvidia_smi_readings_and_mig_instances_share_their_gpu():
    csv = "GPU-a, 37, 1200, 61\nGPU-b, [N/A], [N/A], 40\ngarbage line\n"
    readings = metrics.parse(csv)
    assert readings["GPU-a"] == metrics.Reading(37, 1200, 61)
    assert readings["GPU-b"] == metrics.Reading(None, None, 40)
    units = [
        Unit(index="0", uuid="GPU-a", model="A100", memory_mib=40960, gpu_uuid="GPU-a"),
        Unit(index="1:0", uuid="MIG-x", model="A100", memory_mib=5120, gpu_uuid="GPU-a"),
        Unit(index="2", uuid="GPU-c", model="A100", memory_mib=40960, gpu_uuid="GPU-c"),
    ]
    per = metrics.per_unit(readings, units)
    assert per["MIG-x"].utilisation == 37
    assert per["GPU-c"].utilisation is None  # not reported: unknown, never idle


WEEK = Quota(1, "week")  # one GPU-hour a week


@pytest.mark.parametrize(
    "gpus, used_minutes, expected",
    [
        (("GPU-a",), 30, None),  # 30 minutes left, warned in the last 10
        (("GPU-a",), 51, ("warn", "quota")),
        (("GPU-a",), 60, ("stop", "quota")),
        (("GPU-a", "GPU-b"), 38, None),  # two GPUs: 22 GPU-minutes left are 11 minutes
        (("GPU-a", "GPU-b"), 51, ("warn", "quota")),
        ((), 90, None),  # a CPU-only session uses no GPU-hours
    ],
)
def test_a_quota_running_out_in_the_session_warns_then_stops(gpus, used_minutes, expected):
    server = Server("ann", "", "dl101", T0, at(used_minutes), gpus)
    spent = QuotaUse(WEEK, used_minutes / 60, 0.0, 1, True, T0 + timedelta(days=3))
    limits = CourseSession(idle_timeout=0, quota_warning=600)
    verdict = judge(server, limits, at(used_minutes), None, spent)
    assert (verdict and (verdict.action, verdict.reason)) == expected


def test_sentences_give_times_in_the_site_zone():
    """Beijing (UTC+8): T0 (09:00 UTC) is 17:00 CST; the weekly quota resets Monday 00:00
    CST, which is Sunday 16:00 UTC."""
    resets = datetime(2026, 11, 29, 16, 0)  # Mon 30 Nov 00:00 CST
    limits = CourseSession(idle_timeout=0, quota_warning=600, gpu_idle_timeout=1800)
    server = Server("ann", "", "dl101", T0, at(51), ("GPU-a",))
    warn = judge(server, limits, at(51), None, QuotaUse(WEEK, 51 / 60, 0.0, 1, True, resets), SH)
    assert "runs out in 9 minutes (at 18:00 CST)" in warn.message
    stop = judge(server, limits, at(60), None, QuotaUse(WEEK, 1.0, 0.0, 1, True, resets), SH)
    assert stop.message.endswith("the quota resets on Mon 2026-11-30 00:00 CST.")
    assert "UTC" not in warn.message + stop.message
    idle = judge(GPU_SERVER, LIMITS, at(26), at(0), None, SH)
    assert "stopped in 4 minutes (at 17:30 CST)" in idle.message
    # a UTC site (the default) says UTC
    utc_stop = judge(server, limits, at(60), None, QuotaUse(WEEK, 1.0, 0.0, 1, True, resets))
    assert utc_stop.message.endswith("the quota resets on Sun 2026-11-29 16:00 UTC.")


def test_the_summer_time_abbreviation_is_the_one_of_that_moment():
    """Europe/Berlin: a stop warned in March before the change says CET, a reset after it
    CEST."""
    now = datetime(2026, 3, 27, 10, 0)  # Friday 11:00 CET
    server = Server("ann", "", "dl101", now, now, ("GPU-a",))
    limits = CourseSession(idle_timeout=0, quota_warning=600)
    resets = datetime(2026, 3, 29, 22, 0)  # Mon 30 Mar 00:00 CEST
    stop = judge(server, limits, now, None, QuotaUse(WEEK, 1.0, 0.0, 1, True, resets), BERLIN)
    assert stop.message.endswith("the quota resets on Mon 2026-03-30 00:00 CEST.")
    warn = judge(server, limits, now, None, QuotaUse(WEEK, 0.9, 0.0, 1, True, resets), BERLIN)
    assert "(at 11:06 CET)" in warn.message


def test_a_warning_carries_the_time_of_its_stop():
    limits = CourseSession(idle_timeout=0, gpu_idle_timeout=1800, gpu_idle_warning=300)
    verdict = judge(GPU_SERVER, limits, at(26), gpu_idle_since=at(0))
    assert (verdict.action, verdict.stop_at) == ("warn", at(30))
    stop = judge(GPU_SERVER, limits, at(31), gpu_idle_since=at(0))
    assert (stop.action, stop.stop_at) == ("stop", None)


# --- a job started over SSH (nohup, then disconnected): no JupyterLab activity, busy GPU ---

CPU_SERVER = Server("cy", "", "dl101", T0, at(0), ())


@pytest.mark.parametrize(
    "server, now, gpu_idle_since, gpu_busy, expected",
    [
        (GPU_SERVER, at(60), None, True, None),  # idle an hour, its GPU busy: left alone
        (GPU_SERVER, at(200), None, True, None),
        (GPU_SERVER, at(60), None, False, ("stop", "idle")),  # unknown reading: as before
        (GPU_SERVER, at(60), at(45), False, ("stop", "idle")),  # idle GPU: as before
        (CPU_SERVER, at(60), None, False, ("stop", "idle")),  # CPU-only: as before
        (CPU_SERVER, at(60), None, True, ("stop", "idle")),  # no GPU is never busy
        (GPU_SERVER, at(240), None, True, ("stop", "max_age")),  # max_age: however busy
    ],
)
def test_the_idle_rule_leaves_a_server_whose_gpu_is_busy(
    server, now, gpu_idle_since, gpu_busy, expected
):
    verdict = judge(server, LIMITS, now, gpu_idle_since, gpu_busy=gpu_busy)
    assert (verdict and (verdict.action, verdict.reason)) == expected


def test_a_busy_gpu_does_not_spare_the_quota():
    spent = QuotaUse(WEEK, 1.0, 0.0, 1, True, T0 + timedelta(days=3))
    verdict = judge(GPU_SERVER, LIMITS, at(60), None, spent, gpu_busy=True)
    assert (verdict.action, verdict.reason) == ("stop", "quota")


WHOLE = {"GPU-a", "GPU-b", "GPU-c"}  # MIG-1 is an instance of GPU-c


@pytest.mark.parametrize(
    "gpus, utilisation, expected",
    [
        (("GPU-a",), {"GPU-a": 37}, True),
        (("GPU-a",), {"GPU-a": 0}, False),
        (("GPU-a",), {"GPU-a": None}, False),  # NVML could not say: never busy
        (("GPU-a",), {}, False),  # not reported at all
        (("GPU-a", "GPU-b"), {"GPU-a": 0, "GPU-b": 5}, True),  # one busy unit is enough
        (("GPU-a", "GPU-b"), {"GPU-a": None, "GPU-b": 5}, True),
        (("MIG-1",), {"MIG-1": 80}, False),  # its GPU's figure: perhaps a neighbour's work
        ((), {"GPU-a": 90}, False),  # a CPU-only server
    ],
)
def test_gpu_busy_counts_only_a_known_reading_of_the_servers_own_gpu(gpus, utilisation, expected):
    server = Server("ann", "", "dl101", T0, None, gpus)
    assert (server.key in gpu_busy_servers([server], utilisation, WHOLE)) is expected


def test_a_gpu_shared_with_another_student_does_not_say_whose_work_it_is():
    ann = Server("ann", "", "dl101", T0, None, ("GPU-a",))
    bob = Server("bob", "", "dl101", T0, None, ("GPU-a",))
    cy = Server("cy", "", "dl101", T0, None, ("GPU-b",))
    busy = gpu_busy_servers([ann, bob, cy], {"GPU-a": 90, "GPU-b": 90}, WHOLE)
    assert busy == {("cy", "")}


CULLED = """
hub: {data_dir: DATA}
courses:
  dl101:
    title: Deep Learning
    image: launcher/pytorch:2.13-cpu
    students: [ann]
    gpu: {per_student: 1}
    session: {idle_timeout: 3600, gpu_idle_timeout: 7200}
"""


class ActiveHub:
    """The hub API as the culler uses it: ann's default server, last active at T0."""

    def __init__(self):
        self.stopped = []

    def active_users(self):
        server = {"ready": True, "started": "2026-11-24T09:00:00Z"}
        server["last_activity"] = "2026-11-24T09:00:00Z"
        return [{"name": "ann", "servers": {"": server}}]

    def stop(self, user, server):
        self.stopped.append((user, server))


@pytest.mark.parametrize(
    "reading, stopped",
    [
        (metrics.Reading(93, 20_000, 70), []),  # training over SSH: left alone
        (metrics.Reading(0, 0, 40), [("ann", "")]),  # GPU idle as well: stopped as idle
        (metrics.Reading(None, None, None), [("ann", "")]),  # unknown: stopped as before
    ],
)
def test_a_round_reads_the_gpus_and_spares_an_idle_server_that_computes(tmp_path, reading, stopped):
    site = parse_site(CULLED.replace("DATA", str(tmp_path)), "site.yaml")
    hub = ActiveHub()
    unit = Unit(index="0", uuid="GPU-a", model="A100", memory_mib=40960, gpu_uuid="GPU-a")
    read = lambda: {"GPU-a": reading}  # noqa: E731
    culler = Culler(site, hub, [unit], read, NoContainers(), lambda: at(61))  # an hour on
    culler.catalog.store.server_started("ann", "", "dl101", "l_ann_dl101", T0)
    culler.catalog.store.add(["GPU-a"], "ann", "dl101", "", "l_ann_dl101", T0)
    verdicts = culler.check()
    assert hub.stopped == stopped
    assert [v.reason for v in verdicts] == ["idle"] * len(stopped)

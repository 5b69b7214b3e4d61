"""The dashboard's Prometheus metrics (``/metrics``), built from a snapshot at scrape time.

Each scrape builds a private :class:`~prometheus_client.CollectorRegistry` from a
:class:`Snapshot` of the store and the GPUs' readings, so the figures are the store's (shared
with the hub and the CLI), never a second copy kept in this process. Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from launcher.board.view import Snapshot

#: upper bounds (seconds) of the spawn-duration histogram's buckets
SPAWN_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
MIB = 1024 * 1024
GPU_LABELS = ["gpu", "uuid", "model"]

#: every metric name, with its help text (docs/reference/metrics.md is generated from here)
HELP = {
    "launcher_gpu_units": "GPU units (whole GPUs and MIG instances) the launcher hands out.",
    "launcher_gpu_allocated": "Servers holding this GPU unit now (0: free).",
    "launcher_gpu_holder_info": "Who holds a GPU unit now (value 1 per holder).",
    "launcher_gpu_allocations": "GPU units held now, per course.",
    "launcher_gpu_utilisation_percent": "GPU utilisation from NVML (a MIG unit: its GPU's).",
    "launcher_gpu_memory_used_bytes": "GPU memory in use from NVML (a MIG unit: its GPU's).",
    "launcher_gpu_memory_total_bytes": "GPU memory of the unit.",
    "launcher_gpu_temperature_celsius": "GPU temperature from NVML.",
    "launcher_quota_used_gpu_hours": "GPU-hours used this quota period, per student and course.",
    "launcher_quota_limit_gpu_hours": "GPU-hours allowed this period (quota plus admin grants).",
    "launcher_queue_length": "Starts waiting in the GPU queue, per course.",
    "launcher_spawn_duration_seconds": (
        "Seconds from a start request to a ready server (outcome=ready) or to the failure "
        "(outcome=failed), over the store's retention period."
    ),
}


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from gpu_metrics(self.snapshot.gpus)
        yield from quota_metrics(self.snapshot.quotas)
        yield queue_metric(self.snapshot.queue, self.snapshot.courses)
        yield spawn_histogram(self.snapshot.spawns)


def _gauge(name: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, HELP[name], labels=labels)


def gpu_metrics(rows: list[dict]) -> Iterator[Metric]:
    units = _gauge("launcher_gpu_units")
    units.add_metric([], len(rows))
    allocated = _gauge("launcher_gpu_allocated", GPU_LABELS)
    holders = _gauge("launcher_gpu_holder_info", ["gpu", "uuid", "user", "course", "server"])
    per_course: dict[str, int] = {}
    utilisation = _gauge("launcher_gpu_utilisation_percent", GPU_LABELS)
    used = _gauge("launcher_gpu_memory_used_bytes", GPU_LABELS)
    total = _gauge("launcher_gpu_memory_total_bytes", GPU_LABELS)
    temperature = _gauge("launcher_gpu_temperature_celsius", GPU_LABELS)
    for row in rows:
        labels = [row["index"], row["uuid"], row["model"]]
        allocated.add_metric(labels, len(row["holders"]))
        for h in row["holders"]:
            holders.add_metric([row["index"], row["uuid"], h["user"], h["course"], h["server"]], 1)
            per_course[h["course"]] = per_course.get(h["course"], 0) + 1
        total.add_metric(labels, row["memory_mib"] * MIB)
        # NVML may not know (None): leave the series out rather than report a false 0
        if row["utilisation"] is not None:
            utilisation.add_metric(labels, row["utilisation"])
        if row["memory_used_mib"] is not None:
            used.add_metric(labels, row["memory_used_mib"] * MIB)
        if row["temperature_c"] is not None:
            temperature.add_metric(labels, row["temperature_c"])
    allocations = _gauge("launcher_gpu_allocations", ["course"])
    for course, count in sorted(per_course.items()):
        allocations.add_metric([course], count)
    yield from (units, allocated, holders, allocations, utilisation, used, total, temperature)


def quota_metrics(rows: list[dict]) -> Iterator[Metric]:
    used = _gauge("launcher_quota_used_gpu_hours", ["user", "course"])
    limit = _gauge("launcher_quota_limit_gpu_hours", ["user", "course"])
    for row in rows:
        used.add_metric([row["user"], row["course"]], row["used"])
        if row["limit"] is not None:
            limit.add_metric([row["user"], row["course"]], row["limit"])
    yield from (used, limit)


def queue_metric(queue: list[dict], courses: list[str]) -> Metric:
    length = _gauge("launcher_queue_length", ["course"])
    counts = dict.fromkeys(courses, 0)
    for q in queue:
        counts[q["course"]] = counts.get(q["course"], 0) + 1
    for course, count in counts.items():
        length.add_metric([course], count)
    return length


def spawn_histogram(spawns: list[dict]) -> Metric:
    histogram = HistogramMetricFamily(
        "launcher_spawn_duration_seconds",
        HELP["launcher_spawn_duration_seconds"],
        labels=["outcome"],
    )
    for outcome in ("ready", "failed"):
        seconds = [s["seconds"] for s in spawns if s["outcome"] == outcome]
        buckets = [(floatToGoString(b), sum(1 for v in seconds if v <= b)) for b in SPAWN_BUCKETS]
        buckets.append(("+Inf", len(seconds)))
        histogram.add_metric([outcome], buckets, sum(seconds))
    return histogram


def exposition(snapshot: Snapshot) -> bytes:
    """The Prometheus text format of ``snapshot``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)

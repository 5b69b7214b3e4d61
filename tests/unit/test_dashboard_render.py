"""The dashboard's renderers: server-side SVG charts, the Prometheus exposition, and the
figures as people read them (in English and Chinese, times in the site's zone)."""

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from launcher.board.view import Snapshot
from launcher.i18n import Reader
from launcher.services.dashboard import charts, metrics, text

ZH = Reader("zh_CN")
SVG = "{http://www.w3.org/2000/svg}"
STARTS = [f"2026-11-25T10:{m:02d}:00Z" for m in range(6)]


def chart(values, **kwargs):
    svg = charts.line_chart(
        "c1", "Util <%>", values, STARTS[: len(values)], "hour", 100, "%", **kwargs
    )
    return svg, ET.fromstring(svg)


def polylines(root):
    return [p.get("points").split() for p in root.iter(f"{SVG}polyline")]


@pytest.mark.parametrize(
    "values, max_gap, lines, dots",
    [
        ([10, 20, 30, 40, 50, 60], 1, [6], 0),
        ([10, 20, None, 40, 50, 60], 1, [2, 3], 0),  # a gap splits the line
        ([10, 20, None, 40, 50, 60], 2, [5], 0),  # ... unless narrower than the sampling
        ([10, None, None, None, 50, None], 2, [], 2),  # lone points are dots
        ([None] * 6, 1, [], 0),
    ],
)
def test_line_chart_draws_the_data_with_gaps(values, max_gap, lines, dots):
    svg, root = chart(values, max_gap=max_gap)
    assert root.get("data-points") == str(sum(v is not None for v in values))
    assert [len(p) for p in polylines(root)] == lines
    assert len(list(root.iter(f"{SVG}circle"))) == dots
    assert root.find(f"{SVG}title").text == "Util <%>"  # escaped in the markup, read back
    assert ("No samples in this period yet" in svg) == (not any(v is not None for v in values))


def test_line_chart_scales_to_the_plot():
    _, root = chart([0, 100, 50])
    (points,) = polylines(root)
    ys = [float(p.split(",")[1]) for p in points]
    top, bottom = charts.TOP, charts.HEIGHT - charts.BOTTOM
    assert ys == [bottom, top, (top + bottom) / 2]
    xs = [float(p.split(",")[0]) for p in points]
    assert xs[0] == charts.LEFT and xs[-1] == charts.WIDTH - charts.RIGHT
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "100%" in labels and "0%" in labels and "10:00" in labels
    assert root.find(f"{SVG}desc").text == ("Over the last hour: mean 50%, peak 100%, latest 50%.")


@pytest.mark.parametrize(
    "span, first, count, labels",
    [
        ("hour", "2026-11-25T10:05:00Z", 60, ["10:10", "10:20", "10:30", "10:40", "10:50", "11:00"]),
        ("day", "2026-11-24T10:45:00Z", 96, ["12:00", "16:00", "20:00", "00:00", "04:00", "08:00"]),
        ("week", "2026-11-18T12:00:00Z", 84, ["Thu 19", "Fri 20", "Sat 21", "Sun 22", "Mon 23",
                                               "Tue 24", "Wed 25"]),
    ],
)  # fmt: skip
def test_time_axis_labels_fall_on_round_times(span, first, count, labels):
    start = datetime.fromisoformat(first.removesuffix("Z"))
    step = {"hour": 60, "day": 900, "week": 7200}[span]
    starts = [(start + timedelta(seconds=step * i)).isoformat() + "Z" for i in range(count)]
    root = ET.fromstring(charts.line_chart("c", "t", [1] * count, starts, span, 100))
    axis = [t.text for t in root.iter(f"{SVG}text") if t.get("y") == str(charts.HEIGHT - 8)]
    assert axis == labels


def test_values_above_the_maximum_are_clipped_not_drawn_outside():
    _, root = chart([250])
    (dot,) = root.iter(f"{SVG}circle")
    assert float(dot.get("cy")) == charts.TOP


GPUS = [
    {
        "index": "0",
        "uuid": "GPU-a",
        "model": "A100",
        "memory_mib": 40960,
        "utilisation": 73,
        "memory_used_mib": 1024,
        "temperature_c": None,
        "holders": [{"user": "ann", "course": "dl", "server": ""}],
    },
    {
        "index": "1",
        "uuid": "GPU-b",
        "model": "A100",
        "memory_mib": 40960,
        "utilisation": None,
        "memory_used_mib": None,
        "temperature_c": 41,
        "holders": [],
    },
]
SNAPSHOT = Snapshot(
    gpus=GPUS,
    quotas=[
        {"user": "ann", "course": "dl", "used": 1.5, "limit": 12.0},
        {"user": "cat", "course": "cv", "used": 0.25, "limit": None},
    ],
    queue=[{"course": "dl"}, {"course": "dl"}],
    courses=["dl", "cv"],
    spawns=[
        {"outcome": "ready", "seconds": 3.2},
        {"outcome": "ready", "seconds": 45.0},
        {"outcome": "failed", "seconds": 0.4},
    ],
)


def samples() -> dict[tuple[str, tuple], float]:
    text_ = metrics.exposition(SNAPSHOT).decode()
    found = {}
    for family in text_string_to_metric_families(text_):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_exposition_of_gpus_quotas_queue():
    found = samples()
    gpu_a = (("gpu", "0"), ("model", "A100"), ("uuid", "GPU-a"))
    gpu_b = (("gpu", "1"), ("model", "A100"), ("uuid", "GPU-b"))
    assert found[("launcher_gpu_units", ())] == 2
    assert found[("launcher_gpu_allocated", gpu_a)] == 1
    assert found[("launcher_gpu_allocated", gpu_b)] == 0
    holder = (("course", "dl"), ("gpu", "0"), ("server", ""), ("user", "ann"), ("uuid", "GPU-a"))
    assert found[("launcher_gpu_holder_info", holder)] == 1
    assert found[("launcher_gpu_allocations", (("course", "dl"),))] == 1
    assert found[("launcher_gpu_utilisation_percent", gpu_a)] == 73
    assert found[("launcher_gpu_memory_used_bytes", gpu_a)] == 1024 * 1024 * 1024
    assert found[("launcher_gpu_memory_total_bytes", gpu_b)] == 40960 * 1024 * 1024
    assert found[("launcher_gpu_temperature_celsius", gpu_b)] == 41
    # what NVML did not report is left out, not reported as 0
    assert ("launcher_gpu_utilisation_percent", gpu_b) not in found
    assert ("launcher_gpu_temperature_celsius", gpu_a) not in found
    ann = (("course", "dl"), ("user", "ann"))
    cat = (("course", "cv"), ("user", "cat"))
    assert found[("launcher_quota_used_gpu_hours", ann)] == 1.5
    assert found[("launcher_quota_limit_gpu_hours", ann)] == 12
    assert found[("launcher_quota_used_gpu_hours", cat)] == 0.25
    assert ("launcher_quota_limit_gpu_hours", cat) not in found  # unlimited
    assert found[("launcher_queue_length", (("course", "dl"),))] == 2
    assert found[("launcher_queue_length", (("course", "cv"),))] == 0


def test_spawn_duration_histogram_is_cumulative():
    found = samples()

    def bucket(le, outcome="ready"):
        return found[("launcher_spawn_duration_seconds_bucket", (("le", le), ("outcome", outcome)))]

    assert [bucket(le) for le in ("1.0", "5.0", "30.0", "60.0", "+Inf")] == [0, 1, 1, 2, 2]
    assert found[("launcher_spawn_duration_seconds_count", (("outcome", "ready"),))] == 2
    assert found[("launcher_spawn_duration_seconds_sum", (("outcome", "ready"),))] == 48.2
    assert bucket("1.0", "failed") == 1


def test_every_metric_has_help_and_the_launcher_prefix():
    exposed = metrics.exposition(SNAPSHOT).decode()
    names = set(re.findall(r"^# TYPE (\S+) ", exposed, re.M))
    assert names == set(metrics.HELP)
    assert all(n.startswith("launcher_") for n in names)


@pytest.mark.parametrize(
    "seconds, expected",
    [(0, "0 s"), (59, "59 s"), (60, "1 min"), (3599, "59 min"), (3660, "1 h 01 min"),
     (90000, "1 d 1 h"), (-5, "0 s")],
)  # fmt: skip
def test_duration(seconds, expected):
    assert text.duration(seconds) == expected


def test_figures_and_sentences():
    now = datetime(2026, 11, 25, 10, 30)
    assert text.since("2026-11-25T09:12:00Z", now) == "09:12 UTC (1 h 18 min ago)"
    assert text.since("2026-11-24T09:12:00Z", now) == "Tue 24 Nov 09:12 UTC (1 d 1 h ago)"
    assert [text.hours(v) for v in (None, 0, 1.5, 2.25, 10.0)] == [
        "unlimited",
        "0",
        "1.5",
        "2.25",
        "10",
    ]
    assert [text.memory(v) for v in (None, 512, 40960)] == ["?", "512 MiB", "40 GB"]
    assert [text.step(s) for s in (60, 900, 7200)] == ["1 min", "15 min", "2 h"]
    entry = {
        "actor": "admin",
        "action": "release_gpu",
        "target": "ann",
        "course": "dl",
        "details": "GPU 0 (A100)",
    }
    assert text.action(entry) == "admin released the GPU of ann (dl): GPU 0 (A100)."


# --- in the visitor's language, times in the site's zone ----------------------------------

ZH_SHANGHAI = Reader("zh_CN", "Asia/Shanghai")
EN_SHANGHAI = Reader("en", "Asia/Shanghai")


def axis_labels(span, first, count, reader):
    start = datetime.fromisoformat(first.removesuffix("Z"))
    step = {"hour": 60, "day": 900, "week": 7200}[span]
    starts = [(start + timedelta(seconds=step * i)).isoformat() + "Z" for i in range(count)]
    root = ET.fromstring(charts.line_chart("c", "t", [1] * count, starts, span, 100, reader=reader))
    return [t.text for t in root.iter(f"{SVG}text") if t.get("y") == str(charts.HEIGHT - 8)]


def test_the_time_axis_is_in_the_sites_zone():
    # 10:45 UTC is 18:45 in Beijing: the labels fall on Beijing's round hours
    assert axis_labels("day", "2026-11-24T10:45:00Z", 96, EN_SHANGHAI) == [
        "20:00", "00:00", "04:00", "08:00", "12:00", "16:00"
    ]  # fmt: skip
    # the week: Beijing's days (12:00 UTC on the 18th is 20:00 there), in Chinese
    assert axis_labels("week", "2026-11-18T12:00:00Z", 84, ZH_SHANGHAI) == [
        "19日 周四", "20日 周五", "21日 周六", "22日 周日", "23日 周一", "24日 周二", "25日 周三"
    ]  # fmt: skip
    # a zone whose offset is no whole number of buckets (+05:30, buckets of 2 h): the first
    # bucket of each local day gets its label
    kolkata = axis_labels("week", "2026-11-18T12:00:00Z", 84, Reader("en", "Asia/Kolkata"))
    assert kolkata == ["Thu 19", "Fri 20", "Sat 21", "Sun 22", "Mon 23", "Tue 24", "Wed 25"]


def test_the_chart_speaks_chinese():
    svg = charts.line_chart("c", "利用率", [10, None], STARTS[:2], "hour", 100, "%", 1, ZH)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}desc").text == "最近一小时：平均 10%，峰值 10%，最新 10%。"
    empty = ET.fromstring(charts.line_chart("c", "t", [None], STARTS[:1], "day", 1, reader=ZH))
    assert empty.find(f"{SVG}desc").text == "最近一日内没有采样数据。"
    assert "此时段内还没有采样数据" in ET.tostring(empty, encoding="unicode")


def test_figures_and_sentences_in_chinese_and_in_the_zone():
    now = datetime(2026, 11, 25, 10, 30)  # 18:30 in Beijing
    assert text.since("2026-11-25T09:12:00Z", now, ZH_SHANGHAI) == "17:12 CST（1 小时 18 分前）"
    assert text.since("2026-11-25T09:12:00Z", now, EN_SHANGHAI) == "17:12 CST (1 h 18 min ago)"
    # 15:59 UTC on the 24th is 23:59 there: yesterday in Beijing, though today in UTC
    assert text.since("2026-11-24T15:59:00Z", now, EN_SHANGHAI) == (
        "Tue 24 Nov 23:59 CST (18 h 31 min ago)"
    )
    assert text.since("2026-11-24T16:01:00Z", now, EN_SHANGHAI).startswith("00:01 CST")
    assert text.when("2026-11-30T00:00:00Z", ZH_SHANGHAI) == "11月30日 周一 08:00 CST"
    assert text.when("2026-11-30T00:00:00Z") == "Mon 30 Nov 00:00 UTC"
    assert text.stamp(datetime(2026, 11, 25, 9, 30), ZH_SHANGHAI) == "2026-11-25 17:30 CST"
    assert [text.duration(s, ZH) for s in (5, 600, 3660, 90000)] == [
        "5 秒",
        "10 分钟",
        "1 小时 01 分",
        "1 天 1 小时",
    ]
    assert text.hours(None, ZH) == "不限" and text.step(7200, ZH) == "2 小时"
    assert text.this_period("week", ZH) == "本周" and text.span("day", ZH) == "日"
    entry = {"actor": "admin", "action": "grant", "target": "ann", "course": "dl"}
    entry["details"] = "+2.5 GPU-hours this period"
    assert text.action(entry, ZH) == "admin 调整了 ann（dl） 的配额：本周期 +2.5 GPU 小时。"
    assert text.action(entry) == "admin changed the quota of ann (dl): +2.5 GPU-hours this period."
    stop = {**entry, "action": "stop_server", "details": "GPU 1 (A100); container l_ann_dl"}
    assert text.action(stop, ZH) == "admin 停止了 ann（dl） 的服务器：GPU 1 (A100)；容器 l_ann_dl。"
    odd = {**entry, "action": "rename", "course": "", "details": ""}
    assert text.action(odd) == "admin: rename ann."

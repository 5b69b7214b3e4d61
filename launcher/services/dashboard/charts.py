"""Line charts as SVG, rendered on the server (pure; no JavaScript, no CDN: works air-gapped).

:func:`line_chart` draws one series of buckets (None: no samples there, a gap in the line)
over a time axis. The SVG scales to its container (``viewBox``, width 100%) and carries a
text summary for screen readers (``<title>``/``<desc>``) and ``data-points`` for tests. Its
words are in the reader's language, its time axis in the site's zone (the reader's).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from launcher import localtime
from launcher.i18n import ENGLISH, Reader
from launcher.services.dashboard import text

WIDTH, HEIGHT = 480, 190
LEFT, RIGHT, TOP, BOTTOM = 42, 14, 10, 24
#: x-axis labels per range: the seconds (since local midnight) whose multiples get one
LABELS = {"hour": 600, "day": 4 * 3600, "week": 86400}


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _runs(
    points: Sequence[tuple[float, float] | None], max_gap: int
) -> list[list[tuple[float, float]]]:
    """The lines to draw: consecutive points, split where fewer than ``max_gap`` buckets in a
    row had no data (buckets narrower than the sampling interval are bridged)."""
    runs: list[list[tuple[float, float]]] = [[]]
    missing = 0
    for p in points:
        if p is None:
            missing += 1
            continue
        if missing >= max_gap and runs[-1]:
            runs.append([])
        runs[-1].append(p)
        missing = 0
    return [r for r in runs if r]


def line_chart(
    chart_id: str,
    title: str,
    values: Sequence[float | None],
    starts: Sequence[str],
    span: str,
    y_max: float,
    unit: str = "",
    max_gap: int = 1,
    reader: Reader = ENGLISH,
) -> str:
    """An SVG line chart of ``values`` (one per bucket; ``starts``: UTC ISO times of the
    buckets) from 0 to ``y_max`` (at least 1); a line goes over fewer than ``max_gap`` empty
    buckets. Words in ``reader``'s language, times in its zone."""
    y_max = max(float(y_max), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(values), 1)
    step = plot_w / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return LEFT + i * step, TOP + plot_h * (1 - min(v, y_max) / y_max)

    points = [None if v is None else xy(i, v) for i, v in enumerate(values)]
    known = [v for v in values if v is not None]
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{chart_id}-t {chart_id}-d" id="{chart_id}"'
        f' data-points="{len(known)}" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(summary(values, unit, span, reader))}</desc>',
    ]
    parts += _grid(y_max, unit, plot_w, plot_h)
    parts += _x_labels(starts, span, step, reader)
    for run in _runs(points, max_gap):
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        base = TOP + plot_h
        area = f"{run[0][0]:.1f},{base} {line} {run[-1][0]:.1f},{base}"
        parts.append(f'<polygon class="area" points="{area}"/>')
        if len(run) == 1:
            parts.append(f'<circle class="line" cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2"/>')
        else:
            parts.append(f'<polyline class="line" points="{line}"/>')
    if not known:
        empty = escape(reader._("No samples in this period yet"))
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" '
            f'text-anchor="middle">{empty}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _grid(y_max: float, unit: str, plot_w: float, plot_h: float) -> list[str]:
    parts = []
    for k in range(5):
        value = y_max * k / 4
        y = TOP + plot_h * (1 - k / 4)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    return parts


def _x_labels(starts: Sequence[str], span: str, step: float, reader: Reader) -> list[str]:
    """Labels at round times along the axis (every 10 minutes, 4 hours, day) in the site's
    zone: the bucket on a round time, or the first after one (a zone whose offset is not a
    whole number of buckets)."""
    every = LABELS.get(span, 3600)
    parts = []
    previous = None
    for i, start in enumerate(starts):
        at = localtime.local(datetime.fromisoformat(start.removesuffix("Z")), reader.zone)
        midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
        slot = (at.toordinal(), int((at - midnight).total_seconds()) // every)
        on_time = (at.hour * 3600 + at.minute * 60 + at.second) % every == 0
        crossed = previous is not None and slot != previous
        previous = slot
        if not (on_time or crossed):
            continue
        label = text.weekday(at, reader) if span == "week" else at.strftime("%H:%M")
        parts.append(
            f'<text class="axis" x="{LEFT + i * step:.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return parts


def summary(values: Sequence[float | None], unit: str, span: str, reader: Reader = ENGLISH) -> str:
    """A sentence for screen readers: mean, peak and latest value of the period."""
    known = [v for v in values if v is not None]
    period = text.span(span, reader)
    if not known:
        return reader._("No samples in the last {span}.").format(span=period)
    latest = next(v for v in reversed(values) if v is not None)
    return reader._("Over the last {span}: mean {mean}, peak {peak}, latest {latest}.").format(
        span=period,
        mean=f"{_fmt(sum(known) / len(known))}{unit}",
        peak=f"{_fmt(max(known))}{unit}",
        latest=f"{_fmt(latest)}{unit}",
    )

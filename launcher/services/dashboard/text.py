"""Figures as people read them on the dashboard's pages (pure)."""

from __future__ import annotations

from datetime import datetime


def parse(iso: str) -> datetime:
    """A naive UTC datetime from the ISO strings the aggregates produce (``...Z``)."""
    return datetime.fromisoformat(iso.removesuffix("Z"))


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``, ``3 d 4 h``."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def step(seconds: int) -> str:
    """The width of a chart's bucket: ``1 min``, ``15 min``, ``2 h``."""
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"


def since(iso: str | None, now: datetime) -> str:
    """``09:12 UTC (2 h 05 min ago)``; the date too when it was not today."""
    if not iso:
        return ""
    at = parse(iso)
    clock = (
        at.strftime("%H:%M UTC") if at.date() == now.date() else at.strftime("%a %d %b %H:%M UTC")
    )
    return f"{clock} ({duration((now - at).total_seconds())} ago)"


def when(iso: str | None) -> str:
    return parse(iso).strftime("%a %d %b %H:%M UTC") if iso else ""


def hours(value: float | None) -> str:
    """GPU-hours with at most two decimals; None is unlimited."""
    return "unlimited" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def memory(mib: int | None) -> str:
    if mib is None:
        return "?"
    return f"{mib / 1024:.0f} GB" if mib >= 1024 else f"{mib} MiB"


ACTIONS = {
    "stop_server": "stopped the server of",
    "release_gpu": "released the GPU of",
    "grant": "changed the quota of",
}


def action(entry: dict) -> str:
    """One audit entry as a sentence: ``admin released the GPU of ann (dl101): GPU 2``."""
    verb = ACTIONS.get(entry["action"], entry["action"])
    course = f" ({entry['course']})" if entry["course"] else ""
    details = f": {entry['details']}" if entry["details"] else ""
    return f"{entry['actor']} {verb} {entry['target']}{course}{details}."

"""Figures as people read them on the dashboard's pages (pure): in the visitor's language
(a :class:`~launcher.i18n.Reader`; English when none is given) and, for times, in the site's
time zone (the reader's), with the zone's abbreviation. The JSON API keeps the aggregates'
UTC ISO strings; only what a person reads goes through here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from launcher import localtime
from launcher.i18n import ENGLISH, N_, Reader

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (
    N_("Jan"),
    N_("Feb"),
    N_("Mar"),
    N_("Apr"),
    N_("May"),
    N_("Jun"),
    N_("Jul"),
    N_("Aug"),
    N_("Sep"),
    N_("Oct"),
    N_("Nov"),
    N_("Dec"),
)
#: a chart's period, as the tabs and the charts' summaries name it
SPANS = {"hour": N_("hour"), "day": N_("day"), "week": N_("week")}
#: "this <quota period>"
THIS_PERIOD = {"day": N_("today"), "week": N_("this week"), "month": N_("this month")}


def parse(iso: str) -> datetime:
    """A naive UTC datetime from the ISO strings the aggregates produce (``...Z``)."""
    return datetime.fromisoformat(iso.removesuffix("Z"))


def duration(seconds: float, r: Reader = ENGLISH) -> str:
    """``45 s``, ``12 min``, ``2 h 05 min``, ``3 d 4 h``."""
    _ = r._
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return _("{seconds} s").format(seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("{hours} h {minutes:02d} min").format(hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return _("{days} d {hours} h").format(days=days, hours=hours)


def step(seconds: int, r: Reader = ENGLISH) -> str:
    """The width of a chart's bucket: ``1 min``, ``15 min``, ``2 h``."""
    if seconds >= 3600:
        return r._("{hours} h").format(hours=seconds // 3600)
    return r._("{minutes} min").format(minutes=seconds // 60)


def day(at: datetime, r: Reader = ENGLISH) -> str:
    """``Tue 24 Nov`` (``11月24日 周二``) of an aware or local datetime, as it is."""
    return r._("{weekday} {day} {month}").format(
        weekday=r._(WEEKDAYS[at.weekday()]), day=at.day, month=r._(MONTHS[at.month - 1])
    )


def weekday(at: datetime, r: Reader = ENGLISH) -> str:
    """``Thu 19`` (``19日 周四``): a chart's label for a day of the week."""
    return r._("{weekday} {day}").format(weekday=r._(WEEKDAYS[at.weekday()]), day=at.day)


def _day_and_clock(at: datetime, r: Reader) -> str:
    """``Tue 24 Nov 09:12 UTC`` of naive UTC ``at``, in the reader's zone."""
    shown = localtime.local(at, r.zone)
    return r._("{day} {time}").format(day=day(shown, r), time=r.clock(at))


def moment(iso: str | None, now: datetime, r: Reader = ENGLISH) -> str:
    """``09:12 UTC``; the date too when it was not today (in the zone)."""
    if not iso:
        return ""
    at = parse(iso)
    today = localtime.local(at, r.zone).date() == localtime.local(now, r.zone).date()
    return r.clock(at) if today else _day_and_clock(at, r)


def age(iso: str | None, now: datetime, r: Reader = ENGLISH) -> str:
    """How long ago: ``2 h 05 min``."""
    return duration((now - parse(iso)).total_seconds(), r) if iso else ""


def since(iso: str | None, now: datetime, r: Reader = ENGLISH) -> str:
    """``09:12 UTC (2 h 05 min ago)``; the date too when it was not today (in the zone)."""
    if not iso:
        return ""
    return r._("{time} ({duration} ago)").format(
        time=moment(iso, now, r), duration=age(iso, now, r)
    )


def when(iso: str | None, r: Reader = ENGLISH) -> str:
    """``Mon 30 Nov 00:00 CST``: a day and a time in the zone (a quota's reset)."""
    return _day_and_clock(parse(iso), r) if iso else ""


def stamp(at: datetime | None, r: Reader = ENGLISH) -> str:
    """``2026-11-25 17:30 CST``: an audit entry's time (naive UTC) in the zone."""
    return r.when(at) if at is not None else ""


def hours(value: float | None, r: Reader = ENGLISH) -> str:
    """GPU-hours with at most two decimals; None is unlimited."""
    return r._("unlimited") if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def memory(mib: int | None) -> str:
    if mib is None:
        return "?"
    return f"{mib / 1024:.0f} GB" if mib >= 1024 else f"{mib} MiB"


def span(name: str, r: Reader = ENGLISH) -> str:
    """A chart's period (``hour``, ``day``, ``week``) in the reader's language."""
    return r._(SPANS[name]) if name in SPANS else name


def this_period(period: str, r: Reader = ENGLISH) -> str:
    """``this week``, ``today``, ``this month``."""
    return r._(THIS_PERIOD[period]) if period in THIS_PERIOD else period


#: an audit entry of the dashboard as a sentence (``target``: the student, with the course)
ACTIONS = {
    "stop_server": N_("{actor} stopped the server of {target}"),
    "release_gpu": N_("{actor} released the GPU of {target}"),
    "grant": N_("{actor} changed the quota of {target}"),
}
_GRANT = re.compile(r"([+-][0-9.e+-]+) GPU-hours this period")
_STOP = re.compile(r"(.*); container (\S+)")


def details(text: str, r: Reader = ENGLISH) -> str:
    """An audit entry's details (English in the store) in the reader's language, where they
    have one of the forms the dashboard writes; else as they are."""
    found = _GRANT.fullmatch(text)
    if found:
        return r._("{hours} GPU-hours this period").format(hours=found.group(1))
    found = _STOP.fullmatch(text)
    if found:
        return r._("{gpus}; container {container}").format(
            gpus=found.group(1), container=found.group(2)
        )
    return text


def action(entry: dict, r: Reader = ENGLISH) -> str:
    """One audit entry as a sentence: ``admin released the GPU of ann (dl): GPU 2.``"""
    _ = r._
    target = entry["target"]
    if entry["course"]:
        target = _("{user} ({course})").format(user=target, course=entry["course"])
    verb = ACTIONS.get(entry["action"])
    if verb is None:
        what = _("{actor}: {action} {target}").format(
            actor=entry["actor"], action=entry["action"], target=target
        )
    else:
        what = _(verb).format(actor=entry["actor"], target=target)
    if entry["details"]:
        return _("{what}: {details}.").format(what=what, details=details(entry["details"], r))
    return _("{what}.").format(what=what)


class Words:
    """The functions above bound to one reader and one ``now``: what the templates call
    (``text.since(iso)``, ``text.hours(x)``, ...)."""

    def __init__(self, reader: Reader = ENGLISH, now: datetime | None = None):
        self.reader = reader
        self.now = now

    def duration(self, seconds: float) -> str:
        return duration(seconds, self.reader)

    def step(self, seconds: int) -> str:
        return step(seconds, self.reader)

    def _now(self) -> datetime:
        return self.now or datetime.now(UTC).replace(tzinfo=None)

    def since(self, iso: str | None) -> str:
        return since(iso, self._now(), self.reader)

    def moment(self, iso: str | None) -> str:
        return moment(iso, self._now(), self.reader)

    def age(self, iso: str | None) -> str:
        return age(iso, self._now(), self.reader)

    def when(self, iso: str | None) -> str:
        return when(iso, self.reader)

    def stamp(self, at: datetime | None) -> str:
        return stamp(at, self.reader)

    def hours(self, value: float | None) -> str:
        return hours(value, self.reader)

    def memory(self, mib: int | None) -> str:
        return memory(mib)

    def span(self, name: str) -> str:
        return span(name, self.reader)

    def this_period(self, period: str) -> str:
        return this_period(period, self.reader)

    def action(self, entry: dict) -> str:
        return action(entry, self.reader)

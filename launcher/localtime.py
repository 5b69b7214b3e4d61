"""The site's time zone (``hub.timezone``): what people read is in local time; the store, the
JSON API and the logs keep UTC.

The store holds naive UTC datetimes; :func:`local` turns one into an aware datetime in the
site's zone, :func:`clock` and :func:`when` into text a person reads (the zone's abbreviation
included, so "08:00 CST" is never mistaken for UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "UTC"


def zone_problem(name: str) -> str | None:
    """A sentence when ``name`` is not an IANA time zone this machine knows, else None."""
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return (
            f"{name!r} is not a time zone name this machine knows; use an IANA name such as "
            "Asia/Shanghai, Europe/Berlin or UTC"
        )
    return None


@lru_cache(maxsize=32)
def zone(name: str = DEFAULT_ZONE) -> tzinfo:
    """The zone called ``name`` (``UTC`` for an empty name)."""
    if not name or name == "UTC":
        return UTC
    return ZoneInfo(name)


def local(at: datetime, where: tzinfo | str = DEFAULT_ZONE) -> datetime:
    """``at`` (naive UTC, as in the store, or aware) as an aware datetime in the zone."""
    place = zone(where) if isinstance(where, str) else where
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(place)


def utc(at: datetime) -> datetime:
    """An aware datetime back to naive UTC (the store's form)."""
    if at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


def clock(at: datetime, where: tzinfo | str = DEFAULT_ZONE, seconds: bool = False) -> str:
    """``14:05 CST``: the time of day in the zone, with the zone's abbreviation."""
    shown = local(at, where)
    return shown.strftime("%H:%M:%S %Z" if seconds else "%H:%M %Z")


def when(at: datetime, where: tzinfo | str = DEFAULT_ZONE) -> str:
    """``2026-12-07 00:00 CST``: date and time in the zone, with the zone's abbreviation."""
    return local(at, where).strftime("%Y-%m-%d %H:%M %Z")


def iso_utc(at: datetime | None) -> str | None:
    """The JSON API's form: UTC ISO-8601 with its offset (``2026-12-04T06:00:00+00:00``)."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat()

"""Session limits per course (pure): idle timeout, maximum age, and GPU-idle culling.

The culler service (``launcher.services.culler.service``) feeds these functions what it sees: the running
servers with their activity, the GPU units each holds, and the utilisation NVML reports; they
answer what to do. No clock, hub or Docker call in here.

* **idle**: no activity (web traffic or kernel activity reported by JupyterLab) for
  ``idle_timeout`` seconds: stop, unless the server's GPU is busy now. A training job a
  student started over SSH (``nohup``, then disconnected) makes no JupyterLab activity but
  keeps its GPU above 0%: it is not "idle" (``max_age``, the quota and GPU idle still
  apply). Busy counts only a reading that is the server's own (:func:`gpu_busy_servers`):
  a whole GPU no other running server holds, with a figure NVML gave. A MIG instance (it
  reports its GPU's figure) or a GPU shared with other students cannot say whose work it
  is, and an unknown reading says nothing: such servers are stopped when idle, as a
  CPU-only one is.
* **max age**: ``max_age`` seconds after the start: stop, however busy.
* **quota**: a GPU session whose student's GPU-hour quota for the course runs out during it:
  a warning ``quota_warning`` seconds before, then a stop that frees the GPU (the quota is
  not only checked at the start).
* **GPU idle**: every GPU the server holds showed 0% utilisation at every sample for
  ``gpu_idle_timeout`` seconds: a warning the student sees ``gpu_idle_warning`` seconds before,
  then a stop that frees the GPU. Any sample above 0% (or one NVML cannot read) restarts the
  count, so a GPU is never taken from a student who is using it.

The sentences give times (when a warned stop comes, when a quota resets) in the site's time
zone (``hub.timezone``) with its abbreviation: the warning is a file read later, so it says
"at 14:05 CST" as well as "in 5 minutes".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from launcher import localtime
from launcher.gpu.quota import QuotaUse, day_and_time
from launcher.i18n import ENGLISH, N_, Reader
from launcher.settings import CourseSession


@dataclass(frozen=True)
class Server:
    user: str
    name: str  # "" for the default server
    course: str
    started: datetime
    last_activity: datetime | None
    gpus: tuple[str, ...] = ()  # the UUIDs of the GPU units it holds
    container: str = ""  # its container (as recorded when it started)

    @property
    def key(self) -> tuple[str, str]:
        return (self.user, self.name)


@dataclass(frozen=True)
class Verdict:
    server: Server
    action: Literal["stop", "warn"]
    reason: Literal["idle", "max_age", "quota", "gpu_idle"]
    message: str
    stop_at: datetime | None = None  # a warning's stop (naive UTC)


def _minutes(seconds: float, reader: Reader = ENGLISH) -> str:
    minutes = max(1, round(seconds / 60))
    return reader.ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)


#: "this week": the period of a quota in a sentence
_THIS_PERIOD = {"day": N_("this day"), "week": N_("this week"), "month": N_("this month")}


def _at(now: datetime, seconds: float, reader: Reader) -> str:
    """The time of day ``seconds`` after ``now``, in the reader's zone."""
    return reader.clock(now + timedelta(seconds=seconds))


def track_gpu_idle(
    previous: Mapping[tuple[str, str], datetime],
    servers: Iterable[Server],
    utilisation: Mapping[str, int | None],
    now: datetime,
) -> dict[tuple[str, str], datetime]:
    """Since when each GPU server has been idle (all its units at 0%); busy or unknown: absent.

    ``utilisation`` maps a unit UUID (a MIG instance maps to its GPU's figure) to percent.
    """
    idle_since = {}
    for server in servers:
        if not server.gpus:
            continue
        readings = [utilisation.get(uuid) for uuid in server.gpus]
        if all(r == 0 for r in readings):
            idle_since[server.key] = previous.get(server.key, now)
    return idle_since


def gpu_busy_servers(
    servers: Iterable[Server],
    utilisation: Mapping[str, int | None],
    whole_gpus: Collection[str],
) -> set[tuple[str, str]]:
    """The servers whose own work keeps a GPU busy now: a unit they hold reads above 0%, and
    the figure is theirs alone: the unit is a whole GPU (in ``whole_gpus``; a MIG instance
    reports its GPU's figure, perhaps a neighbour's work) that no other running server holds
    (a shared GPU). An unknown reading (None, or none at all) is never busy."""
    servers = list(servers)
    holders = Counter(uuid for server in servers for uuid in set(server.gpus))
    return {
        server.key
        for server in servers
        if any(
            uuid in whole_gpus and holders[uuid] == 1 and (utilisation.get(uuid) or 0) > 0
            for uuid in server.gpus
        )
    }


def judge(
    server: Server,
    limits: CourseSession,
    now: datetime,
    gpu_idle_since: datetime | None = None,
    quota: QuotaUse | None = None,
    zone: tzinfo | str = localtime.DEFAULT_ZONE,
    reader: Reader | None = None,
    gpu_busy: bool = False,
) -> Verdict | None:
    """What to do with one running server now (None: leave it alone). ``quota``: the
    student's use of the course's GPU-hour quota, running session included (None: no
    quota); ``zone``: the site's time zone, of the times in the sentences; ``reader``: the
    student's language (English in ``zone`` by default); ``gpu_busy``: its own GPU is in
    use now (:func:`gpu_busy_servers`), so no activity in JupyterLab does not make it idle."""
    reader = reader or Reader(ENGLISH.lang, zone)
    _ = reader._
    if limits.max_age and now - server.started >= timedelta(seconds=limits.max_age):
        return Verdict(
            server,
            "stop",
            "max_age",
            _(
                "Your {course} session reached its limit of {limit}; your files are kept. "
                "Start it again from the hub's home page."
            ).format(course=server.course, limit=_minutes(limits.max_age, reader)),
        )
    last = server.last_activity or server.started
    busy = gpu_busy and bool(server.gpus)  # e.g. a job started over SSH, still computing
    if limits.idle_timeout and not busy and now - last >= timedelta(seconds=limits.idle_timeout):
        return Verdict(
            server,
            "stop",
            "idle",
            _(
                "Your {course} session was stopped after {idle} without activity; your files "
                "are kept."
            ).format(course=server.course, idle=_minutes(limits.idle_timeout, reader)),
        )
    if quota is not None and quota.left is not None and server.gpus:
        left = quota.left * 3600 / len(server.gpus)  # the hours run on every unit held
        if left <= 0:
            return Verdict(
                server,
                "stop",
                "quota",
                _(
                    "Your {course} session was stopped: you have used your {limit} GPU-hours "
                    "for {period}. Your files are kept; the quota resets on {when}."
                ).format(
                    course=server.course,
                    limit=f"{quota.limit:g}",
                    period=_(_THIS_PERIOD.get(quota.quota.period, quota.quota.period)),
                    when=day_and_time(quota.resets, reader),
                ),
            )
        if left <= limits.quota_warning:
            return Verdict(
                server,
                "warn",
                "quota",
                _(
                    "Your GPU-hour quota for {course} runs out in {left} (at {at}); this "
                    "session will then be stopped to free the GPU. Save your work; your files "
                    "are kept either way."
                ).format(
                    course=server.course,
                    left=_minutes(left, reader),
                    at=_at(now, left, reader),
                ),
                now + timedelta(seconds=left),
            )
    if limits.gpu_idle_timeout and gpu_idle_since is not None:
        idle = (now - gpu_idle_since).total_seconds()
        left = limits.gpu_idle_timeout - idle
        if left <= 0:
            return Verdict(
                server,
                "stop",
                "gpu_idle",
                _(
                    "Your {course} session was stopped because its GPU was unused for {idle}, "
                    "and others are waiting for GPUs. Your files are kept; start it again when "
                    "you need the GPU."
                ).format(course=server.course, idle=_minutes(limits.gpu_idle_timeout, reader)),
            )
        if left <= limits.gpu_idle_warning:
            return Verdict(
                server,
                "warn",
                "gpu_idle",
                _(
                    "Your GPU has been unused for {idle}. This session will be stopped in "
                    "{left} (at {at}) to free the GPU for others unless you use it (run a cell "
                    "that uses CUDA). Your files are kept either way."
                ).format(
                    idle=_minutes(idle, reader),
                    left=_minutes(left, reader),
                    at=_at(now, left, reader),
                ),
                now + timedelta(seconds=left),
            )
    return None

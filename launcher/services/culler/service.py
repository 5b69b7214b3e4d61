"""The culler: a JupyterHub-managed service that enforces each course's session limits.

Every ``hub.cull_interval`` seconds it lists the running servers (hub API), reads the GPUs'
utilisation (nvidia-smi), asks :mod:`launcher.services.culler.rules` what to do, writes the GPU-idle
or quota warning into the student's home (``~/GPU-IDLE-WARNING.txt``: JSON, see :func:`notice_text`;
JupyterLab's ``launcher-notices`` extension shows it as a notification, images/labextension) and
stops servers through the hub API. Its token has only the scopes it needs: ``list:users``,
``read:users:activity``, ``read:users:groups``, ``read:servers`` and ``delete:servers``.

Run by the hub (``JupyterHub.services``); ``python -m launcher.services.culler.service --once`` checks once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import docker
import docker.errors
import requests

from launcher import catalog, i18n, lifecycle, names
from launcher.gpu import metrics
from launcher.gpu.inventory import Unit
from launcher.gpu.quota import Quota, QuotaUse, period_bounds, use
from launcher.i18n import Reader
from launcher.preflight import GpuConfigError, gpu_inventory
from launcher.services.culler.rules import (
    Server,
    Verdict,
    gpu_busy_servers,
    judge,
    track_gpu_idle,
)
from launcher.settings import Course, Site, load_site
from launcher.store import utcnow

NOTICE = "GPU-IDLE-WARNING.txt"
#: the notice's format (its "version" field), as images/labextension reads it
NOTICE_VERSION = 1
#: seconds the notice's command may take in the container, and any Docker call of the culler
NOTICE_TIMEOUT = 5
DOCKER_TIMEOUT = 15
log = logging.getLogger("launcher.services.culler.rules")


def notice_text(verdict: Verdict, now: datetime, language: str = i18n.DEFAULT) -> str:
    """The notice file for ``verdict`` (a warning, or a stop the student did not choose): JSON
    a person reads too (the sentence first, in the student's language) and JupyterLab's
    extension acts on: ``action`` ``warn`` (a notification until ``stop_at``) or ``stopped``
    (kept for the student to read, never shown as a warning), ``stop_at`` the stop's time in
    UTC (ISO-8601, ``Z``), ``reason`` ``gpu_idle`` or ``quota``, ``language`` the sentence's
    (``en``, ``zh_CN``: the extension's buttons speak it too)."""
    stop_at = verdict.stop_at if verdict.action == "warn" and verdict.stop_at else now
    document = {
        "message": verdict.message,
        "action": "warn" if verdict.action == "warn" else "stopped",
        "reason": verdict.reason,
        "stop_at": stop_at.replace(microsecond=0).isoformat() + "Z",
        "course": verdict.server.course,
        "language": language,
        "version": NOTICE_VERSION,
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


class HubApi:
    """The few hub API calls the culler makes, with its service token."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def active_users(self) -> list[dict]:
        users, offset = [], 0
        while True:
            resp = self.session.get(
                f"{self.url}/users",
                params={"state": "active", "offset": offset, "limit": 200},
                headers={"Accept": "application/jupyterhub-pagination+json"},
                timeout=30,
            )
            resp.raise_for_status()
            page = resp.json()
            users += page["items"]
            if not page["_pagination"].get("next"):
                return users
            offset = page["_pagination"]["next"]["offset"]

    def stop(self, user: str, server: str) -> None:
        resp = self.session.delete(f"{self.url}{names.server_path(user, server)}", timeout=30)
        if resp.status_code not in (202, 204, 404):
            resp.raise_for_status()


class Culler:
    def __init__(
        self,
        site: Site,
        api: HubApi,
        units: list[Unit],
        read_gpus: Callable[[], dict[str, metrics.Reading]],
        docker_client,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.site = site
        self.api = api
        self.units = units
        self.read_gpus = read_gpus
        self.docker = docker_client
        self.clock = clock
        self.catalog = catalog.for_site(site)
        self.idle_since: dict[tuple[str, str], datetime] = {}
        self.warned: set[tuple[str, str]] = set()
        self.languages: dict[tuple, str] = {}  # (container, started) -> the student's language

    def servers(self) -> list[Server]:
        """The running servers, each with the course it was started for (recorded by the
        spawner at its start, not derived from today's rosters)."""
        courses = self.catalog.courses()
        started = self.catalog.store.running_servers()
        held: dict[tuple[str, str], list[str]] = {}
        for a in self.catalog.store.active():
            held.setdefault((a.username, a.server), []).append(a.unit_uuid)
        found = []
        for user in self.api.active_users():
            for name, server in (user.get("servers") or {}).items():
                record = started.get((user["name"], name))
                if not server.get("ready") or record is None or record.course not in courses:
                    continue
                found.append(
                    Server(
                        user["name"],
                        name,
                        record.course,
                        _time(server.get("started")) or self.clock(),
                        _time(server.get("last_activity")),
                        tuple(held.get((user["name"], name), ())),
                        record.container,
                    )
                )
        return found

    def check(self) -> list[Verdict]:
        """One round: judge every running server, warn and stop as needed."""
        now = self.clock()
        servers = self.servers()
        readings = metrics.per_unit(self.read_gpus(), self.units)
        utilisation = {uuid: r.utilisation for uuid, r in readings.items()}
        self.idle_since = track_gpu_idle(self.idle_since, servers, utilisation, now)
        # busy by their own work (a job run over SSH, say): not idle without JupyterLab
        whole = {u.uuid for u in self.units if u.gpu_uuid == u.uuid}
        busy = gpu_busy_servers(servers, utilisation, whole)
        courses = self.catalog.courses()
        verdicts = []
        for server in servers:
            course = courses[server.course]
            verdict = judge(
                server,
                course.session,
                now,
                self.idle_since.get(server.key),
                self._quota_use(server, course, now),
                self.site.hub.timezone,
                self._reader(server),
                gpu_busy=server.key in busy,
            )
            if verdict is None and server.key in self.warned:
                self._notice(server, None)  # busy again: take the warning back
                self.catalog.store.unwarn(server.user, server.name)
            elif verdict is not None:
                verdicts.append(verdict)
                self._carry_out(verdict, now)
        return verdicts

    def _reader(self, server: Server) -> Reader:
        """The student's language (the spawner put it in the container's environment at the
        start: LAUNCHER_LANGUAGE), in the site's zone; asked once per start."""
        key = (server.container, server.started)
        lang = self.languages.get(key)
        if lang is None:
            try:
                env = self.docker.containers.get(server.container).attrs["Config"]["Env"] or []
            except (docker.errors.DockerException, requests.RequestException, KeyError):
                env = []
            found = [e.split("=", 1)[1] for e in env if e.startswith("LAUNCHER_LANGUAGE=")]
            lang = i18n.normalize(found[0] if found else None) or self.site.hub.language
            self.languages[key] = lang
        return Reader(lang, self.site.hub.timezone)

    def _quota_use(self, server: Server, course: Course, now: datetime) -> QuotaUse | None:
        """The student's use of the course's GPU-hour quota, this session included (the
        same computation that admitted the start); None for a course without a quota."""
        if not server.gpus or course.quota.gpu_hours is None:
            return None
        quota = Quota.of(course.quota)
        zone = self.site.hub.timezone  # the site's periods, as the broker admits with
        start, _ = period_bounds(quota.period, now, zone)
        return use(quota, *self.catalog.store.usage(server.user, server.course, start), now, zone)

    def _carry_out(self, verdict: Verdict, now: datetime) -> None:
        server = verdict.server
        log.info("%s %s/%s: %s", verdict.action, server.user, server.name, verdict.reason)
        if verdict.action == "warn":
            if server.key not in self.warned:
                lang = self._reader(server).lang
                self._notice(server, notice_text(verdict, now, lang))  # in JupyterLab
                # on the course home (the store: the hub's pages read it)
                self.catalog.store.warn(server.user, server.name, verdict.reason, verdict.stop_at)
            return
        # the home keeps the sentence of a stop the student did not choose (GPU idle, quota)
        kept = verdict.reason in ("gpu_idle", "quota")
        lang = self._reader(server).lang
        self._notice(server, notice_text(verdict, now, lang) if kept else None)
        # the GPU stays held until the container is gone (the hub's post-stop hook ends the
        # allocation then); the ledger will say why it came back
        self.catalog.store.note_stop_reason(server.user, server.name, verdict.reason)
        self.api.stop(server.user, server.name)
        self.idle_since.pop(server.key, None)

    def _notice(self, server: Server, message: str | None) -> None:
        """Write ``message`` (:func:`notice_text`; None: remove the notice) into the student's
        home, without ever following or waiting on what the student put there: whatever has
        the name (a fifo, a symbolic link) is removed, a new file is created only if none
        exists again (the shell's noclobber: O_EXCL), the command is killed after a few
        seconds, and every Docker call has a timeout. A round never blocks on a student."""
        name = server.container
        script = f"rm -f -- ~/{NOTICE}" + (
            f' && set -C && printf "%s\\n" "$1" > ~/{NOTICE}' if message else ""
        )
        command = ["timeout", str(NOTICE_TIMEOUT), "sh", "-c", script, "sh", message or ""]
        try:
            container = self.docker.containers.get(name)
            container.exec_run(command, user="1000:100")
        except (docker.errors.DockerException, requests.RequestException) as exc:
            log.warning("cannot write the notice into %s: %s", name, exc)
        if message:
            self.warned.add(server.key)
        else:
            self.warned.discard(server.key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launcher-culler", description=__doc__)
    parser.add_argument("--config", help="site file (default: $LAUNCHER_CONFIG or the demo)")
    parser.add_argument("--once", action="store_true", help="check once and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[launcher-culler] %(message)s")
    site = load_site(args.config)
    try:
        units = gpu_inventory(catalog.effective_site(site))
    except GpuConfigError as exc:
        log.warning("no GPU utilisation (%s)", exc)
        units = []
    api = HubApi(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    culler = Culler(
        site,
        api,
        units,
        lambda: metrics.read(site.gpus.nvidia_smi),
        docker.from_env(timeout=DOCKER_TIMEOUT),
    )
    log.info("checking session limits every %ds", site.hub.cull_interval)
    while True:  # until SIGINT or SIGTERM (lifecycle.run_service)
        try:
            culler.check()
        except (requests.RequestException, docker.errors.DockerException) as exc:
            log.warning("this round failed, trying again: %s", exc)
        if args.once:
            return 0
        time.sleep(site.hub.cull_interval)  # the period between rounds


if __name__ == "__main__":
    raise SystemExit(lifecycle.run_service(main))

"""`launcher gpus`: the GPU map, and `launcher gpus release GPU|USER`.

What it prints for a person gives times in the site's time zone (``hub.timezone``) with its
abbreviation; ``--json`` keeps the dashboard API's UTC ISO-8601 times (``...Z``).
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, tzinfo

import docker.errors
import requests

from launcher import dockerhost, localtime
from launcher.board.live import LiveReadings
from launcher.board.view import Board
from launcher.catalog import for_site
from launcher.gpu import metrics
from launcher.gpu.inventory import Unit
from launcher.gpu.quota import grant_problem, period_bounds
from launcher.names import server_path
from launcher.preflight import GpuConfigError, gpu_inventory
from launcher.secrets import CLI_TOKEN_ENV, CLI_TOKEN_FILE, existing
from launcher.settings import Site
from launcher.store import Allocation, Store, utcnow


def gpu_map(site: Site, units: list[Unit], now: datetime) -> list[dict]:
    """One row per unit: what it is, what it does now, who holds it since when, and their
    quota use: the dashboard's GPU map, read through the same Board."""
    readings = LiveReadings(lambda: metrics.read(site.gpus.nvidia_smi), units)
    board = Board(for_site(site), units, readings, clock=lambda: now, zone=site.hub.timezone)
    return board.gpus(None)


def _shown(iso: str | None, zone: tzinfo | str) -> str:
    """A row's UTC time (``2026-11-22T06:08:24Z``) as a person reads it: ``2026-11-22 14:08
    CST`` in ``zone``."""
    if not iso:
        return "-"
    return localtime.when(datetime.fromisoformat(iso.removesuffix("Z")), zone)


def format_map(rows: list[dict], zone: tzinfo | str = localtime.DEFAULT_ZONE) -> str:
    """The GPU map as a table, its times in ``zone`` (the site's)."""
    if not rows:
        return "This host has no GPUs (gpus.source found none)."
    nodes = any(row.get("node") for row in rows)
    lines = [f"{'GPU':<5} {'NODE':<16} " if nodes else f"{'GPU':<5} "]
    lines[0] += f"{'MODEL':<28} {'MEMORY':>8}  {'HOLDER':<16} {'COURSE':<10} SINCE / QUOTA"
    for row in rows:
        memory = f"{row['memory_mib'] // 1024} GB" if row["memory_mib"] else "-"
        head = f"{row['index']:<5} " + (f"{row.get('node', '')[:16]:<16} " if nodes else "")
        head += f"{row['model'][:28]:<28} {memory:>8}  "
        if not row["holders"]:
            lines.append(head + "free")
        for h in row["holders"]:
            quota = (
                f"  {h['gpu_hours_used']:.1f}/{h['gpu_hours_quota']:g} GPU-h"
                if h["gpu_hours_quota"] is not None
                else ""
            )
            since = _shown(h["since"], zone)
            lines.append(head + f"{h['user'][:16]:<16} {h['course'][:10]:<10} {since}{quota}")
            head = " " * len(head)
    lines.append("")
    lines.append("UUIDs: " + ", ".join(f"{r['index']}={r['uuid']}" for r in rows))
    return "\n".join(lines)


def cmd_gpus(site: Site, as_json: bool) -> int:
    try:
        units = gpu_inventory(site)
    except GpuConfigError as exc:
        print(f"problem: {exc}")
        return 1
    rows = gpu_map(site, units, utcnow())
    print(json.dumps(rows, indent=2) if as_json else format_map(rows, site.hub.timezone))
    return 0


def _targets(store: Store, target: str, units: list[Unit]) -> list[Allocation]:
    unit_ids = {u.uuid for u in units if u.matches(target)}
    return [a for a in store.active() if a.unit_uuid in unit_ids or a.username == target]


def cmd_release(site: Site, target: str, wait_s: float = 60) -> int:
    """Stop the server(s) holding ``target`` (a GPU index/UUID or a username)."""
    try:
        units = gpu_inventory(site)
    except GpuConfigError as exc:
        print(f"problem: {exc}")
        return 1
    store = for_site(site).store
    holders = {(a.username, a.server) for a in _targets(store, target, units)}
    if not holders:
        print(f"Nothing to release: no GPU held by or named {target!r}.")
        return 0
    token = _token(site)
    for user, server in sorted(holders):
        store.note_stop_reason(user, server, "released_by_admin")
        try:
            resp = requests.delete(
                f"{site.hub.url}/hub/api{server_path(user, server)}",
                headers={"Authorization": f"token {token}"},
                timeout=30,
            )
        except requests.ConnectionError:
            _stop_behind_a_stopped_hub(store, user, server, site.docker.mode == "swarm")
            print(
                f"The hub at {site.hub.url} does not answer; stopped {user}'s container and "
                "freed its GPU."
            )
            continue
        if resp.status_code not in (202, 204):
            print(
                f"problem: the hub refused to stop {user}'s server: {resp.status_code} {resp.text}"
            )
            return 1
        print(f"Stopping {user}'s server to release its GPU (the hub logs the stop).")
    deadline = time.monotonic() + wait_s
    while _targets(store, target, units) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _targets(store, target, units)
    if left:
        print(f"problem: {len(left)} GPU unit(s) still held after {wait_s:.0f}s.")
        return 1
    print("Released.")
    return 0


def _stop_behind_a_stopped_hub(store: Store, user: str, server: str, services: bool) -> None:
    """With the hub down: remove the server's container (``services``: its swarm service)
    through Docker, then free its GPUs (never the other way round: a GPU is free only once
    no container can use it)."""
    client = dockerhost.client()
    for a in store.active():
        if a.username == user and a.server == server:
            with contextlib.suppress(docker.errors.NotFound):
                if services:  # its task stops with it
                    client.api.remove_service(a.container)
                else:
                    client.containers.get(a.container).remove(force=True)
    store.end_server(user, server, "released_by_admin", utcnow())


def cmd_grant(site: Site, user: str, course: str, hours: float, by: str) -> int:
    """Admin override: extra GPU-hours for one student in one course, this period."""
    if grant_problem(hours):
        print(f"problem: {grant_problem(hours)}")
        return 1
    if course not in site.courses:
        print(f"problem: there is no course {course!r} (courses: {', '.join(site.courses)}).")
        return 1
    if site.courses[course].quota.gpu_hours is None:
        print(f"problem: {course} has no GPU-hour quota, so there is nothing to extend.")
        return 1
    now, zone = utcnow(), site.hub.timezone
    for_site(site).store.grant(user, course, hours, by=by, at=now)
    period = site.courses[course].quota.period
    resets = period_bounds(period, now, zone)[1]
    until = f"{localtime.local(resets, zone):%a} {localtime.when(resets, zone)}"
    print(
        f"Granted {user} {hours:g} extra GPU-hours in {course} for this {period} "
        f"(until {until}, when the quota resets)."
    )
    return 0


def _token(site: Site) -> str:
    path = site.data_dir() / CLI_TOKEN_FILE
    try:
        found = existing(CLI_TOKEN_ENV, path)
    except OSError:
        found = None
    if found is None:
        raise SystemExit(
            f"Cannot read the launcher's hub token ({path}); run this as the hub's user, "
            f"or set {CLI_TOKEN_ENV}."
        )
    return found.value

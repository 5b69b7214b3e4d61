"""``launcher install``: the production install on this host, from the site file, idempotent
(a second run changes nothing). It writes the systemd units, Caddy's configuration and the
engine's live-restore, makes the secrets the services share (readable by root only), and on
a systemd host enables and starts the services; a PostgreSQL store that does not answer yet
gets its role and database (launcher.cli.database). See docs/howto/production.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from launcher import production
from launcher.cli import database
from launcher.secrets import ensure_private_dir, proxy_token
from launcher.settings import Site


def cmd_install(
    site: Site,
    site_file: Path,
    root: Path,
    start: bool,
    db_admin: str = "postgres",
    db_socket: str = "/var/run/postgresql",
    say=print,
) -> int:
    for note in production.production_notes(site):
        say(f"note: {note}")
    paths = production.Paths(
        root=root,
        site_file=site_file,
        launcher=Path(sys.prefix) / "bin" / "launcher",
        caddy=Path(shutil.which("caddy") or "/usr/bin/caddy"),
    )
    changed = []
    wanted = production.files(site, paths)
    current = paths.daemon_json.read_text() if paths.daemon_json.exists() else None
    if site.docker.mode == "local":  # the engine refuses live-restore in a swarm
        wanted[paths.daemon_json] = production.with_live_restore(current)
    for path, content in wanted.items():
        if write_if_changed(path, content):
            changed.append(path)
            say(f"wrote {path}")
        else:
            say(f"unchanged {path}")
    data = ensure_private_dir(site.data_dir())
    if proxy_token(data).created:
        say(f"generated the proxy's token in {data} (root only)")
    try:
        database.ensure(site.store_url(), db_admin, db_socket, say)
    except database.DatabaseSetupError as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    systemd = root == Path("/") and Path("/run/systemd/system").is_dir()
    if not start:
        say("Not started (--no-start).")
    elif systemd:
        return start_services(paths.daemon_json in changed, say)
    else:
        say("This host runs no systemd: start the services' ExecStart commands with your "
            "service manager (see docs/howto/production.md).")  # fmt: skip
    return 0


def write_if_changed(path: Path, content: str) -> bool:
    if path.exists() and path.read_text() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    partial.replace(path)
    return True


def start_services(engine_changed: bool, say) -> int:
    steps = [["systemctl", "daemon-reload"]]
    if engine_changed:  # live-restore is one of the settings the engine reloads
        steps.append(["systemctl", "reload", "docker"])
    units = [f"{u}.service" for u in production.UNITS] + [f"{t}.timer" for t in production.TIMERS]
    steps.append(["systemctl", "enable", "--now", *units])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"problem: {' '.join(step)}: {done.stderr.strip()}", file=sys.stderr)
            return 1
    say(f"Started: {', '.join(units)}")
    return 0

"""The production install's files, built from the site file (pure; ``launcher install``
writes them): systemd units for the proxy, the hub, HTTPS (Caddy) and the nightly backup,
Caddy's configuration, and the Docker engine's ``live-restore``.

- ``launcher-proxy.service``: ``launcher proxy``, the students' proxy, on its own so that a
  hub restart or upgrade keeps their connections (``hub.proxy: external``).
- ``launcher-hub.service``: ``launcher up``; restarted on failure.
- ``launcher-https.service``: Caddy in front of the proxy with the site's certificate
  (``tls.mode``: auto, provided or self-signed).
- ``launcher-backup.service`` and ``.timer``: ``launcher backup --keep N`` every night.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from launcher.proxycheck import REPO_ROOT
from launcher.settings import Site

UNITS = ("launcher-proxy", "launcher-hub", "launcher-https")
TIMERS = ("launcher-backup",)
#: nightly backups: when, and how many archives are kept
BACKUP_AT = "*-*-* 03:30:00"
BACKUP_KEEP = 14


@dataclass(frozen=True)
class Paths:
    """Where the install puts things; ``root`` prefixes the system's folders (a trial install
    into a scratch folder, as the tests do)."""

    root: Path
    site_file: Path
    launcher: Path  # the `launcher` command of the environment that runs the hub
    caddy: Path = Path("/usr/bin/caddy")

    @property
    def units(self) -> Path:
        return self.root / "etc" / "systemd" / "system"

    @property
    def config(self) -> Path:
        return self.root / "etc" / "launcher"

    @property
    def caddyfile(self) -> Path:
        return self.config / "Caddyfile"

    @property
    def daemon_json(self) -> Path:
        return self.root / "etc" / "docker" / "daemon.json"


def files(site: Site, paths: Paths) -> dict[Path, str]:
    """Every file of the install and its content (the daemon.json merge is apart)."""
    data = site.data_dir()
    launcher = f"{paths.launcher} {{}} --config {paths.site_file}"
    docs = f"file://{REPO_ROOT / 'docs' / 'howto' / 'production.md'}"
    return {
        paths.units / "launcher-proxy.service": unit(
            "the students' proxy (their connections outlive a hub restart)",
            launcher.format("proxy"),
            after="network-online.target docker.service",
            restart="always",
            docs=docs,
        ),
        paths.units / "launcher-hub.service": unit(
            "the hub",
            launcher.format("up"),
            after="network-online.target docker.service postgresql.service launcher-proxy.service",
            wants="launcher-proxy.service",
            restart="on-failure",
            docs=docs,
            extra=["KillSignal=SIGTERM", "TimeoutStopSec=60"],
        ),
        paths.units / "launcher-https.service": unit(
            "HTTPS in front of the proxy (Caddy)",
            f"{paths.caddy} run --config {paths.caddyfile} --adapter caddyfile",
            after="network-online.target launcher-proxy.service",
            restart="always",
            docs=docs,
            extra=[f"Environment=XDG_DATA_HOME={data / 'caddy'}"],
        ),
        paths.units / "launcher-backup.service": unit(
            "the nightly backup (store and workspaces)",
            launcher.format(f"backup --keep {BACKUP_KEEP}"),
            after="launcher-hub.service",
            restart="",
            docs=docs,
            extra=["Type=oneshot"],
            install=False,
        ),
        paths.units / "launcher-backup.timer": timer(BACKUP_AT),
        paths.caddyfile: caddyfile(site),
    }


def unit(
    what: str,
    command: str,
    *,
    after: str,
    restart: str,
    docs: str,
    wants: str = "",
    extra: list[str] = (),
    install: bool = True,
) -> str:
    lines = [
        "# Written by `launcher install`; change the site file and run it again instead.",
        "[Unit]",
        f"Description=GPU classroom launcher: {what}",
        f"Documentation={docs}",
        f"After={after}",
        "Wants=network-online.target" + (f" {wants}" if wants else ""),
        "",
        "[Service]",
        f"ExecStart={command}",
    ]
    if restart:
        lines += [f"Restart={restart}", "RestartSec=2"]
    lines += list(extra)
    if install:
        lines += ["", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"


def timer(on_calendar: str) -> str:
    return "\n".join(
        [
            "# Written by `launcher install`.",
            "[Unit]",
            "Description=GPU classroom launcher: the nightly backup",
            "",
            "[Timer]",
            f"OnCalendar={on_calendar}",
            "Persistent=true",
            "RandomizedDelaySec=10min",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )


def caddyfile(site: Site) -> str:
    """Caddy in front of the proxy: the public address of ``hub.url``, the certificate of
    ``tls.mode``, websockets passed through (students' kernels)."""
    public = urlparse(site.hub.url)
    listen = urlparse(site.hub.listen_url)
    options = ["admin off", f"storage file_system {site.data_dir() / 'caddy'}"]
    if site.tls.mode == "auto":
        if site.tls.email:
            options.append(f"email {site.tls.email}")
    else:  # no certificate authority to answer on port 80: no redirects from it either
        options.append("auto_https disable_redirects")
    if site.tls.mode == "self-signed":
        options.append("skip_install_trust")  # the host's trust store is left alone
    tls = {
        "auto": "",
        "provided": f"\ttls {site.tls.cert} {site.tls.key}\n",
        "self-signed": "\ttls internal\n",
    }[site.tls.mode]
    body = "".join(f"\t{o}\n" for o in options)
    return (
        "# Written by `launcher install` from the site file (hub.url, hub.listen, tls).\n"
        f"{{\n{body}}}\n\n"
        f"https://{public.netloc} {{\n{tls}"
        f"\treverse_proxy {listen.hostname}:{listen.port or 80}\n}}\n"
    )


def with_live_restore(current: str | None) -> str:
    """The engine's daemon.json with ``live-restore`` on, its other keys kept (pure)."""
    config = json.loads(current) if current and current.strip() else {}
    config["live-restore"] = True
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def production_notes(site: Site) -> list[str]:
    """What in the site file is unusual for production (one sentence each)."""
    notes = []
    if urlparse(site.hub.url).scheme != "https":
        notes.append("hub.url is not https: students would sign in without encryption.")
    if not site.hub.listen:
        notes.append("hub.listen is unset: set the proxy's address behind Caddy, e.g. "
                     "http://127.0.0.1:8000.")  # fmt: skip
    if site.hub.proxy != "external":
        notes.append("hub.proxy is managed: a hub restart would drop every student's "
                     "connection; set hub.proxy: external.")  # fmt: skip
    if not (site.store.url or "").startswith("postgresql"):
        notes.append("store.url is SQLite: PostgreSQL is the production default.")
    return notes

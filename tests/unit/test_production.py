"""The production install's files (pure builders): Caddy per certificate mode, the units,
the engine's live-restore merged into its daemon.json, the notes on a site file that is not
production-like, the proxy's command line and the certificate expiry rule."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from launcher import hostchecks, production
from launcher.cli.proxy import proxy_argv
from launcher.settings import parse_site

PROD = """\
hub: {url: "https://lab.example.edu", listen: "http://127.0.0.1:8000", proxy: external,
      data_dir: /var/lib/launcher}
store: {url: "postgresql+psycopg://launcher@127.0.0.1/launcher"}
tls: %s
"""


def site(tls: str = "{mode: auto, email: ops@example.edu}"):
    return parse_site(PROD % tls, name="site.yaml")


def paths(root=Path("/")):
    return production.Paths(root, Path("/etc/launcher/launcher.yaml"), Path("/opt/l/bin/launcher"))


@pytest.mark.parametrize(
    "tls, present, absent",
    [
        ("{mode: auto, email: ops@example.edu}", ["email ops@example.edu"], ["tls ", "auto_https"]),
        ("{mode: self-signed}", ["tls internal", "skip_install_trust", "disable_redirects"], []),
        ("{mode: provided, cert: /c.pem, key: /k.pem}", ["tls /c.pem /k.pem"], ["internal"]),
    ],
)
def test_caddy_serves_the_public_address_with_the_modes_certificate(tls, present, absent):
    text = production.caddyfile(site(tls))
    assert "https://lab.example.edu {" in text and "reverse_proxy 127.0.0.1:8000" in text
    assert "storage file_system /var/lib/launcher/caddy" in text
    for part in present:
        assert part in text
    for part in absent:
        assert part not in text


def test_the_units_run_the_launcher_with_the_site_file_and_restart():
    files = production.files(site(), paths(Path("/tmp/r")))
    hub = files[Path("/tmp/r/etc/systemd/system/launcher-hub.service")]
    assert "ExecStart=/opt/l/bin/launcher up --config /etc/launcher/launcher.yaml" in hub
    assert "Restart=on-failure" in hub and "Wants=network-online.target launcher-proxy" in hub
    proxy = files[Path("/tmp/r/etc/systemd/system/launcher-proxy.service")]
    assert "launcher proxy --config" in proxy and "Restart=always" in proxy
    backup = files[Path("/tmp/r/etc/systemd/system/launcher-backup.service")]
    assert f"backup --keep {production.BACKUP_KEEP}" in backup and "Type=oneshot" in backup
    assert "OnCalendar=" in files[Path("/tmp/r/etc/systemd/system/launcher-backup.timer")]


def test_live_restore_is_merged_into_the_engines_settings():
    merged = json.loads(production.with_live_restore('{"data-root": "/srv/docker"}'))
    assert merged == {"data-root": "/srv/docker", "live-restore": True}
    assert json.loads(production.with_live_restore(None)) == {"live-restore": True}
    once = production.with_live_restore("{}")
    assert production.with_live_restore(once) == once


def test_a_demo_like_site_file_gets_notes_a_production_one_none():
    assert production.production_notes(site()) == []
    demo = parse_site("hub: {url: 'http://127.0.0.1:8000'}\n", name="demo.yaml")
    notes = " ".join(production.production_notes(demo))
    for key in ("hub.url", "hub.listen", "hub.proxy", "PostgreSQL"):
        assert key in notes


def test_the_proxy_listens_where_the_site_says_and_sends_to_the_hub():
    argv = proxy_argv(site(), "172.18.0.1", "/usr/bin/chp")
    assert argv[argv.index("--ip") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "8000"
    assert argv[argv.index("--api-port") + 1] == "8001"
    assert argv[argv.index("--default-target") + 1] == "http://172.18.0.1:8081"


def certificate(days: float) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab.example.edu")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    "days, mode, problem",
    [(90, "provided", False), (10, "provided", True), (10, "auto", False), (3, "auto", True),
     (0.2, "self-signed", False), (-0.1, "self-signed", True)],
)  # fmt: skip
def test_a_certificate_near_its_end_is_a_problem_by_who_renews_it(days, mode, problem):
    found = hostchecks.expiry_problem(
        certificate(days), "https://x", hostchecks.CERT_WARN_DAYS[mode]
    )
    assert (found is not None) == problem, found
    if found:
        assert "renew" in found


def test_the_database_password_is_kept_in_libpqs_passfile_format(tmp_path):
    from sqlalchemy.engine import make_url

    from launcher.cli import database

    url = make_url("postgresql+psycopg://launcher@127.0.0.1:5433/launcher?passfile=/x")
    passfile = tmp_path / "pgpass"
    assert database.stored_password(passfile, url) is None
    made = database.new_password(passfile, url)
    assert passfile.read_text() == f"127.0.0.1:5433:launcher:launcher:{made}\n"
    assert oct(passfile.stat().st_mode & 0o777) == "0o600"
    assert database.stored_password(passfile, url) == made


def test_names_and_passwords_are_quoted_in_the_sql():
    from launcher.cli import database

    sql = database.role_sql('odd"name', "it's")
    assert "CREATE ROLE \"odd\"\"name\" LOGIN PASSWORD 'it''s'" in sql
    assert "rolname = 'odd\"name'" in sql

"""The production install on this machine, from its documented commands: `launcher install`
writes the systemd units, Caddy's configuration and the engine's live-restore (a second run
changes nothing) and makes the store's PostgreSQL role and database; the services run as the
units say (this machine has no systemd: the test starts each unit's ExecStart itself), with
PostgreSQL as the store and HTTPS on localhost from Caddy's own authority. A student signs in
over HTTPS and gets JupyterLab; the hub restarts while the student's notebook stays connected,
and their kernel keeps its state."""

import json
import os
import secrets
import shlex
import subprocess
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy.engine import make_url

from tests.integration.hub import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    USER_PASSWORD,
    HubSession,
    free_port_pair,
    running_hub,
    wait_for,
)
from tests.kernels import Kernel
from tests.postgres import DATA_DIRS
from tests.processes import end

pytestmark = pytest.mark.integration


class Unit:
    """A service started the way its systemd unit says (ExecStart, Environment), ended by its
    PID (its process group) like systemd ends it."""

    def __init__(self, path: Path, env: dict, log: Path):
        self.path, self.env, self.log = path, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        lines = self.path.read_text().splitlines()
        command = next(line for line in lines if line.startswith("ExecStart="))
        env = dict(self.env)
        for line in lines:
            if line.startswith("Environment="):
                key, _, value = line.removeprefix("Environment=").partition("=")
                env[key] = value
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                shlex.split(command.removeprefix("ExecStart=")),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.proc is not None:
            end(self.proc, 60)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def test_production_install_https_and_a_hub_restart_that_keeps_the_student(
    tmp_path, postgres_url, monkeypatch
):
    port, https_port = free_port_pair(), free_port_pair()
    public = f"https://localhost:{https_port}"
    # a role and database that do not exist yet: `launcher install` makes them, with a
    # generated password in the passfile store.url names
    server = make_url(postgres_url)
    name = f"classroom_{secrets.token_hex(3)}"
    passfile = tmp_path / "etc" / "pgpass"
    store_url = f"postgresql+psycopg://{name}@127.0.0.1:{server.port}/{name}?passfile={passfile}"
    site = {
        "hub": {"url": public, "listen": f"http://127.0.0.1:{port}", "proxy": "external"},
        "store": {"url": store_url},
        "tls": {"mode": "self-signed"},
    }
    # the test server's administrator and local socket (Debian's: postgres, /var/run/postgresql)
    db_args = ["--db-admin", server.username, "--db-socket", str(DATA_DIRS[postgres_url].parent)]
    root = tmp_path / "root"
    with running_hub(tmp_path, "production", [], site, port=port, start=False) as hub:
        written = yaml.safe_load(hub.site_file.read_text())
        del written["courses"]["ghost"]  # the other tests' course without an image
        hub.site_file.write_text(yaml.safe_dump(written))
        install = hub.launcher("install", "--root", str(root), "--no-start", *db_args)
        assert install.returncode == 0, install.stdout + install.stderr
        assert f"made the PostgreSQL role {name} and database {name}" in install.stdout
        assert oct(passfile.stat().st_mode & 0o777) == "0o600"
        again = hub.launcher("install", "--root", str(root), "--no-start", *db_args)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "wrote" not in again.stdout, "a second install changes nothing"
        assert f"unchanged: the database {name} answers" in again.stdout
        assert json.loads((root / "etc/docker/daemon.json").read_text())["live-restore"]
        units = root / "etc" / "systemd" / "system"
        assert (units / "launcher-backup.timer").exists()

        env = {
            **os.environ,
            "LAUNCHER_DEMO_PASSWORD": USER_PASSWORD,
            "LAUNCHER_DEMO_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
        services = {
            name: Unit(units / f"launcher-{name}.service", env, ARTIFACTS / f"prod-{name}.log")
            for name in ("proxy", "https", "hub")
        }
        try:
            for unit in services.values():
                unit.start()
            authority = hub.data_dir / "caddy/pki/authorities/local/root.crt"
            wait_for(lambda: answers(public, authority), 120, "the hub over HTTPS")
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority))  # Caddy's own authority

            check = hub.launcher("check")
            assert check.returncode == 0, check.stdout + check.stderr
            assert f"the certificate of {public} is valid" in check.stdout

            hub.url = public  # the students' address from here on
            student = HubSession(hub)
            student.verify = str(authority)
            student.login("student1", hub.password("student1"))
            student.start_server()
            lab = student.get(f"{public}/user/student1/lab")
            assert lab.status_code == 200 and "JupyterLab" in lab.text

            kernel = Kernel(student)
            kernel.connect()  # the notebook's websocket, through Caddy and the proxy
            kernel.run("x = 41")

            services["hub"].stop()
            assert kernel.run("print(x + 1)").strip() == "42", "served while the hub is down"
            services["hub"].start()
            wait_for(lambda: answers(public, authority), 120, "the hub back over HTTPS")
            assert kernel.run("x += 1; print(x)").strip() == "42", "the same connection"
            assert kernel.alive()
            kernel.close()
            student.stop_server()
        finally:
            for name in ("hub", "https", "proxy"):
                services[name].stop()
        assert not any(u.running() for u in services.values())


def answers(url: str, authority: Path) -> bool:
    if not authority.exists():
        return False
    try:
        return requests.get(f"{url}/hub/api/", timeout=5, verify=str(authority)).ok
    except requests.RequestException:
        return False

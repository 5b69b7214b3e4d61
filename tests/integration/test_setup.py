"""Set-up on a host whose Node.js is too old for the proxy: one from PyPI, and the proxy runs."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_a_host_with_node_18_gets_a_node_the_proxy_accepts(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    shims = tmp_path / "host-bin"  # the host: Debian 12's Node.js 18 and its npm
    shims.mkdir()
    for name, version in (("node", "v18.19.0"), ("npm", "9.2.0")):
        shim = shims / name
        shim.write_text(f"#!/bin/sh\necho {version}\n")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    path = f"{shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env = {**os.environ, "PATH": path}

    def ensure_node():
        return subprocess.run(
            ["bash", str(ROOT / "deploy/host/ensure-node.sh"), str(venv)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    setup = ensure_node()
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "needs Node.js 20 or newer; this host has" in setup.stdout
    assert f"{shims}/node v18.19.0" in setup.stdout
    version = subprocess.run(
        [venv / "bin" / "node", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert int(version.lstrip("v").split(".")[0]) >= 20
    # the proxy runs on it (`launcher up` puts the environment's bin before the host's PATH)
    proxy = subprocess.run(
        [ROOT / "node_modules/.bin/configurable-http-proxy", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{venv}/bin:{path}"},
        timeout=60,
    )
    assert proxy.returncode == 0 and proxy.stdout.strip() == "5.3.0", proxy.stderr
    # a second run finds it and does nothing
    again = ensure_node()
    assert again.returncode == 0 and again.stdout == ""

"""The site's pip index and CA bundle reach student sessions: `pip install` in a session goes
through the campus mirror (here a PEP 503 index served on the students' Docker network)."""

import base64
import hashlib
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.integration.hub import running_hub, wait_for

pytestmark = pytest.mark.integration

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def build_wheel(directory: Path) -> Path:
    """A minimal pure-Python wheel, written by hand (no build tools, no network)."""
    name, version = "tinymirror", "1.0"
    files = {
        "tinymirror.py": 'VALUE = "served by the campus mirror"\n',
        f"{name}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{name}-{version}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: launcher-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def mirror_hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("pypi")
    (root / "simple" / "tinymirror").mkdir(parents=True)
    wheel = build_wheel(root)
    (root / "simple" / "tinymirror" / "index.html").write_text(
        f'<html><body><a href="../../{wheel.name}">{wheel.name}</a></body></html>\n'
    )
    server = {}

    def site(gateway: str) -> dict:
        with socket.socket() as s:
            s.bind((gateway, 0))
            port = s.getsockname()[1]
        server["proc"] = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", gateway, "-d", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server["url"] = f"http://{gateway}:{port}/simple"

        def answers():
            with socket.socket() as s:
                return s.connect_ex((gateway, port)) == 0

        wait_for(answers, 20, "the test pip index")
        return {
            "images": {"session_pip_index_url": server["url"], "session_ca_bundle": CA_BUNDLE},
            # the mirror runs on this host: the site lets students reach its port
            "docker": {"allow_host_ports": [port]},
        }

    try:
        with running_hub(tmp_path_factory.mktemp("mirrorhub"), "mirror", [], site) as hub:
            yield hub, server["url"]
    finally:
        if "proc" in server:
            server["proc"].send_signal(signal.SIGTERM)
            server["proc"].wait(timeout=10)


def test_pip_install_in_a_session_uses_the_site_index_and_ca(mirror_hub):
    hub, index_url = mirror_hub
    admin = hub.session("admin")
    admin.start_server("student1")
    c = hub.container_of("student1")
    env = c.attrs["Config"]["Env"]
    assert f"PIP_INDEX_URL={index_url}" in env
    assert "PIP_CERT=/etc/launcher/ca-bundle.pem" in env
    mount = [m for m in c.attrs["Mounts"] if m["Destination"] == "/etc/launcher/ca-bundle.pem"]
    assert mount and mount[0]["Source"] == CA_BUNDLE and not mount[0]["RW"]

    code, out = c.exec_run(["pip", "install", "-v", "--no-cache-dir", "tinymirror"])
    assert code == 0, out.decode()
    code, out = c.exec_run(["python", "-c", "import tinymirror; print(tinymirror.__file__)"])
    assert code == 0, out
    # installed into the student's persistent home, not the root-owned image venv
    assert out.decode().strip().startswith("/home/jovyan/.local/"), out
    admin.stop_server("student1")

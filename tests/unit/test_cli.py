"""`launcher check` on a broken site file: plain sentences, non-zero exit, no traceback."""

import subprocess
import sys
from datetime import datetime

import pytest


def test_check_reports_key_and_line(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("courses:\n  demo:\n    title: T\n    imgae: x:1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "check", "--config", str(site)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert f"{site}:4: courses.demo.imgae: unknown key (did you mean 'image'?)" in proc.stderr
    assert f"{site}:2: courses.demo.image: required key is missing" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_check_refuses_gpus_the_host_does_not_have(tmp_path):
    """With the fake nvidia-smi on PATH: a declared GPU and a pool entry the host lacks."""
    import os
    from pathlib import Path

    fakes = Path(__file__).resolve().parents[1] / "fakes"
    site = tmp_path / "site.yaml"
    site.write_text(
        "gpus:\n"
        "  devices:\n"
        "    - {index: 0, uuid: GPU-0b0c5f3e-0000-4000-8000-00000000a100}\n"
        "    - {index: 7, uuid: GPU-dead-beef}\n"
        "courses:\n"
        "  demo:\n"
        "    title: T\n"
        "    image: launcher/pytorch:2.13-cpu\n"
        "    gpu: {per_student: 1, pool: [9]}\n"
    )
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "check", "--config", str(site)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 1
    assert "declares GPU 7 (GPU-dead-beef), but this host has no such GPU" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr

    site.write_text(site.read_text().replace("    - {index: 7, uuid: GPU-dead-beef}\n", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "check", "--config", str(site)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "Course demo's gpu.pool names GPU '9', which this host does not have" in proc.stdout


def test_up_refuses_to_start_on_a_gpu_the_host_lacks(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(
        "gpus: {source: static, devices: [{index: 0, uuid: GPU-0}]}\n"
        "courses:\n"
        "  demo: {title: T, image: 'launcher/pytorch:2.13-cpu', gpu: {per_student: 1, pool: [3]}}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "up", "--config", str(site)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("The hub does not start: Course demo's gpu.pool names GPU '3'")


@pytest.mark.parametrize(
    "extra, tail",
    [([], []), (["--", "--log-level=DEBUG"], ["--log-level=DEBUG"]), (["--debug"], ["--debug"])],
)
def test_jupyterhub_arguments_after_the_double_dash(extra, tail):
    from launcher.cli.main import HUB_CONFIG, hub_argv

    argv = hub_argv(extra)
    assert argv[1:5] == ["-m", "launcher.hub.app", "-f", str(HUB_CONFIG)] and argv[5:] == tail
    assert HUB_CONFIG.is_file() and HUB_CONFIG.parent.joinpath("launcher").is_dir()


@pytest.mark.parametrize("hours", ["nan", "inf", "0", "5000"])
def test_a_grant_of_no_real_number_of_hours_is_refused(tmp_path, hours):
    from launcher.store import Store

    (tmp_path / "data").mkdir()  # as the hub's first start leaves it
    site = tmp_path / "site.yaml"
    site.write_text(
        f"hub: {{data_dir: {tmp_path / 'data'}}}\n"
        "courses:\n"
        "  dl: {title: T, image: 'launcher/pytorch:2.13-cpu', students: [ann],\n"
        "       quota: {gpu_hours: 10}}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "gpus", "grant", "ann", "dl", hours]
        + ["--config", str(site)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "problem: Give the GPU-hours to add as a number such as 5" in proc.stdout
    store = Store(f"sqlite:///{tmp_path / 'data' / 'launcher.sqlite'}")
    assert store.grants(datetime(2000, 1, 1)) == []


ZONED_SITE = """\
hub: {data_dir: DATA, timezone: Asia/Shanghai}
gpus: {source: static, devices: [{index: 0, uuid: GPU-0, model: Test GPU, memory_mib: 40960}]}
courses:
  dl: {title: T, image: 'launcher/pytorch:2.13-cpu', students: [ann],
       gpu: {per_student: 1}, quota: {gpu_hours: 10}}
"""


def test_gpus_prints_the_site_zone_and_json_keeps_utc(tmp_path):
    """`launcher gpus` says since when in Beijing time; `--json` keeps the UTC instant."""
    import json
    import re

    from launcher.store import Store

    (tmp_path / "data").mkdir()
    site = tmp_path / "site.yaml"
    site.write_text(ZONED_SITE.replace("DATA", str(tmp_path / "data")))
    store = Store(f"sqlite:///{tmp_path / 'data' / 'launcher.sqlite'}")
    store.add(["GPU-0"], "ann", "dl", "", "l_ann_dl", datetime(2026, 11, 22, 18, 8, 24))

    def launcher(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "launcher.cli", *args, "--config", str(site)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    table = launcher("gpus")
    (row,) = [line for line in table.splitlines() if "ann" in line]
    assert "2026-11-23 02:08 CST" in row and "/10 GPU-h" in row  # the next day in Beijing
    assert "UTC" not in table and "Z " not in row
    (held,) = json.loads(launcher("gpus", "--json"))[0]["holders"]
    assert held["since"] == "2026-11-22T18:08:24Z"
    since = datetime.fromisoformat(held["since"])
    assert since.utcoffset().total_seconds() == 0

    said = launcher("gpus", "grant", "ann", "dl", "2")
    # the grant lasts until the weekly quota resets: Monday 00:00 in Beijing
    assert re.search(r"for this week \(until Mon \d{4}-\d\d-\d\d 00:00 CST, when", said), said
    until = datetime.strptime(re.search(r"until Mon (\S+)", said)[1], "%Y-%m-%d")
    assert until.weekday() == 0


def test_check_says_when_the_database_server_does_not_answer(tmp_path):
    """A PostgreSQL store nobody answers for (a closed port on this host): a problem that
    stops the hub from starting, in a sentence."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again once the block ends
    site = tmp_path / "site.yaml"
    site.write_text(
        f"hub: {{data_dir: {tmp_path / 'data'}}}\n"
        f"store: {{url: 'postgresql+psycopg://launcher@127.0.0.1:{port}/launcher'}}\n"
        "courses:\n  demo: {title: T, image: launcher/pytorch:2.13-cpu}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "check", "--config", str(site)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        f"problem: Cannot open the launcher's store postgresql+psycopg://launcher@127.0.0.1:{port}"
        in proc.stdout
    )
    assert "Traceback" not in proc.stderr + proc.stdout

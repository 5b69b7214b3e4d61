"""`launcher check` on a broken site file: plain sentences, non-zero exit, no traceback."""

import subprocess
import sys


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

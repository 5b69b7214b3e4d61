"""images/launcher-session, the teaching image's entrypoint, run by the host's POSIX sh (dash
on Debian): without LAUNCHER_SSH_AUTHORIZED_KEYS it only runs its command, and the SetEnv
words it writes into sshd_config give an SSH session exactly the container's variables that
are set (read back the way sshd reads them: images/smoke_test.py's sshd_words). Starting sshd
itself is checked inside the image by its smoke test."""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SESSION = ROOT / "images" / "launcher-session"
spec = importlib.util.spec_from_file_location("smoke_test", ROOT / "images" / "smoke_test.py")
smoke_test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(smoke_test)

BASE_ENV = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}


def test_it_is_an_executable_posix_sh_script():
    assert os.access(SESSION, os.X_OK)
    assert SESSION.read_text().startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n", str(SESSION)]).returncode == 0


def test_without_keys_it_only_runs_its_command():
    proc = subprocess.run(
        [str(SESSION), "sh", "-c", 'echo "$0|$1"; exit 3', "a b", "c"],
        env={**BASE_ENV, "LAUNCHER_SSH_AUTHORIZED_KEYS": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "a b|c\n", "")


def setenv_words(env: dict[str, str]) -> tuple[list[str], str]:
    """The script's SetEnv words for ``env``, without starting anything: sourced with no
    command its `exec "$@"` does nothing, and the keys are set only after it was sourced."""
    proc = subprocess.run(
        [
            "sh",
            "-c",
            f'. "{SESSION}"; LAUNCHER_SSH_AUTHORIZED_KEYS="ssh-ed25519 AAAA k"; '
            "export LAUNCHER_SSH_AUTHORIZED_KEYS; setenv_tokens",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return smoke_test.sshd_words("SetEnv" + proc.stdout), proc.stderr


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "two  words",
        "a \"quote\" and a 'quote'",
        'a \\ backslash, a \\" pair, a trailing \\',
        "$HOME `id` $(id) #1 ;|&",
        "",
        "汉字 ünïcode",
    ],
)
def test_setenv_hands_values_over_unchanged(value):
    words, _ = setenv_words({**BASE_ENV, "LAUNCHER_VALUE": value})
    assert words[0] == "SetEnv"
    assert dict(w.split("=", 1) for w in words[1:])["LAUNCHER_VALUE"] == value


def test_setenv_names_exactly_the_set_variables():
    env = {
        **BASE_ENV,
        "VIRTUAL_ENV": "/opt/venv",
        "LANGUAGE": "",
        "NVIDIA_VISIBLE_DEVICES": "void",
        "LAUNCHER_COURSE": "demo",
        "LAUNCHER_IMAGE": "launcher/pytorch:2.13-cpu",
        "LAUNCHER_TWO_LINES": "a\nLAUNCHER_FAKE=1",
        "PIP_INDEX_URL": "http://pypi.example.edu/simple",
        "JUPYTERHUB_API_TOKEN": "secret",
        "HOME": "/home/jovyan",
    }
    words, stderr = setenv_words(env)
    got = dict(w.split("=", 1) for w in words[1:])
    assert got == smoke_test.session_env(env)
    assert list(got) == [
        "PATH",
        "VIRTUAL_ENV",
        "LANG",
        "LANGUAGE",
        "NVIDIA_VISIBLE_DEVICES",
        "LAUNCHER_COURSE",
        "LAUNCHER_IMAGE",
        "PIP_INDEX_URL",
    ]
    assert (
        stderr
        == "launcher-session: LAUNCHER_TWO_LINES holds a newline: SSH sessions do not get it\n"
    )

"""The in-image smoke test's own rules (it runs inside images, with the standard library)."""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "images" / "smoke_test.py"
spec = importlib.util.spec_from_file_location("smoke_test", PATH)
smoke_test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(smoke_test)


@pytest.mark.parametrize(
    "matrix, number",
    [("9.24.0.43", 92400), ("9.10.2.21", 91002), ("9.1.0.70", 90100), ("8.9.7.29", 8907)],
)
def test_cudnn_versions_compare_as_cudnn_reports_them(matrix, number):
    assert smoke_test.cudnn_number(matrix) == number


@pytest.mark.parametrize(
    "tag, cuda", [("2.13-cpu", None), ("2.14-cuda13.0", "13.0"), ("2.6-cuda12.4", "12.4")]
)
def test_the_tag_says_which_cuda_torch_must_have(tag, cuda):
    assert smoke_test.expected_cuda(tag) == cuda


@pytest.mark.parametrize(
    "devices, visible", [(None, False), ("void", False), ("", False), ("0,1", True)]
)
def test_a_gpu_is_visible_only_when_the_engine_named_one(monkeypatch, devices, visible):
    if devices is None:
        monkeypatch.delenv("NVIDIA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("NVIDIA_VISIBLE_DEVICES", devices)
    assert smoke_test.gpu_visible() is visible


def test_the_language_pack_the_locales_and_the_notices_extension_are_checked(monkeypatch, tmp_path):
    import importlib.metadata
    import locale

    def no_package(name):
        raise importlib.metadata.PackageNotFoundError(name)

    def no_locale(category, name=None):
        if name not in ("", None):
            raise locale.Error(f"unsupported locale setting {name}")

    monkeypatch.setattr(importlib.metadata, "version", no_package)
    monkeypatch.setattr(locale, "setlocale", no_locale)
    monkeypatch.setattr(smoke_test.sys, "prefix", str(tmp_path))
    found = smoke_test.language_problems()
    assert found == [
        "jupyterlab-language-pack-zh-CN is not installed",
        "the locale zh_CN.UTF-8 is not generated (locale-gen)",
        "the locale en_US.UTF-8 is not generated (locale-gen)",
        "the launcher-notices JupyterLab extension is missing from "
        f"{tmp_path}/share/jupyter/labextensions/launcher-notices",
    ]

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "4.5.post3")
    monkeypatch.setattr(locale, "setlocale", lambda category, name=None: name)
    entry = tmp_path / "share/jupyter/labextensions/launcher-notices/static/remoteEntry.js"
    entry.parent.mkdir(parents=True)
    entry.write_text("/* the extension */")
    assert smoke_test.language_problems() == []


@pytest.mark.parametrize(
    "line, words",
    [
        ("SetEnv A=1 B=2", ["SetEnv", "A=1", "B=2"]),
        ('SetEnv "A=two  words" \t"B=x"', ["SetEnv", "A=two  words", "B=x"]),
        (r'SetEnv "A=a \"q\" and \\ and \x"', ["SetEnv", r'A=a "q" and \ and \x']),
        ('SetEnv "A=it\'s #1" # a comment', ["SetEnv", "A=it's #1"]),
        (r"SetEnv A=a\ b 'B=c \"d'", ["SetEnv", "A=a b", 'B=c "d']),
        ("# a comment", []),
        ("", []),
    ],
)
def test_sshd_words_split_a_line_as_openssh_does(line, words):
    assert smoke_test.sshd_words(line) == words


def test_sshd_takes_the_first_setenv_line_only():
    config = 'Port 22\nsetenv "A=1" "B=x y"\nSetEnv C=3\n'
    assert smoke_test.setenv_of(config) == {"A": "1", "B": "x y"}
    assert smoke_test.setenv_of("Port 22\n") == {}


def test_a_session_gets_the_set_variables_but_not_the_keys():
    environ = {
        "PATH": "/opt/venv/bin:/usr/bin",
        "LANG": "",
        "HOME": "/home/jovyan",
        "JUPYTERHUB_API_TOKEN": "secret",
        "LAUNCHER_COURSE": "demo",
        "LAUNCHER_SSH_AUTHORIZED_KEYS": "ssh-ed25519 AAAA",
        "LAUNCHER_TWO_LINES": "a\nb",
        "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
    }
    assert smoke_test.session_env(environ) == {
        "PATH": "/opt/venv/bin:/usr/bin",
        "LANG": "",
        "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
        "LAUNCHER_COURSE": "demo",
    }


STATUS = """Name:\tsshd
Uid:\t1000\t1000\t1000\t1000
Gid:\t100\t100\t100\t100
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t00000000a80425fb
"""


def test_sshd_must_run_as_the_student_without_capabilities():
    assert smoke_test.status_problems("sshd", STATUS) == []
    root = STATUS.replace("Uid:\t1000\t1000\t1000\t1000", "Uid:\t0\t0\t0\t0")
    capable = STATUS.replace("CapEff:\t0000000000000000", "CapEff:\t0000000000000400")
    assert smoke_test.status_problems("sshd", root) == ["sshd runs with uids 0 0 0 0, not 1000"]
    assert smoke_test.status_problems("sshd", capable) == [
        "sshd holds capabilities (CapEff 0000000000000400)"
    ]


def test_children_are_found_by_their_parent_pid(tmp_path):
    for pid, stat in [
        (7, "7 (sleep) S 1 7 1 0"),
        (69, "69 (sshd) S 7 7 1 0"),
        (70, "70 (a (weird) name) S 7 7 1 0"),
        (71, "71 (sshd) S 69 71 71 0"),
    ]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(stat)
    assert smoke_test.children(7, str(tmp_path)) == [(69, "sshd"), (70, "a (weird) name")]
    assert smoke_test.children(1, str(tmp_path)) == [(7, "sleep")]

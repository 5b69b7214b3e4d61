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

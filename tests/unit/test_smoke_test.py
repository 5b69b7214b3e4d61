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

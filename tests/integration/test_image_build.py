"""The CPU teaching image builds on a host without local wheels, from a CPU wheel index; with no
+cpu wheel anywhere the build stops with a sentence and downloads no CUDA build."""

import contextlib
import glob
import subprocess
from pathlib import Path

import docker
import pytest

from launcher.images.matrix import load_matrix
from tests.pypindex import package_index

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TAG = "2.13-cpu"
TORCH = load_matrix()[TAG].torch
TEST_REPO = "launcher-test/pytorch-cpu-index"


def cpu_wheel() -> Path:
    """The torch+cpu wheel the stand-in index serves (what PyTorch's CPU index holds)."""
    for folder in ("/opt/wheels", "/opt/pypi-more/files"):
        found = sorted(glob.glob(f"{folder}/torch-{TORCH}+cpu-cp311-*.whl"))
        if found:
            return Path(found[0])
    pytest.fail(
        f"no torch-{TORCH}+cpu wheel on this host to serve as the CPU index; put one in "
        f"/opt/wheels (pip download --no-deps torch=={TORCH}+cpu --index-url "
        "https://download.pytorch.org/whl/cpu -d /opt/wheels)"
    )


def build(*options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "images/build.sh"), TAG, "--no-local-wheels", "--force"]
        + ["--image-repo", TEST_REPO, "--base", "launcher-base:bookworm", *options],
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture
def test_image():
    client = docker.from_env()
    yield f"{TEST_REPO}:{TAG}"
    try:
        client.images.remove(f"{TEST_REPO}:{TAG}", force=True, noprune=False)
    except docker.errors.ImageNotFound:
        pass


def run(image: str, code: str) -> str:
    return docker.from_env().containers.run(image, ["python", "-c", code], remove=True).decode()


def test_without_local_wheels_torch_comes_from_the_cpu_index(tmp_path, test_image):
    wheel = cpu_wheel()
    with package_index(tmp_path, {"torch": [wheel]}) as (index, asked):
        result = build("--torch-index", index)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"torch (torch=={TORCH}+cpu) from the torch index {index}" in result.stdout
    assert "/simple/torch/" in asked and f"/simple/torch/{wheel.name}".replace("+", "%2B") in asked
    assert run(test_image, "import torch; print(torch.__version__)").strip() == f"{TORCH}+cpu"
    packages = run(
        test_image, "import importlib.metadata as m; print([d.name for d in m.distributions()])"
    )
    assert "nvidia" not in packages and "triton" not in packages, "a CUDA dependency got in"


@pytest.mark.parametrize("index_state", ["has no torch", "does not answer"])
def test_no_cpu_wheel_anywhere_is_a_sentence_and_no_cuda_download(
    tmp_path, test_image, index_state
):
    if index_state == "has no torch":
        context = package_index(tmp_path, {"numpy": []})
    else:  # nothing listens on port 9 (discard) of 127.0.0.1 here
        context = contextlib.nullcontext(("http://127.0.0.1:9/simple", []))
    with context as (index, _):
        result = build("--torch-index", index)
    assert result.returncode != 0
    assert f"the torch index {index} {index_state}" in result.stdout
    sentence = result.stderr.strip().splitlines()[-1]
    assert sentence.startswith(
        f"build.sh: no source has a CPU build of torch {TORCH} (torch=={TORCH}+cpu; the plain "
        f"torch=={TORCH} on PyPI is the CUDA build"
    ), result.stderr[-2000:]
    assert "no local wheel directory (--no-local-wheels)" in sentence
    assert "--torch-index URL" in sentence and f"torch-{TORCH}+cpu-cp311-*.whl" in sentence
    assert "Downloading torch" not in result.stdout and "nvidia" not in result.stdout
    with pytest.raises(docker.errors.ImageNotFound):
        docker.from_env().images.get(test_image)

"""Smoke test of a teaching image; runs inside the image.

    docker run --rm --user 1000:100 IMAGE python /usr/local/share/launcher/smoke_test.py

Checks that torch imports and is the version the image promises (LAUNCHER_TORCH_VERSION),
that its CUDA build matches the image tag (-cpu: none, -cudaX.Y: X.Y), that
jupyterhub-singleuser is the hub's version (LAUNCHER_JUPYTERHUB_VERSION), that Python is
LAUNCHER_PYTHON_VERSION, that JupyterLab starts and serves /lab, and that the session runs
as uid 1000 with a writable $HOME. In a CUDA image, also without a GPU: the cuDNN it loads is
LAUNCHER_CUDNN_VERSION, the GPU architectures compiled in are LAUNCHER_CUDA_ARCH_LIST (the
matrix entry's), and with no GPU visible torch says so and a notebook's usual
``device = "cuda" if torch.cuda.is_available() else "cpu"`` runs on the CPU; with a GPU
visible (NVIDIA_VISIBLE_DEVICES names one), a computation runs on it.
Exits 1 with one message per failed check; prints a one-line OK summary otherwise.
Standard library only (besides torch), so it also runs on a broken image.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

STUDENT_UID = 1000


def expected_cuda(tag: str) -> str | None:
    """CUDA version an image tag promises: None for '...-cpu', 'X.Y' for '...-cudaX.Y'."""
    if tag.endswith("-cpu"):
        return None
    m = re.search(r"-cuda(\d+(?:\.\d+)*)$", tag)
    if m:
        return m.group(1)
    raise ValueError(f"image tag {tag!r} ends neither in -cpu nor in -cudaX.Y")


def main() -> int:
    failures: list[str] = []
    tag = os.environ.get("LAUNCHER_IMAGE_TAG", "")
    want_torch = os.environ.get("LAUNCHER_TORCH_VERSION", "")
    want_hub = os.environ.get("LAUNCHER_JUPYTERHUB_VERSION", "")
    want_python = os.environ.get("LAUNCHER_PYTHON_VERSION", "")
    for name, value in [
        ("LAUNCHER_IMAGE_TAG", tag),
        ("LAUNCHER_TORCH_VERSION", want_torch),
        ("LAUNCHER_JUPYTERHUB_VERSION", want_hub),
    ]:
        if not value:
            failures.append(f"environment variable {name} is not set in the image")

    # Python
    have_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if want_python and have_python != want_python:
        failures.append(f"python is {have_python}, the image promises {want_python}")

    # torch
    torch_version = cuda = None
    try:
        import torch

        torch_version = torch.__version__.split("+", 1)[0]
        cuda = torch.version.cuda
        if want_torch and torch_version != want_torch:
            failures.append(
                f"torch.__version__ is {torch.__version__}, the image promises {want_torch}"
            )
        # A tiny computation: the library really loads, not just its Python files.
        if int(torch.arange(4).sum()) != 6:
            failures.append("torch computed arange(4).sum() != 6")
        if torch.arange(3).numpy().tolist() != [0, 1, 2]:
            failures.append("torch cannot hand tensors to numpy")
    except Exception as exc:  # noqa: BLE001 - any import failure is a failed image
        failures.append(f"import torch failed: {exc!r}")
    cuda_summary = ""
    if torch_version is not None and tag:
        try:
            want_cuda = expected_cuda(tag)
        except ValueError as exc:
            failures.append(str(exc))
        else:
            if cuda != want_cuda:
                failures.append(
                    f"torch.version.cuda is {cuda!r}, tag {tag!r} promises {want_cuda!r}"
                )
            elif want_cuda:
                cuda_summary = cuda_build_checks(failures)

    # jupyterhub-singleuser
    hub_version = None
    try:
        proc = subprocess.run(
            ["jupyterhub-singleuser", "--version"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        out = proc.stdout.strip().splitlines()
        hub_version = out[-1].strip() if out else ""
        if proc.returncode != 0:
            failures.append(
                f"jupyterhub-singleuser --version exited {proc.returncode}: "
                f"{(proc.stderr or proc.stdout).strip()[-500:]}"
            )
        elif want_hub and hub_version != want_hub:
            failures.append(
                f"jupyterhub-singleuser --version says {hub_version!r}, the hub needs {want_hub!r}"
            )
    except (OSError, subprocess.SubprocessError) as exc:
        failures.append(f"jupyterhub-singleuser --version failed: {exc!r}")

    # every student's start stays cheap: no grammar built at import (see the Dockerfile)
    import importlib.util

    for slow in ("rfc3987_syntax", "lark"):
        if importlib.util.find_spec(slow) is not None:
            failures.append(f"{slow} is installed: it costs every JupyterLab start a second")

    # JupyterLab in Chinese: the language pack, and a zh_CN locale for LANG to select it
    failures.extend(language_problems())

    # JupyterLab really starts and serves its page
    lab_error = jupyterlab_starts()
    if lab_error:
        failures.append(lab_error)

    # user and home
    uid = os.getuid()
    if uid != STUDENT_UID:
        failures.append(f"running as uid {uid}, expected {STUDENT_UID}")
    home = os.environ.get("HOME", "")
    if not home or not os.path.isdir(home):
        failures.append(f"$HOME ({home!r}) is not a directory")
    else:
        try:
            with tempfile.NamedTemporaryFile(dir=home, prefix=".smoke-", delete=True) as f:
                f.write(b"ok")
                f.flush()
        except OSError as exc:
            failures.append(f"$HOME ({home}) is not writable: {exc}")

    if failures:
        print(f"SMOKE TEST FAILED for image tag {tag or '?'}:", file=sys.stderr)
        for msg in failures:
            print(f"  - {msg}", file=sys.stderr)
        return 1
    print(
        f"OK {tag}: python {have_python}, torch {torch_version} (cuda {cuda}"
        f"{', ' + cuda_summary if cuda_summary else ''}), "
        f"jupyterhub-singleuser {hub_version}, JupyterLab starts, uid {uid}, HOME {home} writable"
    )
    return 0


def language_problems() -> list[str]:
    """The Chinese language pack is installed and the zh_CN.UTF-8 locale exists (the hub sets
    LANG=zh_CN.UTF-8 for a student who reads Chinese; JupyterLab's default follows it)."""
    import importlib.metadata
    import locale

    found = []
    try:
        importlib.metadata.version("jupyterlab-language-pack-zh-CN")
    except importlib.metadata.PackageNotFoundError:
        found.append("jupyterlab-language-pack-zh-CN is not installed")
    for name in ("zh_CN.UTF-8", "en_US.UTF-8"):
        try:
            locale.setlocale(locale.LC_CTYPE, name)
        except locale.Error:
            found.append(f"the locale {name} is not generated (locale-gen)")
    locale.setlocale(locale.LC_CTYPE, "")
    # the hub's warnings inside JupyterLab (images/labextension)
    notices = os.path.join(sys.prefix, "share/jupyter/labextensions/launcher-notices")
    if not os.path.isfile(os.path.join(notices, "static/remoteEntry.js")):
        found.append(f"the launcher-notices JupyterLab extension is missing from {notices}")
    return found


def cudnn_number(version: str) -> int:
    """cuDNN's version as cudnnGetVersion() gives it: 9.24.0.43 -> 92400 (8.9.7 -> 8907)."""
    major, minor, patch = (int(x) for x in (version.split(".") + ["0", "0"])[:3])
    return major * (10000 if major >= 9 else 1000) + minor * 100 + patch


def gpu_visible() -> bool:
    devices = os.environ.get("NVIDIA_VISIBLE_DEVICES", "").strip()
    return devices not in ("", "void", "none")


def cuda_build_checks(failures: list[str]) -> str:
    """cuDNN, the compiled architectures and the behaviour with and without a GPU; a summary
    for the OK line. Needs no GPU."""
    import warnings

    import torch

    summary = []
    want_cudnn = os.environ.get("LAUNCHER_CUDNN_VERSION", "")
    try:
        have_cudnn = torch.backends.cudnn.version()
    except Exception as exc:  # noqa: BLE001 - a cuDNN that does not load fails the image
        failures.append(f"cuDNN does not load: {exc!r}")
    else:
        if want_cudnn and have_cudnn != cudnn_number(want_cudnn):
            failures.append(
                f"cuDNN is {have_cudnn}, the matrix entry says {want_cudnn} "
                f"({cudnn_number(want_cudnn)})"
            )
        summary.append(f"cuDNN {have_cudnn}")
    want_arch = os.environ.get("LAUNCHER_CUDA_ARCH_LIST", "").split()
    # torch.cuda.get_arch_list() answers [] without a GPU; the flags it reads are compiled in
    have_arch = (torch._C._cuda_getArchFlags() or "").split()
    if want_arch and sorted(have_arch) != sorted(want_arch):
        failures.append(
            f"torch was compiled for {' '.join(have_arch) or 'no GPU architecture'}, the matrix "
            f"entry says {' '.join(want_arch)}"
        )
    summary.append(f"arch {' '.join(have_arch)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
        count = torch.cuda.device_count()
    if gpu_visible():
        if not available:
            failures.append("a GPU is visible (NVIDIA_VISIBLE_DEVICES) but torch cannot use it")
            return ", ".join(summary)
        x = torch.ones(256, 256, device="cuda")
        if float((x @ x).sum().cpu()) != 256.0**3:
            failures.append("a matrix product on the GPU gave a wrong result")
        summary.append(f"{count} GPU(s): {torch.cuda.get_device_name(0)}")
        return ", ".join(summary)
    if available or count:
        failures.append(f"no GPU is visible, yet torch.cuda says available={available}, {count}")
    if caught:
        failures.append(f"asking torch.cuda without a GPU warns: {caught[0].message}")
    device = torch.device("cuda" if available else "cpu")
    layer = torch.nn.Linear(4, 2).to(device)
    if tuple(layer(torch.ones(3, 4, device=device)).shape) != (3, 2):
        failures.append("a layer on the fallback device gave the wrong shape")
    summary.append("no GPU: falls back to the CPU")
    return ", ".join(summary)


def jupyterlab_starts(timeout: float = 90) -> str | None:
    """Start JupyterLab on a free loopback port and wait for /lab to answer 200; None if it does.
    It starts as the hub starts a Chinese reader's session (LANG=zh_CN.UTF-8): its "default"
    language must then be the language pack's, and its page must load launcher-notices."""
    import json
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        proc = subprocess.Popen(
            [
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--IdentityProvider.token=",
                "--ServerApp.root_dir=/tmp",
            ],
            env={**os.environ, "LANG": "zh_CN.UTF-8"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        return f"JupyterLab cannot be started: {exc}"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return f"JupyterLab exited with {proc.returncode}: {proc.stderr.read()[-500:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as resp:
                    page = resp.read().decode()
            except OSError:  # not answering yet (or not 200)
                time.sleep(0.5)
                continue
            if '"launcher-notices"' not in page:
                return "JupyterLab's page does not load the launcher-notices extension"
            url = f"http://127.0.0.1:{port}/lab/api/translations/default"
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    answer = json.load(resp)
                language = answer["data"]["jupyterlab"][""]["language"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                return f"JupyterLab with LANG=zh_CN.UTF-8 has no Chinese default language: {exc!r}"
            if language != "zh-CN":
                return f"JupyterLab with LANG=zh_CN.UTF-8 speaks {language!r}, not zh-CN"
            return None
        return f"JupyterLab did not answer on /lab within {timeout:.0f}s"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())

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
SSH (the hub's gateway reaches the container's sshd): the image has no host keys of its own;
launcher-session without LAUNCHER_SSH_AUTHORIZED_KEYS only runs its command; with it, it
writes an sshd_config that ``sshd -t`` accepts, whose SetEnv line hands the session exactly
the variables that are set, and starts sshd on port 2222 as uid 1000 with no capabilities;
OpenSSH's client then signs in as jovyan with the key and finds uid 1000, /opt/venv's python
and the environment. A login shell (JupyterLab's terminals, SSH logins) finds that python too.
Run it in a fresh container: it takes port 2222 and /tmp/.launcher-sshd.
Exits 1 with one message per failed check; prints a one-line OK summary otherwise.
Standard library only (besides torch), so it also runs on a broken image.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

STUDENT_UID = 1000
VENV_PYTHON = "/opt/venv/bin/python"
# the contract with the hub's SSH gateway (images/launcher-session)
SESSION = "/usr/local/bin/launcher-session"
SSH_DIR = "/tmp/.launcher-sshd"
SSH_PORT = 2222
SSH_USER = "jovyan"
KEYS_VAR = "LAUNCHER_SSH_AUTHORIZED_KEYS"
#: the variables an SSH session gets from the container, when set (besides every LAUNCHER_*)
SESSION_VARS = (
    "PATH",
    "VIRTUAL_ENV",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_VISIBLE_DEVICES",
    "PIP_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
)


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

    # sshd for the hub's SSH gateway, and the venv's python in login shells
    failures.extend(login_shell_problems())
    ssh_summary = ssh_checks(failures)

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
        f"jupyterhub-singleuser {hub_version}, JupyterLab starts, {ssh_summary}, uid {uid}, "
        f"HOME {home} writable"
    )
    return 0


def login_shell_problems() -> list[str]:
    """JupyterLab's terminals and interactive SSH logins run `bash -l`, whose /etc/profile sets
    its own PATH: the image's profile.d puts /opt/venv/bin back in front."""
    try:
        proc = subprocess.run(
            ["bash", "-lc", "command -v python"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"bash -l cannot run: {exc!r}"]
    found = proc.stdout.strip()
    if found != VENV_PYTHON:
        return [
            f"a login shell (bash -l) runs python from {found or 'nowhere'!r}, not {VENV_PYTHON}"
        ]
    return []


def sshd_words(line: str) -> list[str]:
    """The words sshd makes of a line of sshd_config (OpenSSH 9.2's argv_split): blanks
    separate them, "..." and '...' quote, a backslash escapes a quote or a backslash (and,
    outside quotes, a blank); any other backslash stays. A # at a word's start ends the line."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        if line[i] == "#":
            break
        quote, word = "", []
        while i < n:
            c = line[i]
            if c == "\\" and i + 1 < n:
                nxt = line[i + 1]
                if nxt in "'\"\\" or (not quote and nxt == " "):
                    i += 1
                    c = nxt
                word.append(c)
            elif not quote and c in " \t":
                break
            elif not quote and c in "'\"":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                word.append(c)
            i += 1
        words.append("".join(word))
    return words


def session_env(environ: dict[str, str]) -> dict[str, str]:
    """What an SSH session must get from the container's environment ``environ``: the
    SESSION_VARS and every LAUNCHER_* but the keys, those that are set (empty ones too) and
    fit on a line."""
    names = [*SESSION_VARS, *sorted(k for k in environ if k.startswith("LAUNCHER_"))]
    return {
        k: environ[k] for k in names if k in environ and k != KEYS_VAR and "\n" not in environ[k]
    }


def setenv_of(config: str) -> dict[str, str]:
    """NAME -> value of the first SetEnv line of an sshd_config (sshd ignores any later one)."""
    for line in config.splitlines():
        words = sshd_words(line)
        if words and words[0].lower() == "setenv":
            return dict(w.split("=", 1) for w in words[1:])
    return {}


def status_problems(what: str, status: str, uid: int = STUDENT_UID) -> list[str]:
    """Problems of a process, from its /proc/PID/status: not all of its uids ``uid``, or a
    capability it holds (permitted or effective)."""
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    found = []
    uids = fields.get("Uid", "").split()
    if not uids or any(int(u) != uid for u in uids):
        found.append(f"{what} runs with uids {' '.join(uids) or '?'}, not {uid}")
    for cap in ("CapPrm", "CapEff"):
        if int(fields.get(cap, "0").strip() or "0", 16):
            found.append(f"{what} holds capabilities ({cap} {fields[cap].strip()})")
    return found


def children(pid: int, proc: str = "/proc") -> list[tuple[int, str]]:
    """(pid, name) of the processes whose parent is ``pid``."""
    found = []
    for stat in glob.glob(os.path.join(proc, "[0-9]*", "stat")):
        try:
            with open(stat) as f:
                text = f.read()
        except OSError:  # ended meanwhile
            continue
        # "PID (NAME) STATE PPID ...": NAME may hold blanks and parentheses
        name = text[text.index("(") + 1 : text.rindex(")")]
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append((int(text.split(" ", 1)[0]), name))
    return sorted(found)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ssh_checks(failures: list[str], timeout: float = 30) -> str:
    """launcher-session and the sshd it starts (see the module's docstring); a summary for
    the OK line."""
    for key in sorted(glob.glob("/etc/ssh/ssh_host_*")):
        failures.append(f"the image has a host key of its own: {key} (keys are made per start)")
    try:
        version = subprocess.run(["ssh", "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        failures.append(f"OpenSSH's client is missing: {exc!r}")
        return "no ssh"
    openssh = (version.stderr or version.stdout).split(",")[0].strip()
    if not os.access("/usr/sbin/sshd", os.X_OK):
        failures.append("/usr/sbin/sshd is missing (openssh-server)")
        return "no sshd"
    if port_open(SSH_PORT) or os.path.exists(SSH_DIR):
        failures.append(
            f"port {SSH_PORT} is taken or {SSH_DIR} exists: run the smoke test in a fresh container"
        )
        return openssh

    plain = {k: v for k, v in os.environ.items() if k != KEYS_VAR}
    try:
        proc = subprocess.run(
            [SESSION, "sh", "-c", 'echo "plain $0"', "run"],
            env=plain,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        failures.append(f"{SESSION} cannot run: {exc!r}")
        return openssh
    if proc.returncode != 0 or proc.stdout != "plain run\n":
        failures.append(
            f"{SESSION} without {KEYS_VAR} does not just run its command: exit "
            f"{proc.returncode}, {(proc.stdout + proc.stderr).strip()[-300:]!r}"
        )
    if os.path.exists(SSH_DIR):
        failures.append(f"{SESSION} without {KEYS_VAR} made {SSH_DIR}")
        return openssh

    with tempfile.TemporaryDirectory(prefix="smoke-ssh-") as tmp:
        key = os.path.join(tmp, "key")
        try:
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key],
                check=True,
                capture_output=True,
                timeout=30,
            )
            with open(key + ".pub") as f:
                public = f.read().strip()
        except (OSError, subprocess.SubprocessError) as exc:
            failures.append(f"ssh-keygen cannot make a client key: {exc!r}")
            return openssh
        env = {
            **plain,
            # the gateway's key, with a line of another key around it
            KEYS_VAR: f"{public}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other@key\n",
            "LAUNCHER_SMOKE_VALUE": "two  words, a \"quote\", a 'quote', a \\ and $HOME #1",
            "LAUNCHER_SMOKE_EMPTY": "",
        }
        env.pop("CUDA_VISIBLE_DEVICES", None)  # unset: the session must not get it either
        with open(os.path.join(tmp, "sshd.log"), "w+") as log:
            session = subprocess.Popen(
                [SESSION, "sleep", "300"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # sshd, started in the background, joins its group
            )
            try:
                summary = sshd_session_checks(failures, session, env, key, log, timeout)
                return f"{openssh} {summary}" if summary else openssh
            finally:
                try:
                    os.killpg(session.pid, signal.SIGTERM)
                except ProcessLookupError:  # all of them ended already
                    pass
                session.wait(timeout=15)
                deadline = time.monotonic() + 10
                while port_open(SSH_PORT) and time.monotonic() < deadline:
                    time.sleep(0.1)


def sshd_session_checks(failures, session, env, key, log, timeout) -> str:
    """The sshd that ``session`` (launcher-session, given ``env``) started: its config, its
    process, and a real sign-in with ``key``. A summary, "" when sshd did not start."""

    def log_tail() -> str:
        log.flush()
        log.seek(0)
        return log.read().strip()[-800:]

    deadline = time.monotonic() + timeout
    while not port_open(SSH_PORT):
        if session.poll() is not None or time.monotonic() > deadline:
            failures.append(f"launcher-session started no sshd on port {SSH_PORT}: {log_tail()!r}")
            return ""
        time.sleep(0.1)
    ssh_summary = f"sshd on {SSH_PORT}"

    config = os.path.join(SSH_DIR, "sshd_config")
    check = subprocess.run(
        ["/usr/sbin/sshd", "-t", "-f", config], capture_output=True, text=True, timeout=30
    )
    if check.returncode != 0:
        failures.append(f"sshd -t -f {config} refuses it: {(check.stderr or check.stdout)[-500:]}")
    if (os.stat(SSH_DIR).st_mode & 0o777) != 0o700:
        failures.append(f"{SSH_DIR} is mode {os.stat(SSH_DIR).st_mode & 0o777:o}, not 700")
    with open(config) as f:
        text = f.read()
    for line in (f"ListenAddress 0.0.0.0:{SSH_PORT}", "AllowUsers jovyan", "UsePAM no"):
        if line not in text.splitlines():
            failures.append(f"{config} lacks the line {line!r}")
    if sum(1 for line in text.splitlines() if sshd_words(line)[:1] == ["SetEnv"]) != 1:
        failures.append(f"{config} must have exactly one SetEnv line (sshd reads the first only)")
    want = session_env(env)
    have = setenv_of(text)
    if have != want:
        wrong = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        failures.append(f"{config}'s SetEnv differs from the environment in {', '.join(wrong)}")

    sshds = [pid for pid, name in children(session.pid) if name == "sshd"]
    if not sshds:
        failures.append("no sshd process is a child of launcher-session's command")
    for pid in sshds:
        try:
            with open(f"/proc/{pid}/status") as f:
                failures.extend(status_problems(f"sshd (pid {pid})", f.read()))
        except OSError as exc:
            failures.append(f"cannot read sshd's status: {exc}")

    script = (
        "id -u; command -v python; "
        "python -c 'import os; print(repr(os.environ.get(\"LAUNCHER_SMOKE_VALUE\")))'; "
        'echo "${CUDA_VISIBLE_DEVICES-unset} ${LAUNCHER_SSH_AUTHORIZED_KEYS-unset}"'
    )
    try:
        login = subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", key, "-p", str(SSH_PORT), "-o", "BatchMode=yes"]
            + ["-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no"]
            + ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
            + [f"{SSH_USER}@127.0.0.1", script],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        failures.append(f"ssh {SSH_USER}@127.0.0.1 -p {SSH_PORT} did not finish: {log_tail()!r}")
        return ssh_summary
    lines = login.stdout.splitlines()
    expected = [str(STUDENT_UID), VENV_PYTHON, repr(env["LAUNCHER_SMOKE_VALUE"]), "unset unset"]
    if login.returncode != 0 or lines != expected:
        failures.append(
            f"ssh {SSH_USER}@127.0.0.1 -p {SSH_PORT} with the key: exit {login.returncode}, "
            f"printed {lines}, expected {expected}; {login.stderr.strip()[-300:]!r}; "
            f"sshd: {log_tail()!r}"
        )
        return ssh_summary
    return f"{ssh_summary} (uid {STUDENT_UID}, no capabilities): ssh in as {SSH_USER} works"


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

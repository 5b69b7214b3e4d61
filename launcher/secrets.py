"""Secrets the hub needs, generated on first start and kept in the data directory (mode 0600).

Nothing secret is ever in the repository or the site file.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

#: the `launcher` command's hub token (its service `launcher-cli`): the environment variable,
#: and the file in the data directory
CLI_TOKEN_ENV, CLI_TOKEN_FILE = "LAUNCHER_CLI_TOKEN", "launcher-cli-token"
#: the token between the hub and a proxy that runs as its own service (hub.proxy: external)
PROXY_TOKEN_ENV, PROXY_TOKEN_FILE = "CONFIGPROXY_AUTH_TOKEN", "proxy-auth-token"


@dataclass(frozen=True)
class StoredSecret:
    value: str
    path: Path | None  # None: it came from the environment
    created: bool  # True: generated just now


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and return it."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def existing(env_var: str, path: Path) -> StoredSecret | None:
    """The secret from ``$env_var``, else the one stored at ``path`` (the one rule for every
    secret: the environment first, then the data directory); None when neither has it."""
    from_env = os.environ.get(env_var, "").strip()
    if from_env:
        return StoredSecret(from_env, None, False)
    try:
        return StoredSecret(path.read_text(encoding="utf-8").strip(), path, False)
    except FileNotFoundError:
        return None


def env_or_file(env_var: str, path: Path, nbytes: int) -> StoredSecret:
    """The secret from ``$env_var``; else the one stored at ``path``; else a new one stored there.

    A new secret is written with mode 0600 before anything else can read it.
    """
    found = existing(env_var, path)
    if found is not None:
        return found
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (the proxy, the hub) is making it right now
        for _ in range(100):
            found = existing(env_var, path)
            if found is not None and found.value:
                return found
            time.sleep(0.02)
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return StoredSecret(value, path, True)


def proxy_token(data: Path) -> StoredSecret:
    """The hub's and the external proxy's shared token: $CONFIGPROXY_AUTH_TOKEN, else the
    data directory's file (generated once; `launcher proxy` reads the same)."""
    return env_or_file(PROXY_TOKEN_ENV, data / PROXY_TOKEN_FILE, 32)


#: instructors' and TAs' own passwords (class-password sites): one JSON file, name -> password
STAFF_PASSWORDS_FILE = "staff-passwords.json"


def staff_passwords(path: Path) -> dict[str, str]:
    """Name -> password of every staff member who has one ({} when there is no file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def ensure_staff_passwords(path: Path, names: list[str], nbytes: int = 12) -> list[str]:
    """Give every one of ``names`` without a password a new one, in the file ``path`` (mode
    0600, written whole and renamed into place); returns the names that got one."""
    known = staff_passwords(path)
    new = [n for n in dict.fromkeys(names) if n not in known]
    if new:
        known.update({n: secrets.token_urlsafe(nbytes) for n in new})
        tmp = path.with_name(path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(known, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    return new

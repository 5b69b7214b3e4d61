"""Docker object names derived from JupyterHub usernames and course ids, and the hub API path
of a user's server (pure functions).

Docker names must match ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``. Usernames can be anything JupyterHub
accepts (unicode, dots, ``@``, 200 characters). The rule, after kubespawner's ``safe_slug``:

* a name that is already safe (lower-case ASCII letters and digits with single ``-`` or ``.``
  between them, at most 40 characters) is used as it is;
* any other name keeps its safe characters (truncated) and gets ``--`` plus 8 hex digits of
  the SHA-256 of the exact original name. Safe names never contain ``--``, so a hashed name can
  never equal a plain one, and two different originals differ in their hash.

Parts are joined with ``_``, which no slug, prefix or course id contains, so a name splits back
into its parts unambiguously (``a-b`` + ``c`` never meets ``a`` + ``b-c``).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

_SAFE = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*$")
_UNSAFE_RUN = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 40


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def safe_slug(name: str, max_length: int = MAX_SLUG) -> str:
    """A Docker-safe, collision-free slug for ``name`` (see the module docstring)."""
    if len(name) <= max_length and _SAFE.fullmatch(name):  # ($ alone lets "a\n" by)
        return name
    stripped = _UNSAFE_RUN.sub("-", name.lower()).strip("-")[: max_length - 10].strip("-")
    return f"{stripped or 'x'}--{_hash(name)}"


def container_name(prefix: str, username: str, course: str, server_name: str = "") -> str:
    """``{prefix}_{user}_{course}`` (plus ``_{server}`` for a named server)."""
    parts = [prefix, safe_slug(username), safe_slug(course)]
    if server_name:
        parts.append(safe_slug(server_name))
    return "_".join(parts)


def workspace_volume(prefix: str, username: str, course: str) -> str:
    """The named volume that holds a student's home directory for one course."""
    return "_".join([prefix, "home", safe_slug(username), safe_slug(course)])


def server_path(username: str, server: str = "") -> str:
    """The hub API path of a user's default server or of one of their named servers."""
    user = quote(username, safe="")
    return f"/users/{user}/servers/{quote(server, safe='')}" if server else f"/users/{user}/server"

"""What the hub's pages tell a student whose server stopped without being asked to.

JupyterHub shows its ``announcement`` template variable at the top of every page; the hub's
configuration sets it to :func:`stopped_notice`, which JupyterHub calls with the visitor.
The facts come from each server's ``last_stop`` (CourseSpawner.poll notes them), so the
page costs no database or engine call.
"""

from __future__ import annotations

from datetime import datetime
from html import escape


def sentence(stop: dict) -> str:
    """One stop, in a sentence a student can act on."""
    course = stop.get("course") or "course"
    when = _clock(stop.get("at", ""))
    details = stop.get("details", "")
    kept = "Your files are kept; start the server again when you are ready."
    if stop.get("reason") == "oom":
        limit = f" (limit {details})" if details else ""
        return (
            f"Your {course} server ran out of memory{limit} at {when} and was stopped. {kept} "
            "Use less memory (smaller batches or datasets), or ask your instructor for more."
        )
    if stop.get("reason") == "vanished":
        return f"Your {course} server's container was removed outside the hub at {when}. {kept}"
    code = f" (exit code {details})" if details else ""
    return f"Your {course} server stopped by itself at {when}{code}. {kept}"


def stopped_notice(user) -> str:
    """HTML for the top of the hub's pages: a sentence per server of ``user`` that stopped
    by itself and has not been started again ("" for nobody, or nothing to say)."""
    if user is None:
        return ""
    found = []
    for spawner in user.spawners.values():
        stop = getattr(spawner, "last_stop", None)
        if stop and not spawner.active:
            found.append(f"<p>{escape(sentence(stop))}</p>")
    return "".join(found)


def _clock(iso: str) -> str:
    try:
        return f"{datetime.fromisoformat(iso):%H:%M} UTC"
    except ValueError:
        return "an unknown time"

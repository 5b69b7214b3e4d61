"""What the hub's pages tell a student whose server stopped without being asked to.

JupyterHub shows its ``announcement`` template variable at the top of every page; the hub's
configuration sets it to :func:`stopped_notice`, which JupyterHub calls with the visitor.
The facts come from each server's ``last_stop`` (CourseSpawner.poll notes them), so the
page costs no database or engine call. JupyterHub gives the notice no request, so it is in
the language of the server's last start (``spawner.reader``: the language the student's
browser asked for then), its time in the site's zone.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from launcher.i18n import ENGLISH, Reader


def sentence(stop: dict, reader: Reader = ENGLISH) -> str:
    """One stop, in a sentence a student can act on, in ``reader``'s language."""
    _ = reader._
    facts = {
        "course": stop.get("course") or _("course"),
        "time": _clock(stop.get("at", ""), reader),
        "details": stop.get("details", ""),
        "kept": _("Your files are kept; start the server again when you are ready."),
    }
    if stop.get("reason") == "oom":
        if facts["details"]:
            text = _(
                "Your {course} server ran out of memory (limit {details}) at {time} and was "
                "stopped. {kept} Use less memory (smaller batches or datasets), or ask your "
                "instructor for more."
            )
        else:
            text = _(
                "Your {course} server ran out of memory at {time} and was stopped. {kept} Use "
                "less memory (smaller batches or datasets), or ask your instructor for more."
            )
    elif stop.get("reason") == "node_drained":
        text = _(
            "Your {course} server stopped at {time}: the admin took the GPU server it ran on "
            "({details}) out of service. Your files are kept on that server; start again "
            "when it is back, or ask the admin to move your workspace to another one."
        )
    elif stop.get("reason") == "node_down":
        text = _(
            "Your {course} server stopped at {time}: the GPU server it ran on ({details}) "
            "stopped answering. Your files are kept on that server; start again when it is "
            "back, or ask the admin to move your workspace to another one."
        )
    elif stop.get("reason") == "vanished":
        text = _("Your {course} server's container was removed outside the hub at {time}. {kept}")
    elif facts["details"]:
        text = _("Your {course} server stopped by itself at {time} (exit code {details}). {kept}")
    else:
        text = _("Your {course} server stopped by itself at {time}. {kept}")
    return text.format(**facts)


def stopped_notice(user) -> str:
    """HTML for the top of the hub's pages: a sentence per server of ``user`` that stopped
    by itself and has not been started again ("" for nobody, or nothing to say)."""
    if user is None:
        return ""
    found = []
    for spawner in user.spawners.values():
        stop = getattr(spawner, "last_stop", None)
        if stop and not spawner.active:
            reader = getattr(spawner, "reader", None)
            if not isinstance(reader, Reader):
                reader = ENGLISH
            found.append(f"<p>{escape(sentence(stop, reader))}</p>")
    return "".join(found)


def _clock(iso: str, reader: Reader = ENGLISH) -> str:
    try:
        return reader.clock(datetime.fromisoformat(iso))
    except (TypeError, ValueError):
        return reader._("an unknown time")

"""``launcher upgrade``: bring the store (and JupyterHub's own database) to this launcher's
schema, keeping every row, with the hub stopped and the students' servers running.

The order of an upgrade (docs/howto/upgrade.md): ``launcher backup``, stop the hub (the
students' containers and the proxy keep running), install the new launcher, ``launcher
upgrade``, start the hub (it finds the running servers again).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from launcher import pidfiles, schema
from launcher.catalog import Catalog
from launcher.settings import Site
from launcher.store import Store, bounded_engine


def cmd_upgrade(site: Site, say=print) -> int:
    data_dir = site.data_dir()
    hub_pid = pidfiles.running_hub(data_dir)
    if hub_pid:
        print(
            f"problem: the hub of {data_dir} is running (PID {hub_pid}). Stop it first (its "
            "students' servers keep running), then run `launcher upgrade` again.",
            file=sys.stderr,
        )
        return 1
    engine = bounded_engine(site.store_url())
    try:
        schema.upgrade(engine, say)
    except schema.SchemaMismatch as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    rewritten = Catalog({}, Store(site.store_url())).migrate()
    if rewritten:
        say(f"Course specs rewritten in today's format: {', '.join(rewritten)}")
    upgrade_hub_db(data_dir / "jupyterhub.sqlite", say)
    say("The store is ready for this launcher: start the hub.")
    return 0


def upgrade_hub_db(path: Path, say) -> None:
    """JupyterHub's own database, by JupyterHub's own migrations (it copies a SQLite file
    first); nothing when the hub has never run."""
    if not path.exists():
        return
    from jupyterhub import dbutil

    bin_dir = str(Path(sys.executable).parent)  # JupyterHub runs its `alembic` command
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    log = logging.getLogger("launcher.upgrade")
    dbutil.upgrade_if_needed(f"sqlite:///{path}", backup=True, log=log)
    say(f"JupyterHub's database {path} is at its schema")

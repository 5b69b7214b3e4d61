"""The store's schema versions, under Alembic (as JupyterHub's own database is).

Every process that opens the store (the hub, its services, the ``launcher`` command) checks
the revision recorded in the table ``launcher_schema``:

- an empty database gets today's tables and the newest revision;
- the newest revision: the store is used;
- an older revision, or release 0.1.0's tables without a revision: refused with a sentence
  that says to run ``launcher upgrade`` (which migrates, keeping every row);
- a revision this launcher does not know (written by a newer launcher): refused with a
  sentence, nothing is changed.

The migrations are in ``launcher/migrations/versions``; a new one is written with
``alembic revision`` against a scratch store (see docs/howto/upgrade.md).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

#: the table that records the store's revision (JupyterHub's is ``alembic_version``)
VERSION_TABLE = "launcher_schema"
MIGRATIONS = Path(__file__).parent / "migrations"
#: the revision of release 0.1.0's store, whose tables carry no revision
UNVERSIONED = "0001"
#: tables that only a launcher store has (an unversioned database with one is 0.1.0's)
_OURS = {"gpu_allocations", "courses", "quota_grants"}


class SchemaMismatch(RuntimeError):
    """The store's schema is not the one this launcher reads; the message says what to do."""


@dataclass(frozen=True)
class State:
    """Where a store stands: ``current`` (its revision, None for an empty database),
    ``head`` (this launcher's) and what that means: empty, current, older or newer."""

    current: str | None
    head: str
    kind: str


def alembic_config(conn: Connection | None = None) -> Config:
    """Alembic's configuration for migrating the store on ``conn``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    return _scripts().get_current_head()


def known(revision: str) -> bool:
    return revision in {s.revision for s in _scripts().walk_revisions()}


def state(conn: Connection) -> State:
    """The store's revision and what it means for this launcher."""
    found = recorded(conn)
    if found is None and _OURS & set(inspect(conn).get_table_names()):
        found = UNVERSIONED
        kind = "older"
    elif found is None:
        kind = "empty"
    elif found == head():
        kind = "current"
    elif known(found):
        kind = "older"
    else:
        kind = "newer"
    return State(found, head(), kind)


def recorded(conn: Connection) -> str | None:
    """The revision recorded in the store (None: none is, 0.1.0's store or an empty one)."""
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def ensure(engine: Engine, metadata) -> None:
    """Use the store if its schema is this launcher's; make it if the database is empty;
    else raise :class:`SchemaMismatch` with what to do."""
    with engine.begin() as conn:
        now = state(conn)
        if now.kind == "current":
            return
        if now.kind == "empty":
            # the newest tables at once, then the revision that has them (Alembic's recipe
            # for a new database; tests/unit/test_schema.py checks the migrations make the
            # same tables)
            metadata.create_all(conn)
            command.stamp(alembic_config(conn), "head")
            return
    raise SchemaMismatch(sentence(now, engine))


def sentence(now: State, engine: Engine) -> str:
    shown = engine.url.render_as_string(hide_password=True)
    if now.kind == "older":
        return (
            f"The launcher's store {shown} has schema version {now.current}, older than this "
            f"launcher's ({now.head}). Stop the hub (students' servers keep running), then run "
            "`launcher upgrade --config SITE_FILE`, which keeps every row (a `launcher backup` "
            "first is wise)."
        )
    return (
        f"The launcher's store {shown} has schema version {now.current}, which this launcher "
        f"does not know (it knows up to {now.head}): a newer launcher wrote it. Run that "
        "launcher again, or restore the backup made before it was installed (`launcher "
        "restore`)."
    )


def upgrade(engine: Engine, say=print, copy_first: bool = True) -> State:
    """Migrate the store to this launcher's schema (every row kept); returns the state it had.
    A SQLite store is copied next to itself first (``copy_first``). Raises SchemaMismatch for
    a newer store."""
    with engine.connect() as conn:
        before = state(conn)
    if before.kind == "newer":
        raise SchemaMismatch(sentence(before, engine))
    if before.kind == "current":
        say(f"The store is at schema version {before.head} already: nothing to do.")
        return before
    if copy_first and before.kind == "older" and engine.url.get_backend_name() == "sqlite":
        copy = sqlite_copy(Path(engine.url.database), before.current)
        say(f"Copied the store to {copy} before the upgrade")
    with engine.begin() as conn:
        if before.kind == "empty":
            command.upgrade(alembic_config(conn), "head")
        else:
            if recorded(conn) is None:  # release 0.1.0's tables
                command.stamp(alembic_config(conn), UNVERSIONED)
            command.upgrade(alembic_config(conn), "head")
    say(f"The store's schema: {before.current or 'empty'} -> {before.head}")
    return before


def sqlite_copy(path: Path, revision: str | None) -> Path:
    """A consistent copy of the SQLite database at ``path`` (SQLite's online backup: the hub
    may be writing), next to it; returns the copy's path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return sqlite_copy_to(path, path.with_name(f"{path.name}.schema-{revision}.{stamp}.bak"))


def sqlite_copy_to(path: Path, copy: Path) -> Path:
    """SQLite's online backup of ``path`` into ``copy`` (readable by its owner only)."""
    copy.touch(mode=0o600)
    src = sqlite3.connect(path)
    try:
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return copy

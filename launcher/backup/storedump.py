"""The store as JSON, and back: a consistent snapshot of every launcher table while the hub
runs, and its rows put back into an empty store (SQLite or PostgreSQL alike).

- SQLite: SQLite's online backup copies the database into a temporary file first (the hub
  may be writing; the copy is one moment of it), and the rows are read from the copy.
- PostgreSQL: every table is read in one REPEATABLE READ transaction (one moment too).

A dump keeps its schema revision. It is loaded into an empty database made at that revision,
which is then upgraded to this launcher's: a backup taken before an upgrade restores too.
"""

from __future__ import annotations

import base64
import tempfile
from datetime import date, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import DateTime, MetaData, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from launcher import schema
from launcher.store import StoreUnavailable, bounded_engine


class StoreNotEmpty(RuntimeError):
    """A whole-site restore into a store that holds rows already."""


def snapshot(url: str) -> dict:
    """``{"schema": revision, "tables": {name: [row, ...]}}`` of the store at ``url``, JSON
    types only (times as ISO text)."""
    engine = bounded_engine(url)
    try:
        if engine.url.get_backend_name() == "sqlite":
            if not Path(engine.url.database).is_file():
                raise StoreUnavailable(
                    f"There is no store at {engine.url.database}: has the hub run with this "
                    "site file (its data_dir)?"
                )
            with tempfile.TemporaryDirectory(prefix="launcher-backup-") as tmp:
                copy = Path(tmp) / "store.sqlite"
                schema.sqlite_copy_to(Path(engine.url.database), copy)
                frozen = bounded_engine(f"sqlite:///{copy}")
                try:
                    with frozen.connect() as conn:
                        return _dump(conn)
                finally:
                    frozen.dispose()
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return _dump(conn)
    finally:
        engine.dispose()


def _dump(conn: Connection) -> dict:
    now = schema.state(conn)
    tables = MetaData()
    tables.reflect(conn)
    found = {}
    for name, table in sorted(tables.tables.items()):
        if name == schema.VERSION_TABLE:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        rows = conn.execute(select(table).order_by(*order))
        found[name] = [{k: _json(v) for k, v in row._mapping.items()} for row in rows]
    return {"schema": now.current, "tables": found}


def _json(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return value


def is_empty(url: str) -> bool:
    """No row in any launcher table (or no tables at all)."""
    engine = bounded_engine(url)
    try:
        with engine.connect() as conn:
            tables = MetaData()
            tables.reflect(conn)
            return all(
                conn.execute(select(func.count()).select_from(t)).scalar() == 0
                for name, t in tables.tables.items()
                if name != schema.VERSION_TABLE
            )
    finally:
        engine.dispose()


def load(url: str, dump: dict, say=print) -> None:
    """Put ``dump``'s rows into the store at ``url``, which must hold no rows; then upgrade it
    to this launcher's schema. Raises StoreNotEmpty, or SchemaMismatch for a dump written by a
    newer launcher."""
    revision = dump["schema"]
    if not schema.known(revision):
        raise schema.SchemaMismatch(
            f"The backup's store has schema version {revision}, which this launcher does not "
            f"know (it knows up to {schema.head()}): restore it with the launcher that made it."
        )
    if not is_empty(url):
        raise StoreNotEmpty(
            "The store already holds courses, allocations or history; a whole-site restore "
            "replaces it only when asked (--replace-store), or restore into a new store."
        )
    engine = bounded_engine(url)
    try:
        _drop_all(engine)
        with engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), revision)
            tables = MetaData()
            tables.reflect(conn)
            for name, rows in dump["tables"].items():
                table = tables.tables[name]
                if rows:
                    conn.execute(insert(table), [_typed(table, row) for row in rows])
            if engine.url.get_backend_name() == "postgresql":
                _advance_sequences(conn, tables)
        if revision != schema.head():
            schema.upgrade(engine, say, copy_first=False)
    finally:
        engine.dispose()


def replace(url: str, dump: dict, say=print) -> None:
    """Empty the store at ``url`` (every launcher table), then :func:`load` ``dump``."""
    engine = bounded_engine(url)
    try:
        _drop_all(engine)
    finally:
        engine.dispose()
    load(url, dump, say)


def _drop_all(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        tables.drop_all(conn)


def _typed(table, row: dict) -> dict:
    typed = {}
    for key, value in row.items():
        column = table.columns[key]
        if isinstance(value, str) and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, dict) and set(value) == {"base64"}:
            value = base64.b64decode(value["base64"])
        typed[key] = value
    return typed


def _advance_sequences(conn: Connection, tables: MetaData) -> None:
    """PostgreSQL's id sequences past the rows put back (inserted ids do not advance them)."""
    for name, table in tables.tables.items():
        if "id" in table.columns and table.columns["id"].autoincrement is not False:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}
            ).scalar()
            if sequence:
                conn.execute(
                    text(
                        f"SELECT setval('{sequence}', COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
                    )
                )

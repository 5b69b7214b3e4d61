"""Upgrades: the previous release's store (0.1.0, tests/fixtures) is refused with a sentence by
this hub, `launcher upgrade` migrates it keeping every row (SQLite and PostgreSQL), and an
upgrade done while a student works leaves their server and kernel running."""

import sqlite3
import subprocess

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from launcher import schema
from launcher.catalog import SPEC_VERSION
from launcher.store import Store, StoreSchemaMismatch, utcnow
from tests.fixtures import RELEASE_POSTGRESQL, RELEASE_SQLITE
from tests.integration.hub import running_hub, start_hub, stop_hub, wait_for
from tests.kernels import Kernel
from tests.postgres import _as_postgres, _bin, fresh

pytestmark = pytest.mark.integration

#: every table of release 0.1.0 and how many rows the fixture has in each
RELEASE_ROWS = {
    "gpu_allocations": 3,
    "quota_grants": 1,
    "courses": 2,
    "course_audit": 3,
    "servers": 1,
    "gpu_samples": 2,
    "spawn_queue": 0,
    "starts": 1,
    "warnings": 1,
    "spawn_log": 2,
    "admin_audit": 2,
}


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Each 0.1.0 table's rows, in its 0.1.0 columns (a newer column is left out)."""
    engine = create_engine(url)
    found = {}
    with engine.connect() as conn:
        for table in RELEASE_ROWS:
            columns = [
                c
                for c in conn.execute(text(f"SELECT * FROM {table} LIMIT 0")).keys()
                if c != "spec_version"
            ]
            query = f"SELECT {', '.join(columns)} FROM {table}"
            found[table] = sorted(tuple(map(str, r)) for r in conn.execute(text(query)))
    engine.dispose()
    return found


def load_sqlite_release(path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(RELEASE_SQLITE.read_text())
    return f"sqlite:///{path}"


def test_the_previous_release_store_is_refused_then_upgraded_with_every_row(tmp_path):
    with running_hub(tmp_path, "upgrade-sqlite", start=False) as hub:
        url = load_sqlite_release(hub.data_dir / "launcher.sqlite")
        before = table_rows(url)
        assert {t: len(r) for t, r in before.items()} == RELEASE_ROWS

        refused = hub.launcher("up")
        assert refused.returncode == 1
        assert "older than this launcher's" in refused.stderr
        assert "launcher upgrade --config" in refused.stderr

        done = hub.launcher("upgrade")
        assert done.returncode == 0, done.stdout + done.stderr
        assert table_rows(url) == before, "every row is kept"
        assert list(hub.data_dir.glob("launcher.sqlite.schema-0001.*.bak")), "a copy first"
        again = hub.launcher("upgrade")
        assert "nothing to do" in again.stdout

        start_hub(hub)
        listed = hub.launcher("courses")
        assert "dl101" in listed.stdout and "nlp" in listed.stdout, listed.stdout
        ann = hub.session("ann")  # a student of a course kept in the store
        home = ann.get(f"{hub.url}/hub/home")
        assert "Deep learning 101" in home.text
        grants = hub.launcher("gpus", "--json")
        assert grants.returncode == 0, grants.stderr


def load_postgresql_release(url: str) -> None:
    """Release 0.1.0's store, as pg_dump printed it, into the emptied database at ``url``."""
    fresh(url)
    port = url.split(":")[-1].split("/")[0]
    loaded = subprocess.run(
        _as_postgres(
            [_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port]
            + ["-U", "launcher", "-d", "postgres", "-f", str(RELEASE_POSTGRESQL)]
        ),
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr


def test_the_previous_release_store_upgrades_on_postgresql(postgres_url):
    load_postgresql_release(postgres_url)
    before = table_rows(postgres_url)
    assert {t: len(r) for t, r in before.items()} == RELEASE_ROWS
    with pytest.raises(StoreSchemaMismatch, match="older than this launcher's"):
        Store(postgres_url)

    engine = create_engine(postgres_url)
    schema.upgrade(engine, say=lambda _: None)
    engine.dispose()
    assert table_rows(postgres_url) == before
    store = Store(postgres_url)
    assert {v for v, _ in store.course_specs().values()} == {SPEC_VERSION}
    # the id sequences go on after the old rows
    added = store.add(["GPU-0003"], "dora", "nlp", "nlp", "launcher_dora-nlp", utcnow())
    assert added[0].id == 4


def as_release_0_1_0(url: str) -> None:
    """Take a store back to release 0.1.0's schema: its migrations undone and no revision
    recorded, as that release left it."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.downgrade(schema.alembic_config(conn), schema.UNVERSIONED)
        conn.execute(text(f"DROP TABLE {schema.VERSION_TABLE}"))
    engine.dispose()


def test_an_upgrade_keeps_a_working_student_and_their_kernel(tmp_path):
    with running_hub(tmp_path, "upgrade-running") as hub:
        student = hub.session("student1")
        student.start_server()
        container = hub.container_of("student1")
        kernel = Kernel(student)
        kernel.run("x = 41")

        stop_hub(hub)  # the students' servers keep running
        as_release_0_1_0(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}")
        assert hub.launcher("up").returncode == 1
        done = hub.launcher("upgrade")
        assert done.returncode == 0, done.stdout + done.stderr
        start_hub(hub)

        wait_for(kernel.alive, 60, "the proxy to route to the student's server again")
        assert kernel.run("print(x + 1)").strip() == "42", "the kernel kept its state"
        container.reload()
        assert container.status == "running"
        assert hub.container_of("student1").id == container.id
        student.stop_server()

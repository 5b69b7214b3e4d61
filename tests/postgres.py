"""A private PostgreSQL server for tests: initdb in a temporary directory, 127.0.0.1 only.

Debian's postgresql package provides the binaries; the server runs as the `postgres` user
(initdb refuses root), is stopped by its PID file's owner command (pg_ctl stop) afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests import ports

#: URL -> data directory of each running test server (to find its processes)
DATA_DIRS: dict[str, Path] = {}


def fresh(url: str) -> str:
    """``url``, its launcher tables and schema revision dropped (each test starts from an
    empty store)."""
    from sqlalchemy import create_engine

    from launcher.schema import VERSION_TABLE
    from launcher.store import metadata

    engine = create_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as conn:  # and the revision: the next Store makes the tables anew
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
    engine.dispose()
    return url


def server_pids(url: str) -> list[int]:
    """The postmaster of the test server at ``url`` and every process below it."""
    from tests.processes import descendants

    postmaster = int((DATA_DIRS[url] / "postmaster.pid").read_text().split()[0])
    return [postmaster, *descendants(postmaster)]


@contextlib.contextmanager
def frozen(url: str):
    """The server at ``url`` stops answering (SIGSTOP: connections stay open, nothing comes
    back), until the block ends (SIGCONT)."""
    pids = server_pids(url)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make test installs postgresql)")
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of a fresh database on a private server."""
    base = Path(tempfile.mkdtemp(prefix="launcher-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    port = ports.free_port()
    subprocess.run(
        _as_postgres([_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "launcher"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    url = f"postgresql+psycopg://launcher@127.0.0.1:{port}/postgres"
    DATA_DIRS[url] = data
    try:
        yield url
    finally:
        DATA_DIRS.pop(url, None)
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)

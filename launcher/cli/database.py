"""The production store's PostgreSQL role and database, made by ``launcher install`` when the
database named by ``store.url`` does not answer yet: the role gets a generated password, kept
in the passfile that ``store.url`` names (``?passfile=...``, readable by root only); the
database belongs to the role. Idempotent: a database that answers is left alone.

The role and database are made through ``psql`` as PostgreSQL's own administrator, on the
server's local socket (Debian: the ``postgres`` user, peer authentication)."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from launcher.store import bounded_engine


class DatabaseSetupError(RuntimeError):
    """The role or database could not be made (the message says why and what to do)."""


def answers(url: str) -> bool:
    engine = bounded_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def ensure(url: str, admin: str, socket_dir: str, say=print) -> bool:
    """Make the role and database of ``url`` if it does not answer; True when it made them."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return False
    if answers(url):
        say(f"unchanged: the database {parsed.database} answers")
        return False
    passfile = parsed.query.get("passfile")
    if not passfile:
        raise DatabaseSetupError(
            "store.url names no passfile: add ?passfile=/etc/launcher/pgpass to it, where "
            "`launcher install` keeps the database password (readable by root only)."
        )
    password = stored_password(Path(passfile), parsed) or new_password(Path(passfile), parsed)
    role, database = parsed.username, parsed.database
    run_psql(admin, socket_dir, parsed.port or 5432, role_sql(role, password))
    exists = run_psql(
        admin, socket_dir, parsed.port or 5432,
        f"SELECT 1 FROM pg_database WHERE datname = {literal(database)}",
    )  # fmt: skip
    if exists.strip() != "1":
        run_psql(
            admin, socket_dir, parsed.port or 5432,
            f"CREATE DATABASE {identifier(database)} OWNER {identifier(role)}",
        )  # fmt: skip
    if not answers(url):
        raise DatabaseSetupError(
            f"The role {role} and database {database} were made, but {parsed.host}:"
            f"{parsed.port or 5432} still refuses them: check pg_hba.conf allows password "
            "sign-in for them from this host."
        )
    say(f"made the PostgreSQL role {role} and database {database} (password in {passfile})")
    return True


def stored_password(passfile: Path, url) -> str | None:
    """The password the passfile keeps for ``url``'s role (libpq's format)."""
    if not passfile.exists():
        return None
    for line in passfile.read_text().splitlines():
        parts = line.split(":")
        if len(parts) == 5 and parts[3] in ("*", url.username):
            return parts[4]
    return None


def new_password(passfile: Path, url) -> str:
    password = secrets.token_urlsafe(24)
    passfile.parent.mkdir(parents=True, exist_ok=True)
    line = f"{url.host}:{url.port or 5432}:{url.database}:{url.username}:{password}\n"
    fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(line)
    return password


def role_sql(role: str, password: str) -> str:
    name, secret = identifier(role), literal(password)
    return (
        "DO $$ BEGIN\n"
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)}) THEN\n"
        f"  CREATE ROLE {name} LOGIN PASSWORD {secret};\n"
        f"ELSE ALTER ROLE {name} LOGIN PASSWORD {secret};\n"
        "END IF; END $$;"
    )


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def run_psql(admin: str, socket_dir: str, port: int, sql: str) -> str:
    """``sql`` through psql as the server's administrator (the SQL on standard input, so that
    no password shows in the process list); its output."""
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", socket_dir, "-p", str(port), "-U", admin, "-d", "postgres", "-f", "-"]
    if os.geteuid() == 0 and _user_exists("postgres"):  # peer authentication as postgres
        argv = ["runuser", "-u", "postgres", "--", *argv]
    try:
        done = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise DatabaseSetupError(
            "psql is not installed: install PostgreSQL (apt-get install postgresql)."
        ) from None
    if done.returncode != 0:
        raise DatabaseSetupError(
            f"psql as {admin} on {socket_dir}:{port} failed: {done.stderr.strip()}"
        )
    return done.stdout


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False

"""The store's schema versions: a new store is made at the newest revision, the migrations
make exactly the tables the code reads, an older or unknown revision is refused with a
sentence, and stored course specs carry their format's version."""

import sqlite3
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from launcher import schema
from launcher.catalog import SPEC_VERSION, Catalog, SpecTooNew, current_spec
from launcher.settings import Course
from launcher.store import Store, StoreSchemaMismatch, StoreUnavailable, metadata
from tests.fixtures import RELEASE_SQLITE


def url(tmp_path, name="store.sqlite"):
    return f"sqlite:///{tmp_path / name}"


def revision(store_url):
    engine = create_engine(store_url)
    with engine.connect() as conn:
        return schema.state(conn)


def test_a_new_store_is_at_the_newest_revision(tmp_path):
    Store(url(tmp_path))
    now = revision(url(tmp_path))
    assert (now.kind, now.current) == ("current", schema.head())


def test_the_migrations_make_the_tables_the_code_reads(tmp_path):
    """From nothing, migration by migration, to the same tables as ``metadata`` (no
    difference that Alembic's comparison finds)."""
    engine = create_engine(url(tmp_path))
    schema.upgrade(engine, say=lambda _: None)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if not _is_version_table(d)] == []


def _is_version_table(diff) -> bool:
    return diff[0] == "remove_table" and diff[1].name == schema.VERSION_TABLE


def test_release_0_1_0_store_is_refused_with_a_sentence_until_upgraded(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(RELEASE_SQLITE.read_text())
    with pytest.raises(StoreSchemaMismatch) as info:
        Store(f"sqlite:///{path}")
    said = str(info.value)
    assert "older than this launcher's" in said and "`launcher upgrade" in said
    assert isinstance(info.value, StoreUnavailable)  # every caller handles it already

    told = []
    schema.upgrade(create_engine(f"sqlite:///{path}"), say=told.append)
    assert any("Copied the store to" in line for line in told)
    assert Store(f"sqlite:///{path}").course_specs()["nlp"][0] == 1


def test_a_store_from_a_newer_launcher_is_refused_and_left_alone(tmp_path):
    Store(url(tmp_path))
    engine = create_engine(url(tmp_path))
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {schema.VERSION_TABLE} SET version_num = 'f00d'"))
    with pytest.raises(StoreSchemaMismatch) as info:
        Store(url(tmp_path))
    assert "which this launcher does not know" in str(info.value)
    with pytest.raises(schema.SchemaMismatch):
        schema.upgrade(engine, say=lambda _: None)
    assert revision(url(tmp_path)).current == "f00d"


def test_upgrading_a_current_store_changes_nothing(tmp_path):
    Store(url(tmp_path))
    told = []
    before = schema.upgrade(create_engine(url(tmp_path)), say=told.append)
    assert before.kind == "current" and "nothing to do" in told[0]
    assert list(tmp_path.glob("*.bak")) == []


COURSE = {"title": "T", "image": "launcher/pytorch:2.13-cpu"}


def test_spec_versions_upgrade_in_turn_and_a_newer_one_is_refused():
    upgrades = {1: lambda d: {**d, "title": d["name"]}, 2: lambda d: {**d, "v3": True}}
    assert current_spec("c", 1, {"name": "x"}, 3, upgrades) == {"name": "x", "title": "x", "v3": 1}
    assert current_spec("c", 3, {"a": 1}, 3, upgrades) == {"a": 1}
    with pytest.raises(SpecTooNew, match="course c in the store was written by a newer"):
        current_spec("c", 4, {}, 3, upgrades)


def test_a_course_of_a_newer_format_is_left_out_with_the_reason(tmp_path, caplog):
    cat = Catalog({}, Store(url(tmp_path)))
    cat.apply({"a": Course.model_validate(COURSE)}, "admin")
    assert cat.store.course_specs()["a"][0] == SPEC_VERSION
    cat.store.write_courses(
        {"b": dict(COURSE)}, [], [], "admin", datetime(2026, 12, 1), SPEC_VERSION + 1
    )
    assert set(cat.courses()) == {"a"}
    assert "course b in the store was written by a newer launcher" in caplog.text

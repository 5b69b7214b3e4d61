"""The store and broker on a real PostgreSQL server (the same properties as on SQLite)."""

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launcher.store import Store
from tests.postgres import fresh
from tests.unit.test_gpu_broker import ops, run_steps, with_examples

pytestmark = pytest.mark.integration


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(ops, max_size=40))
@with_examples
def test_broker_properties_hold_on_postgresql(postgres_url, steps):
    asyncio.run(run_steps(steps, fresh(postgres_url)))


def test_ledger_round_trip_on_postgresql(postgres_url):
    from datetime import datetime, timedelta

    from launcher.gpu.quota import Quota, use

    store = Store(fresh(postgres_url))
    t0 = datetime(2026, 11, 22, 8)  # a Sunday: the weekly period began on Monday the 16th
    week = Quota(10, "week")
    (a,) = store.add(["GPU-0"], "ann", "dl", "", "c-ann", t0)
    assert use(week, *store.usage("ann", "dl", t0), t0 + timedelta(hours=1)).used == pytest.approx(
        1.0
    )
    assert store.end([a.id], "stopped", t0 + timedelta(minutes=30)) == 1
    assert store.active() == []
    assert use(week, *store.usage("ann", "dl", t0), t0 + timedelta(hours=5)).used == pytest.approx(
        0.5
    )
    store.grant("ann", "dl", 2, by="admin", at=t0)
    assert use(week, *store.usage("ann", "dl", t0 - timedelta(days=1)), t0).granted == 2


def test_course_catalog_apply_export_round_trip_on_postgresql(postgres_url, tmp_path):
    from launcher.catalog import Catalog
    from launcher.settings import load_course_file
    from tests.unit.test_catalog import COURSES

    path = tmp_path / "courses.yaml"
    path.write_text(COURSES)
    catalog = Catalog({}, Store(fresh(postgres_url)))
    created = catalog.apply(load_course_file(path).courses, "admin")
    assert [c.action for c in created] == ["create", "create"]
    assert catalog.courses()["dl101"].gpu.per_student == 1
    assert {c.action for c in catalog.apply(load_course_file(path).courses, "admin")} == {
        "unchanged"
    }
    path.write_text(catalog.export())
    assert {c.action for c in catalog.apply(load_course_file(path).courses, "admin")} == {
        "unchanged"
    }
    path.write_text(COURSES.replace("[ann, bob]", "[ann]"))
    (dl, _) = catalog.apply(load_course_file(path).courses, "ines")
    assert dl.details == ["students: -bob"]
    log = catalog.store.audit_log("dl101")
    assert [(e["actor"], e["action"]) for e in log] == [("admin", "create"), ("ines", "update")]

"""The catalog in the store: apply (diff, idempotence, prune, conflicts), export, audit."""

from datetime import datetime

import pytest

from launcher.catalog import Catalog, CatalogConflict, diff_specs, plan
from launcher.settings import SiteFileError, load_course_file, parse_site
from launcher.store import Store

SITE = parse_site(
    "courses:\n  demo:\n    title: Demo\n    image: launcher/pytorch:2.13-cpu\n", name="site.yaml"
)

COURSES = """\
courses:
  dl101:
    title: Deep Learning 101
    image: launcher/pytorch:2.13-cpu
    students: [ann, bob]
    instructors: [ines]
    gpu: {per_student: 1}
  cv201:
    title: Vision
    image: launcher/pytorch:2.13-cpu
    tas: [tina]
"""


def write(tmp_path, text, name="courses.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def cat(tmp_path):
    return Catalog(SITE.courses, Store(f"sqlite:///{tmp_path / 'store.sqlite'}"))


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ({"image": "a:1"}, {"image": "a:2"}, ["image: a:1 -> a:2"]),
        ({"students": ["ann", "bob"]}, {"students": ["bob", "cy"]}, ["students: +cy -ann"]),
        ({"students": ["a", "b"]}, {"students": ["b", "a"]}, ["students: reordered"]),
        (
            {"gpu": {"per_student": 0, "mode": "x"}},
            {"gpu": {"per_student": 1, "mode": "x"}},
            ["gpu.per_student: 0 -> 1"],
        ),
        ({"title": "T"}, {"title": "T"}, []),
    ],
)
def test_diff_specs(old, new, expected):
    assert diff_specs(old, new) == expected


def test_plan_refuses_to_touch_site_file_courses():
    with pytest.raises(CatalogConflict, match="demo are declared in the site file"):
        plan({}, {"demo": {"image": "x:1"}}, SITE.courses)


def test_apply_creates_then_is_idempotent_then_diffs(cat, tmp_path):
    wanted = load_course_file(write(tmp_path, COURSES)).courses
    first = cat.apply(wanted, "admin", now=datetime(2026, 11, 24, 9))
    assert [(c.course, c.action) for c in first] == [("dl101", "create"), ("cv201", "create")]
    assert set(cat.courses()) == {"demo", "dl101", "cv201"}  # site file first, then the store
    assert cat.source("demo") == "site file" and cat.source("dl101") == "store"

    again = cat.apply(wanted, "admin")
    assert {c.action for c in again} == {"unchanged"}
    assert len(cat.store.audit_log()) == 2  # nothing new was audited

    changed = load_course_file(
        write(
            tmp_path,
            COURSES.replace("[ann, bob]", "[bob, cy]").replace(
                "2.13-cpu\n    s", "2.14-cuda13.0\n    s"
            ),
        )
    ).courses
    (dl, cv) = cat.apply(changed, "ines")
    assert dl.action == "update" and cv.action == "unchanged"
    assert "students: +cy -ann" in dl.details
    assert "image: launcher/pytorch:2.13-cpu -> launcher/pytorch:2.14-cuda13.0" in dl.details
    assert cat.courses()["dl101"].students == ["bob", "cy"]
    last = cat.store.audit_log("dl101")[-1]
    assert last["actor"] == "ines" and last["action"] == "update"
    assert "students: +cy -ann" in last["details"]


def test_courses_left_out_are_kept_unless_pruned(cat, tmp_path):
    cat.apply(load_course_file(write(tmp_path, COURSES)).courses, "admin")
    only_dl = {"dl101": cat.courses()["dl101"]}
    kept = cat.apply(only_dl, "admin")
    assert ("cv201", "unchanged") in [(c.course, c.action) for c in kept]
    assert "cv201" in cat.courses()
    dry = cat.apply(only_dl, "admin", prune=True, dry_run=True)
    assert ("cv201", "remove") in [(c.course, c.action) for c in dry]
    assert "cv201" in cat.courses(), "a dry run changes nothing"
    cat.apply(only_dl, "admin", prune=True)
    assert "cv201" not in cat.courses()
    assert cat.store.audit_log("cv201")[-1]["action"] == "remove"


def test_export_round_trips(cat, tmp_path):
    cat.apply(load_course_file(write(tmp_path, COURSES)).courses, "admin")
    exported = cat.export()
    assert "per_student: 1" in exported and "mem_limit" not in exported  # defaults left out
    fresh = Catalog({}, Store(f"sqlite:///{tmp_path / 'other.sqlite'}"))
    fresh.apply(load_course_file(write(tmp_path, exported, "exported.yaml")).courses, "admin")
    assert fresh.courses() == {k: v for k, v in cat.courses().items() if k != "demo"}
    assert {c.action for c in cat.apply(fresh.courses(), "admin")} == {"unchanged"}


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "    gpu: {per_student: 1}\n",
            "    gpu: {per_studnet: 1}\n",
            "courses.yaml:7: courses.dl101.gpu.per_studnet: unknown key (did you mean 'per_student'?)",
        ),
        (
            "  cv201:\n    title: Vision\n",
            "  cv201:\n",
            "courses.yaml:8: courses.cv201.title: required key is missing",
        ),
        (
            "    tas: [tina]\n",
            "    tas: [tina]\n    materials: {path: relative/dir}\n",
            "courses.yaml:12: courses.cv201.materials.path: 'relative/dir' is not a full path",
        ),
        ("courses:", "cources:", "courses.yaml:1: cources: unknown key (did you mean 'courses'?)"),
    ],
)
def test_course_file_errors_name_line_and_key(tmp_path, old, new, expected):
    path = write(tmp_path, COURSES.replace(old, new, 1))
    with pytest.raises(SiteFileError) as info:
        load_course_file(path)
    found = [p.replace(str(path), "courses.yaml") for p in info.value.problems]
    assert any(p.startswith(expected) for p in found), found


def test_a_store_course_this_version_cannot_read_is_left_out_not_fatal(cat, tmp_path, caplog):
    cat.apply(load_course_file(write(tmp_path, COURSES)).courses, "admin")
    specs = cat.store.course_specs()
    broken = {**specs["cv201"][1], "from_the_future": True}
    cat.store.write_courses({"cv201": broken}, [], [], "admin", datetime(2026, 11, 24))
    assert set(cat.courses()) == {"demo", "dl101"}
    assert "course cv201 in the store is not valid" in caplog.text

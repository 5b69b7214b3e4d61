"""Site-file validation: every error names the file, the line and the key."""

from pathlib import Path

import pytest

from launcher.courses import memberships
from launcher.settings import DEMO_SITE_FILE, SiteFileError, load_site, parse_site

GOOD = """\
hub:
  url: http://127.0.0.1:8000
courses:
  demo:
    title: Demo
    image: launcher/pytorch:2.13-cpu
    instructors: [Teacher]
    students: [student1, student2]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SiteFileError) as info:
        parse_site(text, name="site.yaml")
    return info.value.problems


def test_demo_site_file_is_valid():
    site = load_site(DEMO_SITE_FILE)
    demo = site.courses["demo"]
    assert demo.students == ["student1", "student2", "student3"]
    assert demo.instructors == ["teacher"]
    assert site.admins == ["admin"]
    assert site.hub.url == "http://127.0.0.1:8000"
    assert demo.image.endswith(":2.13-cpu")


def test_good_file_normalises_usernames_and_defaults():
    site = parse_site(GOOD)
    assert site.courses["demo"].instructors == ["teacher"]
    assert memberships(site.courses, "student2") == {"demo": "student"}
    assert memberships(site.courses, "nobody") == {}
    assert site.hub.port == 8000 and site.hub.ip == "127.0.0.1"
    assert site.courses["demo"].resources.mem_limit == "2G"


@pytest.mark.parametrize(
    "old, new, expected",
    [
        # a typo in a key is an error on the key's own line, with a suggestion
        (
            "    image:",
            "    imgae:",
            "site.yaml:6: courses.demo.imgae: unknown key (did you mean 'image'?)",
        ),
        ("hub:\n  url:", "hub:\n  ulr:", "site.yaml:2: hub.ulr: unknown key (did you mean 'url'?)"),
        ("courses:", "course:", "site.yaml:3: course: unknown key (did you mean 'courses'?)"),
        # values
        (
            "pytorch:2.13-cpu",
            "pytorch",
            "site.yaml:6: courses.demo.image: 'launcher/pytorch' has no version tag",
        ),
        (
            "pytorch:2.13-cpu",
            "pytorch:latest",
            "site.yaml:6: courses.demo.image: 'launcher/pytorch:latest' uses 'latest'",
        ),
        (
            "http://127.0.0.1:8000",
            "127.0.0.1:8000",
            "site.yaml:2: hub.url: '127.0.0.1:8000' is not an http(s) URL",
        ),
        (
            "students: [student1, student2]",
            "students: [student1, 'a/b']",
            "site.yaml:8: courses.demo.students.1: 'a/b' is not a valid JupyterHub username",
        ),
        ("  demo:", "  Demo_1:", "site.yaml:4: courses.Demo_1: 'Demo_1' is not a course id"),
        # a missing required key points at the mapping that lacks it
        ("    title: Demo\n", "", "site.yaml:4: courses.demo.title: required key is missing"),
    ],
)
def test_errors_name_line_and_key(old, new, expected):
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_resources_are_validated():
    text = GOOD + "    resources:\n      mem_limit: lots\n      cpu_limit: 0\n"
    found = problems(text)
    assert any(
        p.startswith("site.yaml:10: courses.demo.resources.mem_limit: 'lots'") for p in found
    )
    assert any(p.startswith("site.yaml:11: courses.demo.resources.cpu_limit:") for p in found)


def test_duplicate_key_is_an_error_not_a_silent_override():
    text = GOOD.replace("    title: Demo\n", "    title: Demo\n    title: Other\n")
    assert problems(text) == [
        "site.yaml:6: YAML syntax error: duplicate key 'title' (first on line 5)"
    ]


def test_yaml_syntax_error_has_a_line():
    found = problems(GOOD.replace("students: [student1, student2]", "students: [student1"))
    assert len(found) == 1 and found[0].startswith("site.yaml:") and "YAML syntax error" in found[0]


@pytest.mark.parametrize("text", ["- a\n- b\n", "courses: []\n"])
def test_wrong_shape(text):
    assert problems(text)


@pytest.mark.parametrize("text", ["", "courses: {}\n"])
def test_a_site_file_may_leave_the_courses_to_the_store(text):
    assert parse_site(text).courses == {}


def test_unreadable_file_is_a_sentence(tmp_path: Path):
    with pytest.raises(SiteFileError) as info:
        load_site(tmp_path / "missing.yaml")
    assert "cannot read the site file" in info.value.problems[0]


def test_relative_data_dir_resolves_against_the_site_file(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text(
        GOOD.replace(
            "  url: http://127.0.0.1:8000\n", "  url: http://127.0.0.1:8000\n  data_dir: state\n"
        )
    )
    assert load_site(path).data_dir() == tmp_path / "state"


def test_aliases_that_expand_without_bound_are_refused_quickly():
    bomb = "laughs:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        bomb += f"  {name}: &{name} [{', '.join([f'*{prev}'] * 7)}]\n"
    text = bomb + GOOD
    assert len(text) < 1000  # 10 x 7^7: over eight million values once expanded
    (found,) = problems(text)
    assert "expands to more than 100000 values through its aliases" in found


def with_course_line(line: str) -> str:
    return GOOD.replace("    title: Demo\n", f"    title: Demo\n    {line}\n")


@pytest.mark.parametrize("size", ["0", "0G", "0.0M"])
def test_a_zero_memory_limit_is_refused(size):
    found = problems(with_course_line(f"resources: {{mem_limit: '{size}'}}"))
    assert any("is no memory at all (Docker would read it as unlimited)" in p for p in found)


@pytest.mark.parametrize("path", ["/", "/etc", "/etc/", "/usr/share/x", "/srv/../etc"])
def test_materials_may_not_be_a_system_directory(path):
    found = problems(with_course_line(f"materials: {{path: {path}}}"))
    assert any("is a system directory" in p for p in found), found


def test_materials_in_a_folder_of_their_own_are_fine():
    site = parse_site(with_course_line("materials: {path: /srv/dl101}"), name="site.yaml")
    assert site.courses["demo"].materials.path == Path("/srv/dl101")

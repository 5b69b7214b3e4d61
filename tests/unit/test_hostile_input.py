"""Hostile input, property by property (hypothesis): whatever text a site file or a course file
holds, the loader returns a site or raises :class:`SiteFileError` whose sentences name the
file, the line and the key; whatever a username or a server name is, the pure helpers that
turn it into Docker names and hub paths give safe ones. Never a bare ``KeyError``,
``TypeError``, ``ValueError`` or ``RecursionError``, and no traceback for the person."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import re
import tempfile
import time
import typing
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from launcher import names, yamlfile
from launcher.cli import courses as coursecli
from launcher.settings import (
    CourseFile,
    Site,
    SiteFileError,
    load_course_file,
    load_site,
    parse_site,
)

QUICK = settings(max_examples=100, deadline=None)
THOROUGH = settings(max_examples=250, deadline=None)
#: inputs that once broke the loader (kept as regression properties)
KNOWN = settings(max_examples=50, deadline=None)

#: a valid site file with every section written out, so that each key has a line of its own
SITE = {
    "hub": {"url": "http://127.0.0.1:8000", "data_dir": "/srv/launcher", "poll_interval": 10},
    "docker": {"network": "launcher", "prefix": "launcher", "allow_host_ports": [3141]},
    "gpus": {"source": "static", "devices": [{"index": 0, "uuid": "GPU-abc", "model": "A100"}]},
    "images": {"pull_policy": "never", "prepull": False},
    "store": {"url": "sqlite:////srv/launcher/launcher.sqlite"},
    "dashboard": {"sample_interval": 60},
    "auth": {"kind": "class-password"},
    "admins": ["admin"],
    "courses": {
        "demo": {
            "title": "Demo",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["student1", "student2"],
            "tas": ["tom"],
            "instructors": ["teacher"],
            "groups": {"students": ["cs-dl101"]},
            "materials": {"enabled": True, "path": "/srv/dl101"},
            "session": {"idle_timeout": 3600, "max_age": 0},
            "instructor_limits": {"max_students": 100},
            "resources": {"mem_limit": "2G", "cpu_limit": 1.0, "pids_limit": 1024},
            "gpu": {"per_student": 1, "pool": ["0"], "max_gpus": 1},
            "quota": {"gpu_hours": 10.0, "period": "week"},
        }
    },
}
COURSES = {"courses": copy.deepcopy(SITE["courses"])}
PLACEHOLDER = "HOSTILE-VALUE-HERE"


def _model_in(annotation) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (itself, or the value of ``dict[CourseId, Model]``), and
    whether it is a dict's value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) is dict:
        value = typing.get_args(annotation)[-1]
        if isinstance(value, type) and issubclass(value, BaseModel):
            return value, True
    return None, False


def walk(model: type[BaseModel], prefix: tuple = ()) -> tuple[list[tuple], dict[tuple, type]]:
    """Every key path a file of ``model`` may hold (a course as ``courses.demo``), and the
    model of each mapping among them (``()``: the file itself)."""
    paths, mappings = [], {prefix: model}
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        paths.append(path)
        inner, keyed = _model_in(field.annotation)
        if inner is not None:
            if keyed:
                path = (*path, "demo")
                paths.append(path)
            more, more_mappings = walk(inner, path)
            paths += more
            mappings.update(more_mappings)
    return paths, mappings


SITE_PATHS, SITE_MAPPINGS = walk(Site)
COURSE_PATHS, _ = walk(CourseFile)


def _numeric(model: type[BaseModel], path: tuple) -> bool:
    field = model.model_fields.get(path[-1]) if model else None
    return field is not None and set(typing.get_args(field.annotation) or [field.annotation]) in (
        {int},
        {float},
        {int, type(None)},
        {float, type(None)},
    )


NUMERIC_PATHS = [p for p in SITE_PATHS if _numeric(SITE_MAPPINGS.get(p[:-1]), p)]


def with_value(doc: dict, path: tuple, value) -> dict:
    """A copy of ``doc`` with ``value`` at ``path`` (mappings made on the way as needed)."""
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return doc


def dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=False)


def text_with(doc: dict, path: tuple, literal: str) -> tuple[str, int]:
    """YAML text of ``doc`` with ``literal`` written as it is at ``path``, and its line."""
    text = dump(with_value(doc, path, PLACEHOLDER))
    line = text[: text.index(PLACEHOLDER)].count("\n") + 1
    return text.replace(PLACEHOLDER, literal), line


# --- what a good refusal looks like --------------------------------------------------------------

PROBLEM = re.compile(r"^(?P<name>.+?):(?P<line>\d+): (?P<rest>.+)$", re.DOTALL)
NOT_HUMAN = (
    "Traceback",
    "object has no attribute",
    "unhashable type",
    "NoneType",
    "KeyError",
    "TypeError",
    "RecursionError",
    "maximum recursion depth",
    "set_int_max_str_digits",
    "For further information visit",
)


def assert_refusal(exc: SiteFileError, name: str, text: str) -> list[tuple[int, str]]:
    """Each problem is one human sentence naming ``name`` and a line of ``text``; returns
    (line, the rest of the sentence) per problem."""
    assert type(exc) is SiteFileError
    assert exc.problems and str(exc) == "\n".join(exc.problems)
    found = []
    lines = max(1, len(text.splitlines()) + 1)
    for problem in exc.problems:
        assert isinstance(problem, str), exc.problems
        match = PROBLEM.match(problem)
        assert match and match["name"] == name, problem
        line = int(match["line"])
        assert 1 <= line <= lines, (problem, lines)
        assert len(match["rest"].strip()) > 3, problem
        for bad in NOT_HUMAN:
            assert bad not in problem, problem
        found.append((line, match["rest"]))
    return found


def outcome_of_site(text: str, name: str = "site.yaml") -> Site | list[tuple[int, str]]:
    """The site, or the (line, sentence) of each problem; anything else fails the test."""
    try:
        return parse_site(text, name=name)
    except SiteFileError as exc:
        return assert_refusal(exc, name, text)


_FILES = tempfile.TemporaryDirectory(prefix="hostile-input-")


def outcome_of_course_file(text: str) -> CourseFile | list[tuple[int, str]]:
    """Through a file, as `launcher courses apply -f FILE` reads it."""
    path = Path(_FILES.name) / "courses.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        return load_course_file(path)
    except SiteFileError as exc:
        return assert_refusal(exc, str(path), text)


def about(rest: str, path: tuple) -> bool:
    """A problem's sentence is about ``path``: a key on the way to it, it, or one inside it
    (or the YAML itself)."""
    key = ".".join(map(str, path))
    prefixes = [".".join(map(str, path[:i])) for i in range(1, len(path) + 1)]
    return (
        rest.startswith("YAML syntax error: ")
        or rest.startswith(f"{key}.")
        or any(rest.startswith(f"{p}: ") for p in prefixes)
    )


# --- strategies ----------------------------------------------------------------------------------

HUGE = st.sampled_from([10**40, -(10**40), 2**63, 2**64, -(2**63) - 1, 10**300])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE,
    st.floats(),  # NaN and the infinities among them
    st.text(max_size=40),
    st.sampled_from(["", " ", "latest", "a/b", "/", "..", "2G", "0", "GPU-0", "http://x:99"]),
)
KEYS = st.one_of(
    st.text(max_size=12), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False)
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
#: YAML-looking text: the punctuation YAML gives meaning to, words, indentation and breaks
YAMLISH = st.lists(
    st.sampled_from(
        list(":-?[]{},&*!|>'\"%@`#. \n\t\\") + ["  ", "\n  ", "key", "a", "1", "~", "<<", "!!"]
    ),
    max_size=60,
).map("".join)
#: scalars that YAML 1.1 reads as numbers, dates or specials, tags, and broken syntax
LITERALS = st.one_of(
    st.integers(min_value=1, max_value=9000).map(lambda n: "9" * n),
    st.integers(min_value=4301, max_value=9000).map(lambda n: "-" + "1" * n),
    st.sampled_from(
        [
            ".nan",
            ".NaN",
            ".inf",
            "-.inf",
            "1.0e400",
            "-1.0e400",
            "1e400",
            "0x" + "f" * 40,
            "0o777777777777777777777777",
            "0b" + "1" * 200,
            "1_000_000",
            "190:20:30",
            "2024-13-45",
            "2024-02-30",
            "2024-01-01 25:61:61",
            "9999-12-31T23:59:59.999999999999Z",
            "0000-00-00",
            "!!binary aGVsbG8=",
            "!!binary not-base64!",
            "!!timestamp x",
            "!!int x",
            "!!float x",
            "!!python/object:os.system x",
            "!!set {a, b}",
            "!!omap [1]",
            "!!str",
            "&a x",
            "*undefined",
            "'unterminated",
            "[unterminated",
            '"\\x00\\ud800\\U0010ffff"',
            "{? [a]: b}",
        ]
    ),
)
#: characters YAML refuses anywhere in a file
NON_PRINTABLE = st.one_of(
    st.characters(categories=["Cc"]).filter(lambda c: c not in "\t\n\r\x85"),
    st.sampled_from(["\ufffe", "\uffff"]),
)


def bomb(width: int, depth: int) -> tuple[str, int]:
    """A "billion laughs" list of about ``width`` ** ``depth`` values written in a few hundred
    bytes, and how many values it expands to."""
    parts = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    sizes = [1 + width]
    for i in range(1, depth + 1):
        parts.append(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
        sizes.append(1 + width * sizes[-1])
    return "[" + ", ".join(parts) + "]", 1 + sum(sizes)


ALIAS_BOMBS = st.builds(bomb, st.integers(min_value=1, max_value=10), st.integers(1, 9))


# --- the site file -------------------------------------------------------------------------------


def test_the_documents_used_here_are_valid():
    assert isinstance(outcome_of_site(dump(SITE)), Site)
    assert isinstance(outcome_of_course_file(dump(COURSES)), CourseFile)
    assert ("courses", "demo", "gpu", "per_student") in SITE_PATHS
    assert ("hub", "poll_interval") in NUMERIC_PATHS
    assert ("courses", "demo", "resources", "cpu_limit") in NUMERIC_PATHS
    assert SITE_MAPPINGS[("courses", "demo", "gpu")].__name__ == "CourseGpu"


@THOROUGH
@given(st.one_of(st.text(), YAMLISH))
@example("? [a, b]\n: 1\n")  # a list as a key
@example("? {a: 1}\n: 1\n")
@example("hub: {url: \x00}\n")  # a control character
@example("a: " + "[" * 5000 + "]" * 5000)  # nesting deeper than Python's stack
@example("".join("  " * i + f"k{i}:\n" for i in range(2000)))
@example("admins: &a [*a]\n")  # an alias inside its own anchor
@example("hub: &h {x: *h}\n")
@example("<<: {a: 1}\n")
@example("courses: !!set {a, b}\n")
@example("\ufeffhub: {}\n")
@example("hub: {url: '\ud800'}\n")
def test_any_text_is_a_site_or_sentences_naming_the_line(text):
    outcome_of_site(text)


@THOROUGH
@given(path=st.sampled_from(SITE_PATHS), value=TREES)
def test_any_value_in_place_of_a_key_is_refused_by_that_key(path, value):
    outcome = outcome_of_site(dump(with_value(SITE, path, value)))
    if not isinstance(outcome, Site):
        for _, rest in outcome:
            assert about(rest, path), (path, rest)


@QUICK
@given(
    path=st.sampled_from(sorted(SITE_MAPPINGS)),
    key=st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True),
    value=TREES,
)
def test_an_unknown_key_anywhere_is_named_with_its_line(path, key, value):
    model = SITE_MAPPINGS[path]
    if key in model.model_fields:
        key = key + "_x"
    text = dump(with_value(SITE, (*path, key), value))
    outcome = outcome_of_site(text)
    dotted = ".".join((*path, key))
    refusals = [(line, rest) for line, rest in outcome if rest.startswith(f"{dotted}: unknown")]
    assert len(refusals) == 1, outcome
    line = text.splitlines()[refusals[0][0] - 1]
    assert re.match(rf"^\s*'?{key}'?:", line), (line, refusals)


@THOROUGH
@given(path=st.sampled_from(NUMERIC_PATHS), literal=LITERALS)
@example(("hub", "poll_interval"), "1" * 5000)
@example(("courses", "demo", "resources", "cpu_limit"), ".nan")
@example(("courses", "demo", "quota", "gpu_hours"), ".nan")
@example(("hub", "poll_interval"), "2024-13-45")
def test_huge_numbers_nan_dates_and_tags_get_a_sentence(path, literal):
    text, at = text_with(SITE, path, literal)
    outcome = outcome_of_site(text)
    if isinstance(outcome, Site):
        return
    key = ".".join(path)
    for line, rest in outcome:
        assert about(rest, path), (path, rest)
        if rest.startswith(f"{key}: "):
            assert line == at, (line, at, rest)
        elif rest.startswith("YAML syntax error: "):
            assert line >= at, (line, at, rest)


@QUICK
@given(path=st.sampled_from(SITE_PATHS), bombed=ALIAS_BOMBS)
@example(("admins",), bomb(10, 9))  # 10**10 values in 600 bytes
def test_alias_bombs_are_refused_quickly_with_a_sentence(path, bombed):
    literal, values = bombed
    text, _ = text_with(SITE, path, literal)
    began = time.monotonic()
    outcome = outcome_of_site(text)
    assert time.monotonic() - began < 10
    bombed = not isinstance(outcome, Site) and any("expands to more than" in r for _, r in outcome)
    if values > yamlfile.MAX_VALUES:
        assert bombed, outcome
    elif values < yamlfile.MAX_VALUES - 1000:  # the rest of the file is a few dozen values
        assert not bombed, outcome


@settings(max_examples=50, deadline=None)
@given(
    path=st.sampled_from(SITE_PATHS),
    flow=st.sampled_from([("[", "]"), ("{k: ", "}"), ("[{k: ", "}]")]),
    levels=st.integers(min_value=1, max_value=3000),
)
def test_nesting_thousands_deep_gets_a_sentence(path, flow, levels):
    opener, closer = flow
    text, _ = text_with(SITE, path, opener * levels + "x" + closer * levels)
    outcome = outcome_of_site(text)
    if levels > yamlfile.MAX_DEPTH:
        assert not isinstance(outcome, Site)
        assert any("nest more than" in rest for _, rest in outcome), outcome


@QUICK
@given(st.data(), NON_PRINTABLE)
def test_a_control_character_is_named_with_its_line(data, char):
    good = dump(SITE)
    at = data.draw(st.integers(min_value=0, max_value=len(good)))
    text = good[:at] + char + good[at:]
    outcome = outcome_of_site(text)
    line = text[:at].count("\n") + 1
    assert not isinstance(outcome, Site)
    assert [(n, "control character" in rest) for n, rest in outcome] == [(line, True)], outcome


# --- the course file -----------------------------------------------------------------------------


@THOROUGH
@given(st.one_of(st.text(), YAMLISH))
@example("courses:\n  ? [a]\n  : 1\n")
@example("courses: " + "{a: " * 3000)
@example("courses: &c {dl: {title: x, image: 'a/b:1', students: *c}}\n")
@example("courses: {dl: {title: 2024-13-45, image: 'a/b:1'}}\n")
@example("courses: {dl: {title: x, image: 'a/b:1', gpu: {per_student: " + "9" * 5000 + "}}}\n")
def test_any_course_file_is_courses_or_sentences_naming_the_line(text):
    outcome_of_course_file(text)


@THOROUGH
@given(path=st.sampled_from(COURSE_PATHS), value=TREES)
def test_any_value_in_a_course_file_is_refused_by_its_key(path, value):
    outcome = outcome_of_course_file(dump(with_value(COURSES, path, value)))
    if not isinstance(outcome, CourseFile):
        for _, rest in outcome:
            assert about(rest, path), (path, rest)


@pytest.fixture(scope="module")
def apply_site(tmp_path_factory) -> Site:
    data = tmp_path_factory.mktemp("apply")
    return parse_site(f"hub: {{data_dir: {data}}}\n")


@QUICK
@given(path=st.sampled_from(COURSE_PATHS), value=TREES)
def test_courses_apply_answers_with_an_exit_status_and_sentences(apply_site, path, value):
    """`launcher courses apply -f FILE --dry-run`, values valid or not: exit 0 with the changes
    it would make, or 2 with one sentence per problem; never a traceback."""
    path_ = Path(_FILES.name) / "apply.yaml"
    path_.write_text(dump(with_value(COURSES, path, value)), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = coursecli.cmd_apply(apply_site, str(path_), False, True, "admin")
    assert status in (0, 2), (status, err.getvalue())
    if status == 2:
        first, *problems = err.getvalue().splitlines()
        assert first.startswith(f"The course file {path_} has ") and problems, err.getvalue()
        assert all(p.startswith(f"  {path_}:") for p in problems), problems
    else:
        assert "would change" in out.getvalue() or "No changes" in out.getvalue()


# --- what the site file names: people, courses, images ---------------------------------------


@THOROUGH
@given(st.text(max_size=60))
@example("")
@example(" ")
@example("/")
@example("..")
@example("Ünïcode ")
def test_any_username_on_a_roster_is_normalised_or_named_with_its_line(name):
    text, at = text_with(SITE, ("courses", "demo", "students"), "[" + _quoted(name) + "]")
    outcome = outcome_of_site(text)
    if isinstance(outcome, Site):
        (kept,) = outcome.courses["demo"].students
        assert kept == name.strip().lower() and kept and "/" not in kept
        assert set(kept) != {"."}
    else:
        assert [(line, rest.split(":")[0]) for line, rest in outcome] == [
            (at, "courses.demo.students.0")
        ], outcome


@THOROUGH
@given(st.text(max_size=40))
@example("DL101")
@example("a" * 32)
def test_any_course_id_is_taken_or_named(course_id):
    doc = copy.deepcopy(SITE)
    doc["courses"] = {course_id: doc["courses"]["demo"]}
    outcome = outcome_of_site(dump(doc))
    if isinstance(outcome, Site):
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,30}", course_id)
        assert list(outcome.courses) == [course_id]
    else:
        assert any("is not a course id" in rest for _, rest in outcome), outcome


@THOROUGH
@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"[a-zA-Z0-9.:/@_-]{0,80}", fullmatch=True),
        st.builds(lambda a, b: f"{a}:{b}", st.text(max_size=20), st.text(max_size=20)),
    )
)
@example("launcher/pytorch:latest")
@example("launcher/pytorch")
@example("localhost:99999999999999999999/x:1")
@example("a" * 300 + ":1")
@example("x:1@sha256:" + "0" * 63)
def test_any_image_reference_is_pinned_or_named(ref):
    text, at = text_with(SITE, ("courses", "demo", "image"), _quoted(ref))
    outcome = outcome_of_site(text)
    if isinstance(outcome, Site):
        assert outcome.courses["demo"].image == ref and ":" in ref
    else:
        assert [(line, rest.split(": ")[0]) for line, rest in outcome] == [
            (at, "courses.demo.image")
        ], outcome


def _quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar (PyYAML escapes what YAML cannot hold raw)."""
    quoted = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=10**6)
    return quoted.removesuffix("\n...\n").strip()


# --- Docker names and hub paths from any username and server name ----------------------------

DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ANY_NAME = st.one_of(
    st.text(max_size=250),
    st.text(alphabet="aZ09.-_/@ ", max_size=60),
    st.sampled_from(["", ".", "..", "-", "--", "a--b", "x" * 201, "名前", "\x00", "%2F"]),
)


COURSE_IDS = st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)


@THOROUGH
@given(ANY_NAME, ANY_NAME, COURSE_IDS, ANY_NAME)
def test_any_names_give_docker_safe_distinct_names(user, other, course, server):
    for name in (
        names.container_name("launcher", user, course),
        names.workspace_volume("launcher", user, course),
    ):
        assert DOCKER_NAME.match(name) and len(name) < 128, name
    named = names.container_name("launcher", user, course, server)
    assert DOCKER_NAME.match(named), named
    assert all(len(part) <= names.MAX_SLUG for part in named.split("_")), named
    slug = names.safe_slug(user)
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", slug) and len(slug) <= names.MAX_SLUG, slug
    assert names.safe_slug(user) == slug
    if user != other:  # a hash collision of 32 bits would take ~65,000 names to meet
        assert names.safe_slug(other) != slug
        assert names.container_name("p", user, course) != names.container_name("p", other, course)


@THOROUGH
@given(ANY_NAME, ANY_NAME)
def test_any_names_give_a_hub_path_that_reads_back(user, server):
    path = names.server_path(user, server)
    parts = path.split("/")
    assert parts[:2] == ["", "users"] and unquote(parts[2]) == user
    if server:
        assert parts[3] == "servers" and unquote(parts[4]) == server and len(parts) == 5
    else:
        assert parts[3:] == ["server"]


# --- the sign-in form -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def authenticator(tmp_path_factory):
    from launcher.hub.auth import CoursePasswordAuthenticator
    from launcher.secrets import ensure_staff_passwords

    tmp = tmp_path_factory.mktemp("auth")
    ensure_staff_passwords(tmp / "staff-passwords.json", ["tom"])
    return CoursePasswordAuthenticator(
        courses={"demo": {**COURSES["courses"]["demo"], "students": ["ann"], "tas": ["tom"]}},
        store_url=f"sqlite:///{tmp / 'store.sqlite'}",
        user_password="class-password",
        admin_password="a" * 32,
        admin_users={"admin"},
        staff_passwords_file=str(tmp / "staff-passwords.json"),
    )


FORM_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["ann", "tom", "admin", "Ann ", "class-password", "é", "a" * 32 + "é"]),
)


@QUICK
@given(
    form=st.fixed_dictionaries({}, optional={"username": FORM_TEXT, "password": FORM_TEXT}),
    extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
)
@example(form={"username": "ann", "password": "é"}, extra={})  # not ASCII: was a TypeError
@example(form={"username": "tom", "password": "é"}, extra={})  # a TA's own password: the same
@example(form={"username": "admin", "password": "é"}, extra={})
@example(form={"password": "class-password"}, extra={})  # no username: was a KeyError
@example(form={"username": "ann", "password": "class-password"}, extra={})
def test_any_sign_in_form_is_a_user_none_or_a_4xx_sentence(authenticator, form, extra):
    """What the login page hands the authenticator (every field of the form, as text): a user,
    None (JupyterHub's "Invalid username or password"), or an HTTP 4xx with a sentence."""
    from tornado.web import HTTPError

    data = {**extra, **form}
    try:
        model = asyncio.run(authenticator.get_authenticated_user(None, data))
    except HTTPError as exc:
        assert 400 <= exc.status_code < 500 and len(exc.log_message or "") > 10, exc
        return
    if model is not None:
        assert data["password"] in ("class-password", "a" * 32) or data["username"] == "tom"


# --- found by these tests and fixed in launcher/settings.py -------------------------------------


@KNOWN
@given(
    before=st.text(alphabet="abc: \n", max_size=20),
    junk=st.binary(min_size=1, max_size=8).filter(lambda b: not _utf8(b)),
    loader=st.sampled_from([load_site, load_course_file]),
)
def test_a_file_that_is_not_utf8_gets_a_sentence(before, junk, loader):
    path = Path(_FILES.name) / "not-utf8.yaml"
    path.write_bytes(before.encode() + junk)
    with pytest.raises(SiteFileError) as info:
        loader(path)
    # the junk's own line breaks count: the sentence names the line of the first bad byte
    assert_refusal(info.value, str(path), (before.encode() + junk).decode("utf-8", "replace"))


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@KNOWN
@given(
    port=st.one_of(
        st.integers(min_value=65536, max_value=10**12).map(str),
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    )
)
def test_a_hub_url_the_loader_accepts_has_a_port(port):
    outcome = outcome_of_site(f"hub: {{url: 'http://127.0.0.1:{port}'}}\n")
    if isinstance(outcome, Site):
        assert 1 <= outcome.hub.port <= 65535


@KNOWN
@given(
    path=st.sampled_from(
        [
            ("hub", "data_dir"),
            ("courses", "demo", "materials", "path"),
            ("images", "session_ca_bundle"),
        ]
    ),
    folder=st.from_regex(r"/[a-z]{1,10}", fullmatch=True),
)
def test_a_path_the_loader_accepts_has_no_nul(path, folder):
    text, _ = text_with(SITE, path, f'"{folder}\\0x"')
    outcome = outcome_of_site(text)
    assert not isinstance(outcome, Site), "a path with NUL was accepted"

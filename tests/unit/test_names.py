"""Docker names from hostile usernames: safe, distinct, deterministic."""

import re

import pytest

from launcher import names
from launcher.names import container_name, safe_slug, workspace_volume

DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

HOSTILE = [
    "student1",
    "../x",
    "..x",
    "Ünïcode",
    "ünïcode",
    "a--b",
    "a-b",
    "a_b",
    "A",
    "a",
    "x" * 200,
    "x" * 201,
    "alice@example.org",
    "alice.example.org",
    "",
    "-",
    "名前",
    "DROP TABLE;",
    "a b",
]


@pytest.mark.parametrize(
    "name, slug",
    [
        ("student1", "student1"),
        ("a-b", "a-b"),
        ("alice.example.org", "alice.example.org"),
        ("a--b", "a-b--"),  # hashed: '--' never appears in a plain slug
        ("../x", "x--"),
        ("Ünïcode", "n-code--"),
        ("A", "a--"),
        ("名前", "x--"),
    ],
)
def test_slug_examples(name, slug):
    got = safe_slug(name)
    if slug.endswith("--"):
        assert got.startswith(slug) and re.fullmatch(r"[0-9a-f]{8}", got[len(slug) :]), got
    else:
        assert got == slug


def test_slugs_are_distinct_safe_and_short():
    slugs = [safe_slug(n) for n in HOSTILE]
    assert len(set(slugs)) == len(HOSTILE)
    for slug in slugs:
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", slug) and len(slug) <= 40, slug


def test_slug_is_deterministic():
    assert safe_slug("Ünïcode") == safe_slug("Ünïcode")


@pytest.mark.parametrize("user", HOSTILE)
def test_container_and_volume_names_are_docker_safe(user):
    for name in (
        container_name("launcher", user, "dl101"),
        workspace_volume("launcher", user, "dl101"),
    ):
        assert DOCKER_NAME.match(name), name
        assert len(name) < 128


def test_parts_never_run_together():
    # '-' inside a part can never be confused with the separator between parts
    assert container_name("p", "a-b", "c") != container_name("p", "a", "b-c")
    assert workspace_volume("p", "a-b", "c") != workspace_volume("p", "a", "b-c")
    assert container_name("p", "u", "c") != container_name("p", "u", "c", "gpu")


def test_each_user_and_course_gets_its_own_volume():
    volumes = {workspace_volume("p", u, c) for u in HOSTILE for c in ("dl101", "nlp")}
    assert len(volumes) == 2 * len(HOSTILE)


@pytest.mark.parametrize(
    "user, server, path",
    [
        ("ann", "", "/users/ann/server"),
        ("ann", "cv201", "/users/ann/servers/cv201"),
        ("x.y@example.org", "", "/users/x.y%40example.org/server"),
        ("a/b", "c d", "/users/a%2Fb/servers/c%20d"),
    ],
)
def test_server_path(user, server, path):
    assert names.server_path(user, server) == path

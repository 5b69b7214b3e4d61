"""Membership resolution and the roles that follow from it (table-driven)."""

import pytest

from launcher.courses import (
    default_course,
    group_name,
    hub_groups,
    memberships,
    role_in,
    staff_roles,
    staff_scopes,
)
from launcher.settings import Course

DL = Course(
    title="Deep Learning",
    image="launcher/pytorch:2.13-cpu",
    students=["ann", "bob"],
    tas=["tina"],
    instructors=["ines"],
    groups={"students": ["cs-dl101"], "tas": ["dl-helpers"], "instructors": ["dl-staff"]},
)
CV = Course(
    title="Vision",
    image="launcher/pytorch:2.13-cpu",
    students=["ann", "tina"],
    instructors=["victor"],
)
CATALOG = {"dl101": DL, "cv201": CV}


@pytest.mark.parametrize(
    "username, groups, expected",
    [
        ("ann", [], "student"),
        ("tina", [], "ta"),
        ("ines", [], "instructor"),
        ("zoe", [], None),
        # an identity-provider group mapped by the course
        ("zoe", ["cs-dl101"], "student"),
        ("zoe", ["dl-helpers"], "ta"),
        ("zoe", ["dl-staff", "cs-dl101"], "instructor"),  # the highest role wins
        ("ann", ["dl-staff"], "instructor"),
        ("zoe", ["cs-other"], None),
        # the course's own JupyterHub groups (kept in step by the authenticator)
        ("zoe", ["course-dl101-students"], "student"),
        ("zoe", ["course-dl101-tas"], "ta"),
        ("zoe", ["course-cv201-instructors"], None),  # another course's group
    ],
)
def test_role_in_a_course(username, groups, expected):
    assert role_in("dl101", DL, username, groups) == expected


@pytest.mark.parametrize(
    "username, groups, expected",
    [
        ("ann", [], {"dl101": "student", "cv201": "student"}),
        ("tina", [], {"dl101": "ta", "cv201": "student"}),
        ("victor", [], {"cv201": "instructor"}),
        ("zoe", ["cs-dl101"], {"dl101": "student"}),
        ("zoe", [], {}),
    ],
)
def test_memberships_keep_catalog_order(username, groups, expected):
    found = memberships(CATALOG, username, groups)
    assert found == expected
    assert list(found) == list(expected)  # the first course is the default server's


@pytest.mark.parametrize(
    "found, groups, default",
    [
        (
            {"dl101": "student", "cv201": "student"},
            ["course-cv201-students", "course-dl101-students"],
            "dl101",
        ),
        ({"dl101": "ta"}, ["course-dl101-tas"], "dl101"),
        ({}, [], None),
    ],
)
def test_hub_groups_and_default_course(found, groups, default):
    assert hub_groups(found) == groups
    assert default_course(found) == default


def test_staff_role_reaches_only_its_own_students():
    (role,) = staff_roles(["dl101"])
    assert role["name"] == "course-dl101-staff"
    assert set(role["groups"]) == {group_name("dl101", "ta"), group_name("dl101", "instructor")}
    assert role["scopes"] == staff_scopes("dl101")
    for scope in role["scopes"]:
        # every scope is filtered to the course's students: no unfiltered power at all
        assert scope.endswith("!group=course-dl101-students"), scope
    names = {s.split("!")[0] for s in role["scopes"]}
    assert {"read:users", "read:servers", "list:users"} <= names
    # a group filter reaches every server of a student (their other courses' too): no access,
    # start or stop through it (shares and the instructor page do that, per course)
    assert not names & {"servers", "access:servers", "delete:servers"}
    assert not names & {"admin:users", "admin:servers", "users", "tokens", "admin-ui"}

"""The class-password authenticator with the catalog as its allow list, on a real store."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tornado.web import HTTPError

from launcher.catalog import Catalog
from launcher.hub.auth import CoursePasswordAuthenticator
from launcher.secrets import ensure_staff_passwords, staff_passwords
from launcher.settings import Course

SITE_COURSES = {
    "demo": {"title": "Demo", "image": "launcher/pytorch:2.13-cpu", "students": ["ann"]},
}


@dataclass
class Group:
    name: str


@dataclass
class HubUser:
    """The two attributes of JupyterHub's User that refresh_user reads."""

    name: str
    groups: list = field(default_factory=list)
    admin: bool = False


@pytest.fixture
def auth(tmp_path):
    return CoursePasswordAuthenticator(
        courses=SITE_COURSES,
        store_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        user_password="class-password",
        admin_password="a" * 32,
        admin_users={"admin"},
        staff_passwords_file=str(tmp_path / "staff-passwords.json"),
    )


def login(auth, name, password="class-password"):
    return asyncio.run(auth.get_authenticated_user(None, {"username": name, "password": password}))


def test_roster_members_log_in_with_their_course_groups(auth):
    assert auth.manage_groups is True
    model = login(auth, "ann")
    assert model["name"] == "ann" and model["groups"] == ["course-demo-students"]
    with pytest.raises(HTTPError) as refused:  # not on any roster: a sentence, HTTP 403
        login(auth, "zoe")
    assert refused.value.status_code == 403
    assert "not on the roster of any course" in refused.value.log_message
    assert login(auth, "ann", "wrong") is None
    admin = login(auth, "admin", "a" * 32)
    assert admin["admin"] is True and admin["groups"] == []


def test_a_course_applied_to_the_store_lets_its_people_in_at_once(auth):
    catalog = Catalog({}, auth_store(auth))
    course = Course(title="DL", image="launcher/pytorch:2.13-cpu", students=["zoe"], tas=["ann"])
    catalog.apply({"dl101": course}, "admin")
    assert login(auth, "zoe")["groups"] == ["course-dl101-students"]
    # ann is a TA now: the class password is no longer hers; her own password is
    with pytest.raises(HTTPError, match="staff sign in with their own password"):
        login(auth, "ann")
    ensure_staff_passwords(Path(auth.staff_passwords_file), ["ann"])
    own = staff_passwords(Path(auth.staff_passwords_file))["ann"]
    assert login(auth, "ann", own)["groups"] == ["course-demo-students", "course-dl101-tas"]


def test_refresh_follows_the_roster_and_logs_out_someone_removed(auth):
    catalog = Catalog({}, auth_store(auth))
    course = Course(title="DL", image="launcher/pytorch:2.13-cpu", students=["zoe"])
    catalog.apply({"dl101": course}, "admin")
    zoe = HubUser("zoe", [Group("course-dl101-students"), Group("sso-staff")])
    refreshed = asyncio.run(auth.refresh_user(zoe))
    # groups that are not course groups (from the identity provider) are kept
    assert refreshed["groups"] == ["course-dl101-students", "sso-staff"]
    catalog.apply({"dl101": course.model_copy(update={"students": []})}, "admin")
    assert asyncio.run(auth.refresh_user(zoe)) is False
    admin = HubUser("admin", [Group("sso-admins")], admin=True)
    assert asyncio.run(auth.refresh_user(admin)) == {"name": "admin", "groups": ["sso-admins"]}


def auth_store(auth):
    from launcher import catalog

    return catalog.shared(auth.courses, auth.store_url).store

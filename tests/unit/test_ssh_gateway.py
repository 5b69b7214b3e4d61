"""The SSH endpoint's pure parts: which server an SSH user name leads to, and the failure
limiter (the endpoint itself runs against real OpenSSH clients in
tests/integration/test_ssh.py)."""

from __future__ import annotations

import pytest

from launcher.i18n import Reader
from launcher.services.ssh.failures import FailureLimiter
from launcher.services.ssh.login import Login, Refused, parse, target
from launcher.settings import Course
from launcher.store import RunningServer, utcnow

COURSES = {
    "dl101": Course(title="DL", image="launcher/pytorch:2.13-cpu", students=["ann", "bob"]),
    "cv201": Course(title="CV", image="launcher/pytorch:2.13-cpu", students=["ann"]),
    "nlp": Course(
        title="NLP",
        image="launcher/pytorch:2.13-cpu",
        students=["ann"],
        ssh={"enabled": False},
    ),
    "rl": Course(title="RL", image="launcher/pytorch:2.13-cpu", groups={"students": ["campus-rl"]}),
}


@pytest.mark.parametrize(
    ("name", "login"),
    [
        ("ann", Login("ann", None)),
        ("Ann", Login("ann", None)),
        ("ann+cv201", Login("ann", "cv201")),
        ("ann+CV201", Login("ann", "cv201")),
        ("ann+", None),
        ("ann+../x", None),
        ("+cv201", None),
        ("a/b", None),
        ("..", None),
    ],
)
def test_an_ssh_user_name_is_a_student_and_maybe_a_course(name, login):
    assert parse(name) == login


def test_the_bare_name_is_the_first_course_and_its_default_server():
    found = target(Login("ann", None), COURSES, [], {})
    assert (found.course_id, found.server) == ("dl101", "")


def test_a_course_named_after_the_plus_is_its_named_server():
    found = target(Login("ann", "cv201"), COURSES, [], {})
    assert (found.course_id, found.server) == ("cv201", "cv201")


def test_a_running_server_of_the_course_is_the_one_reached():
    started = {("ann", "x1"): RunningServer("ann", "x1", "cv201", "c", utcnow())}
    assert target(Login("ann", "cv201"), COURSES, [], started).server == "x1"


def test_a_campus_group_makes_a_member():
    assert target(Login("eve", None), COURSES, ["campus-rl"], {}).course_id == "rl"


@pytest.mark.parametrize(
    ("login", "words"),
    [
        (Login("zed", None), "is in no course"),
        (Login("bob", "cv201"), "is not in the course cv201. Your courses: dl101"),
        (Login("ann", "nlp"), "SSH is turned off for the course nlp"),
    ],
)
def test_a_sign_in_that_leads_nowhere_is_a_sentence(login, words):
    with pytest.raises(Refused, match=words):
        target(login, COURSES, [], {})


def test_the_refusal_reads_in_the_sites_language():
    with pytest.raises(Refused) as refused:
        target(Login("ann", "nlp"), COURSES, [], {}, Reader("zh_CN"))
    assert "SSH" in str(refused.value) and "nlp" in str(refused.value)
    assert "turned off" not in str(refused.value)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_source_is_locked_after_the_limit_until_the_window_passes():
    clock = Clock()
    limiter = FailureLimiter(3, 600, clock)
    for user in ("ann", "bob", "cy"):
        assert limiter.locked_for("10.0.0.9", user) == 0
        limiter.failed("10.0.0.9", user)
        clock.now += 10
    assert limiter.locked_for("10.0.0.9", "dan") == pytest.approx(570)
    assert limiter.locked_for("10.0.0.8", "dan") == 0  # another address is not
    clock.now += 571
    assert limiter.locked_for("10.0.0.9", "dan") == 0


def test_a_user_is_locked_whatever_the_address():
    clock = Clock()
    limiter = FailureLimiter(2, 60, clock)
    limiter.failed("10.0.0.1", "ann")
    limiter.failed("10.0.0.2", "ann")
    assert limiter.locked_for("10.0.0.3", "ann") == pytest.approx(60)
    assert limiter.locked_for("10.0.0.3", "bob") == 0


def test_a_taken_ssh_port_stops_the_hub_with_a_sentence():
    import socket

    from launcher.preflight import ssh_blockers
    from launcher.settings import Site

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        site = Site.model_validate({"ssh": {"listen": f"127.0.0.1:{port}"}})
        (problem,) = ssh_blockers(site)
        assert f"ssh.listen 127.0.0.1:{port} cannot be used" in problem
        assert "ssh.enabled: false" in problem
        off = Site.model_validate({"ssh": {"enabled": False, "listen": f"127.0.0.1:{port}"}})
        assert ssh_blockers(off) == []
    assert ssh_blockers(site) == []  # free again

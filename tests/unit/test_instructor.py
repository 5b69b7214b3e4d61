"""The instructor page's pure parts: edits within the admin's limits, the audited update, and
the roster rows (table-driven); and its course form's SSH switches through the handler."""

import asyncio
import re
from datetime import datetime
from html import unescape
from urllib.parse import urlencode

import pytest
from tornado import web
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from launcher.catalog import Catalog, CatalogConflict
from launcher.i18n import Reader
from launcher.services import page
from launcher.services.instructor import app as instructor
from launcher.services.instructor.app import audit_row, materials_listing, roster_row
from launcher.services.instructor.edits import (
    EditForm,
    EditRefused,
    added_people_refused,
    allowed_images,
    apply_form,
    checkbox,
    gpu_cap,
)
from launcher.settings import Course, parse_site
from launcher.store import RunningServer, Store

PIN = "launcher/pytorch:2.13-cpu"
NEXT = "launcher/pytorch:2.14-cuda13.0"

COURSE = Course.model_validate(
    {
        "title": "Deep Learning",
        "image": PIN,
        "students": ["ann", "bob"],
        "instructors": ["ines"],
        "gpu": {"per_student": 1},
        "instructor_limits": {"images": [NEXT], "max_gpu_per_student": 2, "max_students": 3},
    }
)


def form(**changes) -> EditForm:
    base = dict(image=PIN, gpu_per_student="1", students="ann\nbob", tas="", materials=True)
    return EditForm(**{**base, **changes})


def test_the_current_pin_and_the_admins_list_are_offered():
    assert allowed_images(COURSE) == [PIN, NEXT]
    assert gpu_cap(COURSE) == 2
    # without limits an instructor may keep the pin and lower, never raise, the GPUs
    bare = Course.model_validate({"title": "T", "image": PIN, "gpu": {"per_student": 1}})
    assert allowed_images(bare) == [PIN]
    assert gpu_cap(bare) == 1


@pytest.mark.parametrize(
    "changes, check",
    [
        ({"image": NEXT}, lambda c: c.image == NEXT),
        ({"gpu_per_student": "2"}, lambda c: c.gpu.per_student == 2),
        ({"gpu_per_student": "0"}, lambda c: c.gpu.per_student == 0),
        ({"students": "ann, bob carl\n"}, lambda c: c.students == ["ann", "bob", "carl"]),
        ({"students": "ann\nann\n Bob "}, lambda c: c.students == ["ann", "bob"]),
        ({"tas": "tom"}, lambda c: c.tas == ["tom"]),
        ({"materials": False}, lambda c: c.materials.enabled is False),
    ],
)
def test_edits_within_the_limits_are_made(changes, check):
    changed = apply_form(COURSE, form(**changes))
    assert check(changed)
    # everything the page does not edit is kept
    assert changed.instructors == COURSE.instructors
    assert changed.instructor_limits == COURSE.instructor_limits


@pytest.mark.parametrize(
    "changes, sentence",
    [
        ({"image": "evil/miner:1.0"}, "'evil/miner:1.0' is not one of the images the admin allows"),
        ({"gpu_per_student": "3"}, "GPUs per student must be a whole number from 0 to 2"),
        ({"gpu_per_student": "-1"}, "GPUs per student must be a whole number from 0 to 2"),
        ({"gpu_per_student": "one"}, "GPUs per student must be a whole number from 0 to 2"),
        ({"students": "a b c d"}, "The roster may hold at most 3 students; it has 4"),
        ({"students": "ann bad/name"}, "students.1: 'bad/name' is not a valid JupyterHub username"),
    ],
)
def test_edits_outside_the_limits_are_refused_with_a_sentence(changes, sentence):
    with pytest.raises(EditRefused) as refused:
        apply_form(COURSE, form(**changes))
    assert any(sentence in p for p in refused.value.problems), refused.value.problems


def test_several_problems_are_all_reported():
    with pytest.raises(EditRefused) as refused:
        apply_form(COURSE, form(image="x/y:1", gpu_per_student="9"))
    assert len(refused.value.problems) == 2


@pytest.fixture
def cat(tmp_path):
    site = parse_site(f"courses:\n  demo:\n    title: Demo\n    image: {PIN}\n", name="site.yaml")
    catalog = Catalog(site.courses, Store(f"sqlite:///{tmp_path / 'store.sqlite'}"))
    catalog.apply({"dl101": COURSE}, "admin")
    return catalog


def test_an_instructors_edit_is_stored_and_audited_with_their_name(cat):
    change = cat.update("dl101", apply_form(COURSE, form(image=NEXT)), "ines")
    assert change.action == "update"
    assert change.details == [f"image: {PIN} -> {NEXT}"]
    assert cat.courses()["dl101"].image == NEXT
    last = cat.store.audit_log("dl101")[-1]
    assert (last["actor"], last["action"]) == ("ines", "update")
    assert last["details"] == f"image: {PIN} -> {NEXT}"
    # saving the same form again changes nothing and logs nothing
    again = cat.update("dl101", apply_form(cat.courses()["dl101"], form(image=NEXT)), "ines")
    assert again.action == "unchanged"
    assert len(cat.store.audit_log("dl101")) == 2  # the admin's create, the instructor's edit


def test_a_site_file_course_is_not_edited_from_the_page(cat):
    with pytest.raises(CatalogConflict, match="declared in the site file"):
        cat.update("demo", cat.courses()["demo"], "ines")


SERVERS = {
    "": {"pending": None, "ready": True, "started": "2026-11-25T09:30:12.000Z"},
    "cv201": {"pending": "spawn", "ready": False, "started": None},
}
CATALOG = {
    "dl101": COURSE,
    "cv201": Course.model_validate({"title": "CV", "image": PIN, "students": ["bob"]}),
}
STARTED = {  # the course each of bob's servers was started for (the store's record)
    ("bob", ""): RunningServer("bob", "", "dl101", "l_bob_dl101", datetime(2026, 11, 25, 9, 30)),
    ("bob", "cv201"): RunningServer("bob", "cv201", "cv201", "l_bob_cv201", datetime(2026, 11, 25)),
}


@pytest.mark.parametrize(
    "course, name, model, expected",
    [
        ("dl101", "carl", None, ("never logged in", None, False)),
        ("dl101", "ann", {"servers": {}}, ("stopped", "", False)),
        ("dl101", "bob", {"servers": SERVERS}, ("running since 2026-11-25 09:30 UTC", "", True)),
        # bob's cv201 is a named server (dl101 comes first in the catalog)
        ("cv201", "bob", {"servers": SERVERS}, ("spawning", "cv201", True)),
        ("cv201", "bob", {"servers": {}}, ("stopped", "cv201", False)),
    ],
)
def test_roster_rows(course, name, model, expected):
    row = roster_row(course, name, model, CATALOG, STARTED)
    assert (row["state"], row["server"], row["running"]) == expected


def test_a_roster_change_after_the_start_does_not_move_a_running_server_to_another_course():
    # cv201 now comes first, so bob's default server would start cv201 today; the one running
    # was started for dl101, and the page still shows it under dl101
    reordered = {"cv201": CATALOG["cv201"], "dl101": CATALOG["dl101"]}
    dl = roster_row("dl101", "bob", {"servers": SERVERS}, reordered, STARTED)
    cv = roster_row("cv201", "bob", {"servers": SERVERS}, reordered, STARTED)
    assert (dl["server"], dl["running"], cv["server"], cv["state"]) == (
        "",
        True,
        "cv201",
        "spawning",
    )


def test_the_materials_listing_shows_files_not_hidden_ones(tmp_path):
    assert materials_listing(tmp_path / "absent") == {
        "path": str(tmp_path / "absent"),
        "exists": False,
        "total": 0,
        "files": [],
    }
    (tmp_path / "week1").mkdir()
    (tmp_path / "week1" / "intro.ipynb").write_text("x" * 1500)
    (tmp_path / "syllabus.md").write_text("hi")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "old.ipynb").write_text("old")
    listing = materials_listing(tmp_path, limit=1)
    assert listing["total"] == 2 and listing["files"] == [("syllabus.md", 2)]
    assert materials_listing(tmp_path)["files"][1] == ("week1/intro.ipynb", 1500)


def test_the_materials_listing_neither_follows_nor_lists_links_to_host_files(tmp_path):
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "shadow").symlink_to("/etc/shadow")
    (tmp_path / "etc").symlink_to("/etc", target_is_directory=True)
    listing = materials_listing(tmp_path)
    assert listing["files"] == [("notes.md", 1)] and listing["total"] == 1


# --- in the visitor's language, times in the site's zone ----------------------------------

ZH = Reader("zh_CN", "Asia/Shanghai")


def test_roster_rows_in_chinese_with_the_time_in_the_sites_zone():
    def state(course, name, model, reader):
        return roster_row(course, name, model, CATALOG, STARTED, reader)["state"]

    running = {"servers": SERVERS}
    assert state("dl101", "bob", running, Reader("en", "Asia/Shanghai")) == (
        "running since 2026-11-25 17:30 CST"  # 09:30 UTC
    )
    assert state("dl101", "bob", running, ZH) == "自 2026-11-25 17:30 CST 起运行"
    assert state("cv201", "bob", running, ZH) == "启动中"
    assert state("dl101", "ann", {"servers": {}}, ZH) == "已停止"
    assert state("dl101", "carl", None, ZH) == "从未登录"


def test_the_audit_log_in_the_sites_zone():
    entry = {"at": datetime(2026, 11, 25, 9, 30), "actor": "ines", "action": "update"}
    entry["details"] = f"image: {PIN} -> {NEXT}"
    assert audit_row(entry) == {
        "at": "2026-11-25 09:30 UTC",
        "actor": "ines",
        "action": "update",
        "details": entry["details"],
    }
    shown = audit_row(entry, ZH)
    assert (shown["at"], shown["action"]) == ("2026-11-25 17:30 CST", "修改")


def test_refusals_in_chinese():
    with pytest.raises(EditRefused) as refused:
        apply_form(COURSE, form(gpu_per_student="9", students="a b c d"), ZH._)
    assert refused.value.problems == [
        "每名学生的 GPU 数必须是 0 到 2 之间的整数。",
        "名单最多可有 3 名学生；现在有 4 名。",
    ]
    changed = apply_form(COURSE, form(students="ann\nadmin"))
    (sentence,) = added_people_refused("dl101", COURSE, changed, CATALOG, {"admin"}, ZH._)
    assert sentence.startswith("admin 是管理员：只有管理员才能把此人加入 dl101")


# --- SSH into the students' containers: switched from the page where the admin allows it ---

SSH_OFF_SENTENCE = "Only an admin can switch this course's SSH access on or off"
OPEN = COURSE.model_copy(
    update={"instructor_limits": COURSE.instructor_limits.model_copy(update={"ssh": True})}
)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"ssh": False}, (False, True)),
        ({"port_forwarding": False}, (True, False)),
        ({"ssh": False, "port_forwarding": False}, (False, False)),
        ({"ssh": True, "port_forwarding": True}, (True, True)),
    ],
)
def test_ssh_is_switched_when_the_admin_allows_instructors_to(changes, expected):
    changed = apply_form(OPEN, form(**changes))
    assert (changed.ssh.enabled, changed.ssh.port_forwarding) == expected
    # and switched on again
    again = apply_form(changed, form(ssh=True, port_forwarding=True))
    assert (again.ssh.enabled, again.ssh.port_forwarding) == (True, True)


@pytest.mark.parametrize(
    "changes", [{"ssh": False}, {"port_forwarding": False}, {"ssh": False, "image": NEXT}]
)
def test_ssh_switched_without_the_admins_leave_is_refused_with_a_sentence(changes):
    assert COURSE.instructor_limits.ssh is False
    with pytest.raises(EditRefused) as refused:
        apply_form(COURSE, form(**changes))
    assert any(p.startswith(SSH_OFF_SENTENCE) for p in refused.value.problems)
    assert "instructor_limits.ssh" in " ".join(refused.value.problems)


def test_ssh_fields_that_change_nothing_are_not_refused():
    same = apply_form(COURSE, form(ssh=True, port_forwarding=True))
    assert (same.ssh.enabled, same.ssh.port_forwarding) == (True, True)


@pytest.mark.parametrize("course", [COURSE, OPEN])
@pytest.mark.parametrize("enabled, forwarding", [(True, True), (False, False), (True, False)])
def test_absent_ssh_fields_leave_ssh_as_it_is(course, enabled, forwarding):
    before = course.model_copy(
        update={
            "ssh": course.ssh.model_copy(update={"enabled": enabled, "port_forwarding": forwarding})
        }
    )
    changed = apply_form(before, form(image=NEXT))  # ssh and port_forwarding: None
    assert (changed.ssh.enabled, changed.ssh.port_forwarding) == (enabled, forwarding)


@pytest.mark.parametrize(
    "value, shown, expected",
    [
        ("on", True, True),
        (None, True, False),  # a browser sends nothing for an unchecked box
        (None, False, None),  # the form had no box: unchanged
        ("on", False, True),  # a field without the form's box still counts (then judged)
        ("off", False, False),
    ],
)
def test_a_checkbox_field(value, shown, expected):
    assert checkbox(value, shown) is expected


def test_an_ssh_switch_is_audited_with_the_instructors_name(cat):
    cat.apply({"dl101": OPEN}, "admin")
    change = cat.update("dl101", apply_form(OPEN, form(ssh=False)), "ines")
    assert change.details == ["ssh.enabled: True -> False"]
    last = cat.store.audit_log("dl101")[-1]
    assert (last["actor"], last["details"]) == ("ines", "ssh.enabled: True -> False")


def test_the_ssh_refusal_and_the_boxes_in_chinese():
    with pytest.raises(EditRefused) as refused:
        apply_form(COURSE, form(ssh=False), ZH._)
    assert refused.value.problems == [
        "只有管理员可以开启或关闭本课程的 SSH 访问（管理员可通过 instructor_limits.ssh "
        "允许教师这样做）。"
    ]
    assert ZH._("Students may sign in over SSH") == "允许学生通过 SSH 登录"
    assert ZH._("Port forwarding (VS Code Remote-SSH, TensorBoard)") == (
        "端口转发（VS Code Remote-SSH、TensorBoard）"
    )


# the form through the page's handler (the hub is not there: the visitor comes from a header)


@pytest.fixture
def visitor(monkeypatch):
    class Auth:
        base_url = "/"

        def check_xsrf_cookie(self, handler):  # Tornado's own check (the form's token)
            return web.RequestHandler.check_xsrf_cookie(handler)

    def current_user(handler):
        name = handler.request.headers.get("X-Test-User", "")
        return {"name": name, "admin": False, "groups": []} if name else None

    async def hub_users(handler):
        return [{"name": "ann", "groups": [], "servers": {}}]

    monkeypatch.setattr(page.ServicePage, "hub_auth", Auth())
    monkeypatch.setattr(page.ServicePage, "get_current_user", current_user)
    monkeypatch.setattr(page.ServicePage, "hub_users", hub_users)


def visit(app, path: str, post: dict | None = None) -> tuple[int, str]:
    """GET ``path`` as ines, then (``post``) submit the settings form with those fields, as
    her browser does (the XSRF token of the page): the last answer's status and page."""

    async def run():
        sock, port = bind_unused_port()
        server = HTTPServer(app)
        server.add_sockets([sock])
        client, url = AsyncHTTPClient(), f"http://127.0.0.1:{port}{path}"
        headers = {"X-Test-User": "ines"}
        try:
            got = await client.fetch(url, headers=headers, raise_error=False)
            body = got.body.decode()
            if post is None:
                return got.code, body
            cookie = re.search(r"_xsrf=([^;]+)", got.headers["Set-Cookie"])[1]
            token = re.search(r'name="_xsrf" value="([^"]+)"', body)[1]
            sent = await client.fetch(
                url,
                method="POST",
                headers={**headers, "Cookie": f"_xsrf={cookie}"},
                body=urlencode({**post, "_xsrf": token}),
                raise_error=False,
            )
            return sent.code, unescape(sent.body.decode())
        finally:
            server.stop()

    return asyncio.run(run())


FIELDS = {"image": PIN, "gpu_per_student": "1", "students": "ann\nbob", "materials": "on"}


def test_the_form_shows_the_ssh_boxes_only_where_the_admin_allows_them(visitor, cat, tmp_path):
    cat.apply({"open": OPEN}, "admin")
    app = instructor.app("/services/courses/", cat, tmp_path / "materials")
    status, shown = visit(app, "/services/courses/c/open")
    assert status == 200, shown
    assert re.search(r'name="ssh" id="ssh" checked', shown)
    assert re.search(r'name="port_forwarding" id="port_forwarding" checked', shown)
    assert "Students may sign in over SSH" in shown and 'name="ssh_shown"' in shown
    status, hidden = visit(app, "/services/courses/c/dl101")
    assert status == 200 and "Course settings" in hidden
    assert 'name="ssh' not in hidden and 'name="port_forwarding"' not in hidden
    assert "Students may sign in over SSH" not in hidden


def test_unchecking_ssh_on_the_page_saves_it_with_the_instructors_name(visitor, cat, tmp_path):
    cat.apply({"open": OPEN}, "admin")
    app = instructor.app("/services/courses/", cat, tmp_path / "materials")
    # the browser sends port_forwarding (checked) and nothing for ssh (unchecked)
    fields = {**FIELDS, "ssh_shown": "1", "port_forwarding": "on"}
    status, saved = visit(app, "/services/courses/c/open", fields)
    assert status == 200 and "Saved: ssh.enabled: True -> False." in saved, saved
    assert not re.search(r'name="ssh" id="ssh" checked', saved)
    assert (cat.courses()["open"].ssh.enabled, cat.courses()["open"].ssh.port_forwarding) == (
        False,
        True,
    )
    last = cat.store.audit_log("open")[-1]
    assert (last["actor"], last["details"]) == ("ines", "ssh.enabled: True -> False")
    # a form without the boxes (an older page) leaves it as it is
    _, same = visit(app, "/services/courses/c/open", FIELDS)
    assert "Saved: nothing changed." in same
    assert cat.courses()["open"].ssh.enabled is False


@pytest.mark.parametrize(
    "forged",
    [
        {"ssh_shown": "1"},  # both boxes "unchecked"
        {"ssh": "off"},
        {"ssh_shown": "1", "ssh": "on"},  # port forwarding "unchecked"
    ],
)
def test_a_forged_ssh_field_is_refused_without_the_admins_leave(visitor, cat, tmp_path, forged):
    app = instructor.app("/services/courses/", cat, tmp_path / "materials")
    status, refused = visit(app, "/services/courses/c/dl101", {**FIELDS, **forged})
    assert status == 400 and SSH_OFF_SENTENCE in refused, refused
    assert cat.courses()["dl101"].ssh == COURSE.ssh
    assert len(cat.store.audit_log("dl101")) == 1  # the admin's create only

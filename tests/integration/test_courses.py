"""Courses end to end on a real hub: a store catalog applied with `launcher courses apply`,
one server per course (named servers) with each course's own image, RBAC for instructors and
TAs, and materials read-only for students and writable for staff."""

import contextlib
import html
import re

import docker
import pytest
import yaml

from tests.integration.hub import IMAGE, form_xsrf, instructor_form, running_hub, wait_for

pytestmark = pytest.mark.integration

#: the same teaching image under a second name: proves each course runs its own pin
CV_IMAGE = "launcher/pytorch-vision:2.13-cpu"


def course_file(path, cv_students, cv_image=CV_IMAGE, cv_tas=()):
    path.write_text(
        yaml.safe_dump(
            {
                "courses": {
                    "cv201": {
                        "title": "Computer Vision",
                        "image": cv_image,
                        "instructors": ["victor"],
                        "students": cv_students,
                        "tas": list(cv_tas),
                        "resources": {"mem_limit": "1G"},
                    }
                }
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def chub(tmp_path_factory):
    client = docker.from_env()
    client.images.get(IMAGE).tag(CV_IMAGE)
    tmp = tmp_path_factory.mktemp("courses")
    applied = {}

    def apply_before_start(hub):
        out = hub.launcher("courses", "apply", "-f", str(course_file(tmp / "c.yaml", ["both"])))
        applied["out"] = out
        assert out.returncode == 0, out.stderr

    site = {
        "hub": {"staff_access_sync": 2},
        "courses": {
            "demo": {
                "students": ["ann", "both"],
                "tas": ["tom"],
                "instructors": ["ines"],
            }
        },
    }
    try:
        with running_hub(tmp, "courses", site_extra=site, before_start=apply_before_start) as hub:
            hub.applied = applied["out"].stdout
            hub.tmp = tmp
            yield hub
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(CV_IMAGE, noprune=True)


def test_apply_prints_the_diff_and_a_second_apply_changes_nothing(chub):
    assert "+ cv201: create (image: launcher/pytorch-vision:2.13-cpu)" in chub.applied
    again = chub.launcher("courses", "apply", "-f", str(chub.tmp / "c.yaml"))
    assert again.returncode == 0 and "No changes." in again.stdout
    listing = chub.launcher("courses")
    assert "cv201" in listing.stdout and "store" in listing.stdout
    assert "demo" in listing.stdout and "site file" in listing.stdout
    exported = chub.launcher("courses", "export")
    assert yaml.safe_load(exported.stdout)["courses"]["cv201"]["students"] == ["both"]
    clash = chub.tmp / "clash.yaml"
    clash.write_text("courses:\n  demo:\n    title: X\n    image: launcher/pytorch:2.13-cpu\n")
    refused = chub.launcher("courses", "apply", "-f", str(clash))
    assert refused.returncode == 2 and "declared in the site file" in refused.stderr


def test_a_student_in_two_courses_gets_one_server_per_course(chub):
    s = chub.session("both")
    s.start_server()  # the default server: the first course
    s.start_server(server="cv201")  # a named server per further course
    demo, cv = chub.container_for("both", "demo"), chub.container_for("both", "cv201")
    assert demo.attrs["Config"]["Image"] == IMAGE
    assert cv.attrs["Config"]["Image"] == CV_IMAGE
    assert demo.status == cv.status == "running"

    def home(c):
        return next(m["Name"] for m in c.attrs["Mounts"] if m["Destination"] == "/home/jovyan")

    assert home(demo) != home(cv), "each course has its own workspace"
    # through the proxy, as the browser does (OAuth dance for the named server first)
    assert s.get(f"{chub.url}/user/both/cv201/lab").status_code == 200
    assert s.get(f"{chub.url}/user/both/cv201/api/contents").status_code == 200

    # the same course twice would share one workspace: refused with a sentence
    twice = s.api("POST", "/users/both/servers/demo")
    assert twice.status_code == 409, twice.text
    assert "already running as your default server" in twice.json()["message"]
    stranger = s.api("POST", "/users/both/servers/physics")
    assert stranger.status_code == 404
    assert "not enrolled in a course called 'physics'" in stranger.json()["message"]
    assert "demo, cv201" in stranger.json()["message"]
    s.stop_server(server="cv201")
    s.stop_server()


def test_staff_reach_their_course_servers_and_nobody_elses(chub):
    ann = chub.session("ann")  # demo student
    both = chub.session("both")  # demo (her first course: default server) and cv201 student
    victor = chub.session("victor")  # cv201 instructor
    ines = chub.session("ines")  # demo instructor
    tom = chub.session("tom")  # demo TA

    # the instructor of demo opens ann's demo server (shared with demo's staff at its start);
    # the hub asks her to confirm that she opens ann's server, then JupyterLab answers
    ann.start_server()
    assert ines.api("GET", "/users/ann").status_code == 200
    assert ines.open_server("/user/ann/lab").status_code == 200
    through_proxy = ines.get(f"{chub.url}/user/ann/api/contents")
    assert through_proxy.status_code == 200, through_proxy.status_code
    # ... but not the instructor of cv201, and no student, and not their own course's staff
    assert victor.api("GET", "/users/ann").status_code in (403, 404)
    assert victor.api("DELETE", "/users/ann/server").status_code in (403, 404)
    assert victor.open_server("/user/ann/lab").status_code == 403  # the dance ends in 403
    assert victor.get(f"{chub.url}/user/ann/api/contents").status_code == 403
    assert both.api("DELETE", "/users/ann/server").status_code in (403, 404)
    assert ines.api("GET", "/users/victor").status_code in (403, 404)
    assert ines.api("GET", "/users/tom").status_code in (403, 404)
    # staff start and stop no server through the hub's API (it cannot tell one course's server
    # from another's): only through their page, for their course
    assert tom.api("DELETE", "/users/ann/server").status_code in (403, 404)
    assert ines.api("POST", "/users/both/servers/cv201").status_code in (403, 404)

    # a student of two courses: each course's staff open that course's server, not the other
    both.start_server()  # demo
    both.start_server(server="cv201")
    assert ines.open_server("/user/both/lab").status_code == 200
    assert victor.open_server("/user/both/cv201/lab").status_code == 200
    assert victor.open_server("/user/both/lab").status_code == 403
    assert victor.get(f"{chub.url}/user/both/api/contents").status_code == 403
    assert ines.open_server("/user/both/cv201/lab").status_code == 403
    assert victor.api("DELETE", "/users/both/server").status_code in (403, 404)

    # a TA of demo stops the demo student's server from the instructor page
    page = tom.open_server("/services/courses/c/demo")
    xsrf = form_xsrf(page.text)
    stop = tom.post(f"{chub.url}/services/courses/c/demo/servers/ann/stop", data={"_xsrf": xsrf})
    assert stop.status_code == 200
    wait_for(lambda: chub.container_for("ann", "demo") is None, 120, "ann's server to stop")
    assert ann.user_model()["servers"] == {}
    both.stop_server()
    both.stop_server(server="cv201")


def test_materials_are_read_only_for_students_and_writable_for_staff(chub):
    ines = chub.session("ines")
    ines.start_server()
    staff = chub.container_for("ines", "demo")
    code, out = staff.exec_run(
        ["sh", "-c", "echo 'week 1: tensors' > ~/materials/week1.md && id -u"]
    )
    assert code == 0, out
    ann = chub.session("ann")
    ann.start_server()
    student = chub.container_for("ann", "demo")
    code, out = student.exec_run(["cat", "/home/jovyan/materials/week1.md"])
    assert code == 0 and out == b"week 1: tensors\n"
    code, out = student.exec_run(["sh", "-c", "echo mine > ~/materials/week1.md"])
    assert code != 0 and b"Read-only file system" in out
    code, out = student.exec_run(["touch", "/home/jovyan/materials/new.txt"])
    assert code != 0
    # through JupyterLab too: the contents API refuses the save
    assert ann.get(f"{chub.url}/user/ann/lab").status_code == 200
    put = ann.put(
        f"{chub.url}/user/ann/api/contents/materials/answers.txt",
        json={"type": "file", "format": "text", "content": "x"},
        headers={"X-XSRFToken": ann.xsrf("/user/ann/")},
    )
    assert put.status_code >= 400
    ann.stop_server()
    ines.stop_server()


def test_a_pin_change_applied_to_the_store_reaches_the_next_start(chub):
    both = chub.session("both")
    both.start_server(server="cv201")
    old = chub.container_for("both", "cv201")
    assert old.attrs["Config"]["Image"] == CV_IMAGE
    moved = chub.launcher(
        "courses", "apply", "-f", str(course_file(chub.tmp / "c2.yaml", ["both", "carl"], IMAGE))
    )
    assert moved.returncode == 0, moved.stderr
    assert f"image: {CV_IMAGE} -> {IMAGE}" in moved.stdout
    assert "students: +carl" in moved.stdout
    # the running session is not touched; the next start uses the new pin
    assert chub.container_for("both", "cv201").id == old.id
    both.stop_server(server="cv201")
    both.start_server(server="cv201")
    assert chub.container_for("both", "cv201").attrs["Config"]["Image"] == IMAGE
    both.stop_server(server="cv201")
    # a student added to the roster logs in at once, without a hub restart
    carl = chub.session("carl")
    assert carl.user_model()["groups"] == ["course-cv201-students"]


def test_someone_removed_from_every_roster_cannot_log_in(chub):
    chub.launcher("courses", "apply", "-f", str(course_file(chub.tmp / "c3.yaml", ["both"], IMAGE)))
    page = chub.session("both").get(f"{chub.url}/hub/login")  # still in demo
    assert page.status_code == 200
    with pytest.raises(AssertionError, match="login as carl failed: 403"):
        chub.session("carl")


# --- the instructor page (/services/courses/), as each person's browser uses it ---


def test_an_instructor_edits_the_course_within_the_admins_limits(chub):
    limits = course_file(chub.tmp / "c4.yaml", ["both"], IMAGE)
    spec = yaml.safe_load(limits.read_text())
    spec["courses"]["cv201"]["instructor_limits"] = {"images": [CV_IMAGE], "max_students": 3}
    limits.write_text(yaml.safe_dump(spec))
    assert chub.launcher("courses", "apply", "-f", str(limits)).returncode == 0

    victor = chub.session("victor")
    url = f"{chub.url}/services/courses/c/cv201"
    page = victor.open_server("/services/courses/c/cv201")
    assert page.status_code == 200 and "you are instructor" in page.text
    assert 'data-student="both"' in page.text
    fields = instructor_form(page.text)
    saved = victor.post(url, data={**fields, "image": CV_IMAGE, "students": "both\ndora"})
    assert saved.status_code == 200, saved.text[:500]
    saved_text = html.unescape(saved.text)
    assert f"image: {IMAGE} -> {CV_IMAGE}" in saved_text and "students: +dora" in saved_text
    assert yaml.safe_load(chub.launcher("courses", "export").stdout)["courses"]["cv201"][
        "students"
    ] == ["both", "dora"]
    # outside the limits: refused with sentences, nothing changed
    too_many = victor.post(url, data={**fields, "students": "a b c d"})
    assert too_many.status_code == 400
    assert "The roster may hold at most 3 students; it has 4." in too_many.text
    # an admin or another course's staff on the roster would open their servers: refused
    for name, what in (("admin", "an admin"), ("ines", "staff of demo")):
        roster = f"both\ndora\n{name}"
        sneaked = victor.post(url, data={**fields, "image": CV_IMAGE, "students": roster})
        assert sneaked.status_code == 400
        assert f"{name} is {what}: only an admin can add them to cv201" in html.unescape(
            sneaked.text
        )
    assert "cv201" in chub.launcher("courses", "whois", "dora").stdout
    # the audit log on the page names the instructor
    audit = victor.get(url).text
    assert re.search(r"<td>victor</td><td>update: [^<]*students: \+dora", audit)


def test_a_ta_sees_the_course_but_does_not_edit_it(chub):
    materials = chub.data_dir / "materials" / "demo"
    materials.mkdir(parents=True, exist_ok=True)
    (materials / "syllabus.md").write_text("week 1: tensors\n")
    tom = chub.session("tom")
    page = tom.open_server("/services/courses/c/demo")
    assert page.status_code == 200 and "you are ta" in page.text
    assert "<td>syllabus.md</td><td>16 B</td>" in page.text  # the materials folder's files
    assert "This course is declared in the site file" in page.text  # read-only here
    fields = instructor_form(page.text)
    refused = tom.post(f"{chub.url}/services/courses/c/demo", data=fields)
    assert refused.status_code == 403
    assert "Only the course's instructors change the course." in html.unescape(refused.text)


def test_staff_of_one_course_get_403_on_another_courses_page(chub):
    ines = chub.session("ines")
    assert ines.open_server("/services/courses/").status_code == 200
    other = ines.get(f"{chub.url}/services/courses/c/cv201")
    assert other.status_code == 403
    assert "You are not a TA or an instructor of cv201." in other.text
    assert chub.session("ann").open_server("/services/courses/").status_code == 403


def test_an_instructor_starts_and_stops_a_students_server_from_the_page(chub):
    ines = chub.session("ines")
    chub.session("ann")  # ann has logged in once (her course group exists)
    page = ines.open_server("/services/courses/c/demo")
    xsrf = form_xsrf(page.text)
    action = f"{chub.url}/services/courses/c/demo/servers/ann"
    started = ines.post(f"{action}/start", data={"_xsrf": xsrf, "server": ""})
    assert started.status_code == 200 and started.url.endswith("/services/courses/c/demo")
    wait_for(lambda: chub.container_for("ann", "demo"), 120, "ann's server")
    wait_for(
        lambda: "running since" in ines.get(f"{chub.url}/services/courses/c/demo").text,
        120,
        "the page to show ann's server running",
    )
    stopped = ines.post(f"{action}/stop", data={"_xsrf": xsrf, "server": ""})
    assert stopped.status_code == 200
    wait_for(lambda: chub.container_for("ann", "demo") is None, 120, "ann's server to stop")
    # a name that is not on the course's roster
    stranger = ines.post(
        f"{chub.url}/services/courses/c/demo/servers/victor/start", data={"_xsrf": xsrf}
    )
    assert stranger.status_code == 404 and "victor is not a student of demo." in stranger.text
    # the page starts and stops the student's server of *this* course, whatever the form says:
    # a forged server name reaches no server of another course
    forged = ines.post(f"{action}/start", data={"_xsrf": xsrf, "server": "cv201"})
    assert forged.status_code == 200
    wait_for(lambda: chub.container_for("ann", "demo"), 120, "ann's demo server")
    assert chub.container_for("ann", "cv201") is None
    ines.post(f"{action}/stop", data={"_xsrf": xsrf})
    wait_for(lambda: chub.container_for("ann", "demo") is None, 120, "ann's server to stop")


def test_a_ta_added_and_removed_gains_and_loses_the_courses_servers_at_once(chub):
    both = chub.session("both")
    both.start_server(server="cv201")
    shared = "access:servers!server=both/cv201"
    # cv201 gains a TA: apply gives her a password of her own, and the running server opens to her
    added = chub.launcher(
        "courses", "apply", "-f", str(course_file(chub.tmp / "t.yaml", ["both"], cv_tas=["tara"]))
    )
    assert (
        added.returncode == 0
        and "Generated the own passwords of 1 instructor(s) and TA(s) (tara)" in added.stdout
    )
    tara = chub.session("tara")
    wait_for(
        lambda: shared in tara.api("GET", "/user").json()["scopes"],
        30,
        "the server to be shared with tara",
    )
    assert tara.open_server("/user/both/cv201/lab").status_code == 200
    # removed again: the share goes within the sync interval (2 s here, a minute by default)
    removed = chub.launcher(
        "courses", "apply", "-f", str(course_file(chub.tmp / "t.yaml", ["both"]))
    )
    assert removed.returncode == 0
    wait_for(
        lambda: shared not in tara.api("GET", "/user").json()["scopes"],
        30,
        "tara to lose the share",
    )
    both.stop_server(server="cv201")

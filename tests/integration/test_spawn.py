"""The walking skeleton end to end: real engine, real hub and proxy, the real teaching image."""

import socket
from urllib.parse import quote

import pytest

from launcher.secrets import STAFF_PASSWORDS_FILE
from tests.conftest import HOSTILE_USERS
from tests.integration.hub import (
    ADMIN_PASSWORD,
    IMAGE,
    USER_PASSWORD,
    HubSession,
    expected_torch_version,
    form_xsrf,
    running_hub,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_login_form_spawn_progress_pinned_image_and_workspace_survives_restart(hub):
    s = hub.session("student2")
    events = s.start_server()
    messages = " | ".join(e.get("message", "") for e in events)
    for step in (
        "Checking the course image " + IMAGE,
        "Creating your container",
        "Starting your container",
        "waiting for JupyterLab",
    ):
        assert step in messages, messages

    first = hub.container_of("student2")
    assert first is not None and first.status == "running"
    config, host = first.attrs["Config"], first.attrs["HostConfig"]
    assert config["Image"] == IMAGE
    assert config["User"] == "1000:100"
    assert host["CapDrop"] == ["ALL"] and not host["Privileged"]
    assert host["Memory"] == 1024**3
    # its log cannot fill the host's disk: at most 3 files of 10 MB
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3"},
    }
    assert "NVIDIA_VISIBLE_DEVICES=void" in config["Env"]
    assert not host.get("DeviceRequests"), "a course without GPUs requests none"
    mounts = {m["Destination"]: m for m in first.attrs["Mounts"]}
    assert sorted(mounts) == ["/home/jovyan", "/home/jovyan/materials"]
    assert mounts["/home/jovyan"]["Type"] == "volume" and mounts["/home/jovyan"]["RW"]
    # the course materials: a host folder, read-only for a student
    assert mounts["/home/jovyan/materials"]["Type"] == "bind"
    assert not mounts["/home/jovyan/materials"]["RW"]
    assert not any("docker.sock" in (m.get("Source") or "") for m in mounts.values())
    volume = mounts["/home/jovyan"]["Name"]

    code, (out, err) = first.exec_run(
        ["python", "-c", "import torch; print(torch.__version__)"], demux=True
    )
    assert code == 0, err
    assert out.decode().strip().split("+")[0] == expected_torch_version()
    code, out = first.exec_run(["id", "-u"])
    assert out.decode().strip() == "1000"

    # through the proxy, as the browser does: OAuth redirect dance, then the contents API
    lab = s.get(f"{hub.url}/user/student2/lab")
    assert lab.status_code == 200, lab.status_code
    note = {"type": "file", "format": "text", "content": "kept across restarts\n"}
    put = s.put(
        f"{hub.url}/user/student2/api/contents/notes.txt",
        json=note,
        headers={"X-XSRFToken": s.xsrf("/user/student2/")},
    )
    assert put.status_code in (200, 201), put.text
    # a dotfile in the home directory, as pip --user or a shell history would write it
    assert first.exec_run(["sh", "-c", "echo dotfile > ~/.config-test"])[0] == 0

    s.stop_server()
    assert hub.container_of("student2") is None, "the stopped container is removed"
    assert volume in [v.name for v in hub.volumes()], "the workspace volume is kept"

    s.start_server()
    second = hub.container_of("student2")
    assert second.id != first.id, "a new container on every start"
    assert s.get(f"{hub.url}/user/student2/lab").status_code == 200  # the browser logs in again
    got = s.get(f"{hub.url}/user/student2/api/contents/notes.txt")
    assert got.status_code == 200 and got.json()["content"] == note["content"]
    # the whole home is the workspace, not only a work/ folder
    code, out = second.exec_run(["cat", "/home/jovyan/.config-test"])
    assert code == 0 and out == b"dotfile\n"
    s.stop_server()


def test_a_student_cannot_reach_another_students_server(hub):
    owner = hub.session("student3")
    owner.start_server()
    other = hub.session("student1")
    through_proxy = other.get(f"{hub.url}/user/student3/api/contents")
    assert through_proxy.status_code == 403
    page = other.get(f"{hub.url}/user/student3/lab")  # the OAuth dance ends in a refusal
    assert page.status_code == 403
    # the hub API does not even reveal that student3 exists (JupyterHub answers 404)
    assert other.api("POST", "/users/student3/server").status_code in (403, 404)
    assert other.api("DELETE", "/users/student3/server").status_code in (403, 404)
    assert hub.container_of("student3").status == "running"
    owner.stop_server()


def test_user_options_cannot_name_another_image(hub):
    s = hub.session("teacher")
    resp = s.api("POST", "/users/teacher/server", json={"image": "launcher-base:bookworm"})
    assert 400 <= resp.status_code < 500
    assert "only your course's image" in resp.json()["message"]
    assert hub.container_of("teacher") is None
    assert s.user_model()["servers"] == {}
    # the refused options are not kept as the server's defaults: a plain start works
    s.start_server()
    assert hub.container_of("teacher").status == "running"
    s.stop_server()


def test_not_enrolled_gets_a_sentence_and_nothing_runs(hub):
    admin = hub.session("admin")
    assert admin.api("POST", "/users/outsider").status_code == 201
    resp = admin.api("POST", "/users/outsider/server")
    assert resp.status_code == 403
    assert "not on the roster of any course" in resp.json()["message"]
    assert hub.container_of("outsider") is None


def test_missing_course_image_fails_fast_with_a_sentence(hub):
    admin = hub.session("admin")
    resp = admin.api("POST", "/users/ghoststudent/server")
    assert resp.status_code == 503
    message = resp.json()["message"]
    assert "launcher/pytorch:0.0-never-built is not installed on this server yet" in message
    assert hub.container_of("ghoststudent") is None


def test_hostile_usernames_get_distinct_safe_containers_and_volumes(hub):
    admin = hub.session("admin")
    for name in HOSTILE_USERS:
        resp = admin.api("POST", f"/users/{quote(name, safe='')}/server")
        assert resp.status_code in (201, 202), (name, resp.status_code, resp.text)
    for name in HOSTILE_USERS:
        wait_for(
            lambda n=name: admin.user_model(quote(n, safe=""))["servers"].get("", {}).get("ready"),
            180,
            f"{name!r}'s server",
            interval=0.5,
        )
    containers = {name: hub.container_of(name) for name in HOSTILE_USERS}
    assert all(c is not None for c in containers.values())
    names = [c.name for c in containers.values()]
    volumes = [
        m["Name"] for c in containers.values() for m in c.attrs["Mounts"] if m["Type"] == "volume"
    ]
    assert len(set(names)) == len(set(volumes)) == len(HOSTILE_USERS)
    for container_name in names + volumes:
        assert container_name.isascii() and len(container_name) < 128, container_name
    # a file written by one hostile user is not visible to another
    a, b = containers["a-b"], containers["a--b"]
    assert a.exec_run(["sh", "-c", "echo mine > ~/only-a-b"])[0] == 0
    assert b.exec_run(["test", "-e", "/home/jovyan/only-a-b"])[0] != 0
    for name in HOSTILE_USERS:
        admin.stop_server(quote(name, safe=""))


def test_the_class_password_signs_in_students_only_and_staff_use_their_own(hub):
    # the instructor of the demo course, with the class password every student knows
    s = HubSession(hub)
    form = s.get(f"{hub.url}/hub/login")
    resp = s.post(
        f"{hub.url}/hub/login",
        data={
            "username": "teacher",
            "password": USER_PASSWORD,
            "_xsrf": form_xsrf(form.text),
        },
        allow_redirects=False,
    )
    assert resp.status_code == 403, resp.status_code
    assert "staff sign in with their own password, not the class password" in resp.text
    assert "Traceback" not in resp.text
    # with the password the hub generated for them (in the data directory, root only)
    own = hub.password("teacher")
    assert own != USER_PASSWORD and len(own) >= 16
    assert hub.session("teacher", own).user_model()["name"] == "teacher"
    assert (hub.data_dir / STAFF_PASSWORDS_FILE).stat().st_mode & 0o777 == 0o600
    # and the admin password is no way in for a student
    with pytest.raises(AssertionError, match="login as student2 failed"):
        hub.session("student2", ADMIN_PASSWORD)


def test_no_session_starts_on_a_nearly_full_disk(tmp_path):
    """Workspaces (Docker volumes) have no size limit of their own: the hub keeps the engine's
    disk from filling by refusing new sessions below ``docker.min_free_disk_gb``."""
    site = {"docker": {"min_free_disk_gb": 10**9}}  # more than any disk here has
    with running_hub(tmp_path, "disk", [], site) as full:
        s = full.session("student1")
        resp = s.api("POST", "/users/student1/server")
        assert resp.status_code == 503, resp.text
        message = resp.json()["message"]
        assert message.startswith("This server's disk is nearly full (") and "GB free of" in message
        assert "please tell the admin" in message
        assert full.container_of("student1") is None


def test_students_reach_neither_each_other_nor_this_hosts_services(hub):
    """The students' network: no traffic between containers, nothing on the host but the hub's
    API, never the metadata address (a listener in one container, tries from another)."""
    a, b = hub.session("student1"), hub.session("student3")
    a.start_server()
    b.start_server()
    listener = hub.container_of("student1")
    other = hub.container_of("student3")
    listener.exec_run(["python", "-m", "http.server", "9999"], detach=True, user="1000:100")
    a_ip = listener.attrs["NetworkSettings"]["Networks"][hub.network]["IPAddress"]
    gateway = other.attrs["NetworkSettings"]["Networks"][hub.network]["Gateway"]
    wait_for(lambda: reach(listener, "127.0.0.1", 9999), 30, "the listener in student1's container")
    # a service of this host on the students' gateway (anything but the hub's API)
    with socket.socket() as host_service:
        host_service.bind((gateway, 0))
        host_service.listen()
        assert not reach(other, a_ip, 9999), "student3 reached student1's container"
        assert not reach(other, gateway, host_service.getsockname()[1]), "reached the host"
        assert reach(other, gateway, 8081), "the hub's API must stay reachable"
    a.stop_server()
    b.stop_server()


def reach(container, host: str, port: int) -> bool:
    """Whether a TCP connection from ``container`` to host:port succeeds within 3 s."""
    code, _ = container.exec_run(
        ["python", "-c", f"import socket; socket.create_connection(({host!r}, {port}), 3)"],
        user="1000:100",
    )
    return code == 0

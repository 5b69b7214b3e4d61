"""SSH into the student's own container through the hub's endpoint, with real OpenSSH
clients (ssh, scp, sftp) against a real hub, its real SSH service and the real engine.

The student signs in with a JupyterHub API token as password or a key registered on the hub's
key page; the endpoint starts their server when it is not running, and bridges them to the
sshd inside their container (which runs as the student). What they reach is their own
container: its Python and torch, its workspace (a file copied in with scp is in JupyterLab),
listeners inside it (ssh -L); not another student's container, not the host.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests import ports
from tests.integration.hub import (
    expected_torch_version,
    running_hub,
    wait_for,
)
from tests.sshclient import Endpoint, fingerprint, keygen

pytestmark = pytest.mark.integration

SITE = {
    "ssh": {"max_failures": 1000, "activity_interval": 5, "agent_forwarding": True},
    "courses": {
        "demo": {"students": ["student1", "student2", "student3", "pat"]},
        "quiet": {
            "title": "A course with SSH off",
            "image": "launcher/pytorch:2.13-cpu",
            "students": ["student3"],
            "ssh": {"enabled": False},
        },
    },
}


@pytest.fixture(scope="module")
def shub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssh")
    with running_hub(tmp, "ssh", site_extra=SITE) as hub:
        hub.endpoint = Endpoint(hub.ssh_port, tmp)
        wait_for(hub.endpoint.listening, 60, "the hub's SSH endpoint")
        yield hub


def token_of(hub, username: str) -> tuple[str, object]:
    session = hub.session(username)
    return session.new_token("ssh test"), session


def text(proc: subprocess.CompletedProcess) -> tuple[str, str]:
    return proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def test_a_token_signs_in_starts_the_server_and_runs_torch_in_the_students_container(shub):
    token, session = token_of(shub, "student1")
    assert not session.user_model()["servers"], "no server runs before the ssh command"
    proc = shub.endpoint.ssh(
        "student1",
        "python -c 'import sys, torch; print(torch.__version__, sys.prefix)'; id -u; "
        "echo $LAUNCHER_COURSE $HOME",
        token=token,
    )
    out, err = text(proc)
    assert proc.returncode == 0, err
    version, prefix = out.split("\n")[0].split()
    assert version.split("+")[0] == expected_torch_version()  # the image's torch (2.13.0+cpu)
    assert prefix == "/opt/venv"  # and its Python, not Debian's
    assert "\n1000\n" in out, "the student's uid, never root"
    assert "demo /home/jovyan" in out
    # the start's progress came on stderr, as the browser shows it
    assert "Starting your demo server" in err
    assert "Starting your container" in err or "Creating your container" in err
    assert session.user_model()["servers"][""]["ready"]
    container = shub.container_of("student1")
    assert container.attrs["Config"]["User"] == "1000:100"
    top = container.top(ps_args="-eo pid,user,comm")["Processes"]
    assert [p for p in top if p[2] == "sshd"], top
    assert all(p[1] != "root" for p in top if p[2] == "sshd"), top


def test_a_terminal_exit_codes_and_no_docker_socket(shub):
    token, _ = token_of(shub, "student1")
    # a terminal (ssh -t): a pseudo-terminal in the container
    proc = shub.endpoint.ssh("student1", "tty; exit 7", token=token, extra=("-tt",))
    out, err = text(proc)
    assert proc.returncode == 7, err  # the command's exit status comes back
    assert out.split()[0].startswith("/dev/pts/"), out
    # what the student's commands cannot reach: the Docker socket is not in the container
    proc = shub.endpoint.ssh("student1", "test -e /var/run/docker.sock", token=token)
    assert proc.returncode == 1


def test_scp_and_sftp_land_in_the_workspace_jupyterlab_shows(shub, tmp_path):
    token, session = token_of(shub, "student1")
    endpoint = shub.endpoint
    payload = tmp_path / "data.csv"
    payload.write_text("x,y\n1,2\n")
    proc = endpoint.scp(str(payload), "student1@127.0.0.1:data.csv", token=token)
    assert proc.returncode == 0, text(proc)[1]
    # OpenSSH's legacy scp protocol (an exec of `scp -t` in the container) works too
    proc = endpoint.scp("-O", str(payload), "student1@127.0.0.1:legacy.csv", token=token)
    assert proc.returncode == 0, text(proc)[1]
    proc = endpoint.sftp("student1", f"put {payload} viasftp.csv\nls\n", token=token)
    assert proc.returncode == 0, text(proc)[1]

    session.get(f"{shub.url}/user/student1/lab")  # JupyterLab's OAuth for this session
    for name in ("data.csv", "legacy.csv", "viasftp.csv"):
        resp = session.get(f"{shub.url}/user/student1/api/contents/{name}?content=1")
        assert resp.status_code == 200, (name, resp.status_code)
        assert resp.json()["content"] == "x,y\n1,2\n"
    back = tmp_path / "back.csv"
    proc = endpoint.scp("student1@127.0.0.1:viasftp.csv", str(back), token=token)
    assert proc.returncode == 0 and back.read_text() == "x,y\n1,2\n"


def test_a_forwarded_port_reaches_a_listener_in_the_students_container(shub):
    token, _ = token_of(shub, "student1")
    marker = uuid.uuid4().hex
    endpoint = shub.endpoint
    # a listener inside the container, on its loopback only (as TensorBoard would be)
    start = endpoint.ssh(
        "student1",
        # (one simple command in the background: a backgrounded list would keep the
        # session's output open, and ssh waits for it as for any sshd)
        f"mkdir -p /tmp/{marker}; echo {marker} > /tmp/{marker}/index.html; "
        f"nohup python -m http.server 9000 --bind 127.0.0.1 --directory /tmp/{marker} "
        ">/dev/null 2>&1 </dev/null & echo started",
        token=token,
        timeout=120,
    )
    assert start.returncode == 0, text(start)[1]
    with endpoint.forward("student1", "127.0.0.1:9000", token=token) as port:

        def served():
            try:
                return requests.get(f"http://127.0.0.1:{port}/index.html", timeout=5)
            except requests.RequestException:
                return None

        resp = wait_for(served, 60, "the container's listener through ssh -L")
        assert resp.text.strip() == marker


def socks_get(proxy_port: int, port: int, path: str) -> bytes:
    """An HTTP GET of 127.0.0.1:``port`` (as the container sees it) through the SOCKS5 proxy
    of ``ssh -D`` (no authentication, IPv4 address): the whole response."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=30) as sock:
        sock.sendall(b"\x05\x01\x00")
        assert sock.recv(2) == b"\x05\x00"
        sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + port.to_bytes(2, "big"))
        reply = sock.recv(10)
        assert reply[:2] == b"\x05\x00", reply
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_the_way_vs_code_remote_ssh_connects(shub, tmp_path):
    """VS Code's Remote-SSH (remote.SSH.useLocalServer): ``ssh -T -D PORT HOST bash``, its
    install script written to bash's standard input, which starts its server on the remote
    loopback and prints where; then it talks to that server through the SOCKS proxy of -D."""
    token, _ = token_of(shub, "student1")
    marker = uuid.uuid4().hex
    proxy = ports.free_port()
    proc = subprocess.Popen(
        ["ssh", *shub.endpoint.options(None, token), "-T", "-D", f"127.0.0.1:{proxy}"]
        + ["-p", str(shub.ssh_port), "student1@127.0.0.1", "bash"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=shub.endpoint.env(token),
        start_new_session=True,
    )
    try:
        script = (
            f"mkdir -p /tmp/{marker}; echo {marker} > /tmp/{marker}/index.html\n"
            f"python -m http.server 9100 --bind 127.0.0.1 --directory /tmp/{marker} "
            ">/dev/null 2>&1 </dev/null &\n"
            "for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/9100) 2>/dev/null && break; "
            "sleep 0.1; done\n"
            f"echo listeningOn=9100 {marker}\n"
        )
        proc.stdin.write(script.encode())
        proc.stdin.flush()
        line = proc.stdout.readline().decode()
        assert line.strip() == f"listeningOn=9100 {marker}", (line, proc.stderr.peek())
        response = socks_get(proxy, 9100, "/index.html")
        assert response.startswith(b"HTTP/1.0 200") and response.rstrip().endswith(
            marker.encode()
        ), response[:300]
        proc.stdin.close()  # VS Code's window closes: bash ends, and ssh with it
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def probe(endpoint, login: str, token: str, target: str) -> str:
    """What an HTTP request through ``ssh -L PORT:TARGET`` gets within 10 s: "HTTP <status>",
    or "" when nothing answered (the container's sshd could not connect)."""
    with endpoint.forward(login, target, token=token) as port:
        try:
            resp = requests.get(f"http://127.0.0.1:{port}/", timeout=10, allow_redirects=False)
        except requests.RequestException:
            return ""
        return f"HTTP {resp.status_code}"


def test_forwarding_reaches_no_other_students_container_and_not_the_host(shub):
    token1, _ = token_of(shub, "student1")
    _, session2 = token_of(shub, "student2")
    session2.start_server("student2")
    other = shub.container_of("student2")
    other_ip = next(iter(other.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    gateway = next(iter(other.attrs["NetworkSettings"]["Networks"].values()))["Gateway"]
    endpoint = shub.endpoint
    # the control: JupyterLab in the student's own container answers through the same path
    assert probe(endpoint, "student1", token1, "127.0.0.1:8888").startswith("HTTP ")
    # another student's JupyterLab and sshd: no route (inter-container traffic is off)
    assert probe(endpoint, "student1", token1, f"{other_ip}:8888") == ""
    assert probe(endpoint, "student1", token1, f"{other_ip}:2222") == ""
    # the host: the proxy and the SSH endpoint itself are not reachable from a container
    port = int(shub.url.rsplit(":", 1)[1])
    assert probe(endpoint, "student1", token1, f"{gateway}:{port}") == ""
    assert probe(endpoint, "student1", token1, f"{gateway}:{shub.ssh_port}") == ""
    # remote forwarding (a listener on the hub's host) is refused
    proc = endpoint.ssh(
        "student1",
        "true",
        token=token1,
        extra=("-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:22"),
        timeout=60,
    )
    assert proc.returncode != 0


def test_another_students_token_and_a_wrong_one_are_refused(shub):
    token2, _ = token_of(shub, "student2")
    proc = shub.endpoint.ssh("student1", "true", token=token2, timeout=60)
    assert proc.returncode == 255
    assert "Permission denied" in text(proc)[1]
    proc = shub.endpoint.ssh("student1", "true", token="not-a-token", timeout=60)
    assert proc.returncode == 255


def test_a_course_with_ssh_off_refuses_with_a_sentence(shub):
    token, _ = token_of(shub, "student3")
    proc = shub.endpoint.ssh("student3+quiet", "true", token=token, timeout=60)
    out, err = text(proc)
    assert proc.returncode == 1, err
    assert "SSH is turned off for the course quiet" in err
    # and a course that is not theirs is named as such (once signed in: nobody else learns
    # who is in which course)
    token1, _ = token_of(shub, "student1")
    proc = shub.endpoint.ssh("student1+quiet", "true", token=token1, timeout=60)
    assert proc.returncode == 1
    assert "student1 is not in the course quiet. Your courses: demo" in text(proc)[1]
    # the container of a course with SSH off runs no sshd
    session = shub.session("student3")
    session.start_server("student3", server="quiet")
    container = shub.container_for("student3", "quiet")
    env = container.attrs["Config"]["Env"]
    assert not [e for e in env if e.startswith("LAUNCHER_SSH_AUTHORIZED_KEYS=")]
    assert not [p for p in container.top()["Processes"] if "sshd" in p[-1]]


@contextlib.contextmanager
def ssh_agent(key):
    """A real ssh-agent holding ``key``; its environment (SSH_AUTH_SOCK)."""
    out = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    env = dict(re.findall(r"(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);", out))
    try:
        subprocess.run(["ssh-add", str(key)], env={**os.environ, **env}, check=True,
                       capture_output=True)  # fmt: skip
        yield env
    finally:
        subprocess.run(["ssh-agent", "-k"], env={**os.environ, **env}, capture_output=True)


def test_a_forwarded_agent_reaches_the_container_where_the_site_allows_it(shub, tmp_path):
    token, _ = token_of(shub, "student1")
    key, public = keygen(tmp_path / "agent_key", "student1@laptop")
    printed = fingerprint(public, tmp_path)
    with ssh_agent(key) as agent:
        forwarded = shub.endpoint.ssh(
            "student1", "ssh-add -l", token=token, extra=("-A",), agent=agent, timeout=120
        )
        out, err = text(forwarded)
        assert forwarded.returncode == 0, err
        assert printed in out  # the agent on the student's computer, seen from the container
        # without -A, no agent in the container
        plain = shub.endpoint.ssh("student1", "ssh-add -l", token=token, agent=agent, timeout=120)
        assert plain.returncode == 2, text(plain)
        assert printed not in text(plain)[0]


def test_a_start_the_hub_refuses_is_its_sentence_not_a_dropped_connection(shub):
    """The same refusal as the browser's (here: the course image is not on this server)."""
    token, _ = token_of(shub, "ghoststudent")
    proc = shub.endpoint.ssh("ghoststudent", "true", token=token, timeout=120)
    out, err = text(proc)
    assert proc.returncode == 1, err
    assert "Starting your ghost server" in err
    assert "launcher/pytorch:0.0-never-built is not installed on this server yet" in err
    assert "Traceback" not in err
    assert shub.container_of("ghoststudent") is None


def test_an_open_ssh_session_counts_as_activity(shub):
    """The endpoint reports an open session to the hub (the idle culler reads it): the
    server's last activity is no older than the session."""
    token, session = token_of(shub, "student1")
    if not session.user_model()["servers"]:
        session.start_server("student1")
    began = datetime.now(UTC).replace(microsecond=0)
    proc = shub.endpoint.ssh("student1", "sleep 8", token=token, timeout=120)
    assert proc.returncode == 0, text(proc)[1]
    stamp = session.user_model()["servers"][""]["last_activity"]
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= began, (stamp, began)


# --- keys registered on the hub's key page ---


def test_a_registered_key_signs_in_until_it_is_removed(shub, tmp_path):
    session = shub.session("pat")
    key, public = keygen(tmp_path / "pat_key", "pat@laptop")
    other, _ = keygen(tmp_path / "other_key", "someone@else")
    key_id = session.add_ssh_key(public, "laptop")
    assert "never" in session.ssh_keys_page()  # not used yet

    proc = shub.endpoint.ssh("pat", "echo $USER; pwd", key=key)
    out, err = text(proc)
    assert proc.returncode == 0, err
    assert out.split() == ["jovyan", "/home/jovyan"]
    # the page shows when the key was last used
    assert "never" not in session.ssh_keys_page().split(f'id="ssh-key-{key_id}"')[1][:600]

    # a key nobody registered for pat, and pat's key for another student
    assert shub.endpoint.ssh("pat", "true", key=other, timeout=60).returncode == 255
    assert shub.endpoint.ssh("student2", "true", key=key, timeout=60).returncode == 255

    # removed on the page: refused from then on
    session.remove_ssh_key(key_id)
    proc = shub.endpoint.ssh("pat", "true", key=key, timeout=60)
    assert proc.returncode == 255
    assert "Permission denied" in text(proc)[1]


def test_failed_sign_ins_are_limited_recorded_and_on_the_admin_dashboard(tmp_path):
    """A small limit on a hub of its own (the failures of one source would lock the other
    tests out): after max_failures, even the right token is refused with a sentence."""
    site = {"ssh": {"max_failures": 2, "failure_window": 600}}
    with running_hub(tmp_path, "ssh-limits", site_extra=site) as hub:
        endpoint = Endpoint(hub.ssh_port, tmp_path)
        wait_for(endpoint.listening, 60, "the hub's SSH endpoint")
        token, _ = token_of(hub, "student1")
        # agent forwarding is off by default: ssh -A finds no agent in the container
        key, _ = keygen(tmp_path / "agent_key")
        with ssh_agent(key) as agent:
            refused = endpoint.ssh(
                "student1", "ssh-add -l", token=token, extra=("-A",), agent=agent, timeout=120
            )
            assert refused.returncode == 2, text(refused)

        for _ in range(2):
            assert endpoint.ssh("student1", "true", token="wrong", timeout=60).returncode == 255
        proc = endpoint.ssh("student1", "true", token=token, timeout=60)
        err = text(proc)[1]
        assert proc.returncode == 255
        assert "Too many failed sign-ins from your address or for student1" in err
        assert "try again after" in err

        admin = hub.session("admin")
        board = admin.get(f"{hub.url}/services/dashboard/admin")
        assert board.status_code == 200
        section = board.text.split('id="ssh-failures"')[1].split("</section>")[0]
        assert section.count('data-user="student1"') == 2
        assert "127.0.0.1" in section and "wrong or someone" in section
        # and only admins see it
        assert (
            'id="ssh-failures"'
            not in hub.session("teacher").get(f"{hub.url}/services/dashboard/course/demo").text
        )

"""configure(c) against a bare traitlets Config, and the pure container builders."""

from dataclasses import replace
from pathlib import Path

import pytest
from traitlets.config import Config

from launcher.hub import container
from launcher.hub.config import HostFacts, configure
from launcher.settings import DEMO_SITE_FILE, Resources, load_site

FACTS = HostFacts(
    "172.30.0.1",
    Path("/srv/launcher"),
    "class-password",
    "a" * 32,
    cli_token="t" * 32,
    course_ids=["demo", "dl101"],
    members=["admin", "ann", "student1"],
)


def configured() -> Config:
    c = Config()
    configure(c, load_site(DEMO_SITE_FILE), FACTS)
    return c


def test_hub_listens_where_the_site_file_says_and_containers_reach_its_api():
    c = configured()
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/"
    assert c.JupyterHub.hub_ip == c.JupyterHub.hub_connect_ip == "172.30.0.1"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"
    assert c.JupyterHub.db_url == "sqlite:////srv/launcher/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == "/srv/launcher/jupyterhub_cookie_secret"


def test_the_catalog_decides_who_logs_in_with_the_class_password():
    c = configured()
    assert c.JupyterHub.authenticator_class == "launcher.hub.auth.CoursePasswordAuthenticator"
    # the rosters' people are created at start; the catalog decides at each login
    assert c.Authenticator.allowed_users == {"ann", "student1"}
    assert c.CoursePasswordAuthenticator.courses["demo"]["students"] == [
        "student1",
        "student2",
        "student3",
    ]
    # the authenticator reads the same store as the spawner
    assert c.CoursePasswordAuthenticator.store_url == c.CourseSpawner.store_url
    assert c.Authenticator.admin_users == {"admin"}
    assert c.CoursePasswordAuthenticator.user_password == "class-password"
    assert c.CoursePasswordAuthenticator.admin_password == "a" * 32


def test_one_server_per_course_and_staff_roles_per_course():
    c = configured()
    assert c.JupyterHub.allow_named_servers is True
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert set(roles) == {
        "course-demo-staff",
        "course-dl101-staff",
        "launcher-cli",
        "courses",  # the instructor page's own token: start and stop, after its checks
        "dashboard",  # the GPU dashboard's: stop, after its checks
        "launcher-resume",  # the hub's own: resume the starts a restart interrupted
    }
    assert roles["course-dl101-staff"]["groups"] == [
        "course-dl101-tas",
        "course-dl101-instructors",
    ]
    staff = roles["course-demo-staff"]["scopes"]
    # see their students' servers only, and the instructor page
    assert all(s.endswith("!group=course-demo-students") for s in staff[:-1])
    assert staff[-1] == "access:services!service=courses"
    assert roles["launcher-cli"]["scopes"] == ["servers", "read:users:name"]
    assert roles["launcher-resume"]["scopes"] == ["servers"]
    resume = next(s for s in c.JupyterHub.services if s["name"] == "launcher-resume")
    assert resume["api_token"] == c.LauncherHub.resume_token and len(resume["api_token"]) == 64
    assert "command" not in resume and "url" not in resume  # the hub's own, no process
    assert c.CourseSpawner.materials_root == "/srv/launcher/materials"


def test_managed_services_hold_least_privilege():
    c = Config()
    facts = replace(FACTS, site_file="/srv/site.yaml", page_port=40123)
    configure(c, load_site(DEMO_SITE_FILE), facts)
    services = {s["name"]: s for s in c.JupyterHub.services}
    page = services["courses"]
    assert page["url"] == "http://127.0.0.1:40123"
    # services get a fixed environment: the site file and the data directory are passed on
    env = {"LAUNCHER_CONFIG": "/srv/site.yaml", "LAUNCHER_DATA_DIR": "/srv/launcher"}
    assert page["environment"] == services["launcher-culler"]["environment"] == env
    # the page reads with each visitor's token, narrowed by the hub; its own (generated) token
    # may only start and stop servers, which it does after checking the course itself
    assert "api_token" not in page
    assert set(page["oauth_client_allowed_scopes"]) == {"list:users", "read:users", "read:servers"}
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["courses"]["services"] == ["courses"] and roles["courses"]["scopes"] == ["servers"]
    assert set(roles["launcher-culler"]["scopes"]) == {
        "list:users",
        "read:users:activity",
        "read:users:groups",
        "read:servers",
        "delete:servers",
    }


def test_course_spawner_gets_the_catalog():
    c = configured()
    assert c.JupyterHub.spawner_class == "launcher.hub.spawner.CourseSpawner"
    assert c.CourseSpawner.courses["demo"]["image"] == "launcher/pytorch:2.13-cpu"
    assert c.CourseSpawner.use_internal_ip is True
    assert c.CourseSpawner.network_name == "launcher"
    # servers keep running across a hub restart unless the site file asks otherwise
    assert c.JupyterHub.cleanup_servers is False


def test_no_gpu_means_void_not_all():
    env = container.container_env("demo", "img:1")
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert container.container_env("demo", "img:1", ["1", "3"])["NVIDIA_VISIBLE_DEVICES"] == "1,3"


def test_containers_are_unprivileged_and_non_root():
    hc = container.host_config(Resources(pids_limit=256))
    assert hc["cap_drop"] == ["ALL"] and hc["privileged"] is False
    assert "no-new-privileges:true" in hc["security_opt"]
    assert hc["pids_limit"] == 256
    assert container.create_kwargs()["user"] == "1000:100"
    assert container.workspace_mount("v") == {"v": {"bind": "/home/jovyan", "mode": "rw"}}


@pytest.mark.parametrize(
    "lang, expected",
    [
        ("zh_CN", {"LAUNCHER_LANGUAGE": "zh_CN", "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN:en"}),
        ("en", {"LAUNCHER_LANGUAGE": "en"}),  # the image's C.UTF-8: JupyterLab in English
    ],
)
def test_session_language_env(lang, expected):
    assert container.session_language_env(lang) == expected


def test_session_mirror_env():
    env = container.session_mirror_env("http://10.0.0.5:3141/simple", ca_bundle=True)
    assert env["PIP_INDEX_URL"] == "http://10.0.0.5:3141/simple"
    assert env["PIP_TRUSTED_HOST"] == "10.0.0.5:3141"  # plain HTTP must be trusted explicitly
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == container.SESSION_CA_PATH
    https = container.session_mirror_env("https://pypi.example.edu/simple", ca_bundle=False)
    assert https == {"PIP_INDEX_URL": "https://pypi.example.edu/simple"}
    assert container.session_mirror_env("", ca_bundle=False) == {}


def test_queued_gpu_starts_do_not_count_against_a_spawn_limit_and_the_disk_is_watched():
    c = configured()
    assert c.JupyterHub.concurrent_spawn_limit == 0  # the GPU queue bounds starts instead
    assert c.CourseSpawner.min_free_disk_gb == 5


def test_the_ssh_endpoint_is_a_service_with_its_scopes_its_key_in_containers_and_its_address():
    from launcher.settings import Site

    site = load_site(DEMO_SITE_FILE)
    facts = replace(
        FACTS,
        site_file="/etc/launcher/launcher.yaml",
        ssh_public_key="ssh-ed25519 AAAA endpoint",
        docker_env={"DOCKER_HOST": "tcp://10.0.0.1:2376"},
    )
    c = Config()
    configure(c, site, facts)
    services = {s["name"]: s for s in c.JupyterHub.services}
    ssh = services["launcher-ssh"]
    assert ssh["command"][1:] == ["-m", "launcher.services.ssh.service"]
    # the services talk to the hub's engine (a swarm's manager), not the local default
    assert ssh["environment"]["DOCKER_HOST"] == "tcp://10.0.0.1:2376"
    assert services["launcher-culler"]["environment"]["DOCKER_HOST"] == "tcp://10.0.0.1:2376"
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert sorted(roles["launcher-ssh"]["scopes"]) == sorted(
        ["read:users:name", "read:users:groups", "read:servers", "servers", "users:activity"]
    )
    assert c.CourseSpawner.ssh_authorized_keys == "ssh-ed25519 AAAA endpoint"
    assert c.LauncherHub.ssh_endpoint == "127.0.0.1:8022"

    public = Site.model_validate(
        {**site.model_dump(), "ssh": {"listen": "0.0.0.0:8022", "public_host": "lab.example.edu",
                                      "public_port": 22}}
    )  # fmt: skip
    c = Config()
    configure(c, public, facts)
    assert c.LauncherHub.ssh_endpoint == "lab.example.edu:22"

    off = Site.model_validate({**site.model_dump(), "ssh": {"enabled": False}})
    c = Config()
    configure(c, off, facts)
    assert "launcher-ssh" not in {s["name"] for s in c.JupyterHub.services}
    assert "ssh_authorized_keys" not in c.CourseSpawner


def test_the_containers_sshd_gets_the_endpoints_key_and_agent_forwarding_only_when_allowed():
    assert container.ssh_env("") == {}  # a course with SSH off: no sshd at all
    assert container.ssh_env("ssh-ed25519 AAAA x") == {
        "LAUNCHER_SSH_AUTHORIZED_KEYS": "ssh-ed25519 AAAA x"
    }
    assert container.ssh_env("ssh-ed25519 AAAA x", agent_forwarding=True) == {
        "LAUNCHER_SSH_AUTHORIZED_KEYS": "ssh-ed25519 AAAA x",
        "LAUNCHER_SSH_AGENT_FORWARDING": "yes",
    }
    from launcher.settings import Site

    site = load_site(DEMO_SITE_FILE)
    allowed = Site.model_validate({**site.model_dump(), "ssh": {"agent_forwarding": True}})
    facts = replace(FACTS, site_file="/etc/launcher/launcher.yaml", ssh_public_key="k")
    for each, expected in ((site, False), (allowed, True)):
        c = Config()
        configure(c, each, facts)
        assert c.CourseSpawner.ssh_agent_forwarding is expected

"""`launcher export z2jh`: the Zero to JupyterHub values of a site, checked by building each
course's pod with KubeSpawner itself from them (its profile applied as the chart applies it),
and by running the values' profile filter for a student, a group member and an admin.

KubeSpawner reads a Kubernetes client configuration when it is made; a configuration that
names an address nothing listens on is enough: building a pod manifest asks no API server."""

import asyncio
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

from launcher import kubeexport
from launcher.settings import parse_site

SITE = """\
admins: [root]
hub: {cull_interval: 120}
courses:
  cv201:
    title: Vision
    image: registry.example.edu:5000/launcher/pytorch:2.13-cu121
    students: [ann]
    gpu: {per_student: 1, mig_profile: 1g.10gb}
    session: {idle_timeout: 1800}
  dl101:
    title: Deep learning 101
    image: launcher/pytorch:2.13-cu121
    students: [ann, bob]
    groups: {students: [cs-dl101]}
    resources: {mem_limit: 4G, cpu_limit: 2.0}
    gpu: {per_student: 2}
    quota: {gpu_hours: 10}
  intro:
    title: Intro (CPU)
    image: launcher/pytorch:2.13-cpu
    students: [bob]
"""

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: launcher}}]
current-context: none
"""


@pytest.fixture
def chart(tmp_path):
    """The values as the chart reads them: written as YAML, read back."""
    site = parse_site(SITE, name="site.yaml")
    return yaml.safe_load(yaml.safe_dump(kubeexport.values(site)))


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))


def pod_for(values: dict, slug: str):
    from kubespawner import KubeSpawner

    single = values["singleuser"]

    async def build():
        spawner = KubeSpawner(
            _mock=True,
            image=f"{single['image']['name']}:{single['image']['tag']}",
            uid=single["uid"],
            fs_gid=single["fsGid"],
            profile_list=single["profileList"],
        )
        spawner.user_options = {"profile": slug}
        await spawner.load_user_options()
        return await spawner.get_pod_manifest()

    return asyncio.run(build())


@pytest.mark.parametrize(
    "slug, image, gpus, memory, cpu",
    [
        ("dl101", "launcher/pytorch:2.13-cu121", {"nvidia.com/gpu": "2"}, 4 * 1024**3, 2.0),
        (
            "cv201",
            "registry.example.edu:5000/launcher/pytorch:2.13-cu121",
            {"nvidia.com/mig-1g.10gb": "1"},
            2 * 1024**3,
            1.0,
        ),
        ("intro", "launcher/pytorch:2.13-cpu", {}, 2 * 1024**3, 1.0),
    ],
)
def test_each_course_is_a_pod_with_its_image_limits_and_gpus(
    chart, kubeconfig, slug, image, gpus, memory, cpu
):
    pod = pod_for(chart, slug)
    container = pod.spec.containers[0]
    assert container.image == image
    limits = container.resources.limits
    assert limits["memory"] == memory and limits["cpu"] == cpu
    assert {k: v for k, v in limits.items() if k.startswith("nvidia.com/")} == gpus
    env = {e.name: e.value for e in container.env}
    assert env["LAUNCHER_COURSE"] == slug
    assert pod.spec.security_context["fsGroup"] == 100
    assert container.security_context["runAsUser"] == 1000


def run_filter(values: dict, user) -> list[str]:
    """The values' extraConfig, run as the chart runs it (after the profile list is set)."""
    c = Config()
    c.KubeSpawner.profile_list = values["singleuser"]["profileList"]
    exec(values["hub"]["extraConfig"][kubeexport.EXTRA_CONFIG_KEY], {"c": c})
    return [p["slug"] for p in c.KubeSpawner.profile_list(SimpleNamespace(user=user))]


def person(name: str, admin: bool = False, groups: tuple = ()):
    return SimpleNamespace(name=name, admin=admin, groups=[SimpleNamespace(name=g) for g in groups])


def test_each_user_sees_the_profiles_of_their_own_courses(chart):
    assert run_filter(chart, person("ann")) == ["cv201", "dl101"]
    assert run_filter(chart, person("bob")) == ["dl101", "intro"]
    assert run_filter(chart, person("cleo", groups=("cs-dl101",))) == ["dl101"]
    assert run_filter(chart, person("root", admin=True)) == ["cv201", "dl101", "intro"]
    assert run_filter(chart, person("stranger")) == []


def test_images_are_prepulled_and_idle_servers_culled(chart):
    pulled = chart["prePuller"]["extraImages"]
    assert pulled["course-cv201"] == {
        "name": "registry.example.edu:5000/launcher/pytorch",
        "tag": "2.13-cu121",
    }
    assert set(pulled) == {"course-cv201", "course-dl101", "course-intro"}
    assert chart["cull"] == {"enabled": True, "timeout": 3600, "every": 120, "maxAge": 0}
    assert chart["hub"]["config"]["Authenticator"]["allowed_users"] == ["ann", "bob"]


def test_what_does_not_carry_over_is_said():
    said = " ".join(kubeexport.notes(parse_site(SITE, name="site.yaml")))
    for part in ("quotas", "Idle limits differ", "GPU-idle culling", "Materials", "SSH endpoint"):
        assert part in said


def test_the_command_writes_the_values(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE.replace("admins: [root]", f"admins: [root]\nhub: {{data_dir: {tmp_path}}}")
                    .replace("hub: {cull_interval: 120}\n", "", 1))  # fmt: skip
    out = tmp_path / "values.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "export", "z2jh", "-o", str(out),
         "--config", str(site)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    values = yaml.safe_load(out.read_text())
    assert [p["slug"] for p in values["singleuser"]["profileList"]] == ["cv201", "dl101", "intro"]
    assert "note: GPU-hour quotas" in done.stderr

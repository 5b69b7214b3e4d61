"""Course images through a real local registry used as the site's mirror: digest pins,
a tag the mirror lacks, pull progress in bytes at spawn time, and pre-pull."""

import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from launcher.store import Store
from tests.integration.hub import IMAGE, running_hub, wait_for
from tests.integration.test_gpus import GPU_ENV
from tests.registry import local_registry

pytestmark = pytest.mark.integration

NEXT_LAYER_MB = 256


@pytest.fixture(scope="module")
def registry():
    client = docker.from_env()
    with local_registry() as reg:
        # the teaching image as the course pins it, and a "next lab" image that differs from
        # it by one large layer (so that a pull really downloads bytes)
        reg.pinned_digest = reg.push(client, IMAGE, "launcher/pytorch", "2.13-cpu")
        context = Path(tempfile.mkdtemp(prefix="next-image-"))
        (context / "Dockerfile").write_text(
            f"FROM {IMAGE}\nUSER root\n"
            f"RUN head -c {NEXT_LAYER_MB * 1024 * 1024} /dev/urandom > /opt/next-lab-data\n"
            "USER 1000:100\n"
        )
        next_image, _ = client.images.build(path=str(context), tag="launcher-test/next:1", rm=True)
        shutil.rmtree(context)
        reg.push(client, "launcher-test/next:1", "launcher/pytorch", "2.13-next")
        client.images.remove("launcher-test/next:1", force=True)
        reg.next_ref = f"{reg.host}/launcher/pytorch:2.13-next"
        yield reg


@pytest.fixture(scope="module")
def image_hub(registry, tmp_path_factory):
    site = {
        "images": {"registry_mirror": registry.host, "pull_policy": "ifnotpresent"},
        "courses": {
            "pinned": {
                "title": "Pinned by digest",
                "image": f"launcher/pytorch:2.13-cpu@{registry.pinned_digest}",
                "students": ["p1"],
            },
            "nextlab": {
                "title": "Next lab",
                "image": "launcher/pytorch:2.13-next",
                "students": ["n1", "n2", "n3"],
            },
            "unsynced": {
                "title": "Tag not on the mirror",
                "image": "launcher/pytorch:9.9-cpu",
                "students": ["x1"],
            },
            "gpulab": {
                "title": "GPU lab on the next image",
                "image": "launcher/pytorch:2.13-next",
                "students": ["gp1"],
                "gpu": {"per_student": 1},
            },
        },
        # the fake nvidia-smi (tests/fakes) reports the GPUs
        "gpus": {"source": "nvidia-smi"},
    }
    with running_hub(tmp_path_factory.mktemp("imagehub"), "images", [], site, GPU_ENV) as hub:
        yield hub


def drop_local(client, ref):
    try:
        client.images.remove(ref, force=True)
    except docker.errors.ImageNotFound:
        pass


def timed_start(session, user):
    t0 = time.perf_counter()
    events = session.start_server(user)
    return time.perf_counter() - t0, events


def test_digest_pin_runs_through_the_mirror(image_hub, registry):
    admin = image_hub.session("admin")
    admin.start_server("p1")
    c = image_hub.container_of("p1")
    assert c.attrs["Config"]["Image"] == (
        f"{registry.host}/launcher/pytorch:2.13-cpu@{registry.pinned_digest}"
    )
    assert registry.pinned_digest in c.image.attrs["RepoDigests"][0]

    # the instructor moves the course to the next lab's tag: check reports the running
    # container as stale (it keeps running; its next start uses the new pin)
    moved = image_hub.site_file.with_name("moved.yaml")
    moved.write_text(
        image_hub.site_file.read_text().replace(
            f"launcher/pytorch:2.13-cpu@{registry.pinned_digest}", "launcher/pytorch:2.13-next"
        )
    )
    check = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "images", "check", "--config", str(moved)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"{c.name} runs {c.attrs['Config']['Image']}, but course pinned now pins" in check.stdout
    assert "it gets the new image at its next start" in check.stdout
    admin.stop_server("p1")


def test_a_tag_the_mirror_lacks_fails_fast_with_a_sentence(image_hub):
    admin = image_hub.session("admin")
    t0 = time.perf_counter()
    resp = admin.api("POST", "/users/x1/server")
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 503
    message = resp.json()["message"]
    assert "the mirror has not synced 9.9-cpu yet" in message
    assert "manifest unknown" not in message
    assert elapsed < 10, elapsed
    assert image_hub.container_of("x1") is None

    check = image_hub.launcher("images", "check")
    assert check.returncode == 1
    assert (
        "course unsynced: The registry" in check.stdout and "has not synced 9.9-cpu" in check.stdout
    )
    assert "course pinned: image" in check.stdout


def test_spawn_time_pull_shows_bytes_and_prepull_makes_the_first_start_warm(
    image_hub, registry, capsys
):
    client = image_hub.docker
    admin = image_hub.session("admin")
    drop_local(client, registry.next_ref)

    cold, events = timed_start(admin, "n1")
    downloads = [e["message"] for e in events if "MB of" in e.get("message", "")]
    assert downloads, [e.get("message") for e in events]
    totals = [float(re.search(r"of ([\d.]+) MB", m)[1]) for m in downloads]
    assert max(totals) >= NEXT_LAYER_MB * 1.048576, downloads  # the new layer, in bytes
    assert len(downloads) >= 2, "progress is reported while the bytes arrive"
    admin.stop_server("n1")

    warm, _ = timed_start(admin, "n2")  # the image is local now
    admin.stop_server("n2")

    drop_local(client, registry.next_ref)  # as after a pin change: not local yet
    prepull = image_hub.launcher("images", "prepull")
    assert f"{registry.next_ref}: pulled" in prepull.stdout, prepull.stdout + prepull.stderr
    # the courses whose tag the mirror lacks are reported, and make the command fail
    assert prepull.returncode == 1 and "has not synced 9.9-cpu" in prepull.stdout
    prepulled, events = timed_start(admin, "n3")
    assert not any("Downloading" in e.get("message", "") for e in events)
    admin.stop_server("n3")

    with capsys.disabled():
        print(
            f"\n[images] first start with a {NEXT_LAYER_MB} MB pull {cold:.2f} s, warm {warm:.2f} s, "
            f"first start after pre-pull {prepulled:.2f} s"
        )
    # loosely (this machine is noisy): a pre-pulled first start is a warm start, not a cold one;
    # the functional part, no download at that start, is asserted above
    assert prepulled < 3 * warm + 3.0


def test_a_download_holds_no_gpu_and_costs_no_quota(image_hub, registry):
    """The start order: the image is present before the GPU is granted, so a student whose
    image must be downloaded neither holds a GPU nor uses GPU-hours while it downloads. (When
    the engine finished the download comes from its own event log, since the progress stream
    replays a start's steps to a late reader.)"""
    drop_local(image_hub.docker, registry.next_ref)
    store = Store(f"sqlite:///{image_hub.data_dir / 'launcher.sqlite'}")
    admin = image_hub.session("admin")
    asked = int(time.time()) - 1
    post = admin.request_server("gp1")
    wait_for(lambda: admin.user_model("gp1")["servers"].get("", {}).get("pending"), 60, "spawn")
    events = list(admin.iter_progress("gp1"))
    assert post.result().status_code in (201, 202)
    messages = [e.get("message", "") for e in events]
    assert events[-1].get("ready"), messages
    downloads = [i for i, m in enumerate(messages) if "MB of" in m]
    assigned = [i for i, m in enumerate(messages) if m.startswith("GPU assigned")]
    assert downloads and assigned and downloads[-1] < assigned[0], messages
    pulls = [
        e
        for e in image_hub.docker.events(
            since=asked,
            until=int(time.time()) + 1,
            decode=True,
            filters={"type": "image", "event": "pull"},
        )
        if e.get("id") == registry.next_ref
        or e.get("id", "").endswith("/launcher/pytorch:2.13-next")
    ]
    assert pulls, f"the engine logged no pull of {registry.next_ref}"
    pulled_at = datetime.fromtimestamp(pulls[-1]["timeNano"] / 1e9, UTC).replace(tzinfo=None)
    (held,) = [a for a in store.active() if a.username == "gp1"]
    assert held.started_at >= pulled_at, (
        f"the GPU was held (and counted) from {held.started_at}, before the download ended "
        f"at {pulled_at}"
    )
    admin.stop_server("gp1")

"""Tags, digest pins and mirrors against a real registry (Debian's docker-registry 2.8).

A one-file image FROM scratch is pushed to a private registry on 127.0.0.1; every question
goes through the real engine (GET /distribution/{name}/json, POST /images/create), exactly
as on a site whose mirror has, or has not yet, synced a course's tag.
"""

import contextlib
import time

import docker
import pytest

from launcher.images.refs import parse, rewrite_for_mirror
from launcher.images.registry import RegistryError, check_tag, resolve_digest
from tests.registry import local_registry, tiny_image

pytestmark = pytest.mark.integration

SOURCE = "launcher-test/tiny-src:1.0"
REPO, TAG = "launcher-test/tiny", "1.0"


@pytest.fixture(scope="module")
def client():
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def registry(client):
    """A running local registry holding launcher-test/tiny:1.0; yields (registry, digest).

    The source tag is removed after the push: the registry's names are then the image's only
    local names, so that dropping them removes the image and a pull really downloads it.
    """
    tiny_image(client, SOURCE, content=f"launcher test_registry {time.time()}\n")
    try:
        with local_registry() as reg:
            digest = reg.push(client, SOURCE, REPO, TAG)
            client.api.remove_image(SOURCE)
            yield reg, digest
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_image(SOURCE)


def _drop_local(client, name):
    """Remove every local reference to ``name`` (tags and digests) and, with the last one,
    the image itself, so that the next pull downloads it from the registry."""
    ids = set()
    for image in client.api.images(name=name):
        ids.add(image["Id"])
        for ref in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
            if ref.startswith(name + ":") or ref.startswith(name + "@"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_image(ref)
    for image_id in ids:
        with pytest.raises(docker.errors.ImageNotFound):
            client.api.inspect_image(image_id)


def _pull(client, ref):
    repository, tag = ref.pull_args()
    events = list(client.api.pull(repository, tag=tag, stream=True, decode=True))
    errors = [e["error"] for e in events if e.get("error")]
    assert not errors, errors
    statuses = [e.get("status", "") for e in events]
    assert "Pull complete" in statuses, statuses  # a layer was really downloaded
    return events


def test_push_reports_a_digest(registry):
    _, digest = registry
    assert parse(f"x@{digest}").digest == digest


def test_check_tag_none_for_a_pushed_tag(client, registry):
    reg, digest = registry
    assert check_tag(client, f"{reg.host}/{REPO}:{TAG}") is None
    assert check_tag(client, f"{reg.host}/{REPO}:{TAG}@{digest}") is None
    assert check_tag(client, f"{reg.host}/{REPO}@{digest}") is None


def test_check_tag_missing_tag_is_a_sentence_fast(client, registry):
    reg, _ = registry
    started = time.monotonic()
    message = check_tag(client, f"{reg.host}/{REPO}:9.9")
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    assert message is not None
    assert "has not synced" in message and "9.9" in message and reg.host in message
    assert "manifest unknown" not in message.lower()


def test_check_tag_missing_repository(client, registry):
    reg, _ = registry
    message = check_tag(client, f"{reg.host}/launcher-test/absent:1.0")
    assert "has not synced" in message and "launcher-test/absent:1.0" in message


def test_check_tag_missing_digest(client, registry):
    reg, digest = registry
    other = "sha256:" + "0" * 64
    message = check_tag(client, f"{reg.host}/{REPO}@{other}")
    assert "pinned digest" in message and other in message and "not on the registry" in message
    assert "manifest unknown" not in message.lower()
    # the tag exists but points elsewhere: the sentence says where it points now
    message = check_tag(client, f"{reg.host}/{REPO}:{TAG}@{other}")
    assert "pinned digest" in message and f"now points to {digest}" in message


def test_check_tag_registry_down(client):
    message = check_tag(client, "127.0.0.1:1/launcher-test/tiny:1.0")
    assert "127.0.0.1:1" in message and "does not answer" in message


def test_check_tag_malformed_ref(client):
    assert "lowercase" in check_tag(client, "127.0.0.1:1/Launcher/tiny:1.0")


def test_resolve_digest_is_the_pushed_digest(client, registry):
    reg, digest = registry
    assert resolve_digest(client, f"{reg.host}/{REPO}:{TAG}") == digest
    with pytest.raises(RegistryError, match="has not synced 9.9"):
        resolve_digest(client, f"{reg.host}/{REPO}:9.9")
    with pytest.raises(RegistryError, match="does not answer"):
        resolve_digest(client, "127.0.0.1:1/launcher-test/tiny:1.0")


def test_pull_by_tag_and_digest_pin(client, registry):
    reg, digest = registry
    name = f"{reg.host}/{REPO}"
    _drop_local(client, name)
    with pytest.raises(docker.errors.ImageNotFound):
        client.api.inspect_image(f"{name}@{digest}")
    ref = parse(f"{name}:{TAG}@{digest}")
    assert ref.pull_args() == (name, digest)
    _pull(client, ref)
    image = client.api.inspect_image(f"{name}@{digest}")
    assert f"{name}@{digest}" in image["RepoDigests"]


def test_pull_through_mirror_rewrite(client, registry):
    reg, digest = registry
    ref = rewrite_for_mirror(parse(f"{REPO}:{TAG}"), reg.host)
    assert str(ref) == f"{reg.host}/{REPO}:{TAG}"
    _drop_local(client, ref.name)
    _pull(client, ref)
    image = client.api.inspect_image(str(ref))
    assert f"{ref.name}@{digest}" in image["RepoDigests"]
    # a pinned reference survives the rewrite and pulls by digest
    pinned = rewrite_for_mirror(parse(f"{REPO}:{TAG}@{digest}"), reg.host)
    _drop_local(client, pinned.name)
    _pull(client, pinned)
    assert client.api.inspect_image(f"{pinned.name}@{digest}")["Id"] == image["Id"]

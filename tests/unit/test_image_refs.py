"""Image references: Docker's grammar, pulls by tag and by digest, registry mirrors."""

import pytest

from launcher.images.refs import ImageRef, parse, rewrite_for_mirror, split_mirror

D = "sha256:" + "a1" * 32  # a well-formed digest
E = "sha256:" + "0f" * 32

# ref -> (registry, repository, tag, digest)
PARSED = {
    "ubuntu": ("", "ubuntu", "", ""),
    "ubuntu:22.04": ("", "ubuntu", "22.04", ""),
    "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime": (
        "",
        "pytorch/pytorch",
        "2.3.1-cuda12.1-cudnn8-runtime",
        "",
    ),
    "launcher/pytorch:2.13-cpu": ("", "launcher/pytorch", "2.13-cpu", ""),
    "host:5000/ns/repo:tag": ("host:5000", "ns/repo", "tag", ""),
    "127.0.0.1:5000/launcher-test/tiny:1.0": ("127.0.0.1:5000", "launcher-test/tiny", "1.0", ""),
    "host:5000/ns/repo": ("host:5000", "ns/repo", "", ""),
    f"repo:tag@{D}": ("", "repo", "tag", D),
    f"repo@{D}": ("", "repo", "", D),
    f"nvcr.io/nvidia/pytorch:24.01-py3@{D}": ("nvcr.io", "nvidia/pytorch", "24.01-py3", D),
    f"127.0.0.1:5000/a/b@{D}": ("127.0.0.1:5000", "a/b", "", D),
    "localhost/x:y": ("localhost", "x", "y", ""),
    "localhost:5000/x": ("localhost:5000", "x", "", ""),
    "docker.io/library/ubuntu:22.04": ("docker.io", "library/ubuntu", "22.04", ""),
    "ghcr.io/org/team/img:v1": ("ghcr.io", "org/team/img", "v1", ""),
    "Mirror.Example.EDU/dockerhub/library/python:3.11": (
        "Mirror.Example.EDU",
        "dockerhub/library/python",
        "3.11",
        "",
    ),
    "[::1]:5000/repo:t": ("[::1]:5000", "repo", "t", ""),
    # no '.', ':' or 'localhost': a Docker Hub namespace, not a registry
    "myhost/repo:1": ("", "myhost/repo", "1", ""),
    "a_b/c__d/e-f---g.h:T_1.x-Y": ("", "a_b/c__d/e-f---g.h", "T_1.x-Y", ""),
    # "localhost:5000" alone is repository "localhost" with tag "5000", as in Docker
    "localhost:5000": ("", "localhost", "5000", ""),
}


@pytest.mark.parametrize("text", PARSED)
def test_parse(text):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == PARSED[text]


@pytest.mark.parametrize("text", PARSED)
def test_str_round_trips(text):
    assert str(parse(text)) == text
    assert parse(str(parse(text))) == parse(text)


@pytest.mark.parametrize(
    "text, args",
    [
        ("ubuntu", ("ubuntu", "latest")),
        ("ubuntu:22.04", ("ubuntu", "22.04")),
        ("host:5000/ns/repo:tag", ("host:5000/ns/repo", "tag")),
        ("host:5000/ns/repo", ("host:5000/ns/repo", "latest")),
        # with a digest the pin is what is pulled; the tag is only a label
        (f"host:5000/ns/repo:tag@{D}", ("host:5000/ns/repo", D)),
        (f"repo@{D}", ("repo", D)),
        ("localhost/x:y", ("localhost/x", "y")),
    ],
)
def test_pull_args(text, args):
    assert parse(text).pull_args() == args


@pytest.mark.parametrize("text", PARSED)
def test_pull_args_survive_docker_py_split(text):
    """docker-py's pull() re-splits its repository argument (utils.parse_repository_tag) and
    only then takes tag=...; our repository must come through that split whole."""
    from docker.utils import parse_repository_tag

    repository, tag = parse(text).pull_args()
    assert parse_repository_tag(repository) == (repository, None)
    assert "@" not in repository and tag


def test_name_and_properties():
    ref = parse(f"127.0.0.1:5000/launcher-test/tiny:1.0@{D}")
    assert ref.name == "127.0.0.1:5000/launcher-test/tiny"
    assert ref.digest == D and not ref.is_docker_hub
    assert parse("ubuntu").name == "ubuntu"
    assert parse("ubuntu").hub_path == "library/ubuntu"
    assert parse("docker.io/ubuntu").hub_path == "library/ubuntu"
    assert parse("pytorch/pytorch").hub_path == "pytorch/pytorch"
    assert parse("quay.io/x").hub_path == "x"
    assert parse("repo:1").with_digest(D) == parse(f"repo:1@{D}")


def test_frozen():
    ref = parse("repo:1")
    with pytest.raises(AttributeError):
        ref.tag = "2"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("repo:", "no tag"),
        ("host:5000/ns/repo:", "no tag"),
        ("repo@", "no digest"),
        ("repo@sha256:abc", "64"),
        (f"repo@{D}0", "64"),
        (f"repo@{D[:-1]}", "64"),
        ("repo@sha256:" + "A1" * 32, "lowercase hexadecimal"),
        ("repo@md5:" + "a" * 32, "sha256"),
        ("Ubuntu:22.04", "lowercase"),
        ("library/Ubuntu", "lowercase"),
        ("host:5000/NS/repo:1", "lowercase"),
        ("repo:-bad", "not a valid tag"),
        ("repo:" + "t" * 129, "not a valid tag"),
        ("repo:a:b", "repository name"),
        ("repo//x:1", "repository name"),
        ("/repo:1", "repository name"),
        ("repo/:1", "repository name"),
        ("-repo:1", "repository name"),
        ("re..po:1", "repository name"),
        ("host:5000/:1", "no repository"),
        ("https://mirror.example.edu/x:1", "scheme"),
        ("my repo:1", "spaces"),
        (" repo:1", "spaces"),
        ("ho_st:5000/x:1", "not a registry host"),
        ("a/" * 130 + "b", "longer than 255"),
    ],
)
def test_malformed_refs_are_refused_with_a_sentence(text, words):
    with pytest.raises(ValueError) as info:
        parse(text)
    message = str(info.value)
    assert words in message
    assert message.endswith(".") and message[0].isupper()


def test_constructor_checks_too():
    with pytest.raises(ValueError, match="64"):
        ImageRef("", "repo", "1", "sha256:abc")
    with pytest.raises(ValueError, match="registry host"):
        ImageRef("nodot", "repo", "1")
    with pytest.raises(ValueError, match="give it as the registry"):
        ImageRef("", "localhost/x", "1")


# (ref, mirror) -> rewritten ref
MIRRORED = [
    # Docker Hub official images keep "library/" on the mirror
    ("ubuntu:22.04", "127.0.0.1:5000", "127.0.0.1:5000/library/ubuntu:22.04"),
    ("docker.io/ubuntu:22.04", "127.0.0.1:5000", "127.0.0.1:5000/library/ubuntu:22.04"),
    ("docker.io/library/ubuntu:22.04", "127.0.0.1:5000", "127.0.0.1:5000/library/ubuntu:22.04"),
    ("index.docker.io/pytorch/pytorch:2.3", "127.0.0.1:5000", "127.0.0.1:5000/pytorch/pytorch:2.3"),
    ("pytorch/pytorch:2.3", "127.0.0.1:5000", "127.0.0.1:5000/pytorch/pytorch:2.3"),
    # a mirror with a path prefix
    (
        "ubuntu:22.04",
        "mirror.example.edu/dockerhub",
        "mirror.example.edu/dockerhub/library/ubuntu:22.04",
    ),
    (
        "pytorch/pytorch:2.3",
        "mirror.example.edu/dockerhub/",
        "mirror.example.edu/dockerhub/pytorch/pytorch:2.3",
    ),
    ("pytorch/pytorch:2.3", "mirror.example.edu/a/b", "mirror.example.edu/a/b/pytorch/pytorch:2.3"),
    # tag and digest are kept
    (f"pytorch/pytorch:2.3@{D}", "127.0.0.1:5000", f"127.0.0.1:5000/pytorch/pytorch:2.3@{D}"),
    (f"ubuntu@{E}", "localhost:5000", f"localhost:5000/library/ubuntu@{E}"),
    ("launcher-test/tiny:1.0", "127.0.0.1:5000", "127.0.0.1:5000/launcher-test/tiny:1.0"),
    # other registries: the host is replaced, the path kept
    (
        "nvcr.io/nvidia/pytorch:24.01-py3",
        "127.0.0.1:5000",
        "127.0.0.1:5000/nvidia/pytorch:24.01-py3",
    ),
    ("ghcr.io/org/img:1", "mirror.example.edu/ghcr", "mirror.example.edu/ghcr/org/img:1"),
    # already on the mirror: unchanged (idempotent)
    ("127.0.0.1:5000/library/ubuntu:1", "127.0.0.1:5000", "127.0.0.1:5000/library/ubuntu:1"),
    (
        "mirror.example.edu/dockerhub/x/y:1",
        "mirror.example.edu/dockerhub",
        "mirror.example.edu/dockerhub/x/y:1",
    ),
]


@pytest.mark.parametrize("text, mirror, expected", MIRRORED)
def test_rewrite_for_mirror(text, mirror, expected):
    rewritten = rewrite_for_mirror(parse(text), mirror)
    assert str(rewritten) == expected
    assert rewritten.tag == parse(text).tag and rewritten.digest == parse(text).digest
    assert rewrite_for_mirror(rewritten, mirror) == rewritten


def test_split_mirror():
    assert split_mirror("127.0.0.1:5000") == ("127.0.0.1:5000", "")
    assert split_mirror(" mirror.example.edu/dockerhub/ ") == ("mirror.example.edu", "dockerhub")
    assert split_mirror("localhost") == ("localhost", "")


@pytest.mark.parametrize(
    "mirror, words",
    [
        ("", "empty"),
        ("https://mirror.example.edu", "scheme"),
        ("mirror/dockerhub", "registry host"),
        ("mirror.example.edu/Docker Hub", "invalid path"),
        ("mirror.example.edu/UPPER", "invalid path"),
    ],
)
def test_bad_mirrors_are_refused(mirror, words):
    with pytest.raises(ValueError, match=words):
        rewrite_for_mirror(parse("ubuntu:22.04"), mirror)

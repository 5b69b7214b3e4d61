"""What the key page accepts as an SSH public key, what it keeps of it (the line without its
comment, the fingerprint ``ssh-keygen -lf`` prints), the sentence for everything else (a
private key pasted by mistake named as such), the name a key gets, and the commands and the
VS Code entry the page shows."""

import shutil
import subprocess

import asyncssh
import pytest

from launcher.hub.pages import SshFacts
from launcher.i18n import Reader
from launcher.sshkeys import (
    NAME_MAX,
    BadSshKey,
    key_name,
    name_problem,
    parse_public_key,
    ssh_command,
    vscode_config,
)


def private(algorithm="ssh-ed25519", comment="ann@laptop", **options):
    return asyncssh.generate_private_key(algorithm, comment=comment, **options)


def public_line(key) -> str:
    return key.export_public_key("openssh").decode()


@pytest.mark.parametrize(
    "algorithm, options",
    [
        ("ssh-ed25519", {}),
        ("ecdsa-sha2-nistp256", {}),
        ("ecdsa-sha2-nistp521", {}),
        ("ssh-rsa", {"key_size": 2048}),
        ("ssh-rsa", {"key_size": 3072}),
    ],
)
def test_a_public_key_is_kept_without_its_comment(algorithm, options):
    key = private(algorithm, **options)
    line = public_line(key)
    found = parse_public_key("  " + line + "\n\n")
    assert found.algorithm == algorithm
    assert found.line == " ".join(line.split()[:2])  # "type base64", no comment
    assert found.fingerprint == key.get_fingerprint("sha256")
    assert found.fingerprint.startswith("SHA256:")
    assert found.comment == "ann@laptop"


def test_a_key_without_comment_and_rfc4716s_form():
    key = private(comment=None)
    assert parse_public_key(public_line(key)).comment == ""
    rfc = key.export_public_key("rfc4716").decode()
    assert rfc.startswith("---- BEGIN SSH2 PUBLIC KEY ----")
    found = parse_public_key(rfc)
    assert found.line == " ".join(public_line(key).split()[:2])


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen here")
def test_the_fingerprint_is_the_one_ssh_keygen_prints(tmp_path):
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob@pc", "-f", tmp_path / "k"],
        check=True,
    )
    printed = subprocess.run(
        ["ssh-keygen", "-lf", tmp_path / "k.pub"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    found = parse_public_key((tmp_path / "k.pub").read_text())
    assert found.fingerprint == printed
    assert found.comment == "bob@pc"
    assert (kind_of((tmp_path / "k").read_text())) == "private"


def kind_of(text: str) -> str:
    with pytest.raises(BadSshKey) as info:
        parse_public_key(text)
    return info.value.kind


ED = private()


KINDS = {"empty", "private", "several", "not-a-key", "dsa", "rsa-short"}


@pytest.mark.parametrize(
    "text, kind",
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        (ED.export_private_key("openssh").decode(), "private"),
        (ED.export_private_key("pkcs8-pem").decode(), "private"),
        (private("ssh-rsa", key_size=2048).export_private_key("pkcs1-pem").decode(), "private"),
        (ED.export_private_key("pkcs8-pem", passphrase="pw").decode(), "private"),
        ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", "private"),
        (public_line(ED) + public_line(private()), "several"),
        ("hello", "not-a-key"),
        ("ssh-ed25519", "not-a-key"),
        ("ssh-ed25519 AAAA", "not-a-key"),
        (public_line(ED).split()[1], "not-a-key"),  # the base64 alone
        ('from="10.0.0.1" ' + public_line(ED), "not-a-key"),  # an authorized_keys option
        ("ssh-ed25519 " + "A" * 20_000, "not-a-key"),
        (public_line(private("ssh-dss")), "dsa"),
        (public_line(private("ssh-rsa", key_size=1024)), "rsa-short"),
    ],
    ids=lambda value: value if value in KINDS else "",  # the keys are new at each collection
)
def test_what_is_refused_and_why(text, kind):
    assert kind_of(text) == kind


def test_a_refusal_is_a_sentence_in_the_readers_language():
    with pytest.raises(BadSshKey) as info:
        parse_public_key(ED.export_private_key("openssh").decode())
    assert str(info.value).startswith("This is a private key")
    chinese = info.value.sentence(Reader("zh_CN")._)
    assert chinese and chinese != str(info.value)
    with pytest.raises(BadSshKey) as info:
        parse_public_key(public_line(private("ssh-rsa", key_size=1024)))
    assert "only 1024 bits; at least 2048" in str(info.value)
    assert "1024" in info.value.sentence(Reader("zh_CN")._)


@pytest.mark.parametrize(
    "typed, comment, taken, expected",
    [
        ("  my   laptop ", "ann@pc", set(), "my laptop"),
        ("", "ann@pc", set(), "ann@pc"),
        ("", "", set(), "key 1"),
        ("", "  ", {"a", "b"}, "key 3"),
        ("", "", {"key 1", "key 2"}, "key 3"),
        ("", "", {"key 2"}, "key 3"),  # key 1 was removed: the count goes on
        ("", "x" * 100, set(), "x" * NAME_MAX),
    ],
)
def test_the_name_a_key_gets(typed, comment, taken, expected):
    assert key_name(typed, comment, taken) == expected


def test_a_numbered_name_in_the_readers_language():
    assert key_name("", "", {"a"}, "密钥 {n}") == "密钥 2"


@pytest.mark.parametrize("name", ["", "x" * (NAME_MAX + 1), "bad\x00name", "tab\there"])
def test_names_no_key_can_have(name):
    assert name_problem(name).kind == "name"


@pytest.mark.parametrize("name", ["laptop", "x" * NAME_MAX, "实验室电脑", "ann@pc (work)"])
def test_names_a_key_can_have(name):
    assert name_problem(name) is None


def test_the_commands_and_the_vscode_entry():
    assert ssh_command("ann", "lab.example.edu", 2222) == "ssh -p 2222 ann@lab.example.edu"
    assert ssh_command("ann", "lab.example.edu", 2222, "cv201") == (
        "ssh -p 2222 ann+cv201@lab.example.edu"
    )
    assert vscode_config("ann", "lab.example.edu", 2222).splitlines() == [
        "Host classroom",
        "    HostName lab.example.edu",
        "    Port 2222",
        "    User ann",
    ]


@pytest.mark.parametrize(
    "endpoint, facts",
    [
        ("", SshFacts("", 22, False)),
        ("  ", SshFacts("", 22, False)),
        ("lab.example.edu:2222", SshFacts("lab.example.edu", 2222, True)),
        ("10.0.0.1:22", SshFacts("10.0.0.1", 22, True)),
        ("[2001:db8::1]:2222", SshFacts("2001:db8::1", 2222, True)),
    ],
)
def test_the_hubs_ssh_endpoint(endpoint, facts):
    assert SshFacts.from_endpoint(endpoint) == facts


@pytest.mark.parametrize(
    "endpoint", ["lab.example.edu", ":2222", "lab:ssh", "lab:0", "lab:70000", "a b:22", "u@h:22"]
)
def test_an_ssh_endpoint_that_is_none_is_refused_with_a_sentence(endpoint):
    with pytest.raises(ValueError, match=r"HOST:PORT|between 1 and 65535"):
        SshFacts.from_endpoint(endpoint)


def test_the_hub_refuses_an_ssh_endpoint_that_is_none():
    from traitlets import TraitError

    from launcher.hub.app import LauncherHub

    with pytest.raises(TraitError, match="HOST:PORT"):
        LauncherHub(ssh_endpoint="lab.example.edu")
    assert LauncherHub(ssh_endpoint="lab.example.edu:2222").ssh_endpoint == "lab.example.edu:2222"

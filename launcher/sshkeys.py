"""The SSH public keys students register on the hub's key page (``/hub/ssh-keys``), with which
they sign in to the hub's SSH endpoint: what a pasted text must be, and what is kept of it.

Pure: no store, no page. :func:`parse_public_key` reads one OpenSSH public key (the line of
``~/.ssh/id_ed25519.pub``; RFC 4716's ``---- BEGIN SSH2 PUBLIC KEY ----`` block is read too)
with asyncssh and gives the line to keep ("type base64", the comment dropped), its SHA256
fingerprint as ``ssh-keygen -lf`` prints it, and its comment. A text that is no such key is
refused with :class:`BadSshKey`, whose sentence says what to paste instead (a private key
pasted by mistake is named as such).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import asyncssh

from launcher.i18n import N_, Translate
from launcher.sshendpoint import LOGIN_SEPARATOR

#: the shortest RSA key accepted, in bits (OpenSSH's own floor since 8.8 is 1024; 2048 is
#: what every current guide and ``ssh-keygen -t rsa`` make)
RSA_MIN_BITS = 2048
#: a pasted text longer than this is no public key (a 16384-bit RSA key's line is ~2.8 KB)
MAX_TEXT = 16_384
#: the longest name of a key
NAME_MAX = 64

#: how private keys begin: PEM and OpenSSH ("-----BEGIN OPENSSH PRIVATE KEY-----"), RFC 4716
#: ("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----") and PuTTY's .ppk
_PRIVATE = re.compile(r"BEGIN [A-Z0-9 ]*PRIVATE KEY|PuTTY-User-Key-File-\d")
_RFC4716 = "---- BEGIN SSH2 PUBLIC KEY ----"


class BadSshKey(ValueError):
    """A text that is not a public key this hub accepts, or a name no key can have. ``kind``
    says which: ``empty``, ``private``, ``several``, ``not-a-key``, ``dsa``, ``rsa-short``,
    ``name``; ``str()`` is the English sentence, :meth:`sentence` the sentence in a reader's
    language (``_`` of a Reader)."""

    def __init__(self, kind: str, template: str, **params):
        self.kind = kind
        self.template = template
        self.params = params
        super().__init__(template.format(**params))

    def sentence(self, _: Translate = str) -> str:
        return _(self.template).format(**self.params)


@dataclass(frozen=True)
class PublicKey:
    """One public key: ``algorithm`` (``ssh-ed25519``), ``line`` (``"ssh-ed25519 AAAA..."``,
    no comment: what ``authorized_keys`` gets), ``fingerprint`` (``"SHA256:..."``) and
    ``comment`` (``"ann@laptop"``; "" when it has none)."""

    algorithm: str
    line: str
    fingerprint: str
    comment: str


def parse_public_key(text: str) -> PublicKey:
    """The one public key in ``text``; :class:`BadSshKey` when it is empty, a private key,
    more than one key, no OpenSSH public key at all, a DSA key or an RSA key under
    :data:`RSA_MIN_BITS` bits."""
    text = (text or "").strip()
    if not text:
        raise BadSshKey(
            "empty",
            N_(
                "Paste your public key: the one line of your .pub file, e.g. ~/.ssh/id_ed25519.pub."
            ),
        )
    if _PRIVATE.search(text):
        raise BadSshKey(
            "private",
            N_(
                "This is a private key: keep it secret, on your computer only. Paste the "
                "public key instead: the one line of the file that ends in .pub (e.g. "
                "~/.ssh/id_ed25519.pub). If you pasted it anywhere else, make a new key pair."
            ),
        )
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and not text.startswith(_RFC4716):
        raise BadSshKey("several", N_("Paste one key at a time: one line, as in your .pub file."))
    if len(text) > MAX_TEXT:
        raise _not_a_key()
    try:
        key = asyncssh.import_public_key(text)
    except (asyncssh.KeyImportError, ValueError, TypeError):
        raise _not_a_key() from None
    algorithm = key.get_algorithm()
    if algorithm == "ssh-dss":
        raise BadSshKey(
            "dsa",
            N_(
                "DSA keys are no longer accepted (OpenSSH dropped them as too weak). Make an "
                "Ed25519 key with ssh-keygen -t ed25519 and paste its .pub file."
            ),
        )
    if algorithm == "ssh-rsa" and key.pyca_key.key_size < RSA_MIN_BITS:
        raise BadSshKey(
            "rsa-short",
            N_(
                "This RSA key has only {bits} bits; at least {least} are needed. Make an "
                "Ed25519 key with ssh-keygen -t ed25519 and paste its .pub file."
            ),
            bits=key.pyca_key.key_size,
            least=RSA_MIN_BITS,
        )
    blob = base64.b64encode(key.public_data).decode("ascii")
    return PublicKey(
        algorithm=algorithm,
        line=f"{algorithm} {blob}",
        fingerprint=key.get_fingerprint("sha256"),
        comment=(key.get_comment() or "").strip(),
    )


def _not_a_key() -> BadSshKey:
    return BadSshKey(
        "not-a-key",
        N_(
            "This is not an OpenSSH public key. Paste the one line of your .pub file (e.g. "
            "~/.ssh/id_ed25519.pub), which starts with ssh-ed25519, ssh-rsa or ecdsa-sha2-."
        ),
    )


def key_name(typed: str, comment: str, taken: set[str], numbered: str = "key {n}") -> str:
    """The name a new key gets: what the student typed (stripped), else the key's comment
    (cut to :data:`NAME_MAX`), else ``numbered`` (``"key {n}"``, translated by the caller)
    with the first number after the keys they have that no key of theirs is named."""
    name = " ".join(typed.split())
    if name:
        return name
    name = " ".join(comment.split())[:NAME_MAX].strip()
    if name:
        return name
    n = len(taken) + 1
    while numbered.format(n=n) in taken:
        n += 1
    return numbered.format(n=n)


def name_problem(name: str) -> BadSshKey | None:
    """Why ``name`` cannot name a key (None: it can): 1 to :data:`NAME_MAX` characters, no
    control characters."""
    if not name or len(name) > NAME_MAX or any(not c.isprintable() for c in name):
        return BadSshKey(
            "name",
            N_(
                "A key's name has 1 to {most} characters (letters, digits, spaces, "
                "punctuation), e.g. laptop."
            ),
            most=NAME_MAX,
        )
    return None


def login(username: str, host: str, course: str = "") -> str:
    """What a student types after ``ssh``: ``USER@HOST`` for their server of their first
    course, ``USER+COURSE@HOST`` for their server of ``course``."""
    return f"{username}{LOGIN_SEPARATOR}{course}@{host}" if course else f"{username}@{host}"


def ssh_command(username: str, host: str, port: int, course: str = "") -> str:
    """``ssh -p PORT USER@HOST`` (``USER+COURSE@HOST`` for a course's server)."""
    return f"ssh -p {port} {login(username, host, course)}"


def vscode_config(username: str, host: str, port: int, alias: str = "classroom") -> str:
    """The ``~/.ssh/config`` entry with which VS Code's Remote-SSH (and plain ``ssh
    classroom``) reaches the student's server."""
    return f"Host {alias}\n    HostName {host}\n    Port {port}\n    User {username}\n"

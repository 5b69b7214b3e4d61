"""Ask a registry about a tag or a digest pin, through the Docker engine (docker-py only).

``client.api.inspect_distribution(ref)`` is the engine's GET /distribution/{name}/json: the
engine asks the registry for the manifest (with the engine's own credentials, proxies and
insecure-registry settings) and answers its descriptor, without pulling anything. What the
engine 20.10 answers, seen against a real distribution 2.8 registry:

- missing tag, missing repository, or a digest the registry does not hold:
  ``docker.errors.NotFound`` (404), explanation "manifest unknown: manifest unknown";
- a registry that does not answer: ``docker.errors.APIError`` (500), explanation
  'Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'
  ("no such host", "i/o timeout", TLS errors likewise come as 500s with the Go error text).

The functions here turn those into sentences for the people who read them (instructors on the
spawn page, admins in ``launcher images check``).
"""

from __future__ import annotations

from dataclasses import replace

from docker.errors import APIError, NotFound

from launcher.images.refs import ImageRef, parse


class RegistryError(RuntimeError):
    """A registry question that got no usable answer; the message is a sentence for a person."""


_UNREACHABLE = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "timeout",
    "network is unreachable",
    "no route to host",
    "connection reset",
    "server gave http response to https client",
    "x509:",
    "tls:",
    "unexpected eof",
    ": eof",
)
_DENIED = ("unauthorized", "denied", "authentication required", "forbidden")
_NOT_FOUND = ("manifest unknown", "name unknown", "not found", "unknown manifest")


def _where(ref: ImageRef) -> str:
    return "Docker Hub" if ref.is_docker_hub else ref.registry


def _explanation(exc: Exception) -> str:
    return str(getattr(exc, "explanation", None) or exc)


def _is_not_found(exc: Exception) -> bool:
    text = _explanation(exc).lower()
    if any(word in text for word in _UNREACHABLE + _DENIED):
        return False
    return isinstance(exc, NotFound) or any(word in text for word in _NOT_FOUND)


def _missing_tag(ref: ImageRef) -> str:
    tag = ref.tag or "latest"
    return (
        f"The registry {_where(ref)} has no {ref.repository}:{tag} yet: if it is a mirror, the "
        f"mirror has not synced {tag} yet; ask the admin to push it or wait for the next sync."
    )


def _missing_digest(ref: ImageRef, tag_now: str | None) -> str:
    text = (
        f"The pinned digest {ref.digest} of {ref.repository} is not on the registry "
        f"{_where(ref)}, so this exact image cannot be downloaded from there"
    )
    if ref.tag and tag_now:
        text += f"; its tag {ref.tag} now points to {tag_now}, a different image"
    elif ref.tag:
        text += f", and it has no tag {ref.tag} either"
    return text + ". If it is a mirror, it may not have synced this image yet; ask the admin."


def _failure(ref: ImageRef, exc: Exception) -> str:
    """A sentence for an engine/registry error that is not 'not found'."""
    if not isinstance(exc, APIError):  # requests' ConnectionError, ReadTimeout: the engine
        return (
            f"The Docker engine on this server did not answer the question about {ref} "
            f"({type(exc).__name__}: {exc}); is dockerd running?"
        )
    text = _explanation(exc)
    lowered = text.lower()
    if any(word in lowered for word in _DENIED):
        return (
            f"The registry {_where(ref)} refused access to {ref.repository}: the repository "
            "does not exist there or needs a login (docker login on this server)."
        )
    if any(word in lowered for word in _UNREACHABLE):
        return (
            f"The registry {_where(ref)} does not answer, so {ref} cannot be checked or "
            f"downloaded now ({_go_error(text)})."
        )
    return f"Asking the registry {_where(ref)} about {ref} failed: {_go_error(text)}"


def _go_error(text: str) -> str:
    """The engine's reason without docker-py's 'for http+docker://...' preamble."""
    if '("' in text and text.endswith('")'):
        return text[text.index('("') + 2 : -2]
    return text


def _inspect(client, ref: ImageRef) -> dict:
    return client.api.inspect_distribution(str(ref))


def check_tag(client, ref_str: str) -> str | None:
    """None when the registry has the image ``ref_str`` names (its tag, or its digest pin);
    otherwise a sentence that says what is missing or why the registry could not say."""
    try:
        ref = parse(ref_str)
    except ValueError as exc:
        return str(exc)
    try:
        _inspect(client, ref)
        return None
    except Exception as exc:
        if not _is_not_found(exc):
            return _failure(ref, exc)
    if not ref.digest:
        return _missing_tag(ref)
    tag_now = None
    if ref.tag:
        try:
            tag_now = resolve_digest(client, str(ref.with_digest("")))
        except RegistryError:
            tag_now = None
    return _missing_digest(ref, tag_now)


def resolve_digest(client, ref_str: str) -> str:
    """The registry's manifest digest ("sha256:...") for ``ref_str``'s tag (what to pin).

    Raises ValueError for a malformed reference and RegistryError (with a sentence) when the
    registry has no such tag or does not answer.
    """
    ref = parse(ref_str)
    try:
        answer = _inspect(client, ref)
    except Exception as exc:
        if _is_not_found(exc):
            raise RegistryError(
                _missing_digest(ref, None) if ref.digest else _missing_tag(ref)
            ) from None
        raise RegistryError(_failure(ref, exc)) from None
    digest = (answer.get("Descriptor") or {}).get("digest", "")
    if not digest.startswith("sha256:"):
        raise RegistryError(
            f"The registry {_where(ref)} answered no sha256 digest for {ref} ({digest!r})."
        )
    return digest


def explain(ref_str: str, exc: Exception) -> str:
    """The sentence for a failed pull or registry question about ``ref_str``."""
    ref = parse(ref_str)
    if _is_not_found(exc):
        if ref.digest:  # say nothing about the tag: a pull does not tell whether it exists
            return _missing_digest(replace(ref, tag=""), None)
        return _missing_tag(ref)
    return _failure(ref, exc)

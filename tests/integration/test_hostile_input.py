"""Hostile input against a real hub (hypothesis, bounded): spawn options, server names,
usernames and passwords from a signed-in student or a stranger get a 4xx with a sentence,
never a 500 or a traceback, and never start a container."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from launcher import names
from tests.integration.hub import USER_PASSWORD, HubSession, form_xsrf, running_hub, wait_for

pytestmark = pytest.mark.integration

ME = "student1"
#: examples per test: each is one or two requests to the hub (a start, when one happens, is
#: stopped again), so that the file takes a couple of minutes on a 2-core machine
BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def hhub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("hostile"), "hostile-input") as hub:
        yield hub


@pytest.fixture(scope="module")
def me(hhub) -> HubSession:
    return hhub.session(ME)


def container_ids(hub) -> set[str]:
    return {c.id for c in hub.containers()}


def assert_refused(resp: requests.Response, what) -> None:
    """A 4xx whose body is a sentence (JSON ``message`` from the API), not a traceback."""
    assert 400 <= resp.status_code < 500, (short(what), resp.status_code, resp.text[:500])
    assert "Traceback" not in resp.text, (short(what), resp.text[:2000])
    if resp.headers.get("Content-Type", "").startswith("application/json"):
        message = resp.json().get("message", "")
        assert isinstance(message, str) and message.strip(), (short(what), resp.text[:500])


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:200]}... ({len(text)} characters)"


def segment(name: str) -> str:
    """``name`` as one path segment: every character but letters and digits percent-encoded,
    dots too (see :func:`api`)."""
    return quote(name, safe="").replace(".", "%2E")


def api(session: HubSession, method: str, path: str, **kwargs) -> requests.Response:
    """A hub API request with ``path`` sent as it is written: requests would decode ``%2E``
    and drop the dot segments that result (RFC 3986 normalisation), so that a server named
    ``.`` or ``..`` never reached the hub."""
    headers = {"X-XSRFToken": session.xsrf("/hub/"), **kwargs.pop("headers", {})}
    url = f"{session.hub.url}/hub/api{path}"
    request = session.prepare_request(
        requests.Request(method, f"{session.hub.url}/hub/api/", headers=headers, **kwargs)
    )
    request.url = url
    return session.send(request, timeout=60, allow_redirects=False)


# --- (a) spawn options ---------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["launcher-base:bookworm", "alpine:latest", "../../etc", "demo", ""]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
#: keys the hub or a spawner might read, and any other text
OPTION_KEYS = st.one_of(
    st.sampled_from(
        [
            "image",
            "gpu",
            "gpus",
            "course",
            "profile",
            "mem_limit",
            "cpu_limit",
            "volumes",
            "display_name",
            "user_options",
            "name",
            "server_name",
            "environment",
            "cmd",
        ]
    ),  # fmt: skip
    st.text(min_size=1, max_size=20),
)
BODIES = st.one_of(
    # JSON objects with random keys and values (the bulk)
    st.dictionaries(OPTION_KEYS, JSON_VALUES, min_size=1, max_size=4).map(json.dumps),
    # JupyterHub's own schema, with the wrong types or real options
    st.fixed_dictionaries(
        {"user_options": st.one_of(JSON_VALUES, st.dictionaries(OPTION_KEYS, JSON_VALUES))},
        optional={"display_name": JSON_VALUES},
    ).map(json.dumps),
    # JSON that is not an object
    st.one_of(st.lists(JSON_VALUES, min_size=1, max_size=3), JSON_SCALARS).map(json.dumps),
    # not JSON at all, and JSON's relatives that Python's parser accepts
    st.binary(min_size=1, max_size=200),
    st.sampled_from([b"{", b"{'image': 'x'}", b"NaN", b'{"a": Infinity}', b"\xff\xfe{}"]),
    st.text(min_size=1, max_size=100).map(str.encode),
).map(lambda body: body.encode() if isinstance(body, str) else body)
#: the bodies JupyterHub reads as a plain start are left to the explicit examples (a start
#: and a stop take seconds)
REFUSED_BODIES = BODIES.filter(lambda body: not would_start(body))


def would_start(body: bytes) -> bool:
    """Whether JupyterHub reads ``body`` as a plain start without options (its
    ``get_server_json_body``: empty or falsy JSON, or an object whose options are empty)."""
    text = body.strip().decode("utf-8", "replace")
    if not text:
        return True
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if not data:
        return True
    if not isinstance(data, dict):
        return False
    if "display_name" in data and not isinstance(data["display_name"], str):
        return False
    if "user_options" in data:
        return data["user_options"] in (None, {})
    return "display_name" in data


def start_then_stop(hub, session: HubSession, path: str, body: bytes, before: set[str]) -> None:
    resp = api(session, "POST", path, data=body)
    assert resp.status_code in (201, 202), (short(body), resp.status_code, resp.text[:500])
    server = path.rsplit("/", 1)[-1] if "/servers/" in path else ""
    wait_for(lambda: session.user_model()["servers"].get(server, {}).get("ready"), 180, "the start")
    session.stop_server(server=server)
    wait_for(lambda: container_ids(hub) == before, 60, "the container to go")


@BOUNDED
@given(body=REFUSED_BODIES, named=st.booleans())
@example(body=b"[]", named=False)  # falsy JSON: JupyterHub's plain start, no options
@example(body=b'{"image": "launcher-base:bookworm"}', named=True)
@example(body=b'{"user_options": {"image": "alpine"}, "display_name": "x"}', named=False)
@example(body=b'{"user_options": [1]}', named=False)
@example(body=b"\xff\xfe\x00{", named=True)
def test_any_spawn_options_get_a_4xx_and_start_nothing(hhub, me, body, named):
    path = names.server_path(ME, "demo" if named else "")
    before = container_ids(hhub)
    if would_start(body):
        start_then_stop(hhub, me, path, body, before)
        return
    resp = api(me, "POST", path, data=body, headers={"Content-Type": "application/json"})
    assert_refused(resp, body)
    assert container_ids(hhub) == before
    servers = me.user_model()["servers"]
    assert not any(s.get("ready") or s.get("pending") for s in servers.values()), servers


# --- (b) server names ----------------------------------------------------------------------------

SERVER_NAMES = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet="aZ09.-_/%?#&;~ ", min_size=1, max_size=40),
    st.sampled_from(["...", ".a", "a.", "%2e%2e", "a/b", "demo/..", "-demo", "demo ", "DEMO"]),
    st.integers(min_value=200, max_value=5000).map(lambda n: "x" * n),
).filter(lambda name: name not in ("demo", ".", ".."))
# (a server named "." or "..", even written %2E, never reaches the hub: the proxy drops dot
# segments as WHATWG URLs do, and /servers/%2E is the default server's /servers/)


@BOUNDED
@given(name=SERVER_NAMES)
@example(name="ghost")  # a course that exists, which the student is not in
@example(name="名前")
@example(name="a" * 12_000)  # (the proxy resets a request line of more than 16 KB)
def test_any_server_name_gets_a_4xx_and_starts_nothing(hhub, me, name):
    before = container_ids(hhub)
    path = f"/users/{ME}/servers/{segment(name)}"
    for method, kwargs in (("POST", {}), ("GET", {}), ("PUT", {}), ("DELETE", {"json": {}})):
        resp = api(me, method, path, **kwargs)
        assert resp.status_code < 500, (short(name), method, resp.status_code, resp.text[:500])
        assert "Traceback" not in resp.text, (short(name), resp.text[:2000])
        if method == "POST":
            assert_refused(resp, name)
    spawn = me.prepare_request(requests.Request("GET", f"{hhub.url}/hub/spawn/{ME}/x"))
    spawn.url = f"{hhub.url}/hub/spawn/{ME}/{segment(name)}"
    page = me.send(spawn, timeout=60)
    assert page.status_code < 500, (short(name), page.status_code, page.text[:500])
    assert "Traceback" not in page.text, (name, page.text[:2000])
    assert container_ids(hhub) == before
    # a name the hub kept (a valid slug) goes again, so that the next example starts afresh
    if name in me.user_model()["servers"]:
        resp = api(me, "DELETE", path, json={"remove": True})
        assert resp.status_code in (202, 204), (short(name), resp.status_code, resp.text[:500])


# --- (c) usernames and passwords ---------------------------------------------------------------

USERNAMES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cc", "Zs", "Cf"]), max_size=10),
    st.sampled_from(["", " ", "admin", "Admin ", "student1\x00", "../admin", "a" * 5000]),
    st.integers(min_value=256, max_value=20_000).map(lambda n: "u" * n),
)
PASSWORDS = st.one_of(
    st.text(max_size=40),
    st.just(USER_PASSWORD),
    st.sampled_from(["", "é", "\x00", USER_PASSWORD + "é"]),
    st.integers(min_value=256, max_value=20_000).map(lambda n: "p" * n),
)


def login_form(hub, fields: dict) -> requests.Response:
    s = HubSession(hub)
    page = s.get(f"{hub.url}/hub/login", timeout=30)
    page.raise_for_status()
    xsrf = form_xsrf(page.text)
    return s.post(
        f"{hub.url}/hub/login", data={**fields, "_xsrf": xsrf}, allow_redirects=False, timeout=60
    )


@BOUNDED
@given(
    username=USERNAMES,
    password=PASSWORDS,
    drop=st.sampled_from([(), (), ("username",), ("password",)]),
)
@example(username="student1", password="é", drop=())  # a password that is not ASCII
@example(username="teacher", password="é", drop=())
@example(username="nobody", password=USER_PASSWORD, drop=())
@example(username="student1", password=USER_PASSWORD, drop=("username",))
def test_any_login_is_a_redirect_or_a_403_page(hhub, username, password, drop):
    before = container_ids(hhub)
    fields = {"username": username, "password": password}
    resp = login_form(hhub, {k: v for k, v in fields.items() if k not in drop})
    what = (username, password, drop)
    assert resp.status_code in (302, 400, 403), (short(what), resp.status_code, resp.text[:500])
    assert "Traceback" not in resp.text, resp.text[:2000]
    if resp.status_code != 302:  # a sentence the person can act on
        sentences = (
            "Invalid username or password",
            "not on the roster of any course",
            "staff sign in with their own password",
            "Sign in with the form",
        )
        assert any(s in resp.text for s in sentences), (short(what), resp.text[-3000:])
    assert container_ids(hhub) == before


@BOUNDED
@given(
    name=st.one_of(USERNAMES, SERVER_NAMES).filter(lambda n: n not in ("", ".", "..", ME))
)  # ("." and "..": the proxy drops them, see SERVER_NAMES)
@example(name="admin")
@example(name="student2")
@example(name="...")
def test_another_users_model_is_a_4xx_for_a_student(hhub, me, name):
    before = container_ids(hhub)
    for method in ("GET", "POST", "DELETE", "PATCH"):
        resp = api(me, method, f"/users/{segment(name)}", json={"admin": True})
        assert_refused(resp, (method, name))
    assert_refused(api(me, "POST", f"/users/{segment(name)}/server"), name)
    assert container_ids(hhub) == before
    assert not me.user_model()["admin"]

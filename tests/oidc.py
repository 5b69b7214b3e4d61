"""A real OpenID Connect provider for tests: npm's `oidc-provider` (tests/idp/provider.mjs) on
127.0.0.1, with accounts, passwords and group claims the test chooses.

``identity_provider(tmp, accounts, redirect_uri)`` starts it, waits for its discovery document
and stops it (by PID) afterwards. ``sign_in(session, hub_url, ...)`` walks the sign-in the way a
browser does, for the tests that do not need a browser.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from launcher.proxycheck import proxy_path
from tests import ports
from tests.integration.hub import ARTIFACTS, wait_for

IDP_DIR = Path(__file__).resolve().parent / "idp"
CLIENT_ID = "launcher-hub"


@dataclass(frozen=True)
class IdentityProvider:
    issuer: str
    client_id: str
    client_secret: str
    accounts: dict


@contextlib.contextmanager
def identity_provider(tmp: Path, accounts: dict, redirect_uri: str, name: str = "idp"):
    """Run the provider with ``accounts`` ({user: {password, groups}}) and one client whose
    redirect URI is ``redirect_uri`` (the hub's /hub/oauth_callback)."""
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("oidc-provider is not installed: run `make test` (npm ci in tests/idp)")
    port = ports.free_port()
    secret = secrets.token_urlsafe(24)
    config = tmp / f"{name}.json"
    config.write_text(
        json.dumps(
            {
                "port": port,
                "clients": [
                    {
                        "client_id": CLIENT_ID,
                        "client_secret": secret,
                        "redirect_uris": [redirect_uri],
                        "grant_types": ["authorization_code"],
                        "response_types": ["code"],
                    }
                ],
                "accounts": accounts,
            }
        )
    )
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [shutil.which("node", path=proxy_path()), str(IDP_DIR / "provider.mjs"), str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=IDP_DIR,
    )
    issuer = f"http://127.0.0.1:{port}"

    def answers():
        if proc.poll() is not None:
            raise AssertionError(f"the identity provider exited with {proc.returncode}")
        try:
            url = f"{issuer}/.well-known/openid-configuration"
            return requests.get(url, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, 30, f"the identity provider at {issuer}")
        yield IdentityProvider(issuer, CLIENT_ID, secret, accounts)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def sign_in(session: requests.Session, hub_url: str, username: str, password: str):
    """Sign in to the hub through the provider's login page, as a browser does, and stop at
    the hub's answer to the provider's redirect: a 302 with the hub's cookie set, or the hub's
    403 page with its sentence. A refusal by the provider returns the provider's page."""
    page = session.get(f"{hub_url}/hub/oauth_login", timeout=30)
    form = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert form, f"no login form at {page.url}: {page.text[:500]}"
    action = requests.compat.urljoin(page.url, form.group(1))
    resp = session.post(
        action, data={"username": username, "password": password}, allow_redirects=False
    )
    for _ in range(10):  # the provider's own redirects, up to the hub's callback
        if resp.status_code not in (302, 303):
            return resp
        location = requests.compat.urljoin(resp.url, resp.headers["Location"])
        resp = session.get(location, allow_redirects=False, timeout=60)
        if location.startswith(f"{hub_url}/hub/oauth_callback"):
            return resp
    raise AssertionError(f"too many redirects signing in {username}")


# --- a hub signing people in through the provider (shared by the integration and browser
# tiers: see the `campus_hub` fixture in tests/conftest.py) ---

#: the course pin an instructor may move to on the instructor page (the teaching image under a
#: second name, so that a start proves which pin it used)
NEXT_PIN = "launcher/pytorch-campus:2.13-cpu"
PASSWORD = "campus-" + secrets.token_hex(6)
#: the provider's accounts: who is in which campus group
ACCOUNTS = {
    "olga": {"password": PASSWORD, "name": "Olga", "groups": ["campus", "cs-vision"]},
    "omar": {"password": PASSWORD, "name": "Omar", "groups": ["campus", "cs-vision"]},
    "oscar": {"password": PASSWORD, "name": "Oscar", "groups": ["campus", "cs-vision"]},
    "irene": {"password": PASSWORD, "name": "Irene", "groups": ["campus", "cs-vision-staff"]},
    "mallory": {"password": PASSWORD, "groups": ["campus"]},  # in no course
    "eve": {"password": PASSWORD, "groups": ["cs-vision"]},  # not in the campus group
    "root": {"password": PASSWORD, "groups": ["campus", "hub-admins"]},
}
VISION = {
    "courses": {
        "vision": {
            "title": "Computer Vision (campus sign-in)",
            "image": "launcher/pytorch:2.13-cpu",
            "groups": {"students": ["cs-vision"], "instructors": ["cs-vision-staff"]},
            "instructor_limits": {"images": ["launcher/pytorch:2.13-cpu", NEXT_PIN]},
            "resources": {"mem_limit": "1G"},
        }
    }
}


@contextlib.contextmanager
def campus_hub(tmp: Path):
    """A real hub whose people sign in through the provider; the course `vision` (in the
    store) maps the provider's groups to students and instructors."""
    import docker
    import yaml

    from tests.integration.hub import IMAGE, free_port_pair, running_hub

    client = docker.from_env()
    client.images.get(IMAGE).tag(NEXT_PIN)
    port = free_port_pair()
    callback = f"http://127.0.0.1:{port}/hub/oauth_callback"
    course_file = tmp / "vision.yaml"
    course_file.write_text(yaml.safe_dump(VISION))

    def apply(hub):
        out = hub.launcher("courses", "apply", "-f", str(course_file), "--by", "admin")
        assert out.returncode == 0, out.stderr

    # the second name stays after the test (a tag costs nothing): another test module's
    # campus hub may be using it at the same time (pytest-xdist), and removing it under that
    # hub would make its next start find no image
    with identity_provider(tmp, ACCOUNTS, callback) as idp:
        site = {
            "auth": {
                "kind": "oidc",
                "issuer": idp.issuer,
                "client_id": idp.client_id,
                "scopes": ["openid", "profile", "groups"],
                "allowed_groups": ["campus"],
                "admin_groups": ["hub-admins"],
                "login_service": "Campus account",
            },
        }
        env = {"LAUNCHER_OAUTH_CLIENT_SECRET": idp.client_secret}
        with running_hub(
            tmp, "campus", site_extra=site, env_extra=env, before_start=apply, port=port
        ) as hub:
            hub.idp = idp
            yield hub

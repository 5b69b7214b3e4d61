"""Sign-in presets: the site file's ``auth:`` section as authenticator traits.

* ``class-password`` (the demo): the class password, limited to the course catalog.
* ``oidc``: oauthenticator's GenericOAuthenticator against any OpenID Connect provider
  (Keycloak, Azure AD / Entra ID, a campus IdP): endpoints from the issuer's discovery
  document, username and groups from the userinfo claims.
* ``github``: oauthenticator's GitHubOAuthenticator; a user's groups are their teams
  (``org:team-slug``), so courses map teams the way they map an IdP's groups.

In every case the course catalog is the allow list (rosters, and the courses' ``groups:``
mapping from group claims to roles); ``allowed_groups`` / ``allowed_organizations`` are a
further gate that a person must also pass, and ``admin_groups`` makes hub admins.

``configure_auth(c, site, auth)`` is pure; ``discover`` and ``client_secret`` do the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from launcher.secrets import existing
from launcher.settings import AuthSettings, Site

#: the sign-in button's default text per kind ("Sign in with ...")
LOGIN_SERVICE = {"oidc": "your campus account", "github": "GitHub"}
DEFAULT_SCOPES = {"oidc": ["openid", "profile", "email"], "github": ["read:org"]}
AUTHENTICATOR = {
    "class-password": "CoursePasswordAuthenticator",
    "oidc": "CourseOIDCAuthenticator",
    "github": "CourseGitHubAuthenticator",
}


class SignInConfigError(RuntimeError):
    """The identity provider cannot be used as configured (a sentence saying why)."""


@dataclass(frozen=True)
class OAuthClient:
    """What the hub needs from the identity provider, found at start."""

    client_secret: str
    authorize_url: str = ""
    token_url: str = ""
    userdata_url: str = ""


def authenticator_class(site: Site) -> str:
    return f"launcher.hub.auth.{AUTHENTICATOR[site.auth.kind]}"


def configure_auth(c, site: Site, client: OAuthClient | None) -> str:
    """Set the authenticator's traits for ``site.auth``; returns the class's config name."""
    auth = site.auth
    name = AUTHENTICATOR[auth.kind]
    c.JupyterHub.authenticator_class = authenticator_class(site)
    if not auth.oauth:
        return name
    if client is None:
        raise SignInConfigError(f"auth.kind {auth.kind} needs the identity provider's details")
    cfg = c[name]
    cfg.client_id = auth.client_id
    cfg.client_secret = client.client_secret
    cfg.oauth_callback_url = f"{site.hub.url}/hub/oauth_callback"
    cfg.scope = auth.scopes or DEFAULT_SCOPES[auth.kind]
    cfg.login_service = auth.login_service or LOGIN_SERVICE[auth.kind]
    cfg.manage_groups = True
    cfg.required_groups = set(auth.allowed_groups)
    if auth.admin_groups:
        cfg.admin_groups = set(auth.admin_groups)
    if auth.kind == "oidc":
        cfg.authorize_url = client.authorize_url
        cfg.token_url = client.token_url
        cfg.userdata_url = client.userdata_url
        cfg.username_claim = auth.username_claim
        cfg.auth_state_groups_key = f"oauth_user.{auth.groups_claim}"
    else:
        cfg.allowed_organizations = set(auth.allowed_organizations)
        cfg.populate_teams_in_auth_state = True
    return name


def discover(auth: AuthSettings, timeout: float = 10) -> tuple[str, str, str]:
    """(authorize, token, userinfo) URLs: as given, or from the issuer's discovery document."""
    if auth.kind != "oidc" or not auth.issuer:
        return auth.authorize_url, auth.token_url, auth.userdata_url
    url = f"{auth.issuer}/.well-known/openid-configuration"
    try:
        resp = requests.get(url, timeout=timeout)
        resp.raise_for_status()
        doc = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise SignInConfigError(
            f"Cannot read the identity provider's discovery document at {url} ({exc}). Check "
            "auth.issuer (Keycloak: https://HOST/realms/REALM; Azure AD: "
            "https://login.microsoftonline.com/TENANT/v2.0) and that the hub reaches it."
        ) from None
    missing = [k for k in ("authorization_endpoint", "token_endpoint") if not doc.get(k)]
    if missing:
        raise SignInConfigError(f"The discovery document at {url} has no {' or '.join(missing)}.")
    return (
        auth.authorize_url or doc["authorization_endpoint"],
        auth.token_url or doc["token_endpoint"],
        auth.userdata_url or doc.get("userinfo_endpoint", ""),
    )


def client_secret(auth: AuthSettings, data_dir: Path) -> str:
    """The OAuth client secret: ``$<client_secret_env>``, else ``<data_dir>/oauth-client-secret``
    (never the site file, which may be in version control)."""
    path = data_dir / "oauth-client-secret"
    try:
        found = existing(auth.client_secret_env, path)
    except OSError:  # there, but not readable by this user
        found = None
    if found is None:
        raise SignInConfigError(
            f"auth.kind {auth.kind} needs the client secret your identity provider issued: set "
            f"{auth.client_secret_env}, or write it into {path} (mode 0600)."
        )
    return found.value


def oauth_client(site: Site, data_dir: Path) -> OAuthClient | None:
    """The identity provider's details for ``site`` (None for the class password)."""
    if not site.auth.oauth:
        return None
    secret = client_secret(site.auth, data_dir)
    return OAuthClient(secret, *discover(site.auth))

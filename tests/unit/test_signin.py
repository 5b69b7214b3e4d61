"""Campus sign-in presets: the site file's auth section, the authenticator traits it sets, and
the OAuth authenticators' gates (catalog, required groups, admin groups) on a real store."""

import asyncio

import pytest
from tornado.web import HTTPError
from traitlets.config import Config

from launcher.hub.auth import CourseGitHubAuthenticator, CourseOIDCAuthenticator, github_team_groups
from launcher.settings import SiteFileError, parse_site
from launcher.signin import OAuthClient, SignInConfigError, client_secret, configure_auth, discover

OIDC = """\
hub: {url: https://hub.example.edu}
auth:
  kind: oidc
  issuer: https://idp.example.edu/realms/campus/
  client_id: jupyterhub
  scopes: [openid, profile, groups]
  allowed_groups: [cs-department]
  admin_groups: [hub-admins]
"""
ENDPOINTS = OAuthClient("s3cret", "https://idp/auth", "https://idp/token", "https://idp/me")


def configured(text: str, client: OAuthClient | None = ENDPOINTS) -> tuple[Config, str]:
    c = Config()
    return c, configure_auth(c, parse_site(text, name="site.yaml"), client)


def test_oidc_preset_sets_generic_oauthenticator_traits():
    c, name = configured(OIDC)
    assert name == "CourseOIDCAuthenticator"
    assert c.JupyterHub.authenticator_class == "launcher.hub.auth.CourseOIDCAuthenticator"
    cfg = c.CourseOIDCAuthenticator
    assert (cfg.client_id, cfg.client_secret) == ("jupyterhub", "s3cret")
    assert cfg.oauth_callback_url == "https://hub.example.edu/hub/oauth_callback"
    assert (cfg.authorize_url, cfg.token_url, cfg.userdata_url) == (
        "https://idp/auth",
        "https://idp/token",
        "https://idp/me",
    )
    assert cfg.scope == ["openid", "profile", "groups"]
    assert cfg.username_claim == "preferred_username"
    assert cfg.auth_state_groups_key == "oauth_user.groups"
    assert cfg.manage_groups is True
    assert cfg.required_groups == {"cs-department"}
    assert cfg.admin_groups == {"hub-admins"}
    assert cfg.login_service == "your campus account"


def test_github_preset_maps_teams_and_gates_on_organisations():
    text = "auth:\n  kind: github\n  client_id: abc\n  allowed_organizations: [uni-cs]\n"
    c, name = configured(text, OAuthClient("s"))
    cfg = c.CourseGitHubAuthenticator
    assert name == "CourseGitHubAuthenticator"
    assert cfg.allowed_organizations == {"uni-cs"}
    assert cfg.populate_teams_in_auth_state is True and cfg.scope == ["read:org"]
    assert cfg.login_service == "GitHub"
    state = {"teams": [{"organization": {"login": "uni-cs"}, "slug": "dl101-staff"}]}
    assert github_team_groups(state) == ["uni-cs:dl101-staff"]
    assert CourseGitHubAuthenticator().auth_state_groups_key is github_team_groups


def test_the_demo_keeps_the_class_password():
    c, name = configured("admins: [admin]\n", None)
    assert name == "CoursePasswordAuthenticator"
    assert "CourseOIDCAuthenticator" not in c


@pytest.mark.parametrize(
    "auth, problem",
    [
        ("{kind: oidc, issuer: https://idp}", "site.yaml:1: auth: kind oidc needs client_id"),
        ("{kind: oidc, client_id: x}", "site.yaml:1: auth: kind oidc needs issuer"),
        ("{kind: github}", "site.yaml:1: auth: kind github needs client_id"),
        ("{kind: saml}", "site.yaml:1: auth.kind: Input should be 'class-password', 'oidc'"),
        (
            "{kind: oidc, client_id: x, issuer: ftp://idp}",
            "site.yaml:1: auth.issuer: 'ftp://idp' is not an",
        ),
        (
            "{kind: oidc, client_id: x, isuer: https://i}",
            "site.yaml:1: auth.isuer: unknown key (did you mean 'issuer'",
        ),
    ],
)
def test_auth_mistakes_name_the_key_and_line(auth, problem):
    with pytest.raises(SiteFileError) as err:
        parse_site(f"auth: {auth}\n", name="site.yaml")
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_explicit_endpoints_need_no_discovery():
    site = parse_site(
        "auth: {kind: oidc, client_id: x, authorize_url: https://a, token_url: https://t, "
        "userdata_url: https://u}\n"
    )
    assert discover(site.auth) == ("https://a", "https://t", "https://u")


def test_an_unreachable_issuer_is_a_sentence():
    site = parse_site("auth: {kind: oidc, client_id: x, issuer: 'http://127.0.0.1:9/realms/x'}\n")
    with pytest.raises(SignInConfigError, match="Cannot read the identity provider's discovery"):
        discover(site.auth, timeout=2)


def test_the_client_secret_comes_from_the_environment_or_the_data_dir(tmp_path, monkeypatch):
    auth = parse_site("auth: {kind: github, client_id: x}\n").auth
    monkeypatch.delenv("LAUNCHER_OAUTH_CLIENT_SECRET", raising=False)
    with pytest.raises(SignInConfigError, match="set LAUNCHER_OAUTH_CLIENT_SECRET, or write it"):
        client_secret(auth, tmp_path)
    (tmp_path / "oauth-client-secret").write_text("from-file\n")
    assert client_secret(auth, tmp_path) == "from-file"
    monkeypatch.setenv("LAUNCHER_OAUTH_CLIENT_SECRET", "from-env")
    assert client_secret(auth, tmp_path) == "from-env"


COURSES = {
    "dl101": {
        "title": "DL",
        "image": "launcher/pytorch:2.13-cpu",
        "students": ["ann"],
        "groups": {"students": ["cs-dl101"], "instructors": ["cs-dl101-staff"]},
    }
}


@pytest.fixture
def oidc(tmp_path):
    return CourseOIDCAuthenticator(
        courses=COURSES,
        store_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        required_groups={"campus"},
        admin_groups={"hub-admins"},
    )


def check(auth, name, groups, admin=None):
    model = {"name": name, "groups": groups, "admin": admin, "auth_state": {}}
    allowed = asyncio.run(auth.check_allowed(name, model))
    return allowed, asyncio.run(auth._with_course_groups(model))["groups"]


@pytest.mark.parametrize(
    "name, groups, course_groups",
    [
        ("ann", ["campus"], ["campus", "course-dl101-students"]),  # on the roster
        ("bob", ["campus", "cs-dl101"], ["campus", "course-dl101-students", "cs-dl101"]),
        (
            "ines",
            ["campus", "cs-dl101-staff"],
            ["campus", "course-dl101-instructors", "cs-dl101-staff"],
        ),
    ],
)
def test_group_claims_map_people_to_courses_and_roles(oidc, name, groups, course_groups):
    assert check(oidc, name, groups) == (True, course_groups)


@pytest.mark.parametrize(
    "name, groups, sentence",
    [
        ("ann", ["elsewhere"], "this hub is only for members of campus"),
        ("zed", ["campus"], "not on the roster of any course"),
        ("zed", ["campus", "course-dl101-students"], "not on the roster of any course"),
    ],
)
def test_refusals_are_sentences(oidc, name, groups, sentence):
    with pytest.raises(HTTPError) as refused:
        check(oidc, name, groups)
    assert refused.value.status_code == 403 and sentence in refused.value.log_message


def test_admins_come_in_without_a_course(oidc):
    assert check(oidc, "root", ["hub-admins"], admin=True)[0] is True


def test_a_missing_username_claim_is_a_sentence(oidc):
    with pytest.raises(HTTPError, match="did not send your username"):
        oidc.user_info_to_username({"sub": "123"})
    assert oidc.user_info_to_username({"preferred_username": "ann"}) == "ann"

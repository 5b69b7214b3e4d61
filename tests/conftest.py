"""Shared fixtures. The integration and browser tiers share one real hub per test session."""

import pytest

HOSTILE_USERS = ["ünïcode", "a--b", "a-b", "x.y@example.org", "z" * 200]


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    from tests.integration.hub import running_hub

    with running_hub(tmp_path_factory.mktemp("hub"), "session", HOSTILE_USERS) as hub:
        yield hub


@pytest.fixture(scope="session")
def postgres_url():
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def campus_hub(tmp_path_factory):
    """A hub with campus sign-in through a real OpenID Connect provider (tests/oidc.py)."""
    from tests.oidc import campus_hub

    with campus_hub(tmp_path_factory.mktemp("campus")) as hub:
        yield hub


@pytest.fixture(scope="session")
def dashboard_hub(tmp_path_factory):
    """A hub with the fake GPUs and the GPU dashboard sampling every second
    (tests/integration/dashboard.py), shared by the dashboard's integration and browser tests."""
    from tests.integration.dashboard import dashboard_hub

    with dashboard_hub(tmp_path_factory.mktemp("dashboard")) as hub:
        yield hub

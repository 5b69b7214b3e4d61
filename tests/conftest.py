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

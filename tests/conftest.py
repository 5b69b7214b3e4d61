"""Shared fixtures. The integration and browser tiers share one real hub per test session."""

import os
import signal

import pytest

from tests import processes

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


#: seconds a process the session started may take to go once its fixtures are done (a
#: managed service notices within a second that its hub is gone)
LEFTOVER_GRACE = 15


def pytest_configure(config):
    # orphans of the hubs, proxies and services the tests start come to this process, so
    # that the check below finds them (instead of init adopting them unseen)
    processes.become_subreaper()


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """At the end of the session no process the tests started (hub, proxy, managed service,
    registry, identity provider, database server, browser) may still run: each one left is
    ended by its PID and the session fails."""
    yield
    left = processes.leftovers(os.getpid(), LEFTOVER_GRACE)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    processes.reap_zombies()
    assert not left, "processes the tests started are still running:\n" + "\n".join(
        f"  {pid}: {cmd[:200]}" for pid, cmd in left.items()
    )

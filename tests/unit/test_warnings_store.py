"""The culler's warnings in the store, which the course home reads: one per server, taken
back, and gone when the server stops."""

from datetime import datetime

from launcher.hub import home
from launcher.settings import Course
from launcher.store import Store

STOP = datetime(2026, 12, 4, 10, 30)


def test_a_warning_is_kept_per_server_until_taken_back_or_the_stop(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    store.warn("ann", "", "gpu_idle", STOP)
    store.warn("ann", "", "quota", STOP)  # the latest warning of a server replaces the last
    store.warn("ann", "cv201", "gpu_idle", STOP)
    store.warn("bob", "", "gpu_idle", STOP)
    assert store.warnings_of("ann") == {"": ("quota", STOP), "cv201": ("gpu_idle", STOP)}
    store.unwarn("ann", "cv201")
    assert store.warnings_of("ann") == {"": ("quota", STOP)}
    store.server_stopped("ann", "")
    assert store.warnings_of("ann") == {} and store.warnings_of("bob") == {"": ("gpu_idle", STOP)}


def test_only_a_running_servers_card_shows_a_warning():
    course = Course(title="DL", image="launcher/pytorch:2.13-cpu")

    def card(state):
        return home.card(
            "dl",
            course,
            "student",
            server="",
            state=state,
            held=(),
            quota=None,
            image_present=True,
            pull_policy="never",
            matrix={},
            start_url="/hub/spawn/ann",
            open_url="/user/ann/",
            staff_url=None,
            warning=("gpu_idle", STOP),
        )

    assert card("ready").warning == ("gpu_idle", STOP)
    assert card("stopped").warning is None

"""A registry that accepts and never answers: the download fails with a sentence after the
stall timeout, and meanwhile another student's start is not delayed (downloads run apart
from the Docker calls every other start needs)."""

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.blackhole import black_hole
from tests.integration.hub import IMAGE, running_hub, wait_for

pytestmark = pytest.mark.integration

STALL_S = 15


def test_a_stalled_registry_delays_nobody_else_and_fails_with_a_sentence(tmp_path):
    with black_hole() as registry:
        site = {
            "images": {"pull_policy": "ifnotpresent", "pull_stall_timeout": STALL_S},
            "courses": {
                "stalled": {
                    "title": "Image on a registry that never answers",
                    "image": f"{registry}/launcher/pytorch:2.13-cpu",
                    "students": ["st1"],
                },
                "fine": {"title": "Local image", "image": IMAGE, "students": ["ok1"]},
            },
        }
        with running_hub(tmp_path, "pull-stall", [], site) as hub:
            stuck, other = hub.session("st1"), hub.session("ok1")
            began = time.monotonic()
            post = stuck.request_server("st1")
            wait_for(lambda: stuck.user_model()["servers"].get("", {}).get("pending"), 30, "st1")
            events = []

            def read_progress():
                for event in stuck.iter_progress("st1", timeout=180):
                    events.append(event)

            with ThreadPoolExecutor(1) as pool:  # st1's progress page, read to its end
                reading = pool.submit(read_progress)
                wait_for(
                    lambda: any("Downloading" in e.get("message", "") for e in events),
                    60,
                    "st1's download to begin",
                )
                # while st1's download hangs, ok1 starts as fast as ever
                t0 = time.monotonic()
                other.start_server("ok1")
                other_took = time.monotonic() - t0
                still_waiting = stuck.user_model()["servers"].get("", {}).get("pending")
                reading.result()
            failed_after = time.monotonic() - began
            print(
                f"[pull-stall] another start {other_took:.1f} s, the stalled one failed after "
                f"{failed_after:.1f} s"
            )
            assert still_waiting == "spawn", "ok1 was ready before st1's download gave up"
            assert events[-1].get("failed"), events
            message = events[-1]["message"]
            assert f"stalled: nothing arrived for {STALL_S} seconds" in message, message
            assert STALL_S <= failed_after < STALL_S + 60
            assert post.result().status_code in (202, 503)
            assert hub.container_of("st1") is None
            other.stop_server("ok1")
            # the abandoned download (the engine still waits on the registry) does not hold up
            # the hub's stop
            t0 = time.monotonic()
            hub.proc.send_signal(signal.SIGTERM)
            assert hub.proc.wait(timeout=10) == 0
            print(f"[pull-stall] the hub stopped {time.monotonic() - t0:.1f} s after SIGTERM")

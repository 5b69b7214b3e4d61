"""The launcher's store on PostgreSQL stops answering for 30 s (the server frozen:
connections stay open, nothing comes back): the hub goes on answering, a running session goes
on working, a start fails in seconds with a sentence, a stop completes, no GPU stays held
once the store answers again, and the workspace written before is intact."""

import json
import time

import pytest

from launcher.store import Store
from tests.integration.hub import running_hub, wait_for
from tests.integration.test_faults import read_note, write_note
from tests.integration.test_gpus import GPU_ENV
from tests.postgres import fresh, frozen

pytestmark = pytest.mark.integration


def pending(session) -> bool:
    return bool(session.user_model()["servers"].get("", {}).get("pending"))


def test_a_store_that_does_not_answer_freezes_nothing_and_leaks_no_gpu(tmp_path, postgres_url):
    site = {
        "store": {"url": fresh(postgres_url)},
        "gpus": {"source": "nvidia-smi", "reconcile_interval": 2},
        "courses": {
            "gpulab": {
                "title": "GPU lab",
                "image": "launcher/pytorch:2.13-cpu",
                "students": ["p1", "p2"],
                "gpu": {"per_student": 1},
            }
        },
    }
    with running_hub(tmp_path, "store-outage", [], site, GPU_ENV) as hub:
        store = Store(postgres_url)
        first, second = hub.session("p1"), hub.session("p2")
        first.start_server()
        assert [a.username for a in store.active()] == ["p1"]
        write_note(hub.container_of("p1"), "before the outage")
        assert first.open_server("/user/p1/lab").status_code == 200
        outage = 30
        with frozen(postgres_url):
            frozen_at = time.monotonic()
            # a start, whose first step reads the catalog from the store ...
            t0 = time.monotonic()
            post = second.request_server("p2")
            # ... while the hub's own pages and API go on (its event loop does not wait on it)
            answered = time.monotonic()
            assert first.get(f"{hub.url}/hub/api/", timeout=10).status_code == 200
            assert first.get(f"{hub.url}/hub/home", timeout=10).status_code == 200
            assert time.monotonic() - answered < 5
            # the start fails with a sentence, in seconds
            wait_for(lambda: post.done() or pending(second), 30, "p2's start to begin")
            events = [] if post.done() else list(second.iter_progress("p2", timeout=120))
            if not events:  # it failed before the hub answered the request
                events = [{"failed": True, "message": post.result().json()["message"]}]
            took = time.monotonic() - t0
            assert events[-1].get("failed"), events
            assert "The launcher's database does not answer right now" in events[-1]["message"]
            assert took < 60, took
            # the running session goes on working through the whole outage
            while time.monotonic() - frozen_at < outage:
                answer = first.get(f"{hub.url}/user/p1/api/contents/note.txt", timeout=10)
                assert answer.status_code == 200, answer.text[:300]
                time.sleep(1)  # the student's next request, not a wait for a condition
            # a stop completes (the GPU is released in the background once the store answers)
            first.stop_server()
        print(f"[store-outage] the start failed after {took:.1f} s")
        # thawed: nothing stays held, and starts work again
        wait_for(lambda: not store.active(), 60, "p1's GPU to be freed")
        second.start_server()
        assert [a.username for a in store.active()] == ["p2"]
        first.start_server()
        assert read_note(hub.container_of("p1")) == "before the outage"
        first.stop_server()
        second.stop_server()
        assert json.dumps([a.username for a in store.active()]) == "[]"

"""The GPU dashboard's test hub: the fake GPU host, two GPU courses, the dashboard sampling
every second. One hub per test session, shared by the integration and the browser tests
(``dashboard_hub`` in tests/conftest.py).

The only doubles are the lowest layer's: tests/fakes/nvidia-smi (reading the utilisation this
module writes) and the engine's fake nvidia-container-runtime-hook.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from launcher.store import Store, utcnow
from tests.integration.hub import IMAGE, Hub, HubSession, running_hub
from tests.integration.test_gpus import FAKES, GPUS

PREFIX = "/services/dashboard"
SITE = {
    # the pages show times in Beijing (UTC+8, "CST"); the JSON API and /metrics keep UTC
    "hub": {"poll_interval": 2, "timezone": "Asia/Shanghai"},
    "dashboard": {"sample_interval": 1},
    "gpus": {"when_full": "queue", "queue_timeout": 180},
    "courses": {
        # one GPU at a time for the whole course: the second student queues
        "dl": {
            "title": "Deep Learning",
            "image": IMAGE,
            "instructors": ["dlteacher"],
            "students": ["d1", "d2", "d3"],
            "gpu": {"per_student": 1, "max_gpus": 1},
            "quota": {"gpu_hours": 5, "period": "week"},
        },
        "cv": {
            "title": "Computer Vision",
            "image": IMAGE,
            "instructors": ["cvteacher"],
            "students": ["c1"],
            "gpu": {"per_student": 1},
        },
    },
}


@contextlib.contextmanager
def dashboard_hub(tmp: Path):
    util = tmp / "utilisation.json"
    # the hub and its services run this nvidia-smi: the fake, reading the file tests write
    smi = tmp / "nvidia-smi"
    smi.write_text(
        f'#!/bin/sh\nFAKE_GPU_UTILISATION_FILE={util} exec {FAKES / "nvidia-smi"} "$@"\n'
    )
    smi.chmod(0o755)
    site = {**SITE, "gpus": {**SITE["gpus"], "source": "nvidia-smi", "nvidia_smi": str(smi)}}

    def left_over_queue(hub: Hub) -> None:
        """A start still queued when a previous hub stopped (the queue was in its memory)."""
        hub.data_dir.mkdir(parents=True, exist_ok=True)
        Store(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}").enqueue("d3", "dl", "", utcnow())

    with running_hub(tmp, "dashboard", [], site, before_start=left_over_queue) as hub:
        hub.util = util
        yield hub


def set_utilisation(hub: Hub, percent: dict[str, int] | int) -> None:
    """GPU UUID -> utilisation (an int: every GPU), as nvidia-smi will report it."""
    values = percent if isinstance(percent, dict) else {g["uuid"]: percent for g in GPUS}
    data = {uuid: {"utilization.gpu": p, "memory.used": 100 + p} for uuid, p in values.items()}
    tmp = hub.util.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(hub.util)  # atomic: nvidia-smi never reads half a file


def page(session: HubSession, path: str, **kwargs) -> requests.Response:
    """GET a dashboard page as a browser does (the Hub OAuth redirects are followed)."""
    return session.get(f"{session.hub.url}{PREFIX}/{path}", timeout=30, **kwargs)


def api(session: HubSession, path: str, status: int = 200) -> dict:
    resp = page(session, f"api/{path}")
    assert resp.status_code == status, f"{path}: {resp.status_code} {resp.text[:500]}"
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.json()


def post_form(session: HubSession, path: str, form_page: str, data: dict) -> requests.Response:
    """POST to a dashboard page after opening ``form_page``, with the XSRF token a browser
    has (the cookie the service sets at login: anyone logged in has one), no redirects."""
    shown = page(session, form_page)
    assert shown.status_code in (200, 403), shown.text[:500]
    xsrf = session.xsrf(f"{PREFIX}/")
    return session.post(
        f"{session.hub.url}{PREFIX}/{path}",
        data={"_xsrf": xsrf, **data},
        allow_redirects=False,
        timeout=60,
    )


def metrics_token(hub: Hub) -> str:
    return (hub.data_dir / "launcher-metrics-token").read_text().strip()


def scrape(hub: Hub, token: str | None = None, scheme: str = "token") -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    return requests.get(f"{hub.url}{PREFIX}/metrics", headers=headers, timeout=30)


def samples(hub: Hub) -> dict[tuple[str, frozenset], float]:
    """(metric sample name, labels) -> value, scraped with the launcher-metrics token."""
    resp = scrape(hub, metrics_token(hub))
    assert resp.status_code == 200, resp.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels) -> float | None:
    """The sample ``name`` whose labels include ``labels`` (None: no such sample)."""
    matches = [v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) <= 1, f"{name} {labels}: {matches}"
    return matches[0] if matches else None

"""The GPU dashboard on a real hub: its JSON API and /metrics follow real spawns on the fake
GPU host (assignment, live utilisation, the queue, a release with its confirmation and audit,
a quota grant, the sampled history, spawn timings), and each person sees what they may.
"""

import html
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from launcher.i18n import COOKIE as LANGUAGE_COOKIE
from launcher.store import Store
from tests.integration.dashboard import (
    PREFIX,
    api,
    metrics_token,
    page,
    post_form,
    samples,
    scrape,
    set_utilisation,
    value,
)
from tests.integration.hub import wait_for
from tests.integration.test_gpus import GPUS

pytestmark = pytest.mark.integration

#: a distinct utilisation per GPU, so a reading is seen on the right unit
DISTINCT = {g["uuid"]: 11 + 10 * i for i, g in enumerate(GPUS)}


def store(hub) -> Store:
    return Store(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}")


def holder_row(gpus: list[dict], user: str) -> dict | None:
    return next((r for r in gpus if any(h["user"] == user for h in r["holders"])), None)


def test_a_spawn_shows_on_the_map_in_the_metrics_and_in_the_history(dashboard_hub):
    hub = dashboard_hub
    set_utilisation(hub, DISTINCT)
    admin, d1 = hub.session("admin"), hub.session("d1")
    d1.start_server()
    container = hub.container_for("d1", "dl")
    try:
        row = holder_row(api(admin, "gpus")["gpus"], "d1")
        (held,) = row["holders"]
        assert (held["course"], held["container"], held["server"]) == ("dl", container.name, "")
        assert row["uuid"] in container.attrs["HostConfig"]["DeviceRequests"][0]["DeviceIDs"]
        assert row["utilisation"] == DISTINCT[row["uuid"]]  # that GPU's own reading
        assert row["memory_used_mib"] == 100 + DISTINCT[row["uuid"]]
        assert row["temperature_c"] == 30 and row["memory_mib"] == 40960
        assert held["since"].endswith("Z")  # the JSON keeps UTC; the page shows Beijing time
        since = datetime.fromisoformat(held["since"].removesuffix("Z")).replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - since).total_seconds()) < 120
        shown = html.unescape(page(admin, "admin").text)
        beijing = since.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M CST")
        assert f"since {beijing}" in shown and "Times in Asia/Shanghai (CST)" in shown
        assert "UTC" not in shown
        assert held["gpu_hours_quota"] == 5 and 0 <= held["gpu_hours_used"] < 0.1

        found = samples(hub)
        uuid = row["uuid"]
        assert value(found, "launcher_gpu_units") == 6  # 4 whole GPUs, 2 MIG instances
        assert value(found, "launcher_gpu_allocated", uuid=uuid) == 1
        assert value(found, "launcher_gpu_holder_info", uuid=uuid, user="d1", course="dl") == 1
        assert value(found, "launcher_gpu_allocations", course="dl") == 1
        assert value(found, "launcher_gpu_utilisation_percent", uuid=uuid) == DISTINCT[uuid]
        assert value(found, "launcher_gpu_memory_used_bytes", uuid=uuid) == (
            (100 + DISTINCT[uuid]) * 1024 * 1024
        )
        assert value(found, "launcher_quota_limit_gpu_hours", user="d1", course="dl") == 5
        assert value(found, "launcher_queue_length", course="dl") == 0
        ready = value(found, "launcher_spawn_duration_seconds_count", outcome="ready")
        assert ready >= 1
        assert 0 < value(found, "launcher_spawn_duration_seconds_sum", outcome="ready") < 300

        # the sampler (every second here) writes the history the charts draw
        set_utilisation(hub, 64)

        def sampled():
            since = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
            rows = [s for s in store(hub).samples(since) if s.unit_uuid == uuid]
            return [s for s in rows if s.utilisation == 64 and s.holders == 1 and s.course == "dl"]

        wait_for(sampled, 30, "the sampler to write d1's GPU at 64%")
        last = api(admin, "history?range=hour")["buckets"][-1]
        # this minute's bucket: the mean of every reading sampled in it (the bucketing itself
        # is unit-tested), with d1's GPU held
        assert last["utilisation"] is not None and last["allocated"] > 0
        mine = api(admin, "history?range=day&course=dl")
        assert mine["course"] == "dl" and mine["step_seconds"] == 900
        assert mine["buckets"][-1]["allocated"] > 0
        chart = page(admin, "admin?range=hour")
        assert chart.status_code == 200
        assert 'id="chart-utilisation"' in chart.text and 'data-points="0"' not in chart.text
    finally:
        d1.stop_server()
    gpus = api(admin, "gpus")["gpus"]
    assert holder_row(gpus, "d1") is None, "the GPU is free after the stop"
    assert value(samples(hub), "launcher_gpu_allocated", uuid=uuid) == 0


def test_the_queue_and_a_confirmed_audited_release(dashboard_hub):
    hub = dashboard_hub
    admin, d1, d2 = hub.session("admin"), hub.session("d1"), hub.session("d2")
    d1.start_server()
    held = holder_row(api(admin, "gpus")["gpus"], "d1")
    uuid, holder_index = held["uuid"], held["index"]
    # dl may hold one GPU at a time: d2's start waits in the queue
    post = d2.request_server("d2")
    try:
        queue = wait_for(lambda: api(admin, "queue")["queue"], 60, "d2 in the queue")
        assert [(q["user"], q["course"], q["position"]) for q in queue] == [("d2", "dl", 1)]
        assert value(samples(hub), "launcher_queue_length", course="dl") == 1
        (mine,) = api(d2, "me")["courses"]
        assert mine["queue_position"] == 1 and mine["gpus"] == []
        assert "number 1 of 1 in the queue" in page(d2, "me").text
        # the same panel in the language the browser asks for, or the one chosen on the switch
        chinese = page(d2, "me", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
        assert '<html lang="zh-CN">' in chinese and "你在队列中排第 1 位" in chinese
        d2.cookies.set(LANGUAGE_COOKIE, "en")
        chosen = page(d2, "me", headers={"Accept-Language": "zh-CN"}).text
        assert '<html lang="en">' in chosen and "number 1 of 1 in the queue" in chosen
        d2.cookies.set(LANGUAGE_COOKIE, None)  # removed

        confirm = page(admin, f"actions/release?unit={uuid}&back=admin")
        assert confirm.status_code == 200
        assert "d1" in confirm.text and hub.container_for("d1", "dl").name in confirm.text
        # without the confirmation nothing happens
        unconfirmed = post_form(
            admin, "actions/release", f"actions/release?unit={uuid}", {"unit": uuid}
        )
        assert unconfirmed.status_code == 400 and "Nothing was stopped" in unconfirmed.text
        assert d1.user_model()["servers"][""]["ready"]

        done = post_form(
            admin,
            "actions/release",
            f"actions/release?unit={uuid}",
            {"unit": uuid, "back": "admin", "confirm": "yes"},
        )
        assert done.status_code == 302 and f"{PREFIX}/admin?done=" in done.headers["Location"]
        shown = admin.get(hub.url + done.headers["Location"]).text
        assert "Done: admin released the GPU of d1 (dl)" in shown

        # d1's server stops, the queue hands its GPU to d2
        wait_for(lambda: not d1.user_model()["servers"], 60, "d1's server to stop")
        assert post.result(timeout=120).status_code in (201, 202)
        wait_for(
            lambda: (d2.user_model()["servers"].get("") or {}).get("ready"), 120, "d2 to start"
        )
        gpus = api(admin, "gpus")["gpus"]
        assert holder_row(gpus, "d2")["uuid"] == uuid and holder_row(gpus, "d1") is None
        assert api(admin, "queue")["queue"] == []
        entry = store(hub).admin_actions(10)
        release = next(e for e in entry if e["action"] == "release_gpu")
        assert (release["actor"], release["target"], release["course"]) == ("admin", "d1", "dl")
        assert f"GPU {holder_index}" in release["details"]
    finally:
        post.result(timeout=180)
        for s in (d1, d2):
            if s.user_model()["servers"]:
                s.stop_server()


def test_an_admin_adjusts_a_quota_and_nobody_else_can(dashboard_hub):
    hub = dashboard_hub
    admin, d3 = hub.session("admin"), hub.session("d3")
    before = next(r for r in api(admin, "quotas?course=dl")["quotas"] if r["user"] == "d3")
    resp = post_form(admin, "grant", "admin", {"user": "d3", "course": "dl", "hours": "2.5"})
    assert resp.status_code == 302, resp.text
    assert "Done: admin changed the quota of d3 (dl): +2.5 GPU-hours this period." in (
        admin.get(hub.url + resp.headers["Location"]).text
    )
    after = next(r for r in api(admin, "quotas?course=dl")["quotas"] if r["user"] == "d3")
    assert after["limit"] == before["limit"] + 2.5 and after["granted"] == before["granted"] + 2.5
    assert (
        value(samples(hub), "launcher_quota_limit_gpu_hours", user="d3", course="dl")
        == (after["limit"])
    )
    assert api(d3, "me")["courses"][0]["quota"]["limit"] == after["limit"]
    # the quota table sorts and filters on the server
    ranked = api(admin, "quotas?course=dl&sort=limit&order=desc")["quotas"]
    assert ranked[0]["user"] == "d3"
    assert [r["user"] for r in api(admin, "quotas?q=D3")["quotas"]] == ["d3"]

    for data, sentence in [
        ({"user": "c1", "course": "cv", "hours": "1"}, "cv has no GPU-hour quota"),
        ({"user": "d3", "course": "dl", "hours": "lots"}, "Give the GPU-hours to add as a number"),
        ({"user": "d3", "course": "nope", "hours": "1"}, "There is no course 'nope'"),
    ]:
        refused = post_form(admin, "grant", "admin", data)
        assert refused.status_code == 400 and sentence in html.unescape(refused.text)
    # a student who sends the form anyway (with their own valid XSRF token) is refused
    for path, data, sentence in [
        ("grant", {"user": "d3", "course": "dl", "hours": "100"}, "Only admins change quotas."),
        ("actions/stop", {"user": "d3", "confirm": "yes"}, "for admins and course staff"),
    ]:
        student = post_form(d3, path, "me", data)
        assert student.status_code == 403 and sentence in student.text, student.text
    assert api(admin, "quotas?course=dl&q=d3")["quotas"][0]["limit"] == after["limit"]


def test_who_sees_what(dashboard_hub):
    hub = dashboard_hub
    admin, d3 = hub.session("admin"), hub.session("d3")
    dlteacher, cvteacher = hub.session("dlteacher"), hub.session("cvteacher")

    # the queue a previous hub left in the store was emptied when this one started
    assert store(hub).queued() == [] and api(admin, "queue")["queue"] == []

    # the hub's Services menu lists it for everyone, students included
    assert f"{PREFIX}/" in d3.get(f"{hub.url}/hub/home").text

    # the front door sends each person to their view
    assert page(admin, "").url.endswith(f"{PREFIX}/admin")
    assert page(dlteacher, "").url.endswith(f"{PREFIX}/course/dl")
    assert page(d3, "").url.endswith(f"{PREFIX}/me")

    # a student: their own panel, a sentence (not a traceback) anywhere else
    denied = page(d3, "admin")
    assert denied.status_code == 403 and "Only admins see the whole GPU dashboard" in denied.text
    assert "Traceback" not in denied.text
    for path in ("gpus", "quotas", "queue", "history"):
        assert "for admins and course staff" in api(d3, path, status=403)["message"]
    assert page(d3, "course/dl").status_code == 403
    assert page(d3, "actions/release?unit=0").status_code == 403
    (mine,) = api(d3, "me")["courses"]
    assert (mine["course"], mine["quota"]["period"]) == ("dl", "week")

    # an instructor: their course only
    assert {r["course"] for r in api(dlteacher, "quotas")["quotas"]} == {"dl"}
    assert {r["course"] for r in api(cvteacher, "quotas")["quotas"]} == {"cv"}
    assert api(cvteacher, "history?range=hour")["course"] == "cv"
    assert page(cvteacher, "course/dl").status_code == 403
    assert "not a TA or an instructor of dl" in api(cvteacher, "gpus?course=dl", 403)["message"]
    assert {r["course"] for r in api(admin, "quotas")["quotas"]} >= {"dl", "cv"}

    # /metrics: the launcher-metrics token or an admin's token; nobody else
    assert scrape(hub, metrics_token(hub)).status_code == 200
    assert scrape(hub, metrics_token(hub), "Bearer").status_code == 200  # Prometheus' default
    anonymous = scrape(hub)
    assert anonymous.status_code == 403 and "custom:launcher:read-metrics" in anonymous.text
    assert page(d3, "metrics").status_code == 403
    token = admin.new_token("prometheus")
    assert scrape(hub, token).status_code == 200
    student_token = d3.new_token("x")
    assert scrape(hub, student_token).status_code == 403


def test_an_instructor_stops_their_students_server_with_their_own_rights(dashboard_hub):
    hub = dashboard_hub
    d3, dlteacher, cvteacher = (hub.session(n) for n in ("d3", "dlteacher", "cvteacher"))
    d3.start_server()
    try:
        shown = page(dlteacher, "course/dl")
        assert 'data-user="d3"' in shown.text and "Release GPU" in shown.text
        confirm = page(dlteacher, "actions/stop?user=d3&server=&back=course/dl")
        assert confirm.status_code == 200 and "Stop the server" in confirm.text
        outsider = post_form(
            cvteacher, "actions/stop", "course/cv", {"user": "d3", "server": "", "confirm": "yes"}
        )
        assert outsider.status_code == 403 and "not a TA or an instructor of dl" in outsider.text
        done = post_form(
            dlteacher,
            "actions/stop",
            "course/dl",
            {"user": "d3", "server": "", "back": "course/dl", "confirm": "yes"},
        )
        # the hub accepted the stop from the instructor's own (narrowed) token
        assert done.status_code == 302 and "/course/dl?done=" in done.headers["Location"]
        wait_for(lambda: not d3.user_model()["servers"], 60, "d3's server to stop")
        last = store(hub).admin_actions(1)[0]
        assert (last["actor"], last["action"], last["target"]) == ("dlteacher", "stop_server", "d3")
    finally:
        if d3.user_model()["servers"]:
            d3.stop_server()


def test_a_failed_start_is_timed_too(dashboard_hub):
    hub = dashboard_hub
    before = value(samples(hub), "launcher_spawn_duration_seconds_count", outcome="failed") or 0
    ghost = hub.session("ghoststudent")  # the ghost course's image was never built
    assert ghost.api("POST", "/users/ghoststudent/server").status_code == 503
    found = samples(hub)
    assert value(found, "launcher_spawn_duration_seconds_count", outcome="failed") == before + 1
    (failed,) = [s for s in store(hub).spawns() if s["username"] == "ghoststudent"]
    assert (failed["outcome"], failed["reason"], failed["course"]) == (
        "failed",
        "image_missing",
        "ghost",
    )

"""The GPU dashboard, a JupyterHub-managed service at ``/services/dashboard/``.

* ``admin``: every GPU with its live reading and holder, the queue, the charts, the quota
  table (filter, sort) and the admin's actions: release a GPU or stop a server (after a
  confirmation page; through the hub API with the admin's own token) and adjust a quota (an
  audited grant);
* ``course/<id>``: the same for one course, for its TAs and instructors (they may stop their
  students' servers, as on the instructor page; quotas stay the admin's);
* ``me``: "your GPU and your quota left", for everyone;
* ``api/gpus|queue|quotas|history|me``: the same as JSON (docs/dashboard.md);
* ``metrics``: Prometheus, for a token with the scope ``custom:launcher:read-metrics`` or an
  admin's token.

People log in through the hub (Hub OAuth). The service holds no power of its own: actions use
the visitor's token, which JupyterHub narrows to ``delete:servers`` within that person's
rights. Everything else comes from the launcher's store, read with the site file
(``$LAUNCHER_CONFIG``).

The pages are in the visitor's language, their times in the site's zone (``hub.timezone``);
the JSON API and /metrics keep UTC (ISO-8601 with ``Z``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import datetime
from urllib.parse import urlencode

from jupyterhub.services.auth import UserNotAllowed
from jupyterhub.utils import url_path_join
from prometheus_client import CONTENT_TYPE_LATEST
from tornado import web

from launcher import catalog, lifecycle
from launcher.board import aggregate
from launcher.board.live import LiveReadings
from launcher.board.view import Board, Scope
from launcher.endpoints import METRICS_SCOPE
from launcher.gpu import metrics as gpu_metrics
from launcher.gpu.quota import grant_problem
from launcher.names import server_path
from launcher.preflight import GpuConfigError, gpu_inventory
from launcher.services.dashboard import charts, text
from launcher.services.dashboard.metrics import exposition
from launcher.services.dashboard.sampler import Sampler
from launcher.services.page import ServicePage, listen, make_app, service_prefix, site_settings
from launcher.settings import load_site
from launcher.store import Allocation

log = logging.getLogger("launcher.services.dashboard")
COURSE = r"[a-z][a-z0-9-]{0,30}"


class Page(ServicePage):
    @property
    def board(self) -> Board:
        return self.settings["board"]

    def url(self, *parts: str) -> str:
        return url_path_join(self.settings["prefix"], *parts)

    def scope(self, course: str = "") -> Scope:
        """What the visitor may see: None for an admin (everything), else course ids; 403 for
        someone who runs no course (or not ``course``)."""
        if self.is_admin():
            return [course] if course else None
        mine = self.staff_courses()
        if course and course not in mine:
            raise web.HTTPError(
                403,
                self._(
                    "You are not a TA or an instructor of {course}; the dashboard shows you the "
                    "GPUs and quotas of your own courses only."
                ).format(course=course),
            )
        if not mine:
            raise web.HTTPError(
                403,
                self._(
                    "This part of the GPU dashboard is for admins and course staff. Your own "
                    "GPU and quota are on your panel: {url}"
                ).format(url=self.url("me")),
            )
        return [course] if course else list(mine)

    async def io(self, fn, *args):
        """Run a blocking read (store, nvidia-smi) off the event loop."""
        return await asyncio.to_thread(fn, *args)

    def words(self, now: datetime) -> text.Words:
        """Figures and times as this visitor reads them (their language, the site's zone)."""
        return text.Words(self.reader, now)


class IndexHandler(Page):
    @web.authenticated
    def get(self):
        if self.is_admin():
            return self.redirect(self.url("admin"))
        staff = self.staff_courses()
        self.redirect(self.url("course", next(iter(staff))) if staff else self.url("me"))


class OverviewHandler(Page):
    """The admin's page (``admin``) and a course's page for its staff (``course/<id>``)."""

    @web.authenticated
    async def get(self, course_id: str = ""):
        if not course_id and not self.is_admin():
            raise web.HTTPError(
                403,
                self._(
                    "Only admins see the whole GPU dashboard. Your own GPU and quota are on "
                    "your panel: {url}"
                ).format(url=self.url("me")),
            )
        scope = self.scope(course_id)
        span = self.get_argument("range", "day")
        span = span if span in aggregate.RANGES else "day"
        data = await self.io(self._data, scope, span, course_id or None)
        filters = {k: self.get_argument(k, "") for k in ("q", "course", "sort", "order")}
        quotas = aggregate.filter_sort(
            data.pop("all_quotas"),
            filters["q"],
            filters["course"],
            filters["sort"] or "user",
            filters["order"] or "asc",
        )
        now = self.board.clock()
        self.render(
            "dashboard/overview.html",
            view="course" if course_id else "admin",
            course_id=course_id,
            staff_courses=list(self.staff_courses()),
            span=span,
            filters=filters,
            sort_links=self._sort_links(span, filters),
            range_links={r: self._query(span=r, **filters) for r in aggregate.RANGES},
            quotas=quotas,
            quota_courses=sorted(self.board.courses(scope)),
            charts=self._charts(data["history"], data["summary"], span),
            done=self._done(data["actions"]),
            grant_user=self.get_argument("grant_user", ""),
            grant_course=self.get_argument("grant_course", ""),
            text=self.words(now),
            now=now,
            zone=self.zone_label(),
            **data,
        )

    def _data(self, scope: Scope, span: str, course: str | None) -> dict:
        quotas = self.board.quotas(scope)
        gpus = self.board.gpus(scope, quotas)
        queue = self.board.queue(scope)
        return {
            "all_quotas": quotas,
            "gpus": gpus,
            "queue": queue,
            "history": self.board.history(span, course),
            "summary": self.board.summary(scope, gpus, queue),
            "actions": self.board.actions(scope),
            "ssh_failures": self.board.ssh_failures(scope),
            "grantable": [
                cid for cid, c in self.board.courses(scope).items() if c.quota.gpu_hours is not None
            ],
        }

    def _query(self, span: str, **params: str) -> str:
        return "?" + urlencode({"range": span, **{k: v for k, v in params.items() if v}})

    def _sort_links(self, span: str, filters: dict) -> dict[str, str]:
        links = {}
        for key in aggregate.SORT_KEYS:
            current = (filters["sort"] or "user") == key
            order = "desc" if current and filters["order"] != "desc" else "asc"
            links[key] = self._query(span, **{**filters, "sort": key, "order": order})
        return links

    def _charts(self, history: dict, summary: dict, span: str) -> dict[str, str]:
        starts = [b["start"] for b in history["buckets"]]
        # buckets narrower than the sampling interval: draw one line across the empty ones
        interval, step = self.settings["sample_interval"], history["step_seconds"]
        gap = -(-interval // step) + 1 if interval > step else 1
        units = summary["course"]["eligible"] if "course" in summary else summary["units"]
        allocated = [b["allocated"] for b in history["buckets"]]
        return {
            "utilisation": charts.line_chart(
                "chart-utilisation",
                self._("GPU utilisation (%)"),
                [b["utilisation"] for b in history["buckets"]],
                starts,
                span,
                100,
                "%",
                gap,
                self.reader,
            ),
            "allocated": charts.line_chart(
                "chart-allocated",
                self._("GPUs allocated"),
                allocated,
                starts,
                span,
                -(-max([units, *(a for a in allocated if a is not None)]) // 4) * 4,
                max_gap=gap,
                reader=self.reader,
            ),
        }

    def _done(self, actions: list[dict]) -> str:
        """The sentence for the action the visitor just did (``?done=<audit id>``)."""
        done = self.get_argument("done", "")
        for entry in actions:
            if str(entry["id"]) == done and entry["actor"] == self.current_user["name"]:
                return self._("Done: {action}").format(action=text.action(entry, self.reader))
        return ""


class MeHandler(Page):
    """The student's panel: their GPU now and their quota left, per course."""

    @web.authenticated
    async def get(self):
        name, groups = self.current_user["name"], self.current_user.get("groups") or []
        panel = await self.io(self.board.me, name, groups)
        now = self.board.clock()
        self.render(
            "dashboard/me.html",
            panel=panel,
            text=self.words(now),
            now=now,
            staff=bool(self.is_admin() or self.staff_courses()),
        )


class ActionHandler(Page):
    """Release a GPU (stop every server holding it) or stop one server: a confirmation page
    (GET), then the stop through the hub API as the visitor (POST), written to the audit log."""

    def _targets(self, kind: str) -> list[Allocation]:
        scope = self.scope()  # admins and course staff only
        unit = self.get_argument("unit", "") if kind == "release" else ""
        user, server = self.get_argument("user", ""), self.get_argument("server", "")
        if not (unit or user):
            raise web.HTTPError(400, self._("Say which GPU to release or whose server to stop."))
        held = self.board.holders(unit=unit, user=user, server=server)
        if not held:
            raise web.HTTPError(
                404,
                self._("Nobody holds GPU {unit} now: it is free already.").format(unit=unit)
                if unit
                else self._(
                    "{user}'s server holds no GPU now (it may have stopped already)."
                ).format(user=user),
            )
        for a in held:
            if scope is not None and a.course not in scope:
                raise web.HTTPError(
                    403,
                    self._("You are not a TA or an instructor of {course}.").format(
                        course=a.course
                    ),
                )
        return held

    def _back(self) -> str:
        back = self.get_argument("back", "admin")
        return back if back == "admin" or re.fullmatch(f"course/{COURSE}", back) else "admin"

    def _units(self) -> dict[str, str]:
        return {u.uuid: f"{u.name} ({u.model})" for u in self.board.units}

    @web.authenticated
    def get(self, kind: str):
        held = self._targets(kind)
        servers = {(a.username, a.server): a for a in held}
        now = self.board.clock()
        self.render(
            "dashboard/confirm.html",
            kind=kind,
            unit=self.get_argument("unit", ""),
            held=held,
            servers=list(servers.values()),
            units=self._units(),
            back=self._back(),
            now=now,
            text=self.words(now),
            iso=aggregate.iso,
        )

    @web.authenticated
    async def post(self, kind: str):
        if self.get_body_argument("confirm", "") != "yes":
            raise web.HTTPError(
                400, self._("Nothing was stopped: confirm the action on its confirmation page.")
            )
        held = self._targets(kind)
        units = self._units()
        entry = 0
        for (user, server), allocs in _by_server(held).items():
            # checked above: an admin, or staff of every course these servers were started for
            await self.hub_or_error("DELETE", server_path(user, server), as_service=True)
            gpus = ", ".join(units.get(a.unit_uuid, a.unit_uuid) for a in allocs)
            details = f"{gpus}; container {allocs[0].container}"
            log.info("%s: %s %s/%s (%s)", self.current_user["name"], kind, user, server, details)
            entry = await self.io(
                self.board.store.audit,
                self.current_user["name"],
                "release_gpu" if kind == "release" else "stop_server",
                user,
                allocs[0].course,
                details,
                self.board.clock(),
            )
        self.redirect(self.url(self._back()) + f"?done={entry}")


def _by_server(held: list[Allocation]) -> dict[tuple[str, str], list[Allocation]]:
    found: dict[tuple[str, str], list[Allocation]] = {}
    for a in held:
        found.setdefault((a.username, a.server), []).append(a)
    return found


class GrantHandler(Page):
    """Adjust a student's quota for this period (admins only): an audited grant."""

    @web.authenticated
    async def post(self):
        if not self.is_admin():
            raise web.HTTPError(403, self._("Only admins change quotas."))
        user = self.get_body_argument("user", "").strip().lower()
        course_id = self.get_body_argument("course", "")
        course = self.board.courses().get(course_id)
        try:
            hours = float(self.get_body_argument("hours", ""))
        except ValueError:
            hours = 0.0
        _ = self._
        problems = []
        if not user or "/" in user:
            problems.append(_("Give the student's username."))
        if course is None:
            problems.append(_("There is no course {course!r}.").format(course=course_id))
        elif course.quota.gpu_hours is None:
            problems.append(
                _("{course} has no GPU-hour quota, so there is nothing to adjust.").format(
                    course=course_id
                )
            )
        if grant_problem(hours):
            problems.append(_(grant_problem(hours)))
        if problems:
            raise web.HTTPError(400, " ".join(problems))
        entry = await self.io(
            self.board.store.grant,
            user,
            course_id,
            hours,
            self.current_user["name"],
            self.board.clock(),
        )
        log.info(
            "%s granted %s %+g GPU-hours in %s", self.current_user["name"], user, hours, course_id
        )
        self.redirect(self.url("admin") + f"?done={entry}")


# --- JSON --------------------------------------------------------------------------------------


class Api(Page):
    """JSON with the pages' access rules; errors are ``{"status": ..., "message": ...}``."""

    def show_error(self, status_code: int, message: str) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def send(self, data: dict) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, indent=1))


class GpusApi(Api):
    @web.authenticated
    async def get(self):
        scope = self.scope(self.get_argument("course", ""))
        self.send({"gpus": await self.io(self.board.gpus, scope)})


class QueueApi(Api):
    @web.authenticated
    async def get(self):
        scope = self.scope(self.get_argument("course", ""))
        self.send({"queue": await self.io(self.board.queue, scope)})


class QuotasApi(Api):
    @web.authenticated
    async def get(self):
        scope = self.scope(self.get_argument("course", ""))
        rows = await self.io(self.board.quotas, scope)
        args = {
            k: self.get_argument(k, d) for k, d in (("q", ""), ("sort", "user"), ("order", "asc"))
        }
        self.send({"quotas": aggregate.filter_sort(rows, **args)})


class HistoryApi(Api):
    @web.authenticated
    async def get(self):
        span = self.get_argument("range", "day")
        if span not in aggregate.RANGES:
            raise web.HTTPError(400, self._("range must be one of hour, day or week."))
        course = self.get_argument("course", "")
        scope = self.scope(course)
        if scope is not None and not course:
            course = scope[0]  # a course's staff see their (first) course
        self.send(await self.io(self.board.history, span, course or None))


class MeApi(Api):
    @web.authenticated
    async def get(self):
        name, groups = self.current_user["name"], self.current_user.get("groups") or []
        self.send({"user": name, "courses": await self.io(self.board.me, name, groups)})


class MetricsHandler(Page):
    """Prometheus exposition for a hub token with :data:`METRICS_SCOPE`, or an admin."""

    def check_hub_user(self, model):
        if model.get("admin") or METRICS_SCOPE in (model.get("scopes") or []):
            return model
        raise UserNotAllowed(model)

    async def get(self):
        if self.current_user is None:
            raise web.HTTPError(
                403,
                self._(
                    "Scraping needs a hub token with the scope {scope} (the token of the "
                    "launcher-metrics service, in <data_dir>/launcher-metrics-token) or an "
                    "admin's token, sent as the header 'Authorization: token ...'."
                ).format(scope=METRICS_SCOPE),
            )
        snapshot = await self.io(self.board.snapshot)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(exposition(snapshot))

    def show_error(self, status_code: int, message: str) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message)


def app(prefix: str, board: Board, sample_interval: int = 60, **site) -> web.Application:
    """The dashboard at ``prefix``; ``site``: :func:`~launcher.services.page.site_settings`
    (the site's name, default language and time zone)."""
    return make_app(
        prefix,
        [
            ("", IndexHandler),
            ("admin", OverviewHandler),
            (f"course/({COURSE})", OverviewHandler),
            ("me", MeHandler),
            ("actions/(release|stop)", ActionHandler),
            ("grant", GrantHandler),
            ("api/gpus", GpusApi),
            ("api/queue", QueueApi),
            ("api/quotas", QuotasApi),
            ("api/history", HistoryApi),
            ("api/me", MeApi),
            ("metrics", MetricsHandler),
        ],
        board.catalog,
        board=board,
        sample_interval=sample_interval,
        **site,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[launcher-dashboard] %(message)s")
    site = load_site()
    cat = catalog.for_site(site)
    try:
        units = gpu_inventory(catalog.effective_site(site))
    except GpuConfigError as exc:
        log.warning("no GPUs on the dashboard (%s)", exc)
        units = []
    readings = LiveReadings(lambda: gpu_metrics.read(site.gpus.nvidia_smi), units)
    board = Board(cat, units, readings, zone=site.hub.timezone)  # quota periods: the site's
    Sampler(cat.store, units, readings, site.dashboard).start()
    listen(app(service_prefix(), board, site.dashboard.sample_interval, **site_settings(site)), log)


if __name__ == "__main__":
    raise SystemExit(lifecycle.run_service(main))

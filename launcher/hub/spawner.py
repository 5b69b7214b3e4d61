"""CourseSpawner: DockerSpawner that runs each student's course image with a persistent home.

start() is one straight line, the steps a student sees in the progress bar, in this order:
the course -> admission (the GPU quota) -> the image, present (downloaded if need be) and
able to run on the course's GPUs -> the GPU grant (the queue when all are busy) -> the start
line (a few container starts at once, see launcher.hub.admission) -> the container (created,
started) -> JupyterLab answering. Nothing is held or charged while the image downloads, and
the image is inspected once for every step. Each step bounds its own time (the GPU queue,
the download's stalls, the container, JupyterLab), so no start fails because it waited in
a line; a start the hub did not finish (a restart) is resumed by the next hub in its place.
Containers are recreated on every start (``remove=True``), so a new tag or setting always
takes effect; the workspace is a named volume that neither stop nor the hub removes.

Every step and refusal is a sentence in the student's language (``reader``: the language
their browser asked the start in, else the one of their last start, else the site's), with
times in the site's time zone; the log stays English.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from pathlib import Path

import docker.errors
from docker.types import DeviceRequest
from dockerspawner import DockerSpawner
from jupyterhub import orm
from jupyterhub.spawner import SpawnException
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import object_session
from tornado.httpclient import AsyncHTTPClient
from traitlets import (
    Bool,
    Dict,
    Float,
    Instance,
    Integer,
    List,
    TraitError,
    Unicode,
    default,
    validate,
)

from launcher import catalog, dockerhost, i18n, localtime, names
from launcher.catalog import Catalog
from launcher.courses import STAFF, course_to_start, materials_dir, memberships
from launcher.gpu.allocator import eligible_units
from launcher.gpu.broker import CourseRules, GpuBroker, GpuRefusal, Grant
from launcher.gpu.inventory import Unit
from launcher.hub import container
from launcher.hub.admission import Slot, StartGate
from launcher.i18n import Reader, Translate
from launcher.images import hostcheck
from launcher.images.matrix import tag_for_image
from launcher.images.pull import PullError, pull, stalled
from launcher.images.refs import resolve as resolve_image
from launcher.settings import Course
from launcher.store import off_loop, utcnow

STATE_VERSION = 1


class CourseSpawner(DockerSpawner):
    """One container per student and course, from the course's pinned catalog image."""

    courses = Dict(
        config=True,
        help="""The course catalog: course id -> course settings (title, image, students,
        instructors, resources), as validated from the site file.

        Example::

            c.CourseSpawner.courses = {
                "demo": {"title": "Demo", "image": "launcher/pytorch:2.13-cpu",
                         "students": ["student1"], "instructors": ["teacher"]},
            }
        """,
    )

    name_prefix = Unicode(
        "launcher",
        config=True,
        help="""Prefix of every container and volume name this hub creates, e.g. ``launcher``
        gives ``launcher_student1_demo`` and ``launcher_home_student1_demo``.""",
    )

    remove = Bool(
        True,
        config=True,
        help="""Remove the container when the server stops (default True), so that the next
        start always uses the course's current image and settings. The home volume is kept.""",
    )

    http_timeout = Integer(
        120,
        config=True,
        help="Seconds to wait for JupyterLab to answer after the container started.",
    )

    start_timeout = Integer(
        24 * 3600,
        config=True,
        help="""Seconds JupyterHub lets start() take in all, e.g. 86400. Each step bounds its
        own time (``GpuBroker.queue_timeout``, ``pull_stall_timeout``, ``container_timeout``,
        ``http_timeout``), and waiting in the start line never fails a start, so this is only
        a last resort; it must not be shorter than the GPU queue's time-out.""",
    )

    container_timeout = Integer(
        120,
        config=True,
        help="""Seconds the engine may take to create and start the container once the start
        is admitted, e.g. 120; the start then fails with a sentence (nothing is lost).""",
    )

    start_gate = Instance(
        StartGate,
        allow_none=True,
        config=True,
        help="""The hub's one start line, shared by every server: at most ``slots`` container
        starts at once, the others wait their turn in the order they asked, e.g.
        ``c.CourseSpawner.start_gate = StartGate(2)``. None: no limit.""",
    )

    store_url = Unicode(
        "sqlite://",
        config=True,
        help="""SQLAlchemy URL of the launcher's store (GPU allocations and usage ledger), e.g.
        ``sqlite:////var/lib/launcher/launcher.sqlite`` or ``postgresql://launcher@db/launcher``.""",
    )

    gpu_broker = Instance(
        GpuBroker,
        allow_none=True,
        config=True,
        help="""The hub's one GPU broker, shared by every server: made by the hub's
        configuration (launcher.hub.config) from the GPU inventory and the store, with the
        site's ``gpus.when_full`` and ``gpus.queue_timeout``, e.g.
        ``c.CourseSpawner.gpu_broker = GpuBroker(store, units, when_full="queue")``.
        None: no GPUs (a course that asks for one is refused with a sentence).""",
    )

    gpu_uuids = List(Unicode(), help="The GPU units this server holds (set at start).")

    session_pip_index_url = Unicode(
        "",
        config=True,
        help="""pip index for ``pip install`` inside student sessions, e.g.
        ``https://pypi.example.edu/simple`` (sets PIP_INDEX_URL in every container).""",
    )

    session_ca_bundle = Unicode(
        "",
        config=True,
        help="""Host path of a PEM bundle mounted read-only into every student container and
        trusted by pip, requests and OpenSSL there, e.g. ``/etc/ssl/certs/ca-certificates.crt``
        on a campus whose HTTPS goes through an intercepting proxy.""",
    )

    registry_mirror = Unicode(
        "",
        config=True,
        help="""Registry that replaces the registry of every course image, e.g.
        ``mirror.example.edu/dockerhub`` or ``127.0.0.1:5000``: ``launcher/pytorch:2.13-cpu``
        then runs as ``mirror.example.edu/dockerhub/launcher/pytorch:2.13-cpu``.""",
    )

    pull_stall_timeout = Integer(
        60,
        config=True,
        help="""Seconds a start's image download may go without receiving a byte before it
        fails with a sentence (a registry or mirror that accepts and never answers), e.g. 60.
        Downloads run on their own connection and thread, so one never delays other starts.""",
    )

    min_free_disk_gb = Float(
        5,
        config=True,
        help="""Gigabytes the Docker engine's disk must keep free for a new session to start,
        e.g. 5; 0: no check. (Docker volumes have no size limit of their own.)""",
    )

    materials_root = Unicode(
        "",
        config=True,
        help="""Host directory under which each course's materials directory is created when
        the course names none, e.g. ``/var/lib/launcher/materials`` gives
        ``/var/lib/launcher/materials/dl101``.""",
    )

    ssh_authorized_keys = Unicode(
        "",
        config=True,
        help="""OpenSSH public key line(s) the sshd in a container of a course with SSH on
        accepts: the hub's SSH endpoint's (set by the hub's configuration from
        ``ssh.enabled``), e.g. ``ssh-ed25519 AAAA... launcher ssh endpoint``. Empty: no sshd
        starts in any container.""",
    )

    ssh_agent_forwarding = Bool(
        False,
        config=True,
        help="""Let the sshd in the containers forward a student's ssh-agent that they
        forwarded to the hub's SSH endpoint (``ssh -A``; the site's ``ssh.agent_forwarding``),
        e.g. ``True``. Off by default: a forwarded agent signs for whoever reaches it.""",
    )

    language = Unicode(
        i18n.DEFAULT,
        config=True,
        help="""The site's language (``hub.language``) for the progress messages and refusals
        of a start whose student asked for no language the hub has (their choice on the hub's
        pages, then their browser's Accept-Language, come first): ``en`` or ``zh_CN``, e.g.
        ``c.CourseSpawner.language = "zh_CN"``.""",
    )

    timezone = Unicode(
        localtime.DEFAULT_ZONE,
        config=True,
        help="""The site's time zone (``hub.timezone``, an IANA name) for the times a student
        reads, e.g. ``Asia/Shanghai`` (the store and the log keep UTC).""",
    )

    @validate("language")
    def _valid_language(self, proposal):
        return i18n.normalize(proposal["value"]) or i18n.DEFAULT

    @validate("timezone")
    def _valid_timezone(self, proposal):
        problem = localtime.zone_problem(proposal["value"])
        if problem:
            raise TraitError(problem)
        return proposal["value"] or localtime.DEFAULT_ZONE

    # --- who reads it ----------------------------------------------------------------------

    _reader: Reader | None = None  # this start's, once decided
    _language = ""  # the language of the last start (kept in the server's state)

    @property
    def reader(self) -> Reader:
        """Who reads this server's progress and refusals: the language of its current (or
        last) start, the site's time zone. ``reader.lang`` is the language JupyterLab gets."""
        if self._reader is None:
            return Reader(self._language or self.language, self.timezone)
        return self._reader

    def _decide_reader(self) -> Reader:
        """The language of this start: that of the request that asked for it (its language
        cookie, then Accept-Language, then the site's), else (a start through the API
        without one, a start the hub resumes) the language of the server's last start, else
        the site's; remembered in the server's state for the next one."""
        request = getattr(self.handler, "request", None)
        if request is not None:
            lang = i18n.from_request(request, self.language)
        else:
            lang = self._language or self.language
        self._language = lang
        self._reader = Reader(lang, self.timezone)
        return self._reader

    # --- course resolution ---------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The course catalog: the site file's courses plus the store's (read at each start)."""
        return catalog.shared(self.courses, self.store_url)

    def _memberships(self, courses: dict[str, Course]) -> dict[str, str]:
        """Course id -> this user's role, from the rosters and the user's course groups."""
        return memberships(courses, self.user.name, [g.name for g in self.user.groups])

    def _course(self) -> tuple[str, Course, str]:
        """(course id, course, role) of this server: a named server runs the course of its
        name, the default server the user's first course."""
        _ = self.reader._
        courses = self.catalog.courses()
        mine = self._memberships(courses)
        course_id = course_to_start(self.name, mine)
        if not mine:
            raise SpawnException(
                _(
                    "{user} is not on the roster of any course on this hub. Ask your "
                    "instructor to add you to the course roster."
                ).format(user=self.user.name),
                reason="not_enrolled",
                status_code=403,
            )
        if course_id not in mine:
            raise SpawnException(
                _(
                    "{user} is not enrolled in a course called {course}. Your courses: "
                    "{courses}; open one at /hub/spawn/{user}/COURSE."
                ).format(user=self.user.name, course=repr(course_id), courses=", ".join(mine)),
                reason="not_enrolled",
                status_code=404,
            )
        for other in self.user.spawners.values():
            if other is not self and other.active and getattr(other, "course_id", "") == course_id:
                if other.name:
                    text = _(
                        "Your {course} session is already running as your server {server}; "
                        "use that one (one session per course keeps your workspace safe)."
                    )
                else:
                    text = _(
                        "Your {course} session is already running as your default server; use "
                        "that one (one session per course keeps your workspace safe)."
                    )
                raise SpawnException(
                    text.format(course=course_id, server=repr(other.name)),
                    reason="course_running",
                    status_code=409,
                )
        return course_id, courses[course_id], mine[course_id]

    def _object_name_default(self):
        """One container per user and course: ``{prefix}_{user}_{course}`` (set at each start,
        with the course the server starts for; kept in the server's state)."""
        return names.container_name(self.name_prefix, self.user.name, self.course_id or "none")

    # --- user options: only catalog images ever run ---------------------------------------

    @default("apply_user_options")
    def _default_apply_user_options(self):
        def refuse_options(spawner, user_options):
            if user_options:
                keys = ", ".join(sorted(map(str, user_options)))
                # JupyterHub has saved them as this server's defaults for its next starts:
                # forget them, or every later start would be refused too
                spawner.user_options = {}
                if spawner.orm_spawner is not None:
                    spawner.orm_spawner.user_options = {}
                    object_session(spawner.orm_spawner).commit()
                _ = spawner._decide_reader()._  # before start(): the request is the same
                raise SpawnException(
                    _(
                        "This hub runs only your course's image; the option(s) {options} "
                        "cannot be set when starting a server."
                    ).format(options=keys),
                    reason="user_options",
                    status_code=400,
                )

        return refuse_options

    async def check_allowed(self, image):
        _ = self.reader._
        raise SpawnException(
            _("Image {image} is not this course's image; only catalog images run here.").format(
                image=repr(image)
            ),
            reason="image",
            status_code=400,
        )

    # --- progress ------------------------------------------------------------------------

    def _emit(self, progress: int, message: str) -> None:
        self._events.append({"progress": progress, "message": message})
        self._events_changed.set()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._events: list[dict] = []
        self._events_changed = asyncio.Event()
        self._image_info: dict | None = None  # the course image, inspected once per start

    async def progress(self):
        """Yield the steps of the current start as they happen (no polling)."""
        events, sent = self._events, 0
        while True:
            if self._events is not events:  # a new start began: follow it from its first step
                events, sent = self._events, 0
            while sent < len(events):
                yield events[sent]
                sent += 1
            self._events_changed.clear()
            if sent < len(self._events) or self._events is not events:
                continue
            await self._events_changed.wait()

    # --- start ---------------------------------------------------------------------------

    async def start(self):
        self._events = []
        self.last_stop = {}
        self._decide_reader()
        began, clock = utcnow(), asyncio.get_running_loop().time()
        try:
            ip_port = await self._start(began)
        except asyncio.CancelledError as exc:  # the hub is stopping: the next hub resumes it
            self._record_spawn(began, clock, exc)
            raise
        except BaseException as exc:
            self._record_spawn(began, clock, exc)
            await self._start_over()
            raise
        await self._start_over(wait=False)
        self._ran = True
        # the start is over when JupyterHub has seen JupyterLab answer (or given up on it)
        finished = getattr(self, "_spawn_future", None)
        if isinstance(finished, asyncio.Future):
            finished.add_done_callback(lambda f: self._record_spawn(began, clock, _failure(f)))
        else:
            self._record_spawn(began, clock, None)
        return ip_port

    async def _start(self, began):
        self._image_info = None
        try:
            return await self._start_steps(began)
        except SQLAlchemyError as exc:  # the store does not answer: a sentence, nothing held
            self.log.error(
                "The launcher's store failed during the start of %s: %s", self._log_name, exc
            )
            _ = self.reader._
            raise SpawnException(
                _(
                    "The launcher's database does not answer right now, so your server cannot "
                    "start. Try again in a minute; if it keeps failing, tell the admin."
                ),
                reason="store_unavailable",
                status_code=503,
            ) from None

    async def _start_steps(self, began):
        reader = self.reader
        _ = reader._
        course_id, course, role = await off_loop(self._course)
        since = await off_loop(
            self.catalog.store.start_asked, self.user.name, self.name, course_id, began
        )
        if since < began:
            self._emit(
                3,
                _(
                    "The hub restarted while your server was starting. Your start goes on "
                    "where it was and keeps its place in line (you asked at {time})."
                ).format(time=reader.clock(since, seconds=True)),
            )
        self._emit(5, _("Preparing your {course} environment").format(course=course.title))
        self._apply_course(course_id, course, role)
        # the one decision of this server's course: the culler and the service pages read it
        await off_loop(
            self.catalog.store.server_started,
            self.user.name,
            self.name,
            course_id,
            self.object_name,
            utcnow(),
        )
        self.share_with_staff(course_id, course)
        rules = CourseRules.of(course)
        await self._refuse_a_full_disk()
        await self._place(course_id)
        cpu_only = await self._admit(course_id, rules)
        await self._image_ready()
        if cpu_only is not None:
            self._use_grant(cpu_only)
        else:
            await self._assign_gpus(course_id, rules, self._runnable_units(rules), since)
        try:
            slot, answered = await self._enter_line(since), False
            try:
                ip_port = await self._start_container()
                self._emit(90, _("Container is running; waiting for JupyterLab to answer"))
                answered = await self._jupyterlab_answers(*ip_port)
            finally:
                if slot is not None:  # the next in line enters; only a success's time counts
                    self.start_gate.leave(slot, measured=answered)
        except BaseException:
            await self.broker.release(self.user.name, self.name, "start_failed")
            raise
        return ip_port

    async def _start_over(self, wait: bool = True) -> None:
        """The start is over (ready, or failed with a sentence): the next hub has nothing of
        it to resume (a row left by a store that does not answer is dropped by the next hub).
        ``wait=False``: a ready server does not wait for the write (its next start comes after
        a stop); a failed one does, or a retry at once would look like a resumed start."""
        written = self._write(
            "mark the start as over", self.catalog.store.start_over, self.user.name, self.name
        )
        if wait:
            await written

    def _write(self, what: str, call, *args) -> asyncio.Future:
        """``call(*args)``, a store write, on a thread: awaitable, never raises (a write that
        fails is logged; nothing a student waits for depends on it)."""

        def write():
            try:
                call(*args)
            except Exception as exc:  # noqa: BLE001
                self.log.warning("Could not %s of %s: %s", what, self._log_name, exc)

        return asyncio.get_running_loop().run_in_executor(None, write)

    # --- the start line (admission control) ---

    async def _enter_line(self, since) -> Slot | None:
        """A place among the starts running at once; the student sees their number and an
        estimate while they wait (and again when they come back to the page)."""
        if self.start_gate is None:
            return None
        _ = self.reader._

        def waiting(position: int, length: int, seconds: float) -> None:
            self._emit(
                44,
                _(
                    "Many classmates are starting their servers: you are number {position} of "
                    "{length} in line to start; about {duration}"
                ).format(position=position, length=length, duration=_duration(seconds, _)),
            )

        return await self.start_gate.enter(since, on_wait=waiting)

    async def _start_container(self) -> tuple[str, int]:
        try:
            return await asyncio.wait_for(super().start(), self.container_timeout)
        except TimeoutError:
            _ = self.reader._
            raise SpawnException(
                _(
                    "The Docker engine did not create and start your container within "
                    "{seconds} s; the server is busy. Your files are safe: try again in a "
                    "minute, and tell the admin if it keeps happening."
                ).format(seconds=self.container_timeout),
                reason="container_timeout",
                status_code=503,
            ) from None

    async def _jupyterlab_answers(self, ip: str, port: int) -> bool:
        """Wait (within the start's slot) until JupyterLab answers HTTP, so that the next
        start enters as soon as this one is done; JupyterHub's own check then passes at its
        first try. Bounded by ``http_timeout`` (JupyterHub's message follows if it lapses);
        False when it lapsed."""
        base = self.server.base_url if self.server is not None else "/"
        url = f"http://{ip}:{port}{base}api"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.http_timeout
        while loop.time() < deadline:
            if await _answers(url):
                return True
            await asyncio.sleep(0.2)
        return False

    def _record_spawn(self, began, clock: float, failure: BaseException | None) -> None:
        """One row of the spawn-duration histogram (the dashboard's /metrics), written off the
        event loop; a timing that cannot be written is logged, never breaks a start."""
        seconds = asyncio.get_running_loop().time() - clock
        reason = (getattr(failure, "reason", None) or type(failure).__name__) if failure else ""
        self._write(
            "record the start",
            self.catalog.store.record_spawn,
            self.user.name,
            self.course_id or self.name,
            self.name,
            began,
            seconds,
            "failed" if failure else "ready",
            str(reason)[:64],
        )

    def share_with_staff(self, course_id: str, course: Course) -> None:
        """This server opens for its course's TAs and instructors (the rosters', and the
        members of the course's staff groups), and for nobody else: a JupyterHub share with
        each of them, every other share of it revoked. At each start and, while it runs, at
        the hub's periodic sync (so a TA added or removed gains or loses it within a minute).

        The hub's roles cannot say "this course's server" (a group filter reaches every server
        of a student, their other courses' too), and a share with a *group* is not honoured
        for the OAuth tokens that open a server (JupyterHub 6.1), hence one share per person.
        """
        db = object_session(self.orm_spawner)
        # the catalog of now: the rosters, and the identity provider's groups the course maps
        # (not the hub's course-ID-tas groups, which follow a person's next login)
        staff = set(course.instructors) | set(course.tas)
        for name in [*course.groups.tas, *course.groups.instructors]:
            group = orm.Group.find(db, name)
            staff |= {u.name for u in group.users} if group is not None else set()
        staff.discard(self.user.name)
        for share in list(self.orm_spawner.shares):
            if share.group is not None or share.user.name not in staff:
                orm.Share.revoke(db, self.orm_spawner, share.group or share.user)
        for name in sorted(staff):
            person = orm.User.find(db, name)
            if person is not None:
                orm.Share.grant(db, self.orm_spawner, person)

    # --- GPUs ---

    @property
    def broker(self) -> GpuBroker:
        if self.gpu_broker is None:  # a hub without GPUs
            self.gpu_broker = GpuBroker(self.catalog.store, [])
        return self.gpu_broker

    _docker_root: str | None = None  # the engine's data directory (DockerRootDir), asked once

    async def _refuse_a_full_disk(self) -> None:
        """No new session while the engine's disk (images, containers, every workspace) has
        less than ``min_free_disk_gb`` free: a full disk breaks every running session and the
        hub's own store, so starting one more is refused with a sentence instead."""
        if not self.min_free_disk_gb:
            return
        cls = type(self)
        if cls._docker_root is None:
            cls._docker_root = (await self.docker("info")).get("DockerRootDir", "")
        try:
            usage = shutil.disk_usage(cls._docker_root)
        except OSError:  # an engine on another machine: its disk is not ours to measure
            return
        free = usage.free / 1e9
        if free < self.min_free_disk_gb:
            _ = self.reader._
            raise SpawnException(
                _(
                    "This server's disk is nearly full ({free} GB free of {total} GB; at least "
                    "{kept} GB are kept free so that nobody's work is lost). New sessions "
                    "cannot start now; please tell the admin."
                ).format(
                    free=f"{free:.1f}",
                    total=f"{usage.total / 1e9:.0f}",
                    kept=f"{self.min_free_disk_gb:g}",
                ),
                reason="disk_full",
                status_code=503,
            )

    async def _place(self, course_id: str) -> None:
        """Where the server may run: this host's engine (the swarm's spawner picks the
        nodes here, launcher.hub.swarmspawner)."""

    async def _admit(self, course_id: str, rules: CourseRules) -> Grant | None:
        """The quota, before anything is downloaded or held: a sentence when it is spent (or
        the CPU-only grant of a course that falls back to the CPU)."""
        try:
            return await self.broker.admit(self.user.name, course_id, rules, self.reader)
        except GpuRefusal as exc:
            raise SpawnException(exc.message, reason=exc.reason, status_code=exc.status) from None

    def _runnable_units(self, rules: CourseRules) -> set[str]:
        """The course's GPUs the image can run on; a sentence when it runs on none of them
        (a driver too old for its CUDA, an architecture it was not built for)."""
        eligible = eligible_units(self.broker.units, rules.policy)
        labels = self._image_info["Config"].get("Labels")
        tag = tag_for_image(self.image)
        _ = self.reader._
        problems = {u.uuid: self._refusals(tag, labels, u, _) for u in eligible}
        runnable = {uuid for uuid, found in problems.items() if not found}
        if eligible and not runnable:
            raise SpawnException(
                " ".join(problems[eligible[0].uuid]), reason="gpu_incompatible", status_code=503
            )
        return runnable

    @staticmethod
    def _refusals(tag: str, labels, unit: Unit, _: Translate = str) -> list[str]:
        return hostcheck.refusals(tag, labels, unit.driver_version, [unit.compute_cap], _)

    async def _assign_gpus(
        self, course_id: str, rules: CourseRules, runnable: set[str], since
    ) -> None:
        reader = self.reader
        _ = reader._
        if rules.policy.per_student:
            self._emit(40, _("Assigning your GPU"))

        def queued(position: int, length: int) -> None:
            self._emit(40, self._queued_message(course_id, position, length))

        try:
            grant = await self.broker.acquire(
                self.user.name,
                course_id,
                rules,
                self.name,
                self.object_name,
                on_wait=queued,
                allowed=lambda unit: unit.uuid in runnable,
                since=since,
                reader=reader,
            )
        except GpuRefusal as exc:
            raise SpawnException(exc.message, reason=exc.reason, status_code=exc.status) from None
        self._use_grant(grant)

    def _queued_message(self, course_id: str, position: int, length: int) -> str:
        """What a student waiting in the GPU queue reads."""
        return self.reader._(
            "All GPUs for {course} are busy: you are number {position} of {length} in "
            "the queue; your server starts as soon as a GPU is free"
        ).format(course=course_id, position=position, length=length)

    def _use_grant(self, grant: Grant) -> None:
        if grant.note:
            self._emit(42, grant.note)
        self.gpu_uuids = grant.units
        host_config = {k: v for k, v in self.extra_host_config.items() if k != "device_requests"}
        if grant.units:
            host_config["device_requests"] = [
                DeviceRequest(driver="nvidia", device_ids=list(grant.units), capabilities=[["gpu"]])
            ]
            self._emit(
                42,
                self.reader._("GPU assigned: {units}").format(
                    units=", ".join(self._describe(u) for u in grant.units)
                ),
            )
        self.extra_host_config = host_config

    def _describe(self, uuid: str) -> str:
        for unit in self.broker.units:
            if unit.uuid == uuid:
                memory = f", {unit.memory_mib // 1024} GB" if unit.memory_mib else ""
                return f"{unit.name} ({unit.model}{memory})"
        return uuid

    async def run_post_stop_hook(self):
        """Release the server's GPUs after every stop: asked for, or found dead by poll().

        (JupyterHub does not call stop() for a server whose container already died, but it
        always runs the post-stop hook.) While the store does not answer, the stop does not
        wait: the release is retried in the background, and the hub's reconciliation frees
        whatever is left once the store answers again, so no GPU stays held.
        """
        try:
            if not await self._release():
                asyncio.ensure_future(self._release_later())
        finally:
            result = super().run_post_stop_hook()
            if asyncio.iscoroutine(result):
                await result

    async def _release(self) -> bool:
        """Forget the server's course and free its GPUs; False when the store did not answer."""
        try:
            await off_loop(self.catalog.store.server_stopped, self.user.name, self.name)
            freed = await self.broker.release(self.user.name, self.name, "stopped")
        except SQLAlchemyError as exc:
            self.log.warning("Could not free the GPUs of %s yet: %s", self._log_name, exc)
            return False
        if freed:
            self.log.info("Released %d GPU unit(s) of %s", freed, self._log_name)
        return True

    async def _release_later(self, attempts: int = 5, wait: float = 10) -> None:
        for _ in range(attempts):
            await asyncio.sleep(wait)
            if self.active:  # started again: what it holds now is the new start's
                return
            if await self._release():
                return

    def _apply_course(self, course_id: str, course: Course, role: str) -> None:
        self.course_id = course_id
        self.object_name = names.container_name(self.name_prefix, self.user.name, course_id)
        self.image = resolve_image(course.image, self.registry_mirror)
        volume = names.workspace_volume(self.name_prefix, self.user.name, course_id)
        self.volumes = container.workspace_mount(volume)
        if course.materials.enabled:
            # students read the course's materials, its TAs and instructors write them
            mode = "rw" if role in STAFF else "ro"
            source = self._materials_dir(course_id, course)
            self.volumes = {**self.volumes, **container.materials_mount(source, mode)}
        if self.session_ca_bundle:
            self.read_only_volumes = {self.session_ca_bundle: container.SESSION_CA_PATH}
        self.ssh_on = course.ssh.enabled and bool(self.ssh_authorized_keys)
        self.mem_limit = course.resources.mem_limit
        self.mem_limit_text = course.resources.mem_limit
        self.cpu_limit = course.resources.cpu_limit
        self.extra_host_config = {
            **self.extra_host_config,
            **container.host_config(course.resources),
        }
        self.extra_create_kwargs = {**self.extra_create_kwargs, **container.create_kwargs()}

    def _materials_dir(self, course_id: str, course: Course) -> str:
        path = materials_dir(course_id, course, self.materials_root)
        data = Path(self.materials_root).parent if self.materials_root else None
        _ = self.reader._
        if data and (
            data.is_relative_to(path)
            or (path.is_relative_to(data) and not path.is_relative_to(self.materials_root))
        ):
            raise SpawnException(
                _(
                    "The materials folder of {course} ({path}) holds the hub's own data "
                    "directory ({data}: its database and secrets), which its staff could then "
                    "write. Please tell the admin to give the course a folder of its own."
                ).format(course=course_id, path=path, data=data),
                reason="materials",
                status_code=503,
            )
        try:
            _ensure_materials_dir(path)
        except OSError as exc:
            raise SpawnException(
                _(
                    "The materials folder of {course} ({path}) cannot be prepared on the "
                    "server ({error}). Please tell the admin."
                ).format(course=course_id, path=path, error=exc.strerror),
                reason="materials",
                status_code=503,
            ) from None
        return str(path)

    async def _image_ready(self) -> None:
        """The course image present on the engine (downloaded, showing bytes, when the pull
        policy allows) and inspected once: ``_image_info`` feeds the GPU check and the
        container's command."""
        image = self.image
        _ = self.reader._
        self._emit(10, _("Checking the course image {image}").format(image=image))
        info = None if self.pull_policy == "always" else await self._inspect(image)
        if info is None:
            if self.pull_policy == "never":
                raise SpawnException(
                    _(
                        "The course image {image} is not installed on this server yet. Please "
                        "tell your instructor or the admin (they can build it with `launcher "
                        "images build` or `make up`)."
                    ).format(image=image),
                    reason="image_missing",
                    status_code=503,
                )
            await self._pull(image)
            info = await self._inspect(image)
        self._image_info = info

    async def _inspect(self, image: str) -> dict | None:
        try:
            return await self.docker("inspect_image", image)
        except docker.errors.ImageNotFound:
            return None

    async def _pull(self, image: str) -> None:
        """Download the image on a connection and thread of its own (DockerSpawner runs every
        other Docker call of the hub on one thread, which a download must not hold), showing
        the bytes; a download that receives nothing for ``pull_stall_timeout`` seconds fails
        with a sentence (its thread is left to the engine's own time-out)."""
        _ = self.reader._
        self._emit(12, _("Downloading the course image {image}").format(image=image))
        loop = asyncio.get_running_loop()
        heard = [loop.time()]

        def report(progress):
            loop.call_soon_threadsafe(heard.__setitem__, 0, loop.time())
            loop.call_soon_threadsafe(self._emit, 20, progress.sentence(_))

        def download():
            api = dockerhost.api_client(self.pull_stall_timeout)
            try:
                return pull(api, image, report, stall_timeout=self.pull_stall_timeout, _=_)
            finally:
                api.close()

        task = _in_daemon_thread(loop, download)
        task.add_done_callback(lambda f: f.cancelled() or f.exception())  # also when abandoned
        try:
            while not task.done():
                await asyncio.wait([task], timeout=1)
                if not task.done() and loop.time() - heard[0] > self.pull_stall_timeout:
                    raise PullError(stalled(image, self.pull_stall_timeout, _))
            task.result()
        except PullError as exc:
            raise SpawnException(str(exc), reason="image_pull", status_code=503) from None

    async def pull_image(self, image):
        """DockerSpawner's own image step: done already, before the GPU grant."""
        if self._image_info is None:
            await self._image_ready()

    async def get_command(self):
        """The image's command from the one inspection (DockerSpawner inspects again)."""
        return (self.cmd or self._image_info["Config"]["Cmd"]) + self.get_args()

    async def remove_object(self):
        self._emit(45, self.reader._("Removing your previous container (your files are kept)"))
        await super().remove_object()

    async def create_object(self):
        self._emit(50, self.reader._("Creating your container with your workspace"))
        return await super().create_object()

    async def start_object(self):
        self._emit(60, self.reader._("Starting your container"))
        await super().start_object()

    def get_env(self):
        env = super().get_env()
        env.update(container.container_env(self.course_id, self.image, list(self.gpu_uuids)))
        env.update(
            container.session_mirror_env(self.session_pip_index_url, bool(self.session_ca_bundle))
        )
        env.update(container.session_language_env(self.reader.lang))  # JupyterLab's language
        keys = self.ssh_authorized_keys if self.ssh_on else ""
        env.update(container.ssh_env(keys, self.ssh_agent_forwarding))
        return env

    # --- state ---------------------------------------------------------------------------

    course_id = Unicode("", help="The course this server runs for (set at start).")

    mem_limit_text = Unicode(
        "", help="The course's memory limit as its site file writes it, e.g. 2G (set at start)."
    )

    last_stop = Dict(
        help="""Why this server last stopped when nobody asked it to, for the student's
        pages (launcher.hub.notices): ``{"reason": "oom" | "exited" | "vanished", "course":
        ..., "details": the memory limit or exit code, "at": ISO time}``. Kept in the
        server's state across the stop (and hub restarts); cleared at its next start."""
    )

    ssh_on = False  # the course's servers take SSH sign-ins through the hub's endpoint

    _ran = False  # the server started (or was found running): a death now is worth a word

    def get_state(self):
        state = super().get_state()
        if self.object_id:
            state["launcher_version"] = STATE_VERSION
            state["course_id"] = self.course_id
            state["gpu_uuids"] = list(self.gpu_uuids)
            state["mem_limit_text"] = self.mem_limit_text
        if self.last_stop:
            state["last_stop"] = dict(self.last_stop)
        if self._language:
            state["language"] = self._language
        return state

    def load_state(self, state):
        super().load_state(state)
        self.course_id = state.get("course_id", "") or ""
        self.gpu_uuids = list(state.get("gpu_uuids", []))
        self.mem_limit_text = state.get("mem_limit_text", "") or ""
        self.last_stop = dict(state.get("last_stop") or {})
        self._language = i18n.normalize(state.get("language")) or ""
        self._reader = None  # until the next start decides: the language of the last one
        self._ran = bool(self.object_id)

    def clear_state(self):
        super().clear_state()
        self.course_id = ""
        self.gpu_uuids = []
        self._ran = False  # last_stop stays (the student reads it after the stop), and the
        # language of the start (its notice, and a start the hub resumes, are in it)

    # --- a server that stopped by itself ---

    async def poll(self):
        """DockerSpawner's check, noting why a running server died (its memory limit, an
        exit, its container removed behind the hub's back) for the student's pages."""
        found = await self.get_object()
        state = found["State"] if found else None
        if state is not None and state["Running"]:
            return None
        if self._ran and not self.last_stop:
            self._note_stop(state)
        if state is None:
            return 0
        if self.remove:  # read: now it goes (JupyterHub does not stop a dead server)
            await DockerSpawner.remove_object(self)
        return "ExitCode={ExitCode}, Error='{Error}', FinishedAt={FinishedAt}".format(**state)

    def _note_stop(self, state: dict | None) -> None:
        # "removing": somebody removes it behind the hub's back (the engine killed it first,
        # so it may show an exit code of 137 meanwhile)
        if state is None or state.get("Status") == "removing":
            reason, details = "vanished", ""
        elif state.get("OOMKilled"):
            reason, details = "oom", self.mem_limit_text
        else:
            reason, details = "exited", str(state.get("ExitCode", ""))
        self._record_stop(reason, details)

    def _record_stop(self, reason: str, details: str) -> None:
        """Note why the server stopped by itself, for the student's pages (notices)."""
        self.last_stop = {
            "reason": reason,
            "course": self.course_id,
            "details": details,
            "at": utcnow().isoformat(timespec="seconds"),
        }
        self.log.warning("Server %s stopped by itself: %s", self._log_name, self.last_stop)


def _in_daemon_thread(loop: asyncio.AbstractEventLoop, work) -> asyncio.Future:
    """``work()`` on a thread of its own that never holds up the hub's exit (a download a
    stalled registry keeps waiting must not turn Ctrl-C into a minute's wait)."""
    future = loop.create_future()

    def settle(method, value) -> None:
        if not future.done():
            method(value)

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting start
            outcome = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the hub is stopping
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="launcher-pull", daemon=True).start()
    return future


async def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status: it is up)."""
    try:
        response = await AsyncHTTPClient().fetch(
            url, raise_error=False, request_timeout=2, follow_redirects=False
        )
    except OSError:  # refused, unreachable
        return False
    return response.code != 599


def _duration(seconds: float, _: Translate = str) -> str:
    if seconds < 60:
        return _("{seconds} s").format(seconds=f"{max(5, round(seconds / 5) * 5):.0f}")
    return _("{minutes} min").format(minutes=f"{round(seconds / 60):.0f}")


def _failure(future: asyncio.Future) -> BaseException | None:
    if future.cancelled():
        return asyncio.CancelledError()
    return future.exception()


def _ensure_materials_dir(path: Path) -> None:
    """Create a course's materials folder, owned by the containers' user (uid 1000) so that
    its instructors can write there and its students read it."""
    if path.is_dir():
        return
    path.mkdir(mode=0o755, parents=True)
    uid, gid = (int(n) for n in container.CONTAINER_USER.split(":"))
    if os.geteuid() == 0:
        os.chown(path, uid, gid)

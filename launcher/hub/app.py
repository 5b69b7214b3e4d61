"""The hub process: JupyterHub, with a shutdown that logs no traceback and a periodic
reconciliation of the GPU ledger with the engine.

``launcher up`` runs ``python -m launcher.hub.app -f jupyterhub_config.py``: JupyterHub itself,
configured by the site file.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import quote

import docker
from jupyterhub.app import JupyterHub
from jupyterhub.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient
from tornado.ioloop import PeriodicCallback
from traitlets import Instance, Integer, TraitError, Unicode, validate

from launcher import i18n
from launcher.gpu.broker import GpuBroker
from launcher.hub import pages
from launcher.hub.reconcile import reconcile
from launcher.store import Store, off_loop, shared, utcnow


class LauncherHub(JupyterHub):
    """JupyterHub whose shutdown stops its periodic checks before its managed services, and
    which compares the GPU ledger with the engine every ``gpu_reconcile_interval`` seconds."""

    gpu_broker = Instance(
        GpuBroker,
        allow_none=True,
        config=True,
        help="""The hub's one GPU broker (the spawners' ``CourseSpawner.gpu_broker``), whose
        ledger the hub compares with the engine; None: no GPUs, nothing to compare.""",
    )

    gpu_reconcile_interval = Integer(
        60,
        config=True,
        help="""Seconds between two comparisons of the GPU ledger with the running containers
        (an allocation without its container ends; a container holding a GPU the ledger gives
        to someone else is stopped), e.g. 60; 0: never.""",
    )

    container_prefix = Unicode(
        "launcher",
        config=True,
        help="""The prefix of this hub's container names (``CourseSpawner.name_prefix``), e.g.
        ``launcher``: only containers named ``launcher_...`` are compared.""",
    )

    swarm_gpu_resource = Unicode(
        "",
        config=True,
        help="""Swarm mode: the generic resource the nodes advertise their GPUs as
        (``docker.gpu_resource``), e.g. ``NVIDIA-GPU``; the ledger is then compared with the
        services' tasks and the GPUs the engine gave them. Empty: local containers.""",
    )

    staff_share_interval = Integer(
        60,
        config=True,
        help="""Seconds between two syncs of the running servers' shares with their course's
        staff (a TA added to or removed from a course opens its servers, or stops being able
        to, within this time), e.g. 60.""",
    )

    store_url = Unicode(
        "",
        config=True,
        help="""SQLAlchemy URL of the launcher's store (``CourseSpawner.store_url``), whose
        ``starts`` table lists the starts a previous run of the hub left unfinished, e.g.
        ``sqlite:////var/lib/launcher/launcher.sqlite``; empty: nothing to resume.""",
    )

    resume_token = Unicode(
        "",
        config=True,
        help="""The API token of the hub's ``launcher-resume`` service (scope ``servers``),
        with which the hub asks itself to resume the unfinished starts; new at each start.""",
    )

    resume_within = Integer(
        900,
        config=True,
        help="""Seconds an unfinished start stays worth resuming, e.g. 900: a start asked for
        longer ago than this before the hub came back is dropped (its student starts again
        by hand), so that a hub down for hours does not start servers nobody waits for.""",
    )

    site_name = Unicode(
        "GPU classroom",
        config=True,
        help="""The site's name, on the login page and in every page's title (``hub.name``),
        e.g. ``Deep learning lab``.""",
    )

    site_language = Unicode(
        i18n.DEFAULT,
        config=True,
        help="""The language of a visitor whose browser asks for none the hub has
        (``hub.language``), e.g. ``zh_CN``; the switch on every page and the browser's
        Accept-Language come first.""",
    )

    site_timezone = Unicode(
        "UTC",
        config=True,
        help="""The site's time zone for the times the hub's pages show (``hub.timezone``),
        e.g. ``Asia/Shanghai``.""",
    )

    ssh_endpoint = Unicode(
        "",
        config=True,
        help="""Where students reach the hub's SSH endpoint, as ``HOST:PORT`` the way they
        type it (``ssh -p PORT USER@HOST``), e.g. ``lab.example.edu:2222``; the key page
        (/hub/ssh-keys) shows it. Empty: SSH is off on this site (the key page says so and
        takes no keys).""",
    )

    @validate("ssh_endpoint")
    def _valid_ssh_endpoint(self, proposal):
        try:
            pages.SshFacts.from_endpoint(proposal.value)
        except ValueError as exc:
            raise TraitError(str(exc)) from None
        return proposal.value

    _docker = None  # the engine, for the reconciliation

    def init_handlers(self):
        """JupyterHub's pages in the visitor's language (the home with the course cards),
        the language switch at /hub/language and each user's SSH keys at /hub/ssh-keys."""
        super().init_handlers()
        switch = (url_path_join(self.hub_prefix, "language"), pages.LanguageHandler)
        keys = (url_path_join(self.hub_prefix, "ssh-keys"), pages.SshKeysHandler)
        self.handlers = [switch, keys, *pages.localize(self.handlers)]

    def init_tornado_settings(self):
        super().init_tornado_settings()
        self.tornado_settings[pages.SITE_SETTING] = pages.SiteFacts(
            self.site_name, self.site_language, self.site_timezone
        )
        self.tornado_settings[pages.SSH_SETTING] = pages.SshFacts.from_endpoint(self.ssh_endpoint)

    async def start(self):
        await super().start()
        # in the background: the hub answers meanwhile, and a resumed start that waits in a
        # queue holds up nothing
        self._resuming = asyncio.ensure_future(self.resume_starts())
        if self.gpu_broker is not None and self.gpu_broker.units and self.gpu_reconcile_interval:
            callback = PeriodicCallback(self.reconcile_gpus, 1000 * self.gpu_reconcile_interval)
            self._periodic_callbacks["launcher_gpu_reconcile"] = callback
            callback.start()
        if self.staff_share_interval:
            callback = PeriodicCallback(self.share_with_staff, 1000 * self.staff_share_interval)
            self._periodic_callbacks["launcher_staff_shares"] = callback
            callback.start()

    async def resume_starts(self) -> None:
        """Start again the starts that the previous run of the hub did not finish (it was
        stopped or restarted while they waited in the GPU queue or the start line), all at
        once: each keeps its place, since the spawner finds its first request's time in the
        store (and tells the student that the hub restarted)."""
        if not (self.store_url and self.resume_token):
            return
        try:
            store = await off_loop(shared, self.store_url)  # the spawners' store
            left = await off_loop(store.starts_left)
        except Exception as exc:  # noqa: BLE001  the store is away: nothing to resume now
            self.log.warning("Could not read the unfinished starts: %s", exc)
            return
        oldest = utcnow() - timedelta(seconds=self.resume_within)
        resumed = []
        for row in left:
            if row["since"] >= oldest:
                resumed.append(row)
                continue
            self.log.info("Not resuming the start of %(username)s/%(server)s from %(since)s", row)
            await off_loop(store.start_over, row["username"], row["server"])
        await asyncio.gather(*(self._resume(store, row) for row in resumed))

    async def _resume(self, store: Store, row: dict) -> None:
        user, server = row["username"], row["server"]
        path = f"users/{quote(user)}/" + (f"servers/{quote(server)}" if server else "server")
        try:
            response = await AsyncHTTPClient().fetch(
                url_path_join(self.hub.api_url, path),
                method="POST",
                body="{}",
                headers={"Authorization": f"token {self.resume_token}"},
                raise_error=False,
                request_timeout=60,
            )
        except Exception as exc:  # noqa: BLE001  refused, timed out: the student starts again
            self.log.warning("Could not resume the start of %s/%s: %s", user, server, exc)
            return
        if response.code in (201, 202):
            self.log.info("Resumed the start of %s/%s (asked at %s)", user, server, row["since"])
            return
        # not on a roster any more, already running: nothing to resume
        self.log.warning(
            "Could not resume the start of %s/%s: %s %s",
            user,
            server,
            response.code,
            (response.body or b"")[:200],
        )
        await off_loop(store.start_over, user, server)

    async def share_with_staff(self) -> None:
        """Every running server shared with its course's staff of now (see
        CourseSpawner.share_with_staff); the catalog is read off the event loop."""
        running = [
            s
            for user in self.users.values()
            for s in user.spawners.values()
            if s.active and getattr(s, "course_id", "")
        ]
        if not running:
            return
        try:
            courses = await off_loop(running[0].catalog.courses)
            for spawner in running:
                if spawner.course_id in courses:
                    spawner.share_with_staff(spawner.course_id, courses[spawner.course_id])
        except Exception as exc:  # the store is away: the next round tries again
            self.log.warning("Could not share the running servers with their staff: %s", exc)

    async def reconcile_gpus(self) -> None:
        starting = lambda: {  # noqa: E731
            (user.name, name)
            for user in self.users.values()
            for name, spawner in user.spawners.items()
            if spawner.pending == "spawn"
        }
        try:
            if self._docker is None:  # no call to the engine here: the rounds make them
                self._docker = docker.from_env(timeout=30)
            vanished, strays = await reconcile(
                self.gpu_broker,
                self._docker,
                self.container_prefix,
                starting,
                self.swarm_gpu_resource,
            )
        except Exception as exc:  # the engine or the store is away: the next round tries again
            self.log.warning("Could not compare the GPU ledger with the engine: %s", exc)
            return
        for a in vanished:
            self.log.warning(
                "GPU %s of %s freed: its container %s no longer runs",
                a.unit_uuid,
                a.username,
                a.container,
            )
        for s in strays:
            self.log.error(
                "Container %s holds GPU %s, which the ledger gives to %s: stopped it",
                s.container,
                s.unit,
                ", ".join(s.holders) or "nobody",
            )

    async def cleanup(self):
        # JupyterHub 6.1 stops the managed services while its periodic callbacks still run
        # (only JupyterHub.stop() stops them, and a signal does not call it); a service
        # health check that falls in that window reads a stopped service's server (None) and
        # logs an AttributeError traceback.
        for callback in self._periodic_callbacks.values():
            callback.stop()
        await super().cleanup()


main = LauncherHub.launch_instance

if __name__ == "__main__":
    main()

"""The hub process: JupyterHub, with a shutdown that logs no traceback and a periodic
reconciliation of the GPU ledger with the engine.

``launcher up`` runs ``python -m launcher.hub.app -f jupyterhub_config.py``: JupyterHub itself,
configured by the site file.
"""

from __future__ import annotations

import docker
from jupyterhub.app import JupyterHub
from tornado.ioloop import PeriodicCallback
from traitlets import Instance, Integer, Unicode

from launcher.gpu.broker import GpuBroker
from launcher.hub.reconcile import reconcile
from launcher.store import off_loop


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

    staff_share_interval = Integer(
        60,
        config=True,
        help="""Seconds between two syncs of the running servers' shares with their course's
        staff (a TA added to or removed from a course opens its servers, or stops being able
        to, within this time), e.g. 60.""",
    )

    _docker = None  # the engine, for the reconciliation

    async def start(self):
        await super().start()
        if self.gpu_broker is not None and self.gpu_broker.units and self.gpu_reconcile_interval:
            callback = PeriodicCallback(self.reconcile_gpus, 1000 * self.gpu_reconcile_interval)
            self._periodic_callbacks["launcher_gpu_reconcile"] = callback
            callback.start()
        if self.staff_share_interval:
            callback = PeriodicCallback(self.share_with_staff, 1000 * self.staff_share_interval)
            self._periodic_callbacks["launcher_staff_shares"] = callback
            callback.start()

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
                self.gpu_broker, self._docker, self.container_prefix, starting
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

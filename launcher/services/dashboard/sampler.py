"""The dashboard's sampler: the history its charts draw.

:class:`Sampler` writes one row per GPU unit every ``dashboard.sample_interval``
seconds (utilisation, memory used, how many servers hold it and their course) into the
store and drops the rows older than ``dashboard.retention_days``, from a Tornado timer in
the dashboard's own process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from tornado import ioloop

from launcher.board import aggregate
from launcher.board.live import LiveReadings
from launcher.gpu.inventory import Unit
from launcher.settings import DashboardSettings
from launcher.store import Store, utcnow

log = logging.getLogger("launcher.services.dashboard")


class Sampler:
    def __init__(
        self,
        store: Store,
        units: list[Unit],
        readings: LiveReadings,
        settings: DashboardSettings,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store, self.units, self.readings = store, units, readings
        self.settings, self.clock = settings, clock
        self._timer: ioloop.PeriodicCallback | None = None

    def sample(self) -> int:
        """Write one sample per unit, drop those past the retention; returns the rows written."""
        now = self.clock()
        readings = self.readings.get(max_age=0)
        rows = aggregate.sample_rows(self.units, self.store.active(), readings, now)
        self.store.add_samples(rows)
        self.store.prune(now - timedelta(days=self.settings.retention_days))
        return len(rows)

    async def tick(self) -> None:
        try:
            await asyncio.to_thread(self.sample)
        except SQLAlchemyError as exc:  # the store is busy or away: the next tick tries again
            log.warning("could not write a GPU sample (%s); trying again", exc)

    def start(self) -> None:
        """Sample now, then every ``sample_interval`` seconds (on the current IOLoop)."""
        if not self.units:
            log.info("no GPUs: nothing to sample")
            return
        self._timer = ioloop.PeriodicCallback(self.tick, self.settings.sample_interval * 1000)
        self._timer.start()
        ioloop.IOLoop.current().add_callback(self.tick)
        log.info(
            "sampling %d GPU unit(s) every %ds", len(self.units), self.settings.sample_interval
        )

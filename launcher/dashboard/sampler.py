"""The dashboard's sampler: the GPUs' live readings, and the history its charts draw.

:class:`LiveReadings` asks nvidia-smi at most every few seconds (the pages and ``/metrics``
share it). :class:`Sampler` writes one row per GPU unit every ``dashboard.sample_interval``
seconds (utilisation, memory used, how many servers hold it and their course) into the
store and drops the rows older than ``dashboard.retention_days``, from a Tornado timer in
the dashboard's own process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from tornado import ioloop

from ..gpu import metrics as gpu_metrics
from ..gpu.inventory import Unit
from ..settings import DashboardSettings
from ..store import Store, utcnow
from . import aggregate

log = logging.getLogger("launcher.dashboard")


class LiveReadings:
    """The units' readings from nvidia-smi, asked at most once every ``max_age`` seconds."""

    def __init__(
        self,
        read: Callable[[], dict[str, gpu_metrics.Reading]],
        units: list[Unit],
        max_age: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.read, self.units, self.max_age, self.clock = read, units, max_age, clock
        self._lock = threading.Lock()
        self._value: dict[str, gpu_metrics.Reading] = {}
        self._at: float | None = None

    def get(self, max_age: float | None = None) -> dict[str, gpu_metrics.Reading]:
        """Unit UUID -> reading (a MIG instance gets its GPU's); ``max_age=0`` asks now."""
        max_age = self.max_age if max_age is None else max_age
        with self._lock:
            if self._at is None or self.clock() - self._at >= max_age:
                self._value = gpu_metrics.per_unit(self.read() if self.units else {}, self.units)
                self._at = self.clock()
            return self._value


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

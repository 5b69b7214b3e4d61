"""The GPUs' live readings from nvidia-smi, asked at most every few seconds (the dashboard's
pages, its ``/metrics`` and its sampler share one; ``launcher gpus`` asks once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from launcher.gpu import metrics as gpu_metrics
from launcher.gpu.inventory import Unit


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

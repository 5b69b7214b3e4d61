"""Failed sign-ins, rate-limited per source address and per user (pure; the clock is given).

A source or a user with ``limit`` failures within the last ``window`` seconds is refused
until the oldest of them is ``window`` seconds old: a guesser is slowed to ``limit`` tries
per window, and a student who mistyped is back in at most ``window`` seconds.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class FailureLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self.clock()
        found = self._seen.get(key, deque())
        while found and now - found[0] >= self.window:
            found.popleft()
        if not found:
            self._seen.pop(key, None)
        return found

    def locked_for(self, source: str, user: str) -> float:
        """Seconds until ``source`` and ``user`` may try again (0: now)."""
        left = 0.0
        for key in (("source", source), ("user", user)):
            found = self._recent(key)
            if len(found) >= self.limit:
                left = max(left, self.window - (self.clock() - found[0]))
        return left

    def failed(self, source: str, user: str) -> None:
        now = self.clock()
        for key in (("source", source), ("user", user)):
            found = self._recent(key)
            found.append(now)
            self._seen[key] = found

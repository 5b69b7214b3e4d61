"""Waiting for a condition inside a coroutine: poll it, never sleep a guessed time."""

from __future__ import annotations

import asyncio


async def until(condition, timeout: float = 5, what: str = "the condition") -> None:
    """Poll ``condition()`` every 10 ms until it is true; fail with ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)

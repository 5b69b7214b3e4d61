"""Ports for the servers the tests run (hubs and their proxies, the identity provider, the
registry, PostgreSQL).

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` comes from its ephemeral range
(``net.ipv4.ip_local_port_range``, 32768–60999 by default), the same range every outgoing
connection, every port Docker publishes and every managed service a test hub starts takes
theirs from; and a test's hub may bind the port it was given seconds after it was picked (an
upgrade test runs `launcher upgrade` first). CI once saw a hub's proxy find its pair taken by
another worker's proxy in between. So the tests take their ports below that range, each
pytest-xdist worker from a block of its own, in turn, skipping any that something holds.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import threading

FIRST = 12000
LAST = 32000  # below the ephemeral range
BLOCK = 2000  # ports per worker: ten blocks (the parallel tier runs two workers)


def _block() -> range:
    """This process's block: the controller's (serial tier, no xdist) is the first; worker
    gwN's the (N+1)-th, wrapping round when there are more workers than blocks."""
    match = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    slot = int(match.group(1)) + 1 if match else 0
    start = FIRST + (slot % ((LAST - FIRST) // BLOCK)) * BLOCK
    return range(start, start + BLOCK)


_lock = threading.Lock()
_turn: itertools.cycle | None = None  # made at the first call, once xdist has named the worker


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))  # no SO_REUSEADDR: a port in TIME_WAIT is skipped
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port P of this worker's block such that P .. P+span-1 are free on 127.0.0.1 now
    (``span=2`` for a hub: the proxy's API takes P+1)."""
    global _turn
    with _lock:
        if _turn is None:
            _turn = itertools.cycle(_block())
        for _ in range(BLOCK):
            port = next(_turn)
            if port + span - 1 in _block() and all(_free(port + i) for i in range(span)):
                for _ in range(span - 1):
                    next(_turn)  # the next caller starts after this one's ports
                return port
    raise RuntimeError(f"no {span} free port(s) in {_block()} on 127.0.0.1")

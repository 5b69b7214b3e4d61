"""A server on 127.0.0.1 that accepts connections and never answers: a stalled registry."""

from __future__ import annotations

import contextlib
import socket
import threading


@contextlib.contextmanager
def black_hole():
    """Yield ``host:port`` of a listener that accepts every connection, reads what is sent
    and never writes a byte; everything is closed afterwards."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.2)
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()

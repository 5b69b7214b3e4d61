"""A package index (PEP 503 "simple" pages) served on 127.0.0.1, for image builds.

It stands in for PyTorch's CPU wheel index, or a campus mirror of it, on a machine that
reaches neither: the real wheel, served over HTTP the way pip asks such an index. Every
request is recorded, so a test can tell what pip fetched from it.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote


def _link(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy(src, dest)


@contextlib.contextmanager
def package_index(root: Path, wheels: dict[str, list[Path]]):
    """Serve ``wheels`` (project -> wheel files) under ``http://127.0.0.1:PORT/simple``;
    yields ``(url, requests)`` where ``requests`` is the list of paths asked so far."""
    for project, files in wheels.items():
        folder = root / "simple" / project
        folder.mkdir(parents=True)
        links = []
        for wheel in files:
            _link(wheel, folder / wheel.name)
            links.append(f'<a href="{quote(wheel.name)}">{html.escape(wheel.name)}</a><br>')
        (folder / "index.html").write_text(
            f"<!DOCTYPE html><html><body>{''.join(links)}</body></html>"
        )
    asked: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            asked.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", asked
    finally:
        server.shutdown()
        server.server_close()

"""The endpoint's hub API calls (asynchronous, tornado's client): who a token belongs to,
a user's servers and groups, starting a server and following its progress, and reporting a
session's activity. The service's own token has only the scopes these need (see
launcher.hub.config: SSH_SERVICE_SCOPES)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from launcher.names import server_path

#: seconds one API call may take (the progress stream excepted)
TIMEOUT = 30


class HubError(Exception):
    """The hub said no (``status``: its HTTP status), or did not answer (``status`` 0); the
    message is the hub's own, when it gave one."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class HubApi:
    def __init__(self, url: str, token: str, client: AsyncHTTPClient | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.client = client or AsyncHTTPClient()

    async def _call(self, method: str, path: str, body=None, token: str | None = None):
        request = HTTPRequest(
            self.url + path,
            method=method,
            headers={"Authorization": f"token {token or self.token}"},
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=TIMEOUT,
        )
        try:
            response = await self.client.fetch(request)
        except HTTPClientError as exc:
            raise HubError(_message(exc), exc.code) from None
        except OSError as exc:
            raise HubError(str(exc), 0) from None
        return json.loads(response.body) if response.body else None

    async def whoami(self, token: str) -> str | None:
        """The name of the user ``token`` belongs to; None for a token the hub does not know
        (or one of a service)."""
        try:
            model = await self._call("GET", "/user", token=token)
        except HubError as exc:
            if exc.status in (401, 403):
                return None
            raise
        return model.get("name") if model and model.get("kind", "user") == "user" else None

    async def user(self, name: str) -> dict | None:
        """The user's model (servers and groups); None when the hub has no such user."""
        try:
            return await self._call("GET", f"/users/{quote(name, safe='')}")
        except HubError as exc:
            if exc.status == 404:
                return None
            raise

    async def start(self, name: str, server: str) -> None:
        """Ask for the server to start (a start already under way is no error)."""
        try:
            await self._call("POST", server_path(name, server), body={})
        except HubError as exc:
            if exc.status == 400 and "already" in str(exc).lower():
                return
            raise

    async def follow(self, name: str, server: str, on_event: Callable[[dict], None]) -> None:
        """Hand each event of the server's start (``progress``, ``message``, ``ready``,
        ``failed``) to ``on_event`` until the stream ends."""
        buffer = b""

        def chunk(data: bytes) -> None:
            nonlocal buffer
            buffer += data
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                for line in block.splitlines():
                    if line.startswith(b"data:"):
                        on_event(json.loads(line[5:]))

        request = HTTPRequest(
            self.url + server_path(name, server) + "/progress",
            headers={"Authorization": f"token {self.token}", "Accept": "text/event-stream"},
            streaming_callback=chunk,
            request_timeout=24 * 3600,  # a start bounds its own steps (the GPU queue included)
        )
        try:
            await self.client.fetch(request)
        except HTTPClientError as exc:
            raise HubError(_message(exc), exc.code) from None

    async def activity(self, name: str, server: str, at: datetime) -> None:
        """Tell the hub (and so the idle culler) the server was used at ``at`` (UTC)."""
        stamp = at.replace(microsecond=0).isoformat() + "Z"
        await self._call(
            "POST",
            f"/users/{quote(name, safe='')}/activity",
            body={"last_activity": stamp, "servers": {server: {"last_activity": stamp}}},
        )


def _message(exc: HTTPClientError) -> str:
    body = exc.response.body if exc.response is not None else b""
    try:
        return json.loads(body).get("message") or str(exc)
    except (ValueError, AttributeError):
        return str(exc)

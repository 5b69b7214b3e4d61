"""A student's kernel driven the way JupyterLab drives it: started through the server's REST
API and run over its websocket (Jupyter's messaging protocol, JSON frames), through the hub's
proxy, with an API token the student made for themselves."""

from __future__ import annotations

import asyncio
import json
import uuid

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


class Kernel:
    def __init__(self, session, username: str | None = None, url: str | None = None):
        """``session``: the student's signed-in HubSession; ``url``: the address students use
        (default: the hub's)."""
        self.username = username or session.username
        self.base = f"{url or session.hub.url}/user/{self.username}"
        self.token = session.new_token("test", self.username, expires_in=3600)
        self.verify = session.verify
        started = self.http("POST", "/api/kernels", json={"name": "python3"})
        assert started.status_code == 201, started.text
        self.id = started.json()["id"]

    def http(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(
            method, self.base + path, headers=headers, timeout=60, verify=self.verify, **kwargs
        )

    def alive(self) -> bool:
        """The server answers and still has this kernel."""
        try:
            return self.http("GET", f"/api/kernels/{self.id}").status_code == 200
        except requests.RequestException:
            return False

    loop: asyncio.AbstractEventLoop | None = None
    connection = None  # the websocket kept open by connect(), as JupyterLab keeps it

    def connect(self) -> None:
        """Open the kernel's websocket and keep it open: :meth:`run` then goes through it (a
        student whose notebook stays connected)."""
        self.loop = self.loop or asyncio.new_event_loop()
        self.connection = self.loop.run_until_complete(self._connect())

    def close(self) -> None:
        if self.connection is not None:
            self.loop.run_until_complete(self._close())  # on the loop the socket belongs to
            self.connection = None
        if self.loop is not None:
            self.loop.close()
            self.loop = None

    def run(self, code: str, timeout: float = 60) -> str:
        """Execute ``code`` in the kernel; its standard output (an error raises)."""
        if self.connection is not None:
            return self.loop.run_until_complete(
                asyncio.wait_for(self._run(code, self.connection), timeout)
            )
        return asyncio.run(asyncio.wait_for(self._run(code), timeout))

    async def _close(self) -> None:
        self.connection.close()

    async def _connect(self):
        ws_url = self.base.replace("http", "ws", 1) + f"/api/kernels/{self.id}/channels"
        request = HTTPRequest(
            ws_url,
            headers={"Authorization": f"token {self.token}"},
            validate_cert=self.verify is not False,
            ca_certs=self.verify if isinstance(self.verify, str) else None,
        )
        return await websocket_connect(request)

    async def _run(self, code: str, kept=None) -> str:
        conn = kept or await self._connect()
        msg_id = uuid.uuid4().hex
        conn.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": self.username,
                        "session": uuid.uuid4().hex,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                }
            )
        )
        out, idle, replied = [], False, False
        try:
            while not (idle and replied):
                raw = await conn.read_message()
                if raw is None:
                    raise AssertionError("the kernel's websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream" and content.get("name") == "stdout":
                    out.append(content["text"])
                elif kind == "error":
                    raise AssertionError(f"{content['ename']}: {content['evalue']}")
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied = True
        finally:
            if kept is None:
                conn.close()
        return "".join(out)

"""The Slack emulator with Socket Mode: ``apps.connections.open`` (with the app-level
token) answers a ``ws://`` URL on loopback with a one-time ticket; the websocket there
says ``hello`` as Slack's does, carries envelopes to the app and collects its
acknowledgements.

Knobs for tests: ``faults.add("apps.connections.open", status=500, times=3)`` (the
emulator's ordinary fault plan), ``accepting = False`` (the websocket handshake is
refused, as a firewall in front of ``wss-primary.slack.com`` would), and
``drop_connections()`` (Slack closes every socket, as it does before a refresh).
Answers to the app token mirror ``auth.test``'s: a wrong one is ``invalid_auth``, a bot
token is ``not_allowed_token_type``, an ``xapp-revoked…`` one is ``token_revoked``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from emulators.signed import command_body
from emulators.slack import SlackEmulator

OPEN = "apps.connections.open"


class SocketModeSlackEmulator(SlackEmulator):
    def __init__(self, *, app_token: str = "xapp-1-A0TOLK-1-test", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_token = app_token
        self.accepting = True  # False: the websocket handshake is refused (HTTP 403)
        self.opens: list[tuple[float, str]] = []  # (when, "ok" or the error) per call
        self.sockets: list[web.WebSocketResponse] = []  # open ones
        self.connections = 0  # websockets accepted so far
        self.acks: dict[str, dict[str, Any]] = {}  # envelope_id → the app's acknowledgement
        self._tickets: set[str] = set()
        self._ws_runner: web.AppRunner | None = None
        self.ws_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await super().start(host, port)
        app = web.Application()
        app.router.add_get("/link/", self._handle_link)
        self._ws_runner = web.AppRunner(app, access_log=None)
        await self._ws_runner.setup()
        await web.TCPSite(self._ws_runner, host, 0).start()
        bound_host, bound_port = self._ws_runner.addresses[0][:2]
        self.ws_url = f"ws://{bound_host}:{bound_port}/link/"

    async def close(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._ws_runner is not None:
            await self._ws_runner.cleanup()
            self._ws_runner = None
        await super().close()

    # ----- what a test does ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return any(not ws.closed for ws in self.sockets)

    async def wait_connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.wait_for(lambda: self.connected, timeout=timeout)

    async def drop_connections(self) -> None:
        """Slack closes every socket (it does so before a refresh, or when it restarts)."""
        for ws in list(self.sockets):
            await ws.close()

    async def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Send an envelope (``slash_commands``, ``events_api``, ``interactive``) on the
        open socket and return the app's acknowledgement."""
        ws = next(ws for ws in reversed(self.sockets) if not ws.closed)
        envelope_id = secrets.token_hex(8)
        await ws.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        await self.wait_for(lambda: envelope_id in self.acks, timeout=timeout)
        return self.acks[envelope_id]

    async def command(self, command: str, text: str, **kwargs: Any) -> dict[str, Any]:
        """A slash command through the socket, as Slack sends it; the acknowledgement's
        ``payload`` is what the person sees at once."""
        kwargs.setdefault(
            "response_url", self.new_response_url(channel="C0GENERAL", user="U0ALICE")
        )
        body = dict(parse_qsl(command_body(command, text, **kwargs)))
        return await self.send_envelope("slash_commands", body)

    # ----- HTTP and websocket endpoints -----------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != OPEN:
            return await super()._handle_api(request)
        if fault := self.faults.take(OPEN):
            self.opens.append((time.time(), f"HTTP {fault.status}"))
            return self.faults.response(fault)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not token and request.method == "POST":
            token = str((await request.post()).get("token") or "")
        error = None
        if not token:
            error = "not_authed"
        elif token.startswith("xox"):
            error = "not_allowed_token_type"
        elif token != self.app_token:
            error = "invalid_auth"
        elif token.startswith("xapp-revoked"):
            error = "token_revoked"
        self.opens.append((time.time(), error or "ok"))
        if error:
            return web.json_response({"ok": False, "error": error})
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return web.json_response({"ok": True, "url": f"{self.ws_url}?ticket={ticket}"})

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if not self.accepting or ticket not in self._tickets:
            return web.Response(status=403, text="invalid ticket")
        self._tickets.discard(ticket)  # a URL is good for one connection
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        self.connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": sum(not s.closed for s in self.sockets),
                "debug_info": {"host": "emulator", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("envelope_id"):
                    self.acks[str(data["envelope_id"])] = data
        except asyncio.CancelledError:
            pass
        finally:
            self.sockets.remove(ws)
        return ws

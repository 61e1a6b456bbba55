"""Limits for every connection to Tolk's web server, which aiohttp's server does not
have: a header and a body read deadline, and a cap on open connections (see
``ConnectionGuard``). ``bot.runtime`` wraps aiohttp's protocol in it."""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.logs import Throttled
from bot.core.metrics import Metrics

log = logging.getLogger(__name__)

SPARE_FILES = 256  # descriptors kept for everything else (Slack, providers, the store)

_NOTES = {  # one line a minute at most for each (``Throttled``)
    "header_timeout": "Closed a connection that did not send a request's headers within %g s",
    "body_timeout": "Closed a connection that did not send a request's body within %g s",
    "made_room": "Tolk's server has the most connections it allows (%g): the oldest idle one "
    "was closed to let a new one in",
    "over_cap": "Tolk's server has the most connections it allows (%g), none of them idle: "
    "a new connection was closed at once",
}


class ConnectionGuard:
    """Limits for every connection to the server, as an asyncio protocol around aiohttp's
    own (aiohttp has an idle keep-alive timeout, but no header or body read timeout and no
    connection cap):

    - a request's headers must end within ``header_seconds`` of its first byte (of the
      connection, for the first request), however slowly the bytes trickle in;
    - its body must end within ``body_seconds`` of its headers (told by ``middleware``);
    - at most ``max_connections`` are open. Past that, the oldest connection with no
      request in progress (idle, or still sending headers) is closed to make room; if
      every one has a request in progress, the new connection is closed at once. One log
      line a minute says so; ``tolk_http_connections_closed_total{reason}`` counts each.

    Connections cut off are aborted (no response: none is owed)."""

    def __init__(
        self,
        *,
        max_connections: int,
        header_seconds: float,
        body_seconds: float,
        metrics: Metrics | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.header_seconds = header_seconds
        self.body_seconds = body_seconds
        self.metrics = metrics
        self.server: Callable[[], asyncio.Protocol] | None = None  # aiohttp's, once set up
        self.open: dict[asyncio.Transport, _Guarded] = {}
        self.waiting: dict[_Guarded, None] = {}  # no request in progress, oldest first
        self._notes = {
            reason: Throttled(log, logging.INFO if "timeout" in reason else logging.WARNING)
            for reason in _NOTES
        }
        if metrics is not None:
            metrics.http_connections.set_function(lambda: len(self.open))

    def protocol(self) -> asyncio.Protocol:
        """The protocol factory for ``loop.create_server``."""
        assert self.server is not None, "the aiohttp server is not set up"
        return _Guarded(self, self.server)

    def admit(self, conn: _Guarded, transport: asyncio.Transport) -> bool:
        if len(self.open) >= self.max_connections:
            victim = next(iter(self.waiting), None)
            if victim is None:
                self._closed("over_cap")
                return False
            victim.cut("made_room")
        self.open[transport] = conn
        self.waiting[conn] = None
        return True

    def forget(self, conn: _Guarded) -> None:
        if conn.transport is not None:
            self.open.pop(conn.transport, None)
        self.waiting.pop(conn, None)

    def _closed(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.closed(reason)
        limit = {"header_timeout": self.header_seconds, "body_timeout": self.body_seconds}
        self._notes[reason](_NOTES[reason], limit.get(reason, self.max_connections))

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        conn = self.open.get(request.transport) if request.transport is not None else None
        if conn is None:
            return await handler(request)
        conn.request_started(request)
        try:
            return await handler(request)
        except ConnectionError:
            if conn.cut_reason is None:
                raise
            return web.Response(status=408)  # the connection is gone: nobody reads this
        finally:
            conn.request_ended()


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, with deadlines around it."""

    def __init__(self, guard: ConnectionGuard, server: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self.server = server
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.in_request = False
        self.cut_reason: str | None = None
        self._headers: asyncio.TimerHandle | None = None
        self._body: asyncio.TimerHandle | None = None

    # asyncio's side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # ``loop.create_server`` gives a stream protocol a Transport (TCP or TLS); the
        # base class is only what asyncio.Protocol's signature names.
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"a stream transport was expected, got {type(transport).__name__}")
        self.transport = transport
        if not self.guard.admit(self, transport):
            transport.abort()
            return
        self.inner = self.server()
        self.inner.connection_made(transport)
        self._headers = self._header_deadline()

    def data_received(self, data: bytes) -> None:
        if self.inner is None or self.cut_reason is not None:
            return
        if self._headers is None and not self.in_request and data:
            self._headers = self._header_deadline()  # the first byte of a request
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self.guard.forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    # the application's side (the guard's middleware)
    def request_started(self, request: web.Request) -> None:
        self.in_request = True
        self.guard.waiting.pop(self, None)
        if self._headers is not None:
            self._headers.cancel()
            self._headers = None
        if self._body is not None:
            self._body.cancel()
            self._body = None
        if not request.content.is_eof():
            content = request.content

            def check() -> None:
                self._body = None
                if not content.is_eof():
                    self.cut("body_timeout")

            self._body = asyncio.get_running_loop().call_later(self.guard.body_seconds, check)

    def request_ended(self) -> None:
        """The handler returned. The body deadline stands if the body has not all come
        (aiohttp reads and drops the rest before it closes the connection)."""
        self.in_request = False
        if self.cut_reason is None and self.transport in self.guard.open:
            self.guard.waiting[self] = None

    def cut(self, reason: str) -> None:
        if self.cut_reason is not None:
            return
        self.cut_reason = reason
        self._cancel()
        self.guard.forget(self)
        self.guard._closed(reason)
        if self.transport is not None:
            self.transport.abort()

    def _header_deadline(self) -> asyncio.TimerHandle:
        def expire() -> None:
            self._headers = None
            if not self.in_request:
                self.cut("header_timeout")

        return asyncio.get_running_loop().call_later(self.guard.header_seconds, expire)

    def _cancel(self) -> None:
        for handle in (self._headers, self._body):
            if handle is not None:
                handle.cancel()
        self._headers = self._body = None


def connection_cap(wanted: int) -> int:
    """``wanted``, or fewer when the open-files limit would not leave ``SPARE_FILES``."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, soft - SPARE_FILES))

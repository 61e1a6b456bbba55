"""Socket Mode: slack_bolt's handler on slack_sdk's aiohttp ``SocketModeClient``, with one
change — how a connection is made.

The SDK's ``connect()`` retries a failed connection forever, every ``ping_interval``,
logging a full traceback each time, and never returns until it succeeds, so a bot that
cannot reach Slack could not even be stopped. ``ResilientSocketModeClient`` keeps the
SDK's session monitor, receiver, message processing and acknowledgements, and replaces
only the connection attempt: a fresh ``apps.connections.open`` URL per attempt, and after
a failure one log line with the reason and a pause that doubles from 1 s to 60 s, with
jitter (``bot.core.backoff.Backoff``). The SDK's reconnects (a closed or stale session, a
``disconnect`` from Slack) go through the same path.

``SocketModeLink`` is what the runtime uses: ``start()`` makes the first attempt and
raises ``StartupError`` when Slack refuses ``SLACK_APP_TOKEN`` itself; any other failure
is retried in the background while ``/healthz`` reports ``slack: disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.backoff import Backoff

log = logging.getLogger("bot.socket_mode")

RECONNECT = Backoff(1.0, 60.0)  # read at each use: tests may replace it with a faster one
ATTEMPT_SECONDS = 30.0  # one apps.connections.open plus the websocket handshake
CLOSE_SECONDS = 2.0  # closing the websocket at shut-down
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class StartupError(Exception):
    """Tolk cannot start as configured; the message is one line naming the variable to fix."""


# What a refused token means, and what to do: {error: (what is wrong, what to do)}.
_BOT_TOKEN_HELP = "the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page"
_APP_TOKEN_HELP = (
    "an app-level token (xapp-…, scope connections:write) from your app's Basic Information "
    "→ App-Level Tokens"
)


def reconnect_backoff() -> Backoff:
    return RECONNECT


def token_refused(variable: str, error: str, method: str) -> str:
    """The one line for a token Slack refused at start-up."""
    wanted = _BOT_TOKEN_HELP if variable == "SLACK_BOT_TOKEN" else _APP_TOKEN_HELP
    if error in ("invalid_auth", "not_authed"):
        return (
            f"{variable} is wrong: Slack answered {error} to {method}. "
            f"Copy {wanted} into {variable}."
        )
    if error in ("token_revoked", "account_inactive", "token_expired"):
        return (
            f"{variable} no longer works: Slack answered {error} to {method} (the app was "
            f"uninstalled or its token revoked or rotated). Reinstall the app and put {wanted} "
            f"in {variable}."
        )
    if error == "not_allowed_token_type":
        other = (
            "an app-level token (xapp-…) belongs in SLACK_APP_TOKEN"
            if variable == "SLACK_BOT_TOKEN"
            else "a bot token (xoxb-…) belongs in SLACK_BOT_TOKEN"
        )
        return (
            f"{variable} is the wrong kind of token: Slack answered not_allowed_token_type "
            f"to {method}. Put {wanted} in {variable}; {other}."
        )
    if error == "missing_scope":
        return (
            f"{variable} lacks a scope: Slack answered missing_scope to {method}. Put {wanted} "
            f"in {variable}."
        )
    return f"{variable} does not work: Slack answered {error} to {method}. Check {variable}."


def slack_error(exc: BaseException) -> str | None:
    """The ``error`` of a Slack API answer, if ``exc`` is one."""
    if not isinstance(exc, SlackApiError):
        return None
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else None


def is_refusal(exc: BaseException) -> bool:
    """Slack answered and refused the token: trying again will not help."""
    error = slack_error(exc)
    if error is None or error in TRANSIENT_ERRORS:
        return False
    status = getattr(getattr(exc, "response", None), "status_code", 200)
    return not (status == 429 or status >= 500)


def retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    with contextlib.suppress(TypeError, ValueError):
        value = headers.get("Retry-After") or headers.get("retry-after")
        return float(value) if value is not None else None
    return None


def describe(exc: BaseException) -> str:
    """Why a call to Slack failed, in a few words and without URLs (a websocket URL
    carries a ticket)."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        error = slack_error(exc)
        if error and status not in (None, 200):
            return f"Slack answered {error} (HTTP {status})"
        return f"Slack answered {error}" if error else f"Slack answered HTTP {status}"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"the websocket handshake failed (HTTP {exc.status})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        why = (
            "connection refused"
            if isinstance(os_error, ConnectionRefusedError)
            else os_error.strerror or str(os_error) or type(os_error).__name__
        )
        return f"cannot reach {exc.host}:{exc.port} ({why})"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ResilientSocketModeClient(SocketModeClient):
    """slack_sdk's aiohttp client with one connection attempt at a time and a backing-off
    retry loop around it (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        backoff: Backoff | None = None,
        rand: Callable[[], float] = random.random,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.backoff = backoff or RECONNECT
        self.rand = rand
        self.failures = 0  # consecutive failed attempts
        self.reason: str | None = "not connected yet"
        self.first_attempt: asyncio.Future[BaseException | None] = (
            asyncio.get_running_loop().create_future()
        )

    async def connect(self) -> None:
        """Attempt until connected (or closed): after each failure one log line and a
        growing pause. A first attempt that Slack refuses outright ends here; the link
        turns it into a start-up error."""
        while not self.closed:
            try:
                async with asyncio.timeout(ATTEMPT_SECONDS):
                    await self._attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is reported in one line, then retried
                if self.closed:
                    return
                self.reason = describe(exc)
                if not self.first_attempt.done():
                    self.first_attempt.set_result(exc)
                    if is_refusal(exc):
                        return
                pause = self.backoff.delay(self.failures, self.rand(), retry_after=retry_after(exc))
                self.failures += 1
                log.warning(
                    "Socket Mode: cannot connect to Slack (%s); trying again in %.1f s",
                    self.reason,
                    pause,
                )
                await asyncio.sleep(pause)
            else:
                if self.failures:
                    log.info(
                        "Socket Mode: connected to Slack after %d failed attempts", self.failures
                    )
                self.failures, self.reason = 0, None
                if not self.first_attempt.done():
                    self.first_attempt.set_result(None)
                return

    async def _attempt(self) -> None:
        """One connection, as the SDK's ``connect()`` makes it: the old session closed,
        a new URL, the websocket, the first ping, then the SDK's monitor and receiver."""
        self.auto_reconnect_enabled = False  # the old session's tasks must not reconnect now
        old = self.current_session
        if old is not None and not old.closed:
            with contextlib.suppress(Exception):
                await old.close()
        if self.aiohttp_client_session.closed:
            self.aiohttp_client_session = aiohttp.ClientSession()
        response = await self.web_client.apps_connections_open(app_token=self.app_token)
        self.wss_uri = str(response["url"])
        self.current_session = await self.aiohttp_client_session.ws_connect(
            self.wss_uri,
            autoping=False,
            heartbeat=self.ping_interval,
            proxy=self.proxy,
            ssl=self.web_client.ssl if self.web_client.ssl is not None else True,
        )
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        self.stale = False
        self.last_ping_pong_time = None  # a new session: the old one's pongs say nothing
        log.info("Socket Mode: connected to Slack")
        await self.current_session.ping(f"sdk-ping-pong:{time.time()}".encode())
        if self.current_session_monitor is not None:
            self.current_session_monitor.cancel()
        self.current_session_monitor = asyncio.ensure_future(self.monitor_current_session())
        if self.message_receiver is not None:
            self.message_receiver.cancel()
        self.message_receiver = asyncio.ensure_future(self.receive_messages())

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        """The SDK's reconnect (a closed or stale session, a ``disconnect`` message):
        the same lock, then ``connect()``, which fetches its own fresh URL."""
        acquired = False
        try:
            try:
                acquired = await asyncio.wait_for(self.connect_operation_lock.acquire(), timeout=5)
            except TimeoutError:
                acquired = False
            if force or (acquired and not await self.is_connected()):
                await self.connect()
        finally:
            if acquired:
                self.connect_operation_lock.release()


class _BoltHandler(AsyncSocketModeHandler):
    """slack_bolt's handler (its ``handle`` runs the Bolt app for each envelope and sends
    the acknowledgement) on a client made here."""

    def __init__(self, app: AsyncApp, client: SocketModeClient) -> None:
        self.app = app
        self.app_token = client.app_token
        self.client = client
        client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]


class SocketModeLink:
    """The Socket Mode connection of a running Tolk: started, watched, closed."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        api_url: str,
        *,
        backoff: Backoff | None = None,
        rand: Callable[[], float] = random.random,
        ping_interval: float = 10.0,
    ) -> None:
        sdk_log = logging.getLogger("bot.socket_mode.sdk")
        if sdk_log.level == logging.NOTSET:
            sdk_log.setLevel(logging.WARNING)  # our own lines say what matters
        self.client = ResilientSocketModeClient(
            app_token=app_token,
            logger=sdk_log,
            # its own client: no retry handlers, so one attempt is one call
            web_client=AsyncWebClient(base_url=api_url, timeout=10, retry_handlers=[]),
            ping_interval=ping_interval,
            backoff=backoff,
            rand=rand,
        )
        self.handler = _BoltHandler(app, self.client)
        self._connecting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The first attempt; ``StartupError`` if Slack refuses the app token. Other
        failures are retried in the background."""
        self._connecting = asyncio.create_task(self.client.connect(), name="socket-mode-connect")
        first = await self.client.first_attempt
        if first is not None and is_refusal(first):
            raise StartupError(
                token_refused("SLACK_APP_TOKEN", slack_error(first) or "", "apps.connections.open")
            )

    def report(self, reason: str) -> None:
        """Why Slack is not connected yet (``/healthz`` says it)."""
        self.client.reason = reason

    async def health(self) -> dict[str, Any]:
        connected = await self.client.is_connected()
        state: dict[str, Any] = {"slack": "connected" if connected else "disconnected"}
        if not connected:
            state["reason"] = self.client.reason or "connection lost; reconnecting"
        return state

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        client = self.client
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_SECONDS):  # a dead network: no close handshake
                await client.close()
        client.closed = True  # whatever happened above, nothing of it keeps running
        for task in (
            client.message_processor,
            client.current_session_monitor,
            client.message_receiver,
        ):
            if task is not None:
                task.cancel()
        if not client.aiohttp_client_session.closed:
            await client.aiohttp_client_session.close()

"""Running Tolk: the aiohttp server (``/slack/events`` in HTTP mode, ``/healthz``,
provider callbacks, signed file links, Refine pages) and, in Socket Mode, the websocket to Slack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.config import Mode, Settings
from bot.connections import ConnectionGuard, connection_cap
from bot.core.backoff import Backoff
from bot.core.logs import Throttled
from bot.core.metrics import Metrics
from bot.install import oauth_flow
from bot.socket_mode import (
    SocketModeLink,
    StartupError,
    describe,
    is_refusal,
    reconnect_backoff,
    retry_after,
    slack_error,
    token_refused,
)
from bot.wiring import Services, open_services
from handlers.web.callbacks import add_callback_routes
from handlers.web.files import add_file_route
from handlers.web.install import add_install_routes
from handlers.web.refine import add_refine_routes

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack payloads are far smaller
SHUTDOWN_GRACE = 20.0  # SIGTERM/SIGINT: seconds the steps under way get to finish
STOP_SECONDS = 8.0  # then the rest of the shut-down: what is left after this is cut short
AUTH_TEST_SECONDS = 30.0

# What a connection to the server may take (read when the server starts; tests shorten them).
HEADER_SECONDS = 10.0  # from a request's first byte (or the connection) to its headers' end
BODY_SECONDS = 10.0  # from the headers' end to the body's end, whether or not it is read
KEEPALIVE_SECONDS = 75.0  # idle between requests (longer than a proxy's usual 60 s)
MAX_CONNECTIONS = 512  # open at once; past it the oldest idle one makes room, or none is let in

SLACK_TIMESTAMP_SECONDS = 5 * 60  # a signed request older (or newer) than this is a replay
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def build_web_app(
    services: Services,
    bolt: AsyncApp | None,
    link: SocketModeLink | None = None,
    guard: ConnectionGuard | None = None,
    *,
    signing_secret: str | None = None,
) -> web.Application:
    """``/healthz`` is 200 in HTTP mode; in Socket Mode 200 only while the websocket to
    Slack is up, else 503 with the reason. ``guard`` (the server's connection limits)
    hears when each request starts and ends. ``/slack/events`` checks signatures with
    ``signing_secret`` (default: the configured one)."""
    middlewares = [guard.middleware] if guard is not None else []
    web_app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)

    async def healthz(_: web.Request) -> web.Response:
        body = {"ok": True, "mode": str(services.settings.mode)}
        if link is None:
            return web.json_response(body)
        state = await link.health()
        ok = state["slack"] == "connected"
        return web.json_response({**body, "ok": ok, **state}, status=200 if ok else 503)

    web_app.router.add_get("/healthz", healthz)
    add_file_route(web_app, services.links, services.store, services.download_slack_file)
    add_refine_routes(web_app, services)
    if services.metrics is not None:
        web_app.router.add_get("/metrics", services.metrics.render)
    add_callback_routes(web_app, services)
    if services.workspaces is not None:  # many workspaces: Slack's OAuth install
        add_install_routes(web_app, oauth_flow(services.settings, services.workspaces))
    if bolt is not None:
        web_app.router.add_post(
            "/slack/events",
            slack_events_handler(
                bolt, signing_secret or services.settings.slack_signing_secret, services.metrics
            ),
        )
    return web_app


class _Refused(Exception):
    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def slack_events_handler(
    bolt: AsyncApp, signing_secret: str | None, metrics: Metrics | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``/slack/events``: nothing of a request is parsed, logged or counted by what it says
    until its signature is checked on the raw bytes (``_signed_body``); only then does Bolt
    see it. Every refusal is a 401 (413 past ``MAX_BODY_BYTES``), counted as
    ``kind="rejected"``, and logged as one line a minute at most."""
    verifier = SignatureVerifier(signing_secret) if signing_secret else None
    refused = Throttled(log)

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            body = await _signed_body(request, verifier)
        except _Refused as refusal:
            refused("Refused a request to /slack/events: %s", refusal.reason)
            if metrics is not None:
                metrics.ack("rejected", time.perf_counter() - started)
            text = "request too large" if refusal.status == 413 else "invalid request"
            return web.Response(status=refusal.status, text=text)
        try:
            bolt_request = AsyncBoltRequest(
                body=body,
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except Exception as exc:  # signed by Slack, yet not a form or JSON that Bolt reads
            log.warning("A signed Slack request could not be read (%s)", type(exc).__name__)
            return web.Response(status=400, text="unreadable request")
        response = await to_aiohttp_response(await bolt.async_dispatch(bolt_request))
        if metrics is not None:
            metrics.ack(_request_kind(bolt_request.body), time.perf_counter() - started)
        return response

    return slack_events


async def _signed_body(request: web.Request, verifier: SignatureVerifier | None) -> str:
    """The body, if Slack signed it (``_Refused`` otherwise): exactly one timestamp and one
    signature header, both in Slack's shape; the timestamp within five minutes of now; no
    content encoding; the body read whole (bounded by ``MAX_BODY_BYTES``, and in time by
    the connection guard), UTF-8, and its HMAC-SHA256 equal to the signature (slack_sdk's
    ``SignatureVerifier``, a constant-time comparison). The cheap checks come first: a
    request with junk headers is refused before its body is read."""
    if verifier is None:
        raise _Refused("no SLACK_SIGNING_SECRET is set")
    timestamps = request.headers.getall("X-Slack-Request-Timestamp", [])
    signatures = request.headers.getall("X-Slack-Signature", [])
    if len(timestamps) != 1 or len(signatures) != 1:
        raise _Refused("a signature header missing or repeated")
    timestamp, signature = timestamps[0], signatures[0]
    if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
        raise _Refused("a malformed signature header")
    if abs(time.time() - int(timestamp)) > SLACK_TIMESTAMP_SECONDS:
        raise _Refused(
            "a timestamp over 5 minutes from this server's clock (replayed, or a clock is wrong)"
        )
    if request.headers.get("Content-Encoding", "identity").lower() != "identity":
        raise _Refused("a compressed body")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _Refused("a body over the size limit", 413) from None
    except Exception:  # cut off, or a broken chunked encoding: nothing to judge
        raise _Refused("a body that did not arrive whole") from None
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("a body that is not UTF-8") from None
    if not verifier.is_valid(body, timestamp, signature):
        raise _Refused("a wrong signature")
    return body


#: Interaction payload types (form-encoded ``payload=``): counted as "interaction".
_INTERACTIONS = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "dialog_cancellation",
        "dialog_suggestion",
    }
)


def _request_kind(body: dict) -> str:
    """A signed request's kind, one of ``bot.core.metrics.ACK_KINDS``."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind in _INTERACTIONS:
        return "interaction"
    if kind in ("event_callback", "url_verification", "app_rate_limited"):
        return str(kind)
    return "other"


async def check_bot_token(
    slack: AsyncWebClient,
    *,
    backoff: Backoff | None = None,
    rand: Callable[[], float] = random.random,
    report: Callable[[str], None] | None = None,
) -> None:
    """``auth.test`` with ``SLACK_BOT_TOKEN``: ``StartupError`` (one line naming the
    variable) when Slack refuses the token; while Slack cannot be reached, one log line
    per attempt and a growing pause, until it answers. ``report`` hears each failure."""
    backoff = backoff or reconnect_backoff()
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(AUTH_TEST_SECONDS):
                await slack.auth_test()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a refusal stops Tolk; anything else is retried
            if is_refusal(exc):
                raise StartupError(
                    token_refused("SLACK_BOT_TOKEN", slack_error(exc) or "", "auth.test")
                ) from None
            pause = backoff.delay(attempt, rand(), retry_after=retry_after(exc))
            attempt += 1
            reason = describe(exc)
            if report is not None:
                report(f"checking SLACK_BOT_TOKEN: {reason}")
            log.warning(
                "Cannot check SLACK_BOT_TOKEN with Slack's auth.test (%s); trying again in %.1f s",
                reason,
                pause,
            )
            await asyncio.sleep(pause)


@asynccontextmanager
async def serving(
    settings: Settings,
    *,
    host: str = "0.0.0.0",
    signing_secret: str | None = None,
    clock: Callable[[], float] = time.time,
    start_scheduler: bool = True,
) -> AsyncIterator[tuple[Services, int]]:
    """Everything running: services, the Bolt app, the web server (and Socket Mode).
    Yields the services and the bound port (``PORT=0`` picks a free one). Tests pass a
    clock and drive the poller themselves instead of the scheduler.

    Start-up checks the bot token with ``auth.test`` and, in Socket Mode, makes the first
    connection; a token Slack refuses raises ``StartupError``. The web server is up
    first, so ``/healthz`` answers (503 in Socket Mode) while Slack cannot be reached."""
    async with open_services(settings, clock=clock, start_scheduler=start_scheduler) as services:
        socket = settings.mode is Mode.SOCKET
        secret = signing_secret or settings.slack_signing_secret
        # HTTP mode: /slack/events checks signatures before Bolt sees a request (Socket Mode
        # needs none): Bolt's own check would be the same one a second time
        bolt = build_app(services, signing_secret=secret, verified_upstream=True)
        link = None
        if socket:
            assert settings.slack_app_token is not None
            link = SocketModeLink(bolt, settings.slack_app_token, settings.slack_api_url)
        guard = ConnectionGuard(
            max_connections=connection_cap(MAX_CONNECTIONS),
            header_seconds=HEADER_SECONDS,
            body_seconds=BODY_SECONDS,
            metrics=services.metrics,
        )
        runner = web.AppRunner(
            build_web_app(services, None if socket else bolt, link, guard, signing_secret=secret),
            access_log=None,
            keepalive_timeout=KEEPALIVE_SECONDS,
            shutdown_timeout=2.0,  # in-flight requests at shut-down; the work is in the store
        )
        await runner.setup()
        listener: asyncio.Server | None = None
        try:
            # aiohttp's server inside the guard's protocol (a TCPSite would use it bare)
            guard.server = runner.server
            listener = await asyncio.get_running_loop().create_server(
                guard.protocol, host, settings.port, backlog=512
            )
            port = listener.sockets[0].getsockname()[1]
            # its own client, without retry handlers: one attempt is one call and one line
            token_client = AsyncWebClient(
                token=settings.slack_bot_token,
                base_url=settings.slack_api_url,
                timeout=10,
                retry_handlers=[],
            )
            if not settings.installable:  # with many workspaces, each install checked its own
                await check_bot_token(token_client, report=link.report if link else None)
            if link is not None:
                await link.start()
            log.info("Tolk is running in %s mode on port %d", settings.mode, port)
            services.poller.nudge()  # pick up what a previous run left pending
            yield services, port
        finally:
            if listener is not None:
                listener.close()  # no new connections; aiohttp closes the open ones
            if link is not None:
                await link.close()
            await runner.cleanup()
            if listener is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.wait_closed(), 1.0)


async def wind_down(services: Services, grace: float) -> bool:
    """The first part of a shut-down: take no new work — the scheduler pauses, the
    poller claims nothing more — and give the steps under way up to ``grace`` seconds
    to finish and save. True when they all did. Requests still reach Slack's endpoint
    meanwhile: a task recorded now waits in the store for another replica or the next
    start."""
    if services.scheduler is not None:
        services.scheduler.pause()
    if await services.poller.stop(grace):
        return True
    log.warning(
        "Tolk: steps still under way after %.0f s (TOLK_SHUTDOWN_GRACE) are cut off; "
        "their leases end with this process, and another replica or the next start "
        "carries on from what they last saved",
        grace,
    )
    return False


async def run_until_stopped(settings: Settings, *, grace: float = SHUTDOWN_GRACE) -> None:
    """Run until SIGTERM or SIGINT. Then take no new work, give the steps under way up
    to ``grace`` seconds (``wind_down``), and stop the rest within ``STOP_SECONDS`` —
    at once while start-up still waits for Slack. Pending work stays in the store for
    the next start. Raises ``StartupError`` when Tolk cannot start as configured."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = asyncio.Event()

    async def run() -> None:
        async with serving(settings) as (services, _):
            started.set()
            await stop.wait()
            await wind_down(services, grace)

    runner = asyncio.create_task(run(), name="tolk")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if runner.done():
        runner.result()  # a start-up error, or a crash: raised here
        return
    if not started.is_set():
        log.info("Tolk is stopping")
        runner.cancel()  # still starting (waiting for Slack): nothing to finish
    else:
        log.info("Tolk is stopping: no new work; up to %.0f s for the steps under way", grace)
    done, _ = await asyncio.wait({runner}, timeout=grace + STOP_SECONDS)
    if not done:
        log.warning("Tolk: shut-down took over %.0f s; cut short", grace + STOP_SECONDS)
        runner.cancel()
        await asyncio.wait({runner}, timeout=1.0)
    elif not runner.cancelled() and (exc := runner.exception()) is not None:
        log.error("Tolk: error while stopping (%s)", describe(exc))
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)
    log.info("Tolk stopped")

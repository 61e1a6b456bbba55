"""Running Tolk: the aiohttp server (``/slack/events`` in HTTP mode, ``/healthz``,
provider callbacks, signed file links, Refine pages) and, in Socket Mode, the websocket to Slack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.backoff import Backoff
from bot.callbacks import add_callback_routes
from bot.config import Mode, Settings
from bot.links import add_file_route
from bot.refine import add_refine_routes
from bot.services import Services, open_services
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

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack payloads are far smaller
STOP_SECONDS = 8.0  # SIGTERM/SIGINT: what is left of the shut-down after this is cut short
AUTH_TEST_SECONDS = 30.0


def build_web_app(
    services: Services, bolt: AsyncApp | None, link: SocketModeLink | None = None
) -> web.Application:
    """``/healthz`` is 200 in HTTP mode; in Socket Mode 200 only while the websocket to
    Slack is up, else 503 with the reason."""
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(_: web.Request) -> web.Response:
        body = {"ok": True, "mode": str(services.settings.mode)}
        if link is None:
            return web.json_response(body)
        state = await link.health()
        ok = state["slack"] == "connected"
        return web.json_response({**body, "ok": ok, **state}, status=200 if ok else 503)

    web_app.router.add_get("/healthz", healthz)
    add_file_route(web_app, services)
    add_refine_routes(web_app, services)
    if services.metrics is not None:
        web_app.router.add_get("/metrics", services.metrics.render)
    add_callback_routes(web_app, services)
    if bolt is not None:

        async def slack_events(request: web.Request) -> web.Response:
            if not _signature_headers_well_formed(request):
                return web.Response(status=401, text="invalid request")
            started = time.perf_counter()
            bolt_request = await to_bolt_request(request)
            response = await to_aiohttp_response(await bolt.async_dispatch(bolt_request))
            if services.metrics is not None:
                kind = _request_kind(bolt_request.body)
                services.metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)
            return response

        web_app.router.add_post("/slack/events", slack_events)
    return web_app


def _signature_headers_well_formed(request: web.Request) -> bool:
    """What slack_sdk's verifier would choke on (a 500 with a traceback) is a 401 here:
    a timestamp that is not a short integer, a signature that is not ASCII."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    return (
        timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12 and signature.isascii()
    )


def _request_kind(body: dict) -> str:
    if "command" in body:
        return "command"
    if "payload" in body:
        return "interaction"
    return str(body.get("type") or "other")  # event_callback, url_verification


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
        bolt = build_app(services, signing_secret=signing_secret)
        socket = settings.mode is Mode.SOCKET
        link = None
        if socket:
            assert settings.slack_app_token is not None
            link = SocketModeLink(bolt, settings.slack_app_token, settings.slack_api_url)
        runner = web.AppRunner(
            build_web_app(services, None if socket else bolt, link),
            access_log=None,
            shutdown_timeout=2.0,  # in-flight requests at shut-down; the work is in the store
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, settings.port)
            await site.start()
            port = runner.addresses[0][1]
            # its own client, without retry handlers: one attempt is one call and one line
            token_client = AsyncWebClient(
                token=settings.slack_bot_token,
                base_url=settings.slack_api_url,
                timeout=10,
                retry_handlers=[],
            )
            await check_bot_token(token_client, report=link.report if link else None)
            if link is not None:
                await link.start()
            log.info("Tolk is running in %s mode on port %d", settings.mode, port)
            services.poller.nudge()  # pick up what a previous run left pending
            yield services, port
        finally:
            if link is not None:
                await link.close()
            await runner.cleanup()


async def run_until_stopped(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop within ``STOP_SECONDS`` — also while
    start-up still waits for Slack. Pending work stays in the store for the next start.
    Raises ``StartupError`` when Tolk cannot start as configured."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = asyncio.Event()

    async def run() -> None:
        async with serving(settings):
            started.set()
            await stop.wait()

    runner = asyncio.create_task(run(), name="tolk")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if runner.done():
        runner.result()  # a start-up error, or a crash: raised here
        return
    log.info("Tolk is stopping")
    if not started.is_set():
        runner.cancel()  # still starting (waiting for Slack): nothing to finish
    done, _ = await asyncio.wait({runner}, timeout=STOP_SECONDS)
    if not done:
        log.warning("Tolk: shut-down took over %.0f s; cut short", STOP_SECONDS)
        runner.cancel()
        await asyncio.wait({runner}, timeout=1.0)
    elif not runner.cancelled() and (exc := runner.exception()) is not None:
        log.error("Tolk: error while stopping (%s)", describe(exc))
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)
    log.info("Tolk stopped")

"""Running Tolk: the aiohttp server (``/slack/events`` in HTTP mode, ``/healthz``,
provider callbacks, signed file links, Refine pages) and, in Socket Mode, the websocket to Slack."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.app import build_app
from bot.callbacks import add_callback_routes
from bot.config import Mode, Settings
from bot.links import add_file_route
from bot.refine import add_refine_routes
from bot.services import Services, open_services

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Slack payloads are far smaller


def build_web_app(services: Services, bolt: AsyncApp | None) -> web.Application:
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "mode": str(services.settings.mode)})

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
    clock and drive the poller themselves instead of the scheduler."""
    async with open_services(settings, clock=clock, start_scheduler=start_scheduler) as services:
        bolt = build_app(services, signing_secret=signing_secret)
        socket = settings.mode is Mode.SOCKET
        runner = web.AppRunner(build_web_app(services, None if socket else bolt), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, settings.port)
            await site.start()
            port = runner.addresses[0][1]
            handler = None
            if socket:
                from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

                handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
                await handler.connect_async()
            log.info("Tolk is running in %s mode on port %d", settings.mode, port)
            services.poller.nudge()  # pick up what a previous run left pending
            try:
                yield services, port
            finally:
                if handler is not None:
                    await handler.close_async()
        finally:
            await runner.cleanup()


async def run_until_stopped(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serving(settings):
        await stop.wait()
    log.info("Tolk stopped")

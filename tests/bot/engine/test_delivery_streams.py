"""Downloads arrive whole however the server paces them, and stop at the size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings
from bot.core.slack_client import slack_client
from bot.engine.delivery import Delivery, FileTooLarge

BODY = bytes(range(256)) * 1200  # 300 KB: a product image, sent in pieces


@pytest.fixture
async def slow_server() -> AsyncIterator[str]:
    """Streams BODY in 20 chunks with a pause between them, as a far-away CDN does."""

    async def image(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        await resp.prepare(request)
        step = len(BODY) // 20
        for start in range(0, len(BODY), step):
            await resp.write(BODY[start : start + step])
            await asyncio.sleep(0.01)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/r.png", image)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_slowly_streamed_result_is_downloaded_whole(slow_server: str) -> None:
    async with aiohttp.ClientSession() as session:
        delivery = Delivery(
            slack_client(None, Settings().slack_api_url, session), session, [slow_server]
        )
        try:
            data = await delivery.download(f"http://{slow_server}/r.png")
        finally:
            await delivery.close()  # its fetcher's sessions
    assert data == BODY  # not the first chunk that happened to be there


async def test_the_limit_stops_a_download_that_grows_past_it(slow_server: str) -> None:
    async with aiohttp.ClientSession() as session:
        delivery = Delivery(
            slack_client(None, Settings().slack_api_url, session), session, [slow_server]
        )
        try:
            with pytest.raises(FileTooLarge):
                await delivery.download(f"http://{slow_server}/r.png", limit=100_000)
        finally:
            await delivery.close()

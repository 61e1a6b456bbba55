"""Floors: what the same work costs with nothing of Tolk in it, measured in the same run,
so Tolk's figures read as ratios that mean the same on any machine.

- Ack: a bare Bolt ``AsyncApp`` (``process_before_response=True``, served by
  ``app.web_app()``) whose one listener acks ``/translate`` — the least any Bolt app does
  for a signed slash command. It runs in this process, as Tolk does.
- Poll round: the status calls Tolk made for a round, made again with the same client
  and nothing else (HTTP and JSON parsing only): no store, no engine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.harness import SIGNING_SECRET, percentile
from providers.xiangji import XiangjiClient
from sandbox.wiring import free_port


@asynccontextmanager
async def bare_bolt(slack_api_url: str, token: str) -> AsyncIterator[str]:
    """A bare Bolt app acking ``/translate``; yields its ``/slack/events`` URL."""
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
    )

    @app.command("/translate")
    async def ack_only(ack: AsyncAck) -> None:
        await ack("Translating…")

    port = free_port()
    runner = web.AppRunner(app.web_app(port=port))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()


async def status_floor(client: XiangjiClient, chunks: Sequence[Sequence[str]]) -> float:
    """CPU seconds for the status calls alone: the same ids, the same chunks."""
    cpu = time.process_time()
    for chunk in chunks:
        await client.get_image_translate_batch_result(list(chunk))
    return time.process_time() - cpu


@dataclass
class Rounds:
    """Alternating rounds of Tolk and its floor: per round, p50 and p99 of each."""

    tolk: list[list[float]]
    floor: list[list[float]]
    tolk_cpu: list[float] = field(default_factory=list)  # CPU seconds a request, per round
    floor_cpu: list[float] = field(default_factory=list)

    def ratios(self, p: float) -> list[float]:
        return [
            percentile(t, p) / max(percentile(f, p), 1e-9)
            for t, f in zip(self.tolk, self.floor, strict=True)
        ]

    def cpu(self) -> str:
        """``0.90 ms vs 0.47 ms = 1.91×``: CPU per request, medians over the rounds."""
        tolk, floor = statistics.median(self.tolk_cpu), statistics.median(self.floor_cpu)
        return f"{tolk * 1000:.2f} ms vs {floor * 1000:.2f} ms = {tolk / max(floor, 1e-9):.2f}×"

    def summary(self, p: float) -> str:
        """``p99 41.2 ms vs 30.1 ms = 1.37× (1.21–1.52)``: medians over the rounds."""
        tolk = statistics.median(percentile(t, p) for t in self.tolk)
        floor = statistics.median(percentile(f, p) for f in self.floor)
        ratios = self.ratios(p)
        return (
            f"p{p:g} {tolk:.1f} ms vs {floor:.1f} ms = {statistics.median(ratios):.2f}× "
            f"({min(ratios):.2f}–{max(ratios):.2f})"
        )

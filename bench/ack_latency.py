"""Slash-command ack latency: signed /translate requests into the running app over
loopback, N at a time; prints p50/p99 in milliseconds."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import aiohttp

from bench.harness import SIGNING_SECRET, running_tolk
from bot.sandbox.signed import command_body, post_signed


async def measure(concurrency: int, total: int = 200) -> list[float]:
    async with running_tolk() as (services, port, _, _), aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/slack/events"
        latencies: list[float] = []
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            body = command_body("/translate", f"zh>en 你好 {i}")
            async with gate:
                start = time.perf_counter()
                status, _ = await post_signed(session, url, SIGNING_SECRET, body)
                latencies.append((time.perf_counter() - start) * 1000)
            assert status == 200

        await one(-1)  # warm-up: Bolt's first request runs auth.test
        latencies.clear()
        await asyncio.gather(*(one(i) for i in range(total)))
        await services.poller.drain()
        return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(levels: list[int]) -> None:
    print(f"{'concurrency':>11} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for level in levels:
        lat = await measure(level)
        print(
            f"{level:>11} {len(lat):>8} {percentile(lat, 50):>8.1f} "
            f"{percentile(lat, 99):>8.1f} {statistics.mean(lat):>8.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1, 50, 200]))

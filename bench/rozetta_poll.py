"""Rozetta status calls per poll round, with 1 and with 200 pending document tasks, and
with an account history of 5,000 older translations (which makes "all" heavy, so a round
with few pending tasks asks per id instead)."""

from __future__ import annotations

import asyncio
import tempfile
import time

import aiohttp

from bench.harness import BOT_TOKEN, SIGNING_SECRET
from bot.config import load_settings
from bot.runtime import serving
from emulators.alibaba import AlibabaMTEmulator
from emulators.rozetta import RozettaEmulator
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def round_costs(pending: int, history: int) -> tuple[int, str, float]:
    """(status calls in a round, "all" or "per-id", wall ms of the round)."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator() as xiangji,
            AlibabaMTEmulator() as samples,
            RozettaEmulator(done_after_polls=1000, history=history) as rozetta,
        ):
            env = emulator_env(
                slack,
                xiangji,
                alibaba=samples,
                rozetta=rozetta,
                signing_secret=SIGNING_SECRET,
                database_url=f"sqlite:///{tmp}/tolk.sqlite",
            )
            settings = load_settings(env)
            async with (
                serving(settings, host="127.0.0.1", clock=clock, start_scheduler=False) as (
                    services,
                    port,
                ),
                aiohttp.ClientSession() as session,
            ):
                url = f"http://127.0.0.1:{port}/slack/events"
                for n in range(pending):
                    text = f"en>ja {samples.sample_doc_url(f'd{n}.txt')} --provider rozetta"
                    body = command_body("/translate-doc", text)
                    await post_signed(session, url, SIGNING_SECRET, body)
                await services.poller.drain()
                op = services.work.operations["rozetta.translate_doc"]
                costs = []
                for _ in range(2):  # the first round learns the history size
                    clock.now += 120
                    kinds = dict(op.calls)
                    before = len(rozetta.requests)
                    start = time.perf_counter()
                    await services.poller.tick()
                    await services.poller.drain()
                    elapsed = (time.perf_counter() - start) * 1000
                    calls = [r for r in rozetta.requests[before:] if "translate-result" in r.path]
                    kind = next(k for k in op.calls if op.calls[k] != kinds[k])
                    costs.append((len(calls), kind, elapsed))
                return costs[-1]


async def main() -> None:
    print(f"{'pending':>8} {'history':>8} {'calls/round':>12} {'kind':>7} {'round ms':>9}")
    for pending, history in ((1, 0), (200, 0), (1, 5000), (20, 5000), (200, 5000)):
        calls, kind, ms = await round_costs(pending, history)
        print(f"{pending:>8} {history:>8} {calls:>12} {kind:>7} {ms:>9.1f}")


if __name__ == "__main__":
    asyncio.run(main())

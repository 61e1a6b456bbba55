"""Document delivery lag: from the moment the Alibaba emulator marks a document
translated to the moment the translated file is uploaded into its Slack thread — with
Alibaba's callback (``TOLK_PUBLIC_URL`` set) and with polling alone, at the default poll
back-off (2 s → 60 s). Documents finish 1–10 s after submission, at random."""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable

import aiohttp

from bench.harness import BOT_TOKEN, SIGNING_SECRET, percentile
from bot.config import load_settings
from bot.runtime import serving
from emulators.alibaba import AlibabaMTEmulator
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env, free_port


async def lags(callbacks: bool, documents: int) -> list[float]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator() as xiangji,
            AlibabaMTEmulator(doc_seconds=None) as alibaba,
        ):
            env = emulator_env(
                slack,
                xiangji,
                alibaba=alibaba,
                port=free_port() if callbacks else 0,
                signing_secret=SIGNING_SECRET,
                database_url=f"sqlite:///{tmp}/tolk.sqlite",
            )
            async with (
                serving(load_settings(env), host="127.0.0.1") as (_, port),
                aiohttp.ClientSession() as session,
            ):
                url = f"http://127.0.0.1:{port}/slack/events"
                for n in range(documents):
                    text = f"en>ja {alibaba.sample_doc_url(f'doc{n}.txt')}"
                    await post_signed(
                        session, url, SIGNING_SECRET, command_body("/translate-doc", text)
                    )
                await until(lambda: len(alibaba.docs) >= documents)
                finish_at = {d: time.time() + rng.uniform(1, 10) for d in alibaba.docs}
                for doc_id, at in sorted(finish_at.items(), key=lambda kv: kv[1]):
                    await asyncio.sleep(max(0.0, at - time.time()))
                    alibaba.finish(doc_id)
                await until(lambda: len(slack.files) >= documents)
            uploaded = {
                c.args.get("files", [{}])[0].get("title", ""): c.at
                for c in slack.calls
                if c.method == "files.completeUploadExternal"
            }
            names = {d.task_id: d.source_name for d in alibaba.docs.values()}
            result = []
            for doc in alibaba.docs.values():
                title = names[doc.task_id].replace(".txt", "-ja.txt")
                result.append(uploaded[title] - doc.finished_at)
            return result


async def until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 - the emulators change state on this loop
        await asyncio.sleep(0.01)


async def main(documents: int) -> None:
    print(f"{'mode':>16} {'docs':>5} {'p50 s':>7} {'p99 s':>7} {'max s':>7}")
    for callbacks in (True, False):
        values = await lags(callbacks, documents)
        mode = "callback" if callbacks else "polling only"
        print(
            f"{mode:>16} {len(values):>5} {percentile(values, 50):>7.2f} "
            f"{percentile(values, 99):>7.2f} {max(values):>7.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))

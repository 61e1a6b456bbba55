"""Refine, timed from the outside: a press on Refine until the ephemeral link is in
Slack, the page's GET, the editor result's POST, and that POST until the refined image
is in the thread — over loopback against the emulators, with the scheduler running as
in production (default poll settings: the new task is nudged, not polled for)."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from collections.abc import Callable

import aiohttp

from bench.harness import BOT_TOKEN, SIGNING_SECRET, percentile
from bot.config import load_settings
from bot.runtime import serving
from emulators.signed import block_actions_payload, command_body, interaction_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env, free_port

IMAGES = 40
CHANNEL = "C0GENERAL"


async def grows(count: Callable[[], int], before: int) -> None:
    """Until ``count()`` exceeds ``before`` (30 s at most)."""
    async with asyncio.timeout(30):
        while count() <= before:  # noqa: ASYNC110 - a latency probe: 2 ms, not an event
            await asyncio.sleep(0.002)


async def measure() -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"press": [], "page": [], "post": [], "in thread": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator(render=False) as xiangji,
        ):
            env = emulator_env(
                slack,
                xiangji,
                signing_secret=SIGNING_SECRET,
                database_url=f"sqlite:///{tmp}/tolk.sqlite",
                port=free_port(),
            )
            async with (
                serving(load_settings(env), host="127.0.0.1") as (services, port),
                aiohttp.ClientSession() as session,
            ):
                events = f"http://127.0.0.1:{port}/slack/events"
                for n in range(IMAGES):
                    text = f"zh>ko {xiangji.sample_url(f'p{n}')}"
                    await post_signed(
                        session, events, SIGNING_SECRET, command_body("/translate-image", text)
                    )
                await grows(lambda: len(slack.files), IMAGES - 1)
                await services.poller.drain()
                finals = [
                    m
                    for parent in slack.messages(CHANNEL)
                    for m in slack.thread(CHANNEL, parent["ts"])
                    if "Done" in m.get("text", "")
                ]
                for final in finals:
                    button = next(
                        e
                        for b in final["blocks"]
                        if b["type"] == "actions"
                        for e in b["elements"]
                        if e["action_id"].startswith("tolk_refine_")
                    )
                    payload = block_actions_payload(
                        final,
                        button,
                        user="U0ALICE",
                        channel=CHANNEL,
                        trigger_id=slack.new_trigger_id(),
                        response_url=slack.new_response_url(channel=CHANNEL, user="U0ALICE"),
                    )
                    shown = len(slack.ephemerals())
                    start = time.perf_counter()
                    await post_signed(session, events, SIGNING_SECRET, interaction_body(payload))
                    await grows(lambda: len(slack.ephemerals()), shown)
                    times["press"].append(time.perf_counter() - start)
                    link = re.search(r"http://\S+/refine/\S+", slack.ephemerals()[-1]["text"])[0]

                    start = time.perf_counter()
                    async with session.get(link) as resp:
                        await resp.read()
                    times["page"].append(time.perf_counter() - start)

                    task_id, index = link.split("/refine/")[1].split("/")[:2]
                    task = await services.store.get(task_id)
                    rid = task.items[int(index)].provider_id
                    base = xiangji.base_url + "/image-editor/api/"
                    async with session.post(base + "open", json={"requestIds": [rid]}) as r:
                        await r.read()
                    async with session.post(base + "save", json={"requestId": rid}) as r:
                        url = (await r.json())["url"]
                    files = len(slack.files)
                    message = {
                        "name": "XJ_IMAGE_EDITOR_URL",
                        "url": url,
                        "requestId": rid,
                        "all": {rid: url},
                    }
                    start = time.perf_counter()
                    async with session.post(link, json=message) as resp:
                        assert resp.status == 202, await resp.text()
                    posted = time.perf_counter()
                    times["post"].append(posted - start)
                    await grows(lambda: len(slack.files), files)
                    times["in thread"].append(time.perf_counter() - start)
    return times


async def main() -> None:
    times = await measure()
    print(f"Refine over loopback, {IMAGES} images, one refinement each (ms)")
    print(f"{'step':>10} {'p50':>8} {'p99':>8}")
    for step, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"{step:>10} {percentile(ms, 50):>8.1f} {percentile(ms, 99):>8.1f}")


if __name__ == "__main__":
    asyncio.run(main())

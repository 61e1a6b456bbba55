"""The emulators (and the load client) in a process of their own, so the benchmark's
CPU and memory figures are Tolk's alone. The parent drives them through a pipe:
``(command, args)`` in, a result out."""

from __future__ import annotations

import asyncio
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from bench.harness import BOT_TOKEN
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator

STATUS = "GetImageTranslateBatchResult"


class Emulators:
    def __init__(self, slack: SlackEmulator, xiangji: XiangjiEmulator) -> None:
        self.slack = slack
        self.xiangji = xiangji
        self.finished_at: dict[str, float] = {}

    async def handle(self, command: str, args: Any) -> Any:
        if command == "env":
            return {
                "slack_api_url": self.slack.api_url,
                "bot_token": self.slack.bot_token,
                "xiangji": {
                    "user_key": self.xiangji.user_key,
                    "keys": self.xiangji.keys,
                    "api_url": self.xiangji.api_url,
                    "upload_url": self.xiangji.upload_url,
                    "account_url": self.xiangji.account_url,
                    "base_url": self.xiangji.base_url,
                },
            }
        if command == "seed":
            return self.xiangji.seed_pending(args)
        if command == "threads":  # parent messages for tasks to reply under
            return [
                self.slack.post_user_message("C0GENERAL", "U0ALICE", f"task {n}")["ts"]
                for n in range(args)
            ]
        if command == "finish":
            now = time.time()
            for rid in args:
                self.xiangji.finish(rid)
                self.finished_at[rid] = now
            return now
        if command == "status_calls":
            return [r.at for r in self.xiangji.requests_for(STATUS)]
        if command == "status_chunks":  # the ids of each status call, as Tolk sent them
            return [r.params["RequestIds"].split(",") for r in self.xiangji.requests_for(STATUS)]
        if command == "status_ids":
            return sum(
                len(r.params["RequestIds"].split(",")) for r in self.xiangji.requests_for(STATUS)
            )
        if command == "uploads":
            return [
                (c.args["files"][0].get("title", ""), c.at)
                for c in self.slack.calls
                if c.method == "files.completeUploadExternal" and not c.faulted
            ]
        if command == "reset":
            self.xiangji.requests.clear()
            self.slack.calls.clear()
            return None
        if command == "ack":
            url, secret, concurrency, total = args
            return await ack_latencies(url, secret, concurrency, total)
        raise ValueError(f"unknown command {command!r}")


async def ack_latencies(url: str, secret: str, concurrency: int, total: int) -> list[float]:
    """Signed ``/translate`` commands, ``concurrency`` at a time; ms from send to answer."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> None:
            body = command_body("/translate", f"zh>en 你好 {i}")
            async with gate:
                start = time.perf_counter()
                status, _ = await post_signed(session, url, secret, body)
                latencies.append((time.perf_counter() - start) * 1000)
            assert status == 200, status

        await one(-1)  # warm-up: Bolt's first request runs auth.test
        latencies.clear()
        await asyncio.gather(*(one(i) for i in range(total)))
    return latencies


def serve(conn: Connection) -> None:
    """The child process: start the emulators, answer commands until "stop"."""

    async def main() -> None:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator(fetch_sources=False, render=False) as xiangji,
        ):
            emulators = Emulators(slack, xiangji)
            loop = asyncio.get_running_loop()
            while True:
                command, args = await loop.run_in_executor(None, conn.recv)
                if command == "stop":
                    conn.send(None)
                    return
                try:
                    conn.send(("ok", await emulators.handle(command, args)))
                except Exception as exc:  # report, keep serving
                    conn.send(("error", repr(exc)))

    asyncio.run(main())

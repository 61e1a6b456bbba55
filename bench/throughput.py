"""Submission throughput: single-image tasks through 1 and 3 replicas on one PostgreSQL
database (``python -m bench.throughput``; ``make bench`` runs its default).

N ``/translate-image zh>ko URL`` commands (one image each: one synchronous Xiangji call
per task, the submission path at its busiest; ``--images 2`` makes each an asynchronous
batch, polled and delivered), signed as Slack signs them and sent round-robin over
``python -m bot`` replicas; tasks per second from the first command to the last closing
message. Each replica holds to ``TOLK_XIANGJI_SUBMIT_PER_SECOND``, so the ceiling is that
rate × replicas; ``--rates`` runs one replica at several rates to show where Tolk itself,
not the setting, becomes the limit (the default was chosen so). The server:
``DATABASE_URL`` (or ``TOLK_TEST_POSTGRES_URL``) when it is a PostgreSQL URL whose role
may create databases, else a throwaway cluster (``tests/postgres_server.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.engine.ratelimit import XIANGJI_SUBMIT_PER_SECOND
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from tests import postgres_server
from tests.test_replicas import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TASK_ID,
    Replica,
    finished,
    replica_env,
)

TASKS = 500
SUBMISSIONS = ("GetImageTranslate", "GetImageTranslateBatch")  # one image; several


@dataclass
class Run:
    replicas: int
    rate: float  # the setting, per replica
    tasks: int
    seconds: float
    calls: int

    @property
    def per_second(self) -> float:
        return self.tasks / self.seconds

    @property
    def ceiling(self) -> float:
        return self.rate * self.replicas


async def run(replicas: int, tasks: int, rate: float, logs: Path, images: int = 1) -> Run:
    url = await postgres_server.fresh_database()
    procs: list[Replica] = []
    try:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator(render=False) as xiangji,
            aiohttp.ClientSession() as session,
        ):
            procs = [  # each its own port
                Replica(
                    f"{replicas}x{rate:g}-{i}",
                    replica_env(slack, xiangji, url, TOLK_XIANGJI_SUBMIT_PER_SECOND=f"{rate:g}"),
                    logs,
                )
                for i in range(replicas)
            ]
            for proc in procs:
                proc.spawn()
            for proc in procs:
                await proc.ready(session)
            began = time.time()
            acked = await _send(session, procs, xiangji, tasks, images)
            deadline = time.monotonic() + tasks / min(rate, 50) + 120
            while len(finished(slack)) < len(acked):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{replicas} replica(s): tasks still pending; see {logs}")
                await asyncio.sleep(0.1)
            last = max(
                c.at
                for c in slack.calls_to("chat.postMessage")
                if "Done" in str(c.args.get("text", ""))
            )
            calls = sum(len(xiangji.requests_for(action)) for action in SUBMISSIONS)
            return Run(replicas, rate, tasks, last - began, calls)
    finally:
        for proc in procs:
            proc.stop()
        await postgres_server.release_database(url)


async def _send(
    session: aiohttp.ClientSession,
    procs: list[Replica],
    xiangji: XiangjiEmulator,
    tasks: int,
    images: int,
) -> set[str]:
    acked: set[str] = set()
    gate = asyncio.Semaphore(12)

    async def one(n: int) -> None:
        urls = " ".join(xiangji.sample_url(f"p{n:04d}{'abcdefghij'[i]}") for i in range(images))
        body = command_body("/translate-image", f"zh>ko {urls}")
        async with gate:
            status, text = await post_signed(
                session, procs[n % len(procs)].url, SIGNING_SECRET, body
            )
        found = TASK_ID.search(text)
        assert status == 200 and found, (n, status, text)
        acked.add(found.group(1))

    await asyncio.gather(*(one(n) for n in range(tasks)))
    return acked


def available() -> str | None:
    """Why there is no PostgreSQL server to run on (None: there is one)."""
    try:
        postgres_server.server()
    except pytest.skip.Exception as exc:  # the helper skips when no server can be had
        return str(exc)
    return None


async def rows(tasks: int = TASKS) -> list[tuple[str, str, str, bool | None]]:
    """``make bench``'s rows: the default rate through 1 and 3 replicas."""
    missing = available()
    if missing:
        return [("submission throughput", f"skipped: no PostgreSQL ({missing})", "", None)]
    with tempfile.TemporaryDirectory(prefix="tolk-bench-throughput-") as tmp:
        one = await run(1, tasks, XIANGJI_SUBMIT_PER_SECOND, Path(tmp))
        three = await run(3, tasks, XIANGJI_SUBMIT_PER_SECOND, Path(tmp))
    return [
        (f"{tasks} one-image tasks, {r.replicas} replica(s)", _shown(r), "", None)
        for r in (one, three)
    ] + [
        (
            "3 replicas vs 1",
            f"{three.per_second / one.per_second:.2f}× the tasks a second",
            "≥ 2.5× (the setting binds, not the store)",
            three.per_second / one.per_second >= 2.5,
        )
    ]


def _shown(r: Run) -> str:
    return (
        f"{r.per_second:.1f} tasks/s in {r.seconds:.1f} s = {r.per_second / r.ceiling:.0%} of "
        f"{r.rate:g}/s × {r.replicas} ({r.calls} calls)"
    )


async def main(tasks: int, counts: list[int], rates: list[float], images: int) -> None:
    missing = available()
    if missing:
        print(f"no PostgreSQL server: {missing}", file=sys.stderr)
        raise SystemExit(2)
    with tempfile.TemporaryDirectory(prefix="tolk-bench-throughput-") as tmp:
        for rate in rates:
            for count in counts:
                print(f"… {count} replica(s), {rate:g}/s each", file=sys.stderr, flush=True)
                r = await run(count, tasks, rate, Path(tmp), images)
                print(f"{count} replica(s) at {rate:g}/s: {_shown(r)}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--rates", type=float, nargs="+", default=[XIANGJI_SUBMIT_PER_SECOND])
    parser.add_argument("--images", type=int, default=1, help="images per task (default 1)")
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.replicas, args.rates, args.images))

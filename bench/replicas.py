"""Throughput of Tolk replicas on one PostgreSQL database: ``python -m bench.replicas``.

The same workload through 1 and through 3 ``python -m bot`` replicas (HTTP mode, one
fresh database each run): N ``/translate-image zh>ko URL URL`` commands, signed as Slack
signs them and sent round-robin over the replicas, each an asynchronous Xiangji batch
that the pollers submit, poll and deliver into its thread. Throughput is tasks per
second from the first command sent to the last final message in Slack. The Slack and
Xiangji emulators run in this process; the replicas in their own.

Xiangji's client-side limit (``TOLK_XIANGJI_SUBMIT_PER_SECOND``, 2 a second per process
in this bench's environment) caps every replica at 2 tasks a second whatever the
machine, so the ceiling column is 2/s × replicas: the figures show how close the
replicas come to it, not how fast a replica could go without the limit. (Each bucket
starts with a burst of two seconds' worth, so a run of a few dozen tasks beats the
ceiling; use a few hundred.) ``bench/throughput.py`` measures one-image tasks at the
default rate.

The server: ``DATABASE_URL`` (or ``TOLK_TEST_POSTGRES_URL``) when it is a PostgreSQL URL
whose role may create databases, else a throwaway cluster (``tests/postgres_server.py``).
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

from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from tests import postgres_server
from tests.test_replicas import (
    BOT_TOKEN,
    SUBMIT,
    Replica,
    finished,
    replica_env,
    send_round_robin,
)


@dataclass
class Run:
    replicas: int
    tasks: int
    seconds: float
    submissions: int

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds

    @property
    def ceiling(self) -> float:
        return 2.0 * self.replicas  # TOLK_XIANGJI_SUBMIT_PER_SECOND in ``replica_env``


async def run(replicas: int, tasks: int, logs: Path) -> Run:
    url = await postgres_server.fresh_database()
    procs: list[Replica] = []
    try:
        async with (
            SlackEmulator(bot_token=BOT_TOKEN) as slack,
            XiangjiEmulator(render=False) as xiangji,
            aiohttp.ClientSession() as session,
        ):
            procs = [
                Replica(f"{replicas}x-{i}", replica_env(slack, xiangji, url), logs)
                for i in range(replicas)
            ]
            for proc in procs:
                proc.spawn()
            for proc in procs:
                await proc.ready(session)
            began = time.time()
            acked = await send_round_robin(session, procs, xiangji, tasks)
            deadline = time.monotonic() + tasks * 2 + 60
            while len(finished(slack)) < len(acked):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{replicas} replica(s): tasks still pending; see {logs}")
                await asyncio.sleep(0.1)
            last = max(
                c.at
                for c in slack.calls_to("chat.postMessage")
                if "Done" in str(c.args.get("text", ""))
            )
            return Run(replicas, tasks, last - began, len(xiangji.requests_for(SUBMIT)))
    finally:
        for proc in procs:
            proc.stop()
        await postgres_server.release_database(url)


async def main(tasks: int, counts: list[int]) -> None:
    try:
        postgres_server.server()
    except pytest.skip.Exception as exc:  # the helper skips when no server can be had
        print(f"no PostgreSQL server: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    rows = []
    with tempfile.TemporaryDirectory(prefix="tolk-bench-replicas-") as tmp:
        for count in counts:
            print(f"… {count} replica(s), {tasks} tasks", file=sys.stderr, flush=True)
            rows.append(await run(count, tasks, Path(tmp)))
    print(f"{'replicas':>8} {'tasks':>6} {'seconds':>8} {'tasks/s':>8} {'ceiling':>8} {'of it':>6}")
    for r in rows:
        print(
            f"{r.replicas:>8} {r.tasks:>6} {r.seconds:>8.1f} {r.rate:>8.2f} "
            f"{r.ceiling:>8.1f} {r.rate / r.ceiling:>6.0%}"
        )
        if r.submissions != r.tasks:
            print(f"  ({r.submissions} submissions for {r.tasks} tasks)")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"{last.replicas} vs {first.replicas} replica(s): {last.rate / first.rate:.2f}×")
    print(
        "ceiling (tasks/s): Xiangji's client-side limit, "
        "2 submissions/s per replica (TOLK_XIANGJI_SUBMIT_PER_SECOND)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per run (default 300)")
    parser.add_argument(
        "--replicas", type=int, nargs="+", default=[1, 3], help="replica counts (default 1 3)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.replicas))

"""``make bench``: Tolk against the emulators over loopback; prints one table.

The emulators and the load client run in a child process (``bench/emulators.py``), Tolk
in this one, so CPU time and memory are Tolk's. Every speed figure stands beside a floor
measured in the same run (``bench/floors.py``), as a ratio: absolute milliseconds on a
shared machine mean little. ``python -m bench STAGE…`` runs only the stages named.

- ``ack``: signed ``/translate`` at 1, 50 and 200 concurrent, to Tolk (each task durably
  recorded before its ack) and to a bare Bolt app that only acks, in alternating rounds:
  p50 and p99 of each, the median ratio with its range;
- ``poll``: one poll round with 1,000 and 10,000 pending Xiangji image tasks (one image
  each, the worst case for batching): CPU against the status calls alone, wall time
  against Xiangji's status limit, and a naive reference poller (one call per task);
- ``lag``: delivery lag from "emulator marks done" to "file uploaded", p50/p99 (200 tasks,
  poll back-off 1 s → 5 s);
- ``restart``: restart to first poll with 10,000 pending tasks (a fresh ``python -m bot``
  process), and that process's peak RSS;
- ``scale``: the same with 100,000 pending (the round without the status limit: its CPU);
- ``throughput`` (``bench/throughput.py``): 500 one-image tasks through 1 and 3 replicas
  on PostgreSQL at the default ``TOLK_XIANGJI_SUBMIT_PER_SECOND``;
- ``workspaces`` (``bench/workspaces.py``): the OAuth install round trip, and commands
  acknowledged per second across 50 installed workspaces, each against its floor;
- ``catalogue`` (``bench/catalogue.py``): 1,000 rows into 4 languages: wall time against
  the floor of Xiangji's submission limit, status calls per 20 results, peak RSS.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import catalogue, floors, throughput, workspaces
from bench.emulators import serve
from bench.harness import SIGNING_SECRET, percentile
from bot.config import load_settings
from bot.core.tasks import Item, Place, State, Task
from bot.engine.ratelimit import PROVIDER_LIMITS
from bot.runtime import serving
from sandbox.wiring import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    met: bool | None = None


class Child:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child,), daemon=True)
        self.process.start()

    async def ask(self, command: str, args: Any = None) -> Any:
        loop = asyncio.get_running_loop()
        self.conn.send((command, args))
        status, value = await loop.run_in_executor(None, self.conn.recv)
        if status == "error":
            raise RuntimeError(value)
        return value

    async def stop(self) -> None:
        self.conn.send(("stop", None))
        await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)
        self.process.join(5)


def tolk_env(info: dict[str, Any], database: str, **extra: str) -> dict[str, str]:
    x = info["xiangji"]
    return {
        "SLACK_BOT_TOKEN": info["bot_token"],
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": info["slack_api_url"],
        "PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{database}",
        "XIANGJI_USER_KEY": x["user_key"],
        "XIANGJI_IMG_TRANS_KEY": x["keys"][1],
        "XIANGJI_TEXT_TRANS_KEY": x["keys"][2],
        "XIANGJI_MATTING_KEY": x["keys"][8],
        "XIANGJI_API_URL": x["api_url"],
        "XIANGJI_UPLOAD_URL": x["upload_url"],
        "XIANGJI_ACCOUNT_URL": x["account_url"],
        "TOLK_ALLOWED_FILE_HOSTS": urlsplit(x["base_url"]).netloc,
        **extra,
    }


def pending_tasks(ids: list[str], now: float, threads: list[str] | None = None) -> list[Task]:
    """One submitted image task per Xiangji id, due now, its thread already posted."""
    return [
        Task(
            id=f"B{n:06d}",
            dedupe_key=f"bench:{n}",
            place=Place(
                "T0",
                "C0GENERAL",
                "U0ALICE",
                thread_ts=threads[n] if threads else f"{int(now)}.{n:06d}",
            ),
            provider="xiangji",
            operation="xiangji.translate_image",
            request={"source": "zh", "target": "ko", "source_code": "CHS", "target_code": "KOR"},
            items=(Item(source=f"https://example.com/p{n}.jpg", provider_id=rid),),
            state=State.SUBMITTED,
            created_at=now,
            updated_at=now,
            next_poll_at=0.0,
            deadline=now + 86400,
            notes={"sent": {f"B{n:06d}:parent": threads[n] if threads else f"{int(now)}.{n:06d}"}},
        )
        for n, rid in enumerate(ids)
    ]


STATUS_PER_SECOND = PROVIDER_LIMITS["xiangji.status"][0]
ROUNDS = 5  # alternating rounds of Tolk and the bare Bolt app, per concurrency
ACK_TARGET = 1.3  # Tolk's ack p99 at 200 concurrent, as a multiple of the bare app's


async def ack_rows(child: Child, info: dict[str, Any], tmp: str) -> list[Row]:
    """Signed ``/translate`` commands at 1, 50 and 200 concurrent, to Tolk (each task
    recorded durably before its ack) and to a bare Bolt app, round after round."""
    rows = []
    # the commands' translations held back (0.1 a second): during the bare app's rounds,
    # Tolk's engine working through them would count as the floor's CPU and delay
    env = tolk_env(info, f"{tmp}/ack.sqlite", TOLK_XIANGJI_SUBMIT_PER_SECOND="0.1")
    settings = load_settings(env)
    async with (
        serving(settings, host="127.0.0.1") as (_, port),
        floors.bare_bolt(info["slack_api_url"], info["bot_token"]) as floor_url,
    ):
        tolk_url = f"http://127.0.0.1:{port}/slack/events"
        for concurrency in (1, 50, 200):
            rounds = floors.Rounds([], [])
            for n in range(ROUNDS):  # alternate who goes first: neither gets a warmer machine
                order = [
                    (tolk_url, rounds.tolk, rounds.tolk_cpu),
                    (floor_url, rounds.floor, rounds.floor_cpu),
                ]
                for url, into, cpu in order if n % 2 == 0 else order[::-1]:
                    began = time.process_time()  # this process: Tolk's (or the bare app's)
                    into.append(await child.ask("ack", (url, SIGNING_SECRET, concurrency, 200)))
                    cpu.append((time.process_time() - began) / 200)
            ratio = statistics.median(rounds.ratios(99))
            target = f"p99 ≤ {ACK_TARGET}× the bare Bolt app" if concurrency == 200 else ""
            rows.append(
                Row(
                    f"ack, {concurrency} concurrent: p50",
                    rounds.summary(50),
                )
            )
            rows.append(
                Row(
                    f"ack, {concurrency} concurrent: p99",
                    rounds.summary(99),
                    target,
                    ratio <= ACK_TARGET if target else None,
                )
            )
            rows.append(Row(f"ack, {concurrency} concurrent: CPU per request", rounds.cpu()))
        # the translations themselves wait on Xiangji's submission limit: not the ack's
    return rows


async def poll_rows(
    child: Child, info: dict[str, Any], tmp: str, count: int, *, unlimited: bool = False
) -> list[Row]:
    """One poll round over ``count`` pending tasks. ``unlimited``: without Xiangji's
    status limit (100,000 tasks would wait 400 s on it): the CPU, not the wall."""
    ids = await child.ask("seed", count)
    database = f"{tmp}/poll{count}.sqlite"
    settings = load_settings(tolk_env(info, database))
    async with serving(settings, host="127.0.0.1", start_scheduler=False) as (services, _):
        tasks = pending_tasks(ids, time.time())
        for start in range(0, len(tasks), 2000):
            await services.store.save(*tasks[start : start + 2000])
        await services.poller.drain()  # the start-up tick
        if unlimited:
            for op in services.work.operations.values():
                limits = getattr(op, "limits", None)
                if limits is not None:
                    limits._buckets.pop("xiangji.status", None)
        await child.ask("reset")
        cpu, wall = time.process_time(), time.perf_counter()
        while await child.ask("status_ids") < count:  # every due task polled once
            await services.poller.tick()
            await services.poller.drain()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        chunks = await child.ask("status_chunks")
        calls = len(chunks)
        assert services.xiangji is not None
        floor = await floors.status_floor(services.xiangji, chunks)

        await child.ask("reset")
        naive_cpu = time.process_time()
        if not unlimited:  # 100,000 one-by-one calls would take minutes to say the same
            await naive_round(services, tasks)
        naive_cpu = time.process_time() - naive_cpu
        naive_calls = len(await child.ask("status_calls"))
        # leave every task due, for the restart measurement
        await services.store.save(*(t.but(next_poll_at=0.0) for t in tasks))
    per_1000 = cpu * 1000 / count * 1000
    ratio = cpu / max(floor, 1e-9)
    limit = calls / STATUS_PER_SECOND  # the provider's limit alone: the round's floor in time
    target = count == 10_000
    rows = [
        Row(
            f"poll round, {count:,} pending: status calls per task",
            f"{calls / count:.3f} ({calls} calls)",
            "≤ 0.05 (1 per 20)" if count == 10_000 else "",
            calls / count <= 0.05 if count == 10_000 else None,
        ),
        Row(
            f"poll round, {count:,} pending: CPU",
            f"{cpu * 1000:.0f} ms ({per_1000:.1f} ms per 1,000 due) vs the status calls "
            f"alone {floor * 1000:.0f} ms = {ratio:.2f}×",
            "< 50 ms per 1,000 and ≤ 2× the calls" if target else "",
            per_1000 < 50 and ratio <= 2 if target else None,
        ),
        *(
            []
            if unlimited
            else [
                Row(
                    f"poll round, {count:,} pending: wall",
                    f"{wall:.1f} s vs {calls} calls at Xiangji's {STATUS_PER_SECOND:g}/s "
                    f"= {limit:.1f} s → {wall / max(limit, 1e-9):.2f}×",
                    "bound by the provider's limit (≤ 1.1×)" if target else "",
                    wall <= 1.1 * limit + 0.5 if target else None,
                )
            ]
        ),
    ]
    if not unlimited:
        rows.append(
            Row(
                f"naive poller, {count:,} pending",
                f"{naive_calls} calls, CPU {naive_cpu * 1000:.0f} ms → Tolk makes "
                f"{naive_calls / max(calls, 1):.0f}× fewer calls, "
                f"uses {naive_cpu / max(cpu, 1e-9):.1f}× less CPU",
            )
        )
    return rows


async def naive_round(services: Any, tasks: list[Task]) -> None:
    """The reference: one status call per task per round, one save per task."""
    client = services.xiangji
    gate = asyncio.Semaphore(32)

    async def one(task: Task) -> None:
        async with gate:
            await client.get_image_translate_batch_result([task.items[0].provider_id])
            await services.store.save(task.but(polls=task.polls + 1))

    await asyncio.gather(*(one(t) for t in tasks))


async def lag_rows(child: Child, info: dict[str, Any], tmp: str) -> list[Row]:
    ids = await child.ask("seed", 200)
    threads = await child.ask("threads", 200)
    env = tolk_env(info, f"{tmp}/lag.sqlite", TOLK_POLL_MIN_SECONDS="1", TOLK_POLL_MAX_SECONDS="5")
    async with serving(load_settings(env), host="127.0.0.1") as (services, _):
        await services.store.save(*pending_tasks(ids, time.time(), threads))
        services.poller.nudge()
        await asyncio.sleep(3)  # a few rounds: the tasks are backing off
        await child.ask("reset")
        done_at = await child.ask("finish", ids)
        deadline = time.time() + 30
        uploads: list[Any] = []
        while len(uploads) < len(ids) and time.time() < deadline:
            await asyncio.sleep(0.2)
            uploads = await child.ask("uploads")
        await services.poller.drain()
    lags = [at - done_at for _, at in uploads]
    p99 = percentile(lags, 99)
    return [
        Row(
            "delivery lag (done → uploaded), 200 tasks",
            f"p50 {percentile(lags, 50):.2f} s · p99 {p99:.2f} s ({len(lags)} files)",
            "p99 < poll interval (5 s) + 1 s",
            p99 < 6 and len(lags) == len(ids),
        )
    ]


async def restart_rows(
    child: Child, info: dict[str, Any], tmp: str, count: int = 10_000
) -> list[Row]:
    """A fresh ``python -m bot`` on the ``count``-task store: time to its first status call."""
    env = tolk_env(info, f"{tmp}/poll{count}.sqlite")
    await child.ask("reset")
    started = time.time()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; the loop is not blocked
        [sys.executable, "-m", "bot"],
        cwd=ROOT,
        env={**os.environ, **env, "TOLK_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = None
    try:
        while time.time() - started < 120:
            calls = await child.ask("status_calls")
            if calls:
                first = min(calls)
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(2)  # let it work a little before reading its peak memory
        peak = _peak_rss_mb(process.pid)
    finally:
        process.kill()
        process.wait()
    restart = (first - started) if first else float("inf")
    target = count == 10_000
    return [
        Row(
            f"restart to first poll, {count:,} pending",
            f"{restart:.2f} s",
            "< 2 s" if target else "",
            restart < 2 if target else None,
        ),
        Row(
            f"peak RSS of that process ({count:,} pending)",
            f"{peak:.0f} MB",
            "< 150 MB" if target else "",
            peak < 150 if target else None,
        ),
    ]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


STAGES = ("ack", "poll", "lag", "restart", "throughput", "workspaces", "catalogue", "scale")
SCALE = 100_000  # pending tasks: how the costs grow past the targets' 10,000


async def main(stages: Sequence[str] = STAGES) -> None:
    """Every stage, or those named (``python -m bench ack poll``)."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stage(s) {sorted(unknown)}; the stages: {', '.join(STAGES)}")
    child = Child()
    rows: list[Row] = []
    try:
        info = await child.ask("env")
        with tempfile.TemporaryDirectory() as tmp:
            if "ack" in stages:
                progress("ack latency, Tolk and a bare Bolt app in alternating rounds")
                rows += await ack_rows(child, info, tmp)
            if "poll" in stages or "restart" in stages:
                for count in (1_000, 10_000):
                    progress(f"poll round with {count:,} pending tasks")
                    rows += await poll_rows(child, info, tmp, count)
            if "lag" in stages:
                progress("delivery lag")
                rows += await lag_rows(child, info, tmp)
            if "restart" in stages:
                progress("restart to first poll")
                rows += await restart_rows(child, info, tmp)
        if "throughput" in stages:
            progress(f"{throughput.TASKS} one-image tasks through 1 and 3 replicas (PostgreSQL)")
            rows += [Row(*row) for row in await throughput.rows()]
        if "workspaces" in stages:
            progress(f"{workspaces.WORKSPACES} workspaces: installs and commands")
            rows += [Row(*row) for row in await workspaces.rows()]
        if "catalogue" in stages:
            progress(
                f"a catalogue of {catalogue.ROWS:,} rows into {len(catalogue.LANGS)} languages"
            )
            rows += [Row(*row) for row in await catalogue.rows()]
        if "scale" in stages:  # last: its 100,000 tasks would be every later stage's peak RSS
            progress(f"{SCALE:,} pending: a round's CPU, restart, memory")
            with tempfile.TemporaryDirectory() as tmp:
                rows += await poll_rows(child, info, tmp, SCALE, unlimited=True)
                rows += await restart_rows(child, info, tmp, SCALE)
    finally:
        await child.stop()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(Row("peak RSS of this bench process (Tolk + harness)", f"{own:.0f} MB"))
    print_table(rows)


def progress(stage: str) -> None:
    print(f"… {stage}", file=sys.stderr, flush=True)


def print_table(rows: list[Row]) -> None:
    width = max(len(r.measure) for r in rows)
    vwidth = max(len(r.value) for r in rows)
    print(f"{'measure':<{width}}  {'result':<{vwidth}}  target")
    print("-" * (width + vwidth + 30))
    for r in rows:
        verdict = "" if r.met is None else (" ✓" if r.met else " ✗ not met")
        print(f"{r.measure:<{width}}  {r.value:<{vwidth}}  {r.target}{verdict}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or STAGES))

"""``make bench``: Tolk against the emulators over loopback; prints one table.

The emulators and the load client run in a child process (``bench/emulators.py``), Tolk
in this one, so CPU time and memory are Tolk's. Figures:

- slash-command ack latency p50/p99 at 1, 50 and 200 concurrent requests;
- one poll round with 1,000 and 10,000 pending Xiangji image tasks (one image each, the
  worst case for batching): CPU time, status calls per task, and the same round through a
  naive reference poller (one status call per task), with the ratios;
- delivery lag from "emulator marks done" to "file uploaded", p50/p99 (200 tasks, poll
  back-off 1 s → 5 s);
- restart to first poll with 10,000 pending tasks (a fresh ``python -m bot`` process), and
  that process's peak RSS;
- many workspaces (``bench/workspaces.py``): the OAuth install round trip, and commands
  acknowledged per second across 50 installed workspaces, each against its floor;
- a catalogue of 1,000 rows into 4 languages (``bench/catalogue.py``): wall time against
  the floor of Xiangji's submission limit, status calls per 20 results, peak RSS.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import catalogue, workspaces
from bench.emulators import serve
from bench.harness import SIGNING_SECRET, percentile
from bot.config import load_settings
from bot.core.tasks import Item, Place, State, Task
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


async def ack_rows(child: Child, info: dict[str, Any], tmp: str) -> list[Row]:
    rows = []
    settings = load_settings(tolk_env(info, f"{tmp}/ack.sqlite"))
    async with serving(settings, host="127.0.0.1") as (_, port):
        url = f"http://127.0.0.1:{port}/slack/events"
        for concurrency in (1, 50, 200):
            ms = await child.ask("ack", (url, SIGNING_SECRET, concurrency, 200))
            target = "p99 < 50 ms" if concurrency == 200 else ""
            p99 = percentile(ms, 99)
            rows.append(
                Row(
                    f"ack latency, {concurrency} concurrent",
                    f"p50 {percentile(ms, 50):.1f} ms · p99 {p99:.1f} ms",
                    target,
                    p99 < 50 if target else None,
                )
            )
        # the translations themselves wait on Xiangji's 2/s bucket: not part of the ack
    return rows


async def poll_rows(child: Child, info: dict[str, Any], tmp: str, count: int) -> list[Row]:
    ids = await child.ask("seed", count)
    database = f"{tmp}/poll{count}.sqlite"
    settings = load_settings(tolk_env(info, database))
    async with serving(settings, host="127.0.0.1", start_scheduler=False) as (services, _):
        tasks = pending_tasks(ids, time.time())
        for start in range(0, len(tasks), 2000):
            await services.store.save(*tasks[start : start + 2000])
        await services.poller.drain()  # the start-up tick
        await child.ask("reset")
        cpu, wall = time.process_time(), time.perf_counter()
        while await child.ask("status_ids") < count:  # every due task polled once
            await services.poller.tick()
            await services.poller.drain()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        calls = len(await child.ask("status_calls"))

        await child.ask("reset")
        naive_cpu = time.process_time()
        await naive_round(services, tasks)
        naive_cpu = time.process_time() - naive_cpu
        naive_calls = len(await child.ask("status_calls"))
        # leave every task due, for the restart measurement
        await services.store.save(*(t.but(next_poll_at=0.0) for t in tasks))
    per_1000 = cpu * 1000 / count * 1000
    rows = [
        Row(
            f"poll round, {count:,} pending: status calls per task",
            f"{calls / count:.3f} ({calls} calls)",
            "≤ 0.05 (1 per 20)" if count == 10_000 else "",
            calls / count <= 0.05 if count == 10_000 else None,
        ),
        Row(
            f"poll round, {count:,} pending: CPU",
            f"{cpu * 1000:.0f} ms ({per_1000:.1f} ms per 1,000 due) · wall {wall * 1000:.0f} ms",
            "< 50 ms per 1,000" if count == 10_000 else "",
            per_1000 < 50 if count == 10_000 else None,
        ),
        Row(
            f"naive poller, {count:,} pending",
            f"{naive_calls} calls, CPU {naive_cpu * 1000:.0f} ms → Tolk makes "
            f"{naive_calls / max(calls, 1):.0f}× fewer calls, "
            f"uses {naive_cpu / max(cpu, 1e-9):.1f}× less CPU",
        ),
    ]
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


async def restart_rows(child: Child, info: dict[str, Any], tmp: str) -> list[Row]:
    """A fresh ``python -m bot`` on the 10,000-task store: time to its first status call."""
    env = tolk_env(info, f"{tmp}/poll10000.sqlite")
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
        while time.time() - started < 30:
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
    return [
        Row(
            "restart to first poll, 10,000 pending",
            f"{restart:.2f} s",
            "< 2 s",
            restart < 2,
        ),
        Row("peak RSS of that process", f"{peak:.0f} MB", "< 150 MB", peak < 150),
    ]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    child = Child()
    rows: list[Row] = []
    try:
        info = await child.ask("env")
        with tempfile.TemporaryDirectory() as tmp:
            progress("ack latency")
            rows += await ack_rows(child, info, tmp)
            for count in (1_000, 10_000):
                progress(f"poll round with {count:,} pending tasks")
                rows += await poll_rows(child, info, tmp, count)
            progress("delivery lag")
            rows += await lag_rows(child, info, tmp)
            progress("restart to first poll")
            rows += await restart_rows(child, info, tmp)
        progress(f"{workspaces.WORKSPACES} workspaces: installs and commands")
        rows += [Row(*row) for row in await workspaces.rows()]
        progress(f"a catalogue of {catalogue.ROWS:,} rows into {len(catalogue.LANGS)} languages")
        rows += [Row(*row) for row in await catalogue.rows()]
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
    asyncio.run(main())

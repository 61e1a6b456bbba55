"""The SQLite store locked by someone else: another process opens the task file and holds
``BEGIN EXCLUSIVE`` for a few seconds while commands arrive and tasks are being polled.

Tolk must not crash; a command either gets its ack or fails without leaving anything
behind; once the lock is gone every accepted task ends with one final message, each
image is uploaded once and each batch was submitted once — also after a restart on
the same file.

sqlite3 waits up to 5 s for a lock (its default busy timeout, which sqlitedict keeps):
a shorter lock only delays Tolk, a longer one makes statements fail with ``database is
locked``. Both are tested.

Known and not fixed here (the store is ``bot/core/storage/sqlite.py``): ``create_if_absent``
reads the file on the event loop, so while the file is locked the whole process stands
still — every ack waits for the lock (a 3 s lock gives 3 s acks, past Slack's 3 s), and
with a longer lock the first command fails with a bare HTTP 500 (Slack shows its own
error; nothing is recorded)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

from bot.config import load_settings
from bot.core.tasks import State
from bot.runtime import serving
from tests.conftest import Tolk
from tests.faults.support import final_text, finals, no_duplicates, thread_files
from tests.test_commands_e2e import task_id_in

LONG = 6.0  # seconds: longer than sqlite's 5 s busy timeout

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


class Locker:
    """Another process holding an exclusive lock on the task file."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )

    async def locked(self) -> None:
        line = await asyncio.to_thread(self.proc.stdout.readline)
        assert line.strip() == "locked"

    async def released(self) -> None:
        try:
            assert await asyncio.to_thread(self.proc.wait, 30) == 0
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def store_path(tolk: Tolk) -> Path:
    return Path(tolk.services.settings.database_url.removeprefix("sqlite:///"))


async def timed_command(
    tolk: Tolk, command: str, text: str, response_url: str | None = None
) -> tuple[int, str, float]:
    started = time.monotonic()
    extra = {"response_url": response_url} if response_url else {}
    status, body = await tolk.command(command, text, **extra)
    return status, body, time.monotonic() - started


async def image_task(tolk: Tolk, xiangji, prefix: str, n: int = 3) -> str:
    urls = " ".join(xiangji.sample_url(f"{prefix}{i}") for i in range(n))
    status, body = await tolk.command("/translate-image", f"zh>ko {urls}")
    assert status == 200
    return task_id_in(body)


async def submitted(tolk: Tolk, *task_ids: str) -> None:
    deadline = time.monotonic() + 5
    while True:
        tasks = [await tolk.services.store.get(t) for t in task_ids]
        if all(t.state in (State.SUBMITTED, State.RUNNING) for t in tasks):
            return
        assert time.monotonic() < deadline, tasks
        await asyncio.sleep(0.01)


def every_task_delivered_once(slack, xiangji, images: dict[str, tuple[str, int]]) -> None:
    for task_id, (prefix, n) in images.items():
        expected = [f"{prefix}{i}-ko-{task_id}-{i + 1}.png" for i in range(n)]
        assert sorted(thread_files(slack, task_id)) == expected
        assert f"all {n} images translated" in final_text(slack, task_id)
    no_duplicates(slack)
    assert len(xiangji.requests_for("GetImageTranslateBatch")) == len(images)


async def restart_changes_nothing(env, slack, xiangji) -> None:
    """Open Tolk again on the same file: nothing is left pending, nothing is redone."""
    posted, uploaded = len(slack.calls_to("chat.postMessage")), len(slack.files)
    async with serving(load_settings(env), host="127.0.0.1") as (services, _):
        await asyncio.sleep(0.3)
        await services.poller.drain()
        assert await services.store.next_due_at() is None
    assert len(slack.calls_to("chat.postMessage")) == posted and len(slack.files) == uploaded


async def test_a_short_lock_only_delays_tolk(tolk, env, slack, xiangji, caplog):
    """3 s: commands and polls wait for the lock, then everything completes once."""
    xiangji.pending_polls = 3
    before = {await image_task(tolk, xiangji, "pre"): ("pre", 3)}
    await submitted(tolk, *before)
    locker = Locker(store_path(tolk), 3.0)
    await locker.locked()
    locked_at = time.monotonic()
    answers = await asyncio.gather(
        timed_command(tolk, "/translate-image", f"zh>ko {xiangji.sample_url('one')}"),
        timed_command(
            tolk,
            "/translate-image",
            "zh>ko " + " ".join(xiangji.sample_url(f"lk{i}") for i in range(2)),
        ),
        timed_command(tolk, "/translate", "zh>en 你好"),
    )
    await locker.released()
    held = time.monotonic() - locked_at
    for status, body, _ in answers:
        assert status == 200 and task_id_in(body)  # every command was acknowledged …
    latencies = [seconds for *_, seconds in answers]
    assert max(latencies) <= held + 0.5  # … at the latest once the lock was gone
    await tolk.settle(within=20)

    single = task_id_in(answers[0][1])
    batch = task_id_in(answers[1][1])
    text = task_id_in(answers[2][1])
    every_task_delivered_once(slack, xiangji, {**before, batch: ("lk", 2)})
    assert thread_files(slack, single) == [f"one-ko-{single}-1.png"]
    assert (await tolk.services.store.get(text)).state is State.DELIVERED
    assert finals(slack, text) == []  # its answer is the message itself
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await restart_changes_nothing(env, slack, xiangji)


async def test_a_long_lock_during_polls_loses_nothing(tolk, env, slack, xiangji, caplog):
    """Three batches share one status round; the lock outlasts sqlite's 5 s wait, so a
    save fails with "database is locked" in the middle of the round. The other tasks of
    the round still move on (they are not left leased for 5 minutes), and none is
    delivered twice."""
    xiangji.pending_polls = 3
    images = {await image_task(tolk, xiangji, f"p{n}x"): (f"p{n}x", 3) for n in range(3)}
    await submitted(tolk, *images)
    locker = Locker(store_path(tolk), LONG)
    await locker.locked()
    started = time.monotonic()
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/healthz") as resp:
        assert resp.status == 200 and time.monotonic() - started < 1  # still serving
    await locker.released()
    await tolk.settle(within=10)
    every_task_delivered_once(slack, xiangji, images)
    failed = [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "bot.engine.work"
    ]
    assert all("database is locked" in str(r.exc_info[1]) for r in failed)  # said, not hidden
    await restart_changes_nothing(env, slack, xiangji)


async def test_a_long_lock_during_commands(tolk, env, slack, xiangji):
    """Commands during a lock longer than sqlite's 5 s wait: each is either acknowledged
    with its task, or fails leaving nothing behind (no task, no provider call, no
    message). What was accepted — before and during the lock — completes once."""
    xiangji.pending_polls = 2
    before = {await image_task(tolk, xiangji, "pre", 2): ("pre", 2)}
    await submitted(tolk, *before)
    locker = Locker(store_path(tolk), LONG)
    await locker.locked()
    hooks = [slack.new_response_url(channel="C0GENERAL", user="U0ALICE") for _ in range(3)]
    answers = await asyncio.gather(
        *(
            timed_command(
                tolk,
                "/translate-image",
                f"zh>ko {xiangji.sample_url(f'c{n}a')} {xiangji.sample_url(f'c{n}b')}",
                hooks[n],
            )
            for n in range(3)
        )
    )
    await locker.released()
    accepted = dict(before)
    for n, (status, body, _) in enumerate(answers):
        if status == 200:
            accepted[task_id_in(body)] = (f"c{n}", 2)
        else:
            assert body == ""  # Bolt's 500 — and the person is told to send it again:
            (told,) = [r for r in slack.responses if r["url"] == hooks[n]]
            assert "did nothing" in told["text"] and "again" in told["text"]
    assert len(accepted) > 1
    status, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('after0')}")
    assert status == 200  # the store works again
    await tolk.settle(within=20)

    for task_id, (prefix, n) in accepted.items():
        names = sorted(thread_files(slack, task_id))
        assert len(names) == n and len(set(names)) == n and names[0].startswith(prefix)
        assert f"all {n} images translated" in final_text(slack, task_id)
    parents = {m["text"].split("task `")[1][:5] for m in slack.messages("C0GENERAL")}
    assert parents == {*accepted, task_id_in(body)}  # a refused command left nothing behind
    assert len(xiangji.requests_for("GetImageTranslateBatch")) == len(accepted)
    no_duplicates(slack)
    await restart_changes_nothing(env, slack, xiangji)

"""Graceful shutdown with a real process: ``python -m bot`` against the emulators, sent
SIGTERM while a provider call is under way (Xiangji's synchronous image call, slowed).

- The step under way finishes and is saved: its image and its one closing message are
  in Slack, the task settled, and the process exits within ``TOLK_SHUTDOWN_GRACE``.
- Nothing is claimed after SIGTERM: a command that arrives meanwhile is answered and
  recorded, but waits in the store, unleased, for the next start, which does it.
- A step longer than the grace is cut off: the process still exits in time, the task
  is left as last saved (its lease ends with the process), and the next start carries
  on from there: the parent is not posted again, the answer comes once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.__main__ import shutdown_grace
from bot.config import ConfigError
from bot.core.storage import open_store
from bot.core.tasks import State, Task
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import free_port
from tests.conftest import SIGNING_SECRET, tolk_env

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "C0GENERAL"
SLOW_CALL = "GetImageTranslate"  # one image: a synchronous call, inside the step


class Bot:
    """``python -m bot`` in ``cwd``, its output in ``bot.log``."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.log = env, cwd / "bot.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}/slack/events"

    async def healthy(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output[-3000:]
            try:
                async with session.get(f"http://127.0.0.1:{self.env['PORT']}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("Tolk did not start:\n" + self.output[-3000:])

    async def command(self, session: aiohttp.ClientSession, text: str) -> None:
        body = command_body("/translate-image", text, channel=CHANNEL)
        status, answer = await post_signed(session, self.events_url, SIGNING_SECRET, body)
        assert status == 200, answer

    async def logged(self, words: str, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while words not in self.output:
            assert time.monotonic() < deadline, f"never logged {words!r}:\n{self.output}"
            await asyncio.sleep(0.02)

    async def exit_after(self, sig: signal.Signals, within: float) -> float:
        """Send ``sig`` and wait for the exit (status 0); how long it took."""
        sent = time.monotonic()
        self.proc.send_signal(sig)
        while self.proc.poll() is None:
            if time.monotonic() - sent > within + 10:
                self.kill()
                raise AssertionError(f"still running after {sig.name}:\n{self.output}")
            await asyncio.sleep(0.02)
        assert self.proc.returncode == 0, self.output
        return time.monotonic() - sent

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


async def stored_tasks(env: dict[str, str]) -> list[Task]:
    store = await open_store(env["DATABASE_URL"])
    try:
        return await store.list_for_channel(CHANNEL, active_only=False)
    finally:
        await store.close()


def finals(slack: SlackEmulator, task: Task) -> list[str]:
    assert task.place.thread_ts is not None
    thread = slack.thread(CHANNEL, task.place.thread_ts)
    return [m["text"] for m in thread if "Done" in m.get("text", "")]


async def test_sigterm_lets_the_step_under_way_finish_and_claims_nothing_new(
    slack: SlackEmulator, xiangji: XiangjiEmulator, tmp_path: Path
) -> None:
    grace = 10.0
    env = {
        **tolk_env(slack, xiangji, tmp_path),
        "PORT": str(free_port()),
        "TOLK_SHUTDOWN_GRACE": str(grace),
    }
    xiangji.faults.delay(SLOW_CALL, 2.5)
    bot = Bot(env, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await bot.healthy(session)
            await bot.command(session, f"zh>ko {xiangji.sample_url('first')}")
            await slack.wait_for(lambda: xiangji.requests_for(SLOW_CALL), timeout=15)

            bot.proc.send_signal(signal.SIGTERM)  # the provider call is under way
            await bot.logged("Tolk is stopping")
            await bot.command(session, f"zh>ko {xiangji.sample_url('second')}")  # answered
            took = await bot.exit_after(signal.SIGTERM, within=grace)
    finally:
        bot.kill()

    assert took < grace, f"{took:.1f} s"
    assert "Traceback" not in bot.output and "cut off" not in bot.output
    first, second = sorted(await stored_tasks(env), key=lambda t: t.created_at)
    # the step under way finished and was saved, its answer given once
    assert first.state is State.DELIVERED and first.settled and first.lease_until == 0
    assert [f.name for f in slack.files.values()] == [f"first-ko-{first.id}-1.png"]
    assert len(finals(slack, first)) == 1
    # the command that came after SIGTERM was recorded, never claimed nor started
    assert second.state is State.QUEUED and second.lease_until == 0 and not second.notes
    assert len(slack.messages(CHANNEL)) == 1  # the first task's parent only
    assert len(xiangji.requests_for(SLOW_CALL)) == 1

    xiangji.faults.delay(SLOW_CALL, 0)  # the next start takes it
    again = Bot(env, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await again.healthy(session)
            await slack.wait_for(lambda: len(slack.files) == 2, timeout=20)
            await again.logged(f"task {second.id}: delivered")
            await again.exit_after(signal.SIGTERM, within=grace)
    finally:
        again.kill()
    first, second = sorted(await stored_tasks(env), key=lambda t: t.created_at)
    assert second.state is State.DELIVERED and second.settled
    assert len(finals(slack, first)) == 1 and len(finals(slack, second)) == 1
    assert len(xiangji.requests_for(SLOW_CALL)) == 2  # each image sent once


async def test_a_step_longer_than_the_grace_is_cut_off_and_the_next_start_carries_on(
    slack: SlackEmulator, xiangji: XiangjiEmulator, tmp_path: Path
) -> None:
    grace = 1.0
    env = {
        **tolk_env(slack, xiangji, tmp_path),
        "PORT": str(free_port()),
        "TOLK_SHUTDOWN_GRACE": str(grace),
    }
    xiangji.faults.delay(SLOW_CALL, 6.0)
    bot = Bot(env, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await bot.healthy(session)
            await bot.command(session, f"zh>ko {xiangji.sample_url('slow')}")
            await slack.wait_for(lambda: xiangji.requests_for(SLOW_CALL), timeout=15)
            took = await bot.exit_after(signal.SIGTERM, within=grace)
    finally:
        bot.kill()

    assert took < grace + 3, f"{took:.1f} s"
    assert "cut off" in bot.output and "Traceback" not in bot.output
    (task,) = await stored_tasks(env)
    assert task.state is State.QUEUED and not task.settled  # as last saved: parent posted
    assert task.place.thread_ts and not slack.files and not finals(slack, task)

    xiangji.faults.delay(SLOW_CALL, 0)
    again = Bot(env, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await again.healthy(session)
            await again.logged(f"task {task.id}: delivered", within=20)
            await again.exit_after(signal.SIGTERM, within=grace)
    finally:
        again.kill()
    (task,) = await stored_tasks(env)
    assert task.state is State.DELIVERED and task.settled
    assert len(slack.messages(CHANNEL)) == 1  # the parent, not posted again
    assert len(slack.files) == 1 and len(finals(slack, task)) == 1
    # the call cut off had no answer to save: a synchronous call is made again
    assert len(xiangji.requests_for(SLOW_CALL)) == 2


@pytest.mark.parametrize(("raw", "seconds"), [("", None), ("0", 0.0), (" 12.5 ", 12.5)])
def test_the_grace_is_read_from_the_environment(raw: str, seconds: float | None) -> None:
    assert shutdown_grace({"TOLK_SHUTDOWN_GRACE": raw}) == seconds
    assert shutdown_grace({}) is None  # bot.runtime.SHUTDOWN_GRACE, 20 s


@pytest.mark.parametrize("raw", ["abc", "20s", "-1", "inf", "nan"])
def test_a_grace_that_is_not_a_number_of_seconds_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="TOLK_SHUTDOWN_GRACE"):
        shutdown_grace({"TOLK_SHUTDOWN_GRACE": raw})

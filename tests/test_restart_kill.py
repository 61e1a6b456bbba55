"""The guarantee with real processes: ``python -m bot`` is killed with SIGKILL in the
middle of a batch, again and again, and started on the same store each time. Every
image must be uploaded exactly once and the thread must end with exactly one final
message."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from emulators.signed import command_body, post_signed
from tests.conftest import SIGNING_SECRET

IMAGES = 20
KILL_AFTER_UPLOADS = (3, 8, 14)  # one SIGKILL at each of these counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        with self.log.open("ab") as out:  # the child has its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                env={"PATH": os.environ.get("PATH", ""), **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )
        url = f"http://127.0.0.1:{self.env['PORT']}/healthz"
        for _ in range(300):
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("bot did not start:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


async def test_sigkill_mid_batch_loses_nothing_and_posts_nothing_twice(
    env, slack, xiangji, tmp_path
):
    env = {**env, "PORT": str(free_port()), "TOLK_POLL_MIN_SECONDS": "0.1"}
    slack.latency["upload"] = 0.08  # uploads take long enough to be killed in between
    xiangji.pending_polls = 2
    bot = BotProcess(env, tmp_path / "bot.log")
    urls = [xiangji.sample_url(f"item{i:02d}") for i in range(IMAGES)]

    def uploaded() -> list[str]:
        return [f.name for f in slack.files.values()]

    def finished() -> bool:
        parents = slack.messages("C0GENERAL")
        return bool(parents) and any(
            "Done" in m.get("text", "") for m in slack.thread("C0GENERAL", parents[0]["ts"])
        )

    async with aiohttp.ClientSession() as session:
        await bot.start(session)
        try:
            body = command_body("/translate-image", "zh>ko " + " ".join(urls))
            status, _ = await post_signed(
                session, f"http://127.0.0.1:{env['PORT']}/slack/events", SIGNING_SECRET, body
            )
            assert status == 200
            for count in KILL_AFTER_UPLOADS:
                await slack.wait_for(lambda c=count: len(uploaded()) >= c, timeout=30)
                bot.kill()
                assert not finished()
                await bot.start(session)
            await slack.wait_for(finished, timeout=60)
            await asyncio.sleep(0.5)  # anything posted twice would arrive now
        finally:
            bot.stop()

    names = uploaded()
    assert len(names) == IMAGES, sorted(names)
    assert len(set(names)) == IMAGES  # each image exactly once
    assert {n.split("-ko-")[0] for n in names} == {f"item{i:02d}" for i in range(IMAGES)}
    (parent,) = slack.messages("C0GENERAL")  # one parent, never re-posted
    finals = [m for m in slack.thread("C0GENERAL", parent["ts"]) if "Done" in m.get("text", "")]
    assert len(finals) == 1 and f"all {IMAGES} images" in finals[0]["text"]
    assert len(xiangji.requests_for("GetImageTranslateBatch")) == 1  # submitted once
    assert "Traceback" not in (tmp_path / "bot.log").read_text()

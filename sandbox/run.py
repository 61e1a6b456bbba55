"""The sandbox: the real bot, wired through its ordinary settings to the bundled Slack,
Xiangji, Alibaba (MT, MTS, OSS) and Rozetta emulators on loopback, driven from the
console. Nothing leaves the machine: the Alibaba emulator makes up a sample for any
document URL it cannot reach."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TextIO

from bot.config import load_settings
from bot.runtime import serving
from emulators.alibaba import AlibabaMTEmulator
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator
from emulators.rozetta import RozettaEmulator
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.console import HELP, USER, Console
from sandbox.wiring import emulator_env, free_port

DATA = Path("data/sandbox")
BANNER = (
    "Tolk sandbox: the real bot against emulated Slack, Xiangji, Alibaba (MT, MTS, OSS) and "
    "Rozetta on this machine (no workspace is contacted). To connect a real workspace, put "
    "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) in .env — see README.md."
)


async def run_sandbox(
    *, script: Path | None = None, port: int = 0, out: TextIO = sys.stdout
) -> int:
    files_dir = DATA / "files"
    await asyncio.to_thread(_fresh_data, files_dir)
    bot_token = "xoxb-sandbox-" + secrets.token_hex(8)
    signing_secret = secrets.token_hex(16)
    async with (
        SlackEmulator(bot_token=bot_token, files_dir=files_dir) as slack,
        XiangjiEmulator(fetch_sources=False, watermark_template=False) as xiangji,
        AlibabaMTEmulator(doc_seconds=1.0, offline_samples=True) as alibaba,
        RozettaEmulator(done_after_polls=1) as rozetta,
        OssEmulator() as oss,
        MtsEmulator(oss, require_oss_host=False) as mts,
    ):
        # a private channel Alice is in and Tolk was never invited to: `in #secret …`
        slack.add_channel("G0SECRET", "secret", is_private=True, member=False, members=[USER])
        env = emulator_env(
            slack,
            xiangji,
            alibaba=alibaba,
            rozetta=rozetta,
            mts=mts,
            port=port or free_port(),  # known before start: Alibaba fetches and calls back
            signing_secret=signing_secret,
            database_url=f"sqlite:///{DATA}/tolk.sqlite",
        )
        settings = load_settings(
            {**env, "TOLK_POLL_MIN_SECONDS": "0.5", "TOLK_POLL_MAX_SECONDS": "5"}
        )
        async with serving(settings, host="127.0.0.1") as (services, bound):
            print(BANNER, file=out, flush=True)
            interactive = script is None and sys.stdin.isatty()
            if interactive:
                print(HELP, file=out, flush=True)

            async def idle() -> bool:
                return not services.poller.busy and await services.store.next_due_at() is None

            console = Console(
                slack,
                f"http://127.0.0.1:{bound}/slack/events",
                signing_secret,
                idle=idle,
                out=out,
                interactive=interactive,
            )
            if interactive:
                with _terminal_restored():
                    return await console.run()  # a prompt, and results as they land
            lines = _file_lines(script) if script else _stdin_lines()
            return await console.run(lines)


def _fresh_data(files_dir: Path) -> None:
    files_dir.mkdir(parents=True, exist_ok=True)
    for old in DATA.glob("tolk*.sqlite"):
        old.unlink()  # a fresh workspace each run: old tasks would point at a Slack that is gone


@contextlib.contextmanager
def _terminal_restored() -> Iterator[None]:
    """Leave the terminal as it was, even when the sandbox ends while a prompt waits
    (Ctrl-C, an error): line editing changes its modes while it reads."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _file_lines(path: Path) -> AsyncIterator[str]:
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    for line in text.splitlines():
        yield line


async def _stdin_lines() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        yield line

"""The sandbox: the real bot, wired through its ordinary settings to the bundled Slack,
Xiangji, Alibaba (MT, MTS, OSS) and Rozetta emulators on loopback, driven from the
console. Nothing leaves the machine: the Alibaba emulator makes up a sample for any
document URL it cannot reach.

Tolk runs as an app installed with Slack's OAuth (``SLACK_CLIENT_ID``,
``SLACK_CLIENT_SECRET``) that the emulated Slack knows (``register_app``: its redirect
URL and events URL at Tolk's loopback address, its signing secret); the sandbox's own
workspace is installed through the OAuth flow at start
(:func:`sandbox.install.install_in`, what a person's browser does), and the console's
``install NAME`` installs more. ``running_sandbox(many=False)`` starts it with one
workspace and a bot token (``SLACK_BOT_TOKEN``) instead; its first ``install``
switches (restarts Tolk on the same port and database).
``TOLK_SHARED_PROVIDER_KEYS=on``: the provider emulators' keys serve every workspace.
``TOLK_SECRET_KEY``, which seals the stored tokens, is made once and kept in the data
directory (``secret.key``), so a Tolk restarted on the same database opens them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TextIO

from cryptography.fernet import Fernet

from bot.config import load_settings
from bot.runtime import serving
from bot.wiring import Services
from emulators.alibaba import AlibabaMTEmulator
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator
from emulators.rozetta import RozettaEmulator
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.console import HELP, USER, Console, SandboxApp
from sandbox.wiring import emulator_env, free_port

DATA = Path("data/sandbox")
CLIENT_ID = "1000000000001.2000000000002"  # the sandbox app's, as Slack writes client ids
SECRET_KEY_FILE = "secret.key"
PEOPLE = 3600.0  # a task due later than this waits for people (a review), not a provider
BANNER = (
    "Tolk sandbox: the real bot against emulated Slack, Xiangji, Alibaba (MT, MTS, OSS) and "
    "Rozetta on this machine (no workspace is contacted). To connect a real workspace, put "
    "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) in .env — see README.md."
)


class Sandbox:
    """Tolk running against the emulators: with one workspace's bot token, or — after
    :meth:`many_workspaces` — as an app installed with Slack's OAuth. The tests look
    inside (``services``, ``slack``, ``xiangji``)."""

    console: Console

    def __init__(
        self,
        slack: SlackEmulator,
        xiangji: XiangjiEmulator,
        env: dict[str, str],
        *,
        data: Path,
        url: str,
    ) -> None:
        self.slack = slack
        self.xiangji = xiangji
        self.env = env  # one workspace's settings
        self.data = data
        self.url = url  # Tolk's public address on loopback
        self.many = False
        self._tolk = contextlib.AsyncExitStack()
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        assert self._services is not None, "Tolk is not running"
        return self._services

    async def start(self, env: dict[str, str]) -> None:
        self._services, _ = await self._tolk.enter_async_context(
            serving(load_settings(env), host="127.0.0.1")
        )

    async def stop(self) -> None:
        self._services = None
        await self._tolk.aclose()

    async def many_workspaces(self) -> SandboxApp:
        """(Re)start Tolk as an app installed in many workspaces with Slack's OAuth (same
        port, same database): the emulator knows the app; no workspace is installed yet."""
        client_secret = secrets.token_hex(16)
        signing_secret = self.env["SLACK_SIGNING_SECRET"]
        self.slack.register_app(
            CLIENT_ID,
            client_secret,
            [f"{self.url}/slack/oauth_redirect"],
            event_url=f"{self.url}/slack/events",
            signing_secret=signing_secret,
        )
        env = {k: v for k, v in self.env.items() if k != "SLACK_BOT_TOKEN"}
        env |= {
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": client_secret,
            "TOLK_SECRET_KEY": await asyncio.to_thread(kept_secret_key, self.data),
            "TOLK_SHARED_PROVIDER_KEYS": "on",
        }
        await self.stop()  # when running: the same port and database, a new Tolk
        await self.start(env)
        self.many = True
        return SandboxApp(CLIENT_ID, self.url, pending=self.pending)

    async def idle(self) -> bool:
        services = self.services
        due = await services.store.next_due_at()  # a task due in hours waits for people
        return not services.poller.busy and (due is None or due > time.time() + PEOPLE)

    async def pending(self, team: str) -> list[str]:
        """The ids of workspace ``team``'s unsettled tasks."""
        return [task.id for task in await self.services.store.list_unsettled(team)]


async def run_sandbox(
    *, script: Path | None = None, port: int = 0, out: TextIO = sys.stdout, many: bool = True
) -> int:
    interactive = script is None and sys.stdin.isatty()
    async with running_sandbox(port=port, out=out, interactive=interactive, many=many) as sandbox:
        if interactive:
            print(HELP, file=out, flush=True)
            with _terminal_restored():
                return await sandbox.console.run()  # a prompt, and results as they land
        lines = _file_lines(script) if script else _stdin_lines()
        return await sandbox.console.run(lines)


@contextlib.asynccontextmanager
async def running_sandbox(
    *,
    data: Path = DATA,
    port: int = 0,
    out: TextIO = sys.stdout,
    interactive: bool = False,
    many: bool = True,
) -> AsyncIterator[Sandbox]:
    """The emulators and Tolk running, the console ready (not yet reading lines);
    ``data`` holds the database, the files Slack keeps and the key. ``many``: Tolk
    starts as an app installed with Slack's OAuth, installed in the sandbox's workspace
    (what the first ``install`` does otherwise)."""
    files_dir = data / "files"
    await asyncio.to_thread(_fresh_data, data, files_dir)
    signing_secret = secrets.token_hex(16)
    port = port or free_port()  # known before start: Alibaba and Slack's OAuth call back
    url = f"http://127.0.0.1:{port}"
    bot_token = "xoxb-sandbox-" + secrets.token_hex(8)
    async with (
        SlackEmulator(bot_token=bot_token, files_dir=files_dir) as slack,
        XiangjiEmulator(fetch_sources=False, watermark_template=False) as xiangji,
        AlibabaMTEmulator(doc_seconds=1.0, offline_samples=True) as alibaba,
        RozettaEmulator(done_after_polls=1) as rozetta,
        OssEmulator() as oss,
        MtsEmulator(oss, require_oss_host=False) as mts,
        _quiet_not_installed(),
    ):
        # a private channel Alice is in and Tolk was never invited to: `in #secret …`
        slack.add_channel("G0SECRET", "secret", is_private=True, member=False, members=[USER])
        slack.users[USER]["is_admin"] = True  # Alice runs the workspace: sets, limits, keys
        env = emulator_env(
            slack,
            xiangji,
            alibaba=alibaba,
            rozetta=rozetta,
            mts=mts,
            port=port,
            signing_secret=signing_secret,
            database_url=f"sqlite:///{data}/tolk.sqlite",
        )
        env |= {"TOLK_POLL_MIN_SECONDS": "0.5", "TOLK_POLL_MAX_SECONDS": "5"}
        sandbox = Sandbox(slack, xiangji, env, data=data, url=url)
        app = await sandbox.many_workspaces() if many else None
        if app is None:
            await sandbox.start(env)
        try:
            print(BANNER, file=out, flush=True)
            sandbox.console = Console(
                slack,
                f"{url}/slack/events",
                signing_secret,
                idle=sandbox.idle,
                out=out,
                interactive=interactive,
                many_workspaces=sandbox.many_workspaces,
            )
            if app is not None:
                await sandbox.console.installed_by_oauth(app)
            yield sandbox
        finally:
            await sandbox.stop()


def _fresh_data(data: Path, files_dir: Path) -> None:
    files_dir.mkdir(parents=True, exist_ok=True)
    for old in data.glob("tolk*.sqlite"):
        old.unlink()  # a fresh workspace each run: old tasks would point at a Slack that is gone


def kept_secret_key(data: Path) -> str:
    """``TOLK_SECRET_KEY`` for the sandbox: the one in ``data/secret.key``, or a new one
    written there (readable by its owner only)."""
    key_file = data / SECRET_KEY_FILE
    if key_file.is_file() and (kept := key_file.read_text(encoding="utf-8").strip()):
        return kept
    key = Fernet.generate_key().decode()
    data.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return key


class _NotInstalled(logging.Filter):
    """Bolt logs an ERROR for every request from a workspace Tolk is not installed in.
    After the console's ``uninstall`` that is what is being shown, and the console
    prints the answer the person gets; the log line would only land in the middle of
    the transcript."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Although the app should be installed")


@contextlib.asynccontextmanager
async def _quiet_not_installed() -> AsyncIterator[None]:
    log = logging.getLogger("slack_bolt.AsyncMultiTeamsAuthorization")
    noise = _NotInstalled()
    log.addFilter(noise)
    try:
        yield
    finally:
        log.removeFilter(noise)


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

"""Start-up and shut-down, with real processes where it matters: ``python -m bot`` against
the emulators (Slack with Socket Mode, Xiangji) on loopback.

- SIGTERM and SIGINT stop it within 10 s with status 0, in HTTP mode and in Socket Mode
  (also while Slack cannot be reached), and pending work stays in the store;
- ``/healthz`` is 503 while Socket Mode is not connected, 200 once it is;
- a failed connection is one log line with the reason and a pause that doubles (1 s →
  60 s, with jitter), never a traceback;
- a token Slack refuses (``invalid_auth``, ``token_revoked``, ``not_allowed_token_type``)
  or some Slack variables without a working set stop it with status 2 and one line.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

import bot.socket_mode
from bot.config import load_settings
from bot.core.backoff import Backoff
from bot.core.storage import open_store
from bot.runtime import check_bot_token, serving
from bot.socket_mode import StartupError
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.socket_mode import OPEN, SocketModeSlackEmulator
from sandbox.wiring import free_port
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, tolk_env

ROOT = Path(__file__).resolve().parent.parent
STOP_WITHIN = 10.0
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ \S+: ")
RETRY_LINE = re.compile(r"cannot connect to Slack \((.+)\); trying again in ([\d.]+) s")


@pytest.fixture
async def socket_slack() -> AsyncIterator[SocketModeSlackEmulator]:
    async with SocketModeSlackEmulator(bot_token=BOT_TOKEN) as emulator:
        yield emulator


def socket_env(slack: SocketModeSlackEmulator, xiangji: Any, tmp_path: Path) -> dict[str, str]:
    env = tolk_env(slack, xiangji, tmp_path)
    del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs none
    return {**env, "SLACK_APP_TOKEN": slack.app_token, "PORT": str(free_port())}


class BotProcess:
    """``python -m bot`` in an empty directory (no ``.env`` but the one a test writes),
    its output in a log file."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.log = cwd / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                env={
                    "PATH": os.environ.get("PATH", ""),
                    "PYTHONPATH": str(ROOT),
                    "HOME": str(self.cwd),
                    **self.env,
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}/healthz"

    async def health(self, session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]] | None:
        try:
            async with session.get(self.health_url) as resp:
                return resp.status, await resp.json()
        except aiohttp.ClientError:
            return None

    async def wait_health(self, session: aiohttp.ClientSession, status: int, within: float = 30):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.output[-3000:]
            answer = await self.health(session)
            if answer is not None and answer[0] == status:
                return answer[1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"/healthz never answered {status}:\n{self.output[-3000:]}")

    async def stop_with(self, sig: signal.Signals) -> tuple[int, float]:
        """Send ``sig``; the exit status and how long the process took to exit."""
        assert self.proc is not None
        sent = time.monotonic()
        self.proc.send_signal(sig)
        while self.proc.poll() is None and time.monotonic() - sent < STOP_WITHIN + 5:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        took = time.monotonic() - sent
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running {took:.1f} s after {sig.name}:\n{self.output}")
        return self.proc.returncode, took

    async def exit_status(self, within: float = 30) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + within
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, self.output
            await asyncio.sleep(0.05)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def processes() -> Any:
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.kill()


def launch(processes: list[BotProcess], env: dict[str, str], cwd: Path) -> BotProcess:
    process = BotProcess(env, cwd)
    processes.append(process)
    process.start()
    return process


def problem_lines(output: str) -> list[str]:
    """What a person reads besides the ordinary log lines."""
    return [line for line in output.splitlines() if line.strip() and not LOG_LINE.match(line)]


# --- SIGTERM / SIGINT ----------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_http_mode_stops_on_a_signal_and_the_pending_task_survives(
    sig, slack, xiangji, tmp_path, processes
):
    env = {**tolk_env(slack, xiangji, tmp_path), "PORT": str(free_port())}
    xiangji.pending_polls = 1_000_000  # the batch stays pending at Xiangji
    bot = launch(processes, env, tmp_path)
    async with aiohttp.ClientSession() as session:
        await bot.wait_health(session, 200)
        urls = " ".join(xiangji.sample_url(f"p{i}") for i in range(2))
        status, _ = await post_signed(
            session,
            f"http://127.0.0.1:{env['PORT']}/slack/events",
            SIGNING_SECRET,
            command_body("/translate-image", f"zh>ko {urls}"),
        )
        assert status == 200
        await slack.wait_for(lambda: xiangji.requests_for("GetImageTranslateBatch"), timeout=15)
        await asyncio.sleep(0.3)  # a poll or two
        code, took = await bot.stop_with(sig)
    assert code == 0, bot.output
    assert took < STOP_WITHIN
    assert "Traceback" not in bot.output
    store = await open_store(env["DATABASE_URL"])
    try:
        assert sum((await store.count_unsettled()).values()) == 1  # still there, unfinished
    finally:
        await store.close()

    for job in list(xiangji._jobs):  # Xiangji finishes the batch; the next start delivers it
        xiangji.finish(job)
    again = launch(processes, env, tmp_path)
    async with aiohttp.ClientSession() as session:
        await again.wait_health(session, 200)
        parent = slack.messages("C0GENERAL")[0]

        def done() -> bool:
            return any("Done" in m.get("text", "") for m in slack.thread("C0GENERAL", parent["ts"]))

        await slack.wait_for(done, timeout=20)
        code, _ = await again.stop_with(signal.SIGTERM)
    assert code == 0
    assert len(xiangji.requests_for("GetImageTranslateBatch")) == 1  # submitted once


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("unreachable", ["apps.connections.open", "every Slack call"])
async def test_socket_mode_that_cannot_reach_slack_stops_on_a_signal(
    sig, unreachable, socket_slack, xiangji, tmp_path, processes
):
    env = socket_env(socket_slack, xiangji, tmp_path)
    if unreachable == "every Slack call":
        env["SLACK_API_URL"] = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens
    else:
        socket_slack.faults.add(OPEN, status=503, times=1_000)
    bot = launch(processes, env, tmp_path)
    async with aiohttp.ClientSession() as session:
        body = await bot.wait_health(session, 503)
        assert body["ok"] is False and body["mode"] == "socket"
        assert body["slack"] == "disconnected"
        await asyncio.sleep(2.5)  # a few attempts
        code, took = await bot.stop_with(sig)
    assert code == 0, bot.output
    assert took < STOP_WITHIN
    assert "Traceback" not in bot.output


# --- Socket Mode: /healthz, one line per failed attempt, back-off -------------------------------


async def test_socket_mode_health_is_503_until_connected_then_200(
    socket_slack, xiangji, tmp_path, processes
):
    """The real back-off (1 s, then 1–2 s): two refused connections, then a good one."""
    socket_slack.faults.add(OPEN, status=500, times=2)
    env = socket_env(socket_slack, xiangji, tmp_path)
    bot = launch(processes, env, tmp_path)
    async with aiohttp.ClientSession() as session:
        body = await bot.wait_health(session, 503)
        assert body == {
            "ok": False,
            "mode": "socket",
            "slack": "disconnected",
            "reason": body["reason"],
        }
        body = await bot.wait_health(session, 200, within=15)
        assert body == {"ok": True, "mode": "socket", "slack": "connected"}
        ack = await socket_slack.command("/tolk", "help")  # Bolt answers through the socket
        assert "/translate" in ack["payload"]["text"]
        code, took = await bot.stop_with(signal.SIGTERM)
    assert code == 0 and took < STOP_WITHIN
    output = bot.output
    retries = [RETRY_LINE.search(line) for line in output.splitlines()]
    delays = [float(m.group(2)) for m in retries if m]
    assert [m.group(1) for m in retries if m] == ["Slack answered internal_error (HTTP 500)"] * 2
    assert delays[0] == 1.0 and 1.0 <= delays[1] <= 2.0
    opens = [at for at, _ in socket_slack.opens]
    assert len(opens) == 3
    assert opens[1] - opens[0] >= 0.95 and opens[2] - opens[1] >= 0.95
    assert "Traceback" not in output


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Backoff:
    backoff = Backoff(0.05, 0.4)
    monkeypatch.setattr(bot.socket_mode, "RECONNECT", backoff)
    return backoff


async def health(session: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, Any]]:
    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
        return resp.status, await resp.json()


async def test_each_failed_attempt_is_one_line_and_the_pause_doubles_to_its_cap(
    socket_slack, xiangji, tmp_path, fast_backoff, caplog
):
    caplog.set_level(logging.INFO)
    socket_slack.faults.add(OPEN, status=500, times=8)
    settings = load_settings(socket_env(socket_slack, xiangji, tmp_path))
    async with (
        serving(settings, host="127.0.0.1") as (_, port),
        aiohttp.ClientSession() as session,
    ):
        status, body = await health(session, port)
        assert status == 503 and body["reason"] == "Slack answered internal_error (HTTP 500)"
        await socket_slack.wait_connected(timeout=10)
        await asyncio.sleep(0.05)
        assert await health(session, port) == (
            200,
            {"ok": True, "mode": "socket", "slack": "connected"},
        )
    records = [r for r in caplog.records if r.name == "bot.socket_mode" and "trying again" in r.msg]
    assert len(records) == 8  # one per failed attempt
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)
    pauses = [float(r.args[1]) for r in records]
    for attempt, pause in enumerate(pauses):
        ceiling = min(0.4, 0.05 * 2**attempt)
        assert max(0.05, ceiling / 2) <= pause <= ceiling, pauses
    assert pauses[-1] >= 0.2  # it grew to the cap's range
    opens = [at for at, _ in socket_slack.opens]
    gaps = [b - a for a, b in itertools.pairwise(opens)]
    assert all(gap >= pause * 0.9 for gap, pause in zip(gaps, pauses, strict=False))
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]


async def test_a_refused_websocket_is_reported_and_retried(
    socket_slack, xiangji, tmp_path, fast_backoff, caplog
):
    socket_slack.accepting = False  # a URL is issued, but the handshake fails
    settings = load_settings(socket_env(socket_slack, xiangji, tmp_path))
    async with (
        serving(settings, host="127.0.0.1") as (_, port),
        aiohttp.ClientSession() as session,
    ):
        await socket_slack.wait_for(lambda: len(socket_slack.opens) >= 3)
        status, body = await health(session, port)
        assert status == 503
        assert body["reason"] == "the websocket handshake failed (HTTP 403)"
        socket_slack.accepting = True
        await socket_slack.wait_connected()
        await asyncio.sleep(0.05)
        assert (await health(session, port))[0] == 200
    assert "ticket=" not in caplog.text  # the URL (and its ticket) is never logged


async def test_a_dropped_connection_is_made_again(socket_slack, xiangji, tmp_path, fast_backoff):
    settings = load_settings(socket_env(socket_slack, xiangji, tmp_path))
    async with (
        serving(settings, host="127.0.0.1") as (_, port),
        aiohttp.ClientSession() as session,
    ):
        assert (await health(session, port))[0] == 200  # start-up made the first connection
        socket_slack.faults.add(OPEN, status=500, times=2)
        await socket_slack.drop_connections()
        await socket_slack.wait_for(lambda: socket_slack.connections == 2, timeout=10)
        await asyncio.sleep(0.05)
        assert (await health(session, port))[0] == 200
        ack = await socket_slack.command("/tolk", "help")
        assert "/translate" in ack["payload"]["text"]
    assert [answer for _, answer in socket_slack.opens] == ["ok", "HTTP 500", "HTTP 500", "ok"]


# --- tokens Slack refuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("emulator_token", "given", "error"),
    [
        ("xoxb-right", "xoxb-wrong", "invalid_auth"),
        ("xoxb-revoked-1", "xoxb-revoked-1", "token_revoked"),
        ("xapp-1-A0TOLK-1-abc", "xapp-1-A0TOLK-1-abc", "not_allowed_token_type"),
    ],
)
async def test_auth_test_refusals_are_one_line_naming_the_variable(emulator_token, given, error):
    async with SlackEmulator(bot_token=emulator_token) as slack:
        client = AsyncWebClient(token=given, base_url=slack.api_url)
        with pytest.raises(StartupError) as info:
            await check_bot_token(client)
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith("SLACK_BOT_TOKEN ") and error in line and "auth.test" in line
    if error == "not_allowed_token_type":
        assert "SLACK_APP_TOKEN" in line  # where that kind of token goes


async def test_a_refused_app_token_stops_start_up(xiangji, tmp_path):
    async with SocketModeSlackEmulator(bot_token=BOT_TOKEN, app_token="xapp-right") as slack:
        env = {**socket_env(slack, xiangji, tmp_path), "SLACK_APP_TOKEN": "xapp-wrong"}
        with pytest.raises(StartupError) as info:
            async with serving(load_settings(env), host="127.0.0.1"):
                pass
    assert str(info.value).startswith("SLACK_APP_TOKEN is wrong: Slack answered invalid_auth")
    assert [answer for _, answer in slack.opens] == ["invalid_auth"]  # not retried


@pytest.mark.parametrize(
    ("case", "variable", "expected"),
    [
        ("wrong bot token", "SLACK_BOT_TOKEN", "invalid_auth"),
        ("revoked bot token", "SLACK_BOT_TOKEN", "token_revoked"),
        ("app token as bot token", "SLACK_BOT_TOKEN", "app-level token (xapp-…)"),
        ("wrong app token", "SLACK_APP_TOKEN", "invalid_auth"),
        ("revoked app token", "SLACK_APP_TOKEN", "token_revoked"),
    ],
)
async def test_a_token_that_cannot_work_exits_2_with_one_line(
    case, variable, expected, xiangji, tmp_path, processes
):
    bot_token = "xoxb-revoked-9" if case == "revoked bot token" else BOT_TOKEN
    app_token = "xapp-revoked-9" if case == "revoked app token" else "xapp-1-right"
    async with SocketModeSlackEmulator(bot_token=bot_token, app_token=app_token) as slack:
        env = socket_env(slack, xiangji, tmp_path)
        if case == "wrong bot token":
            env["SLACK_BOT_TOKEN"] = "xoxb-not-this-one"
        elif case == "app token as bot token":
            env["SLACK_BOT_TOKEN"] = app_token
        elif case == "wrong app token":
            env["SLACK_APP_TOKEN"] = "xapp-1-not-this-one"
        bot = launch(processes, env, tmp_path)
        code = await bot.exit_status()
    assert code == 2
    (line,) = problem_lines(bot.output)
    assert variable in line and expected in line, line
    assert "Traceback" not in bot.output


# --- some Slack variables, not a working set ----------------------------------------------------


@pytest.mark.parametrize(
    ("dotenv", "missing"),
    [
        ("SLACK_SIGNING_SECRET=abc123\n", "SLACK_BOT_TOKEN is missing"),
        ("SLACK_APP_TOKEN=xapp-1-abc\n", "SLACK_BOT_TOKEN is missing"),
        ("SLACK_BOT_TOKEN=xoxb-1-abc\n", "SLACK_SIGNING_SECRET is missing"),
        ("SLACK_CLIENT_ID=123.456\n", "SLACK_CLIENT_SECRET is missing"),
        ("SLACK_BOT_TOKEN=xoxb-1\nSLACK_APP_TOKEN=xoxb-2\n", "SLACK_APP_TOKEN must be"),
    ],
)
async def test_a_dotenv_with_some_slack_variables_names_the_missing_one(
    dotenv, missing, tmp_path, processes
):
    (tmp_path / ".env").write_text(
        f"# partly filled in\n{dotenv}SLACK_API_URL=https://slack.com/api/\n"
    )
    bot = launch(processes, {"PORT": str(free_port())}, tmp_path)
    assert await bot.exit_status() == 2
    (line,) = problem_lines(bot.output)
    assert line.startswith("Configuration error: ") and missing in line
    assert "sandbox:" not in bot.output  # not the sandbox

"""Shared fixtures: the emulators on free ports, and Tolk itself running against them
over loopback, configured from a plain dict (never the real environment)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.runtime import serving
from bot.wiring import Services
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env, free_port

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP client session per test (the provider and emulator tests)."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(bot_token=BOT_TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def xiangji() -> AsyncIterator[XiangjiEmulator]:
    async with XiangjiEmulator() as emulator:
        yield emulator


def tolk_env(slack: SlackEmulator, xiangji: XiangjiEmulator, tmp_path: Any) -> dict[str, str]:
    return {
        **emulator_env(
            slack,
            xiangji,
            signing_secret=SIGNING_SECRET,
            database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
        ),
        "TOLK_POLL_MIN_SECONDS": "0.05",
        "TOLK_POLL_MAX_SECONDS": "0.2",
    }


@dataclass
class Tolk:
    services: Services
    port: int
    session: aiohttp.ClientSession

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def command(self, command: str, text: str, **kwargs: Any) -> tuple[int, str]:
        """Send a signed slash command exactly as Slack would; return (status, body)."""
        body = command_body(command, text, **kwargs)
        return await post_signed(self.session, self.events_url, SIGNING_SECRET, body)

    async def settle(self, within: float = 10.0) -> None:
        """Wait until no task is left unsettled."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await self.services.poller.drain()
            if await self.services.store.next_due_at() is None:
                return
            await self.services.poller.tick()
            await _sleep(0.02)
        raise AssertionError(f"tasks still pending after {within:.1f} s")


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@pytest.fixture
def env(slack: SlackEmulator, xiangji: XiangjiEmulator, tmp_path: Any) -> dict[str, str]:
    return tolk_env(slack, xiangji, tmp_path)


@pytest.fixture
async def tolk(env: dict[str, str]) -> AsyncIterator[Tolk]:
    async with (
        serving(load_settings(env), host="127.0.0.1") as (services, port),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, port, session)


@pytest.fixture
async def public_tolk(
    slack: SlackEmulator, xiangji: XiangjiEmulator, tmp_path: Any
) -> AsyncIterator[Tolk]:
    """Tolk with a public address (loopback, a fixed port): Refine pages, signed links."""
    port = free_port()
    env = {
        **emulator_env(
            slack,
            xiangji,
            signing_secret=SIGNING_SECRET,
            database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
            port=port,
        ),
        "TOLK_POLL_MIN_SECONDS": "0.05",
        "TOLK_POLL_MAX_SECONDS": "0.2",
    }
    async with (
        serving(load_settings(env), host="127.0.0.1") as (services, bound),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, bound, session)


class FakeClock:
    """Time for the poller, moved by the test: no sleeps, no real waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def timed_tolk(env: dict[str, str], clock: FakeClock) -> AsyncIterator[Tolk]:
    """Tolk on a fake clock with no scheduler: the test calls ``round()`` itself."""
    env = {**env, "TOLK_POLL_MIN_SECONDS": "2", "TOLK_POLL_MAX_SECONDS": "60"}
    async with (
        serving(load_settings(env), host="127.0.0.1", clock=clock, start_scheduler=False) as (
            services,
            port,
        ),
        aiohttp.ClientSession() as session,
    ):
        services.work.rand = lambda: 0.0  # the shortest delay of each back-off step
        yield Tolk(services, port, session)


async def poll_round(tolk: Tolk) -> int:
    """One scheduler tick at the current fake time, and every step it started."""
    await tolk.services.poller.drain()
    claimed = await tolk.services.poller.tick()
    await tolk.services.poller.drain()
    return claimed

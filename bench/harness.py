"""Tolk running against the bundled emulators, for benchmarks (not tests)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import load_settings
from bot.runtime import serving
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.wiring import emulator_env
from bot.services import Services
from providers.xiangji.emulator import XiangjiEmulator

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"


Running = tuple[Services, int, SlackEmulator, XiangjiEmulator]


@asynccontextmanager
async def running_tolk(**overrides: str) -> AsyncIterator[Running]:
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackEmulator(bot_token=BOT_TOKEN) as slack, XiangjiEmulator() as xiangji:
            env = {
                **emulator_env(
                    slack,
                    xiangji,
                    signing_secret=SIGNING_SECRET,
                    database_url=f"sqlite:///{tmp}/tolk.sqlite",
                ),
                **overrides,
            }
            async with serving(load_settings(env), host="127.0.0.1") as (services, port):
                yield services, port, slack, xiangji

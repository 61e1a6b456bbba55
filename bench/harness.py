"""Tolk running against the bundled emulators, for benchmarks (not tests)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from bot.config import load_settings
from bot.runtime import serving
from bot.sandbox.slack_emulator import SlackEmulator
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
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "PORT": "0",
                "DATABASE_URL": f"sqlite:///{tmp}/tolk.sqlite",
                "XIANGJI_USER_KEY": "xj-user",
                "XIANGJI_IMG_TRANS_KEY": "xj-img",
                "XIANGJI_TEXT_TRANS_KEY": "xj-text",
                "XIANGJI_MATTING_KEY": "xj-matting",
                "XIANGJI_API_URL": xiangji.api_url,
                "XIANGJI_UPLOAD_URL": xiangji.upload_url,
                "XIANGJI_ACCOUNT_URL": xiangji.account_url,
                "TOLK_ALLOWED_FILE_HOSTS": urlsplit(xiangji.base_url).netloc,
                **overrides,
            }
            async with serving(load_settings(env), host="127.0.0.1") as (services, port):
                yield services, port, slack, xiangji

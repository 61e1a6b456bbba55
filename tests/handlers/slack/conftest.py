"""What the wire tests of this folder share: Tolk running against the Slack, Xiangji
and Alibaba emulators (``wire``: Alice is Tolk's admin; ``open_wire``: no ``TOLK_ADMINS``,
so the workspace's own admins and owners are)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.runtime import serving
from emulators.alibaba import AlibabaMTEmulator
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.wiring import emulator_env, free_port
from tests.conftest import SIGNING_SECRET, FakeClock, Tolk


@pytest.fixture
async def alibaba() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(doc_seconds=None) as emulator:
        yield emulator


async def running_tolk(
    slack: SlackEmulator,
    xiangji: XiangjiEmulator,
    alibaba: AlibabaMTEmulator,
    tmp_path: Any,
    clock: FakeClock,
    **extra: str,
) -> AsyncIterator[Tolk]:
    """Tolk with Xiangji and Alibaba on their emulators and a public address (Alibaba
    fetches Slack files from it), no scheduler; Alice is a Tolk admin."""
    env = {
        **emulator_env(
            slack,
            xiangji,
            alibaba=alibaba,
            port=free_port(),
            signing_secret=SIGNING_SECRET,
            database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
        ),
        "TOLK_ADMINS": "U0ALICE",
        **extra,
    }
    async with (
        serving(load_settings(env), host="127.0.0.1", clock=clock, start_scheduler=False) as (
            services,
            port,
        ),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, port, session)


@pytest.fixture
async def wire(
    slack: SlackEmulator,
    xiangji: XiangjiEmulator,
    alibaba: AlibabaMTEmulator,
    tmp_path: Any,
    clock: FakeClock,
) -> AsyncIterator[Tolk]:
    async for tolk in running_tolk(slack, xiangji, alibaba, tmp_path, clock):
        yield tolk


@pytest.fixture
async def open_wire(
    slack: SlackEmulator,
    xiangji: XiangjiEmulator,
    alibaba: AlibabaMTEmulator,
    tmp_path: Any,
    clock: FakeClock,
) -> AsyncIterator[Tolk]:
    """No ``TOLK_ADMINS``: the workspace's own admins and owners are Tolk's admins."""
    async for tolk in running_tolk(slack, xiangji, alibaba, tmp_path, clock, TOLK_ADMINS=""):
        yield tolk

"""The ``ports`` fixture of the handler tests (see ``support.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.core.desk import Desk
from bot.core.links import Links
from bot.core.slack_client import slack_client
from bot.core.storage.sqlite import SqliteTaskStore
from bot.wiring import ENGINE_VARIABLES, RefineImages
from emulators.slack import SlackEmulator
from handlers.ports import SlackConfig
from tests.handlers.support import Ports


@pytest.fixture
async def ports(slack: SlackEmulator, clock: Any, tmp_path: Any) -> AsyncIterator[Ports]:
    store = await SqliteTaskStore.open(tmp_path / "tolk.sqlite")
    nudges: list[int] = []
    desk = Desk(store, clock=clock, task_timeout=3600.0, nudge=lambda: nudges.append(1))
    config = SlackConfig(
        slack_api_url=slack.api_url,
        xiangji=True,
        xiangji_keys=frozenset({"user_key", "img_trans_key", "text_trans_key", "matting_key"}),
        image_engines=("aliyun",),
        engine_variables=ENGINE_VARIABLES,
    )
    async with aiohttp.ClientSession() as session:
        yield Ports(
            store=store,
            desk=desk,
            slack=slack_client(slack.bot_token, slack.api_url, session),
            config=config,
            links=Links(None, "test-secret", clock=clock),
            refine=RefineImages(("127.0.0.1",)),
            clock=clock,
            nudges=nudges,
        )
    await store.close()

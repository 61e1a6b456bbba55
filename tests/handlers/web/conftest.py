"""The ``site`` fixture: what a web route is mounted with (see ``support.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import XiangjiSettings
from bot.core.desk import Desk
from bot.core.links import Links
from bot.core.storage.sqlite import SqliteTaskStore
from bot.wiring import RefineImages
from handlers.ports import WebConfig
from tests.handlers.web.support import PUBLIC_URL, Site

XIANGJI = XiangjiSettings(
    user_key="user-key",
    aigc_key="aigc-key",
    text_trans_key="text-key",
    editor_url="https://editor.example.com",
)


@pytest.fixture
async def site(clock: Any, tmp_path: Any) -> AsyncIterator[Site]:
    store = await SqliteTaskStore.open(tmp_path / "tolk.sqlite")
    nudges: list[int] = []
    yield Site(
        desk=Desk(store, clock=clock, task_timeout=3600.0, nudge=lambda: nudges.append(1)),
        links=Links(PUBLIC_URL, "test-secret", clock=clock),
        refine=RefineImages(("127.0.0.1",), XIANGJI, clock),
        web_config=WebConfig(public_url=PUBLIC_URL),
        nudges=nudges,
        clock=clock,
    )
    await store.close()

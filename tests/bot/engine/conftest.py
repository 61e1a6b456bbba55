"""The ``engine`` fixture: see ``support.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulators.slack import SlackEmulator
from tests.bot.engine.support import Engine, open_engine


@pytest.fixture
async def engine(slack: SlackEmulator, tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(slack, tmp_path / "tolk.sqlite") as opened:
        yield opened

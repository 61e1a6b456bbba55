"""Handler tests: a listener called with the ports it gets in production, made of real
parts — a ``Desk`` on a real SQLite store, Tolk's Slack client talking to the Slack
emulator, ``Links`` — and a recorded ``ack``. What the person would see is what the
``ack`` carried and what reached the emulator; what was recorded is in the store.

The end-to-end tests beside them (signed payloads into the running app) live in the
same modules where a surface has them. The ``ports`` fixture is in ``conftest.py``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.desk import Desk
from bot.core.links import Links
from bot.core.storage.sqlite import SqliteTaskStore
from bot.core.tasks import Item, Place, State, Task
from bot.wiring import RefineImages
from handlers import ports as p
from handlers.ports import SlackConfig

CHANNEL = "C0GENERAL"
_triggers = itertools.count(1)


class Ack:
    """Bolt's ``ack``, recorded. ``on_ack`` runs at the moment of the ack (to see what
    was recorded by then)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.on_ack: Any = None
        self.seen: Any = None

    async def __call__(self, text: str | None = None, **kwargs: Any) -> None:
        if self.on_ack is not None:
            self.seen = await self.on_ack()
        self.calls.append({"text": text, **kwargs} if text is not None else kwargs)

    @property
    def text(self) -> str:
        (call,) = self.calls
        return str(call.get("text") or "")


@dataclass
class Ports:
    store: SqliteTaskStore
    desk: Desk
    slack: AsyncWebClient
    config: SlackConfig
    links: Links
    refine: RefineImages
    clock: Any
    quota: Any = None
    nudges: list[int] = field(default_factory=list)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            p.DESK: self.desk,
            p.CHANNELS: self.desk,
            p.SLACK: self.slack,
            p.CONFIG: self.config,
            p.QUOTA: self.quota,
            p.LINKS: self.links,
            p.REFINE: self.refine,
            "team_id": "T0TOLK",
            **extra,
        }

    def configure(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)

    async def tasks(self, channel: str = CHANNEL) -> list[Task]:
        """Everything recorded for ``channel``, settled or not, oldest first."""
        return await self.store.list_for_channel(channel, active_only=False)

    async def add_task(self, task_id: str = "TDONE", **changes: Any) -> Task:
        """A task as the engine leaves it: by default a delivered image task of Alice's."""
        now = self.clock()
        task = Task(
            id=task_id,
            dedupe_key=f"test:{task_id}",
            place=Place("T0TOLK", CHANNEL, "U0ALICE", "1700000000.000100"),
            provider="xiangji",
            operation="xiangji.translate_image",
            request={"source": "zh", "target": "ko"},
            items=(Item(source="https://x.example/a.png"),),
            created_at=now - 60,
            updated_at=now - 60,
            next_poll_at=now + 3600,
            deadline=now + 3600,
        )
        stored, created = await self.store.create_if_absent(task)
        assert created
        if changes:
            stored = stored.but(**changes)
            await self.store.save(stored)
        return stored


def command(name: str, text: str, *, user: str = "U0ALICE", channel: str = CHANNEL) -> dict:
    """A slash command as Bolt hands it to the listener."""
    n = next(_triggers)
    return {
        "team_id": "T0TOLK",
        "channel_id": channel,
        "user_id": user,
        "command": name,
        "text": text,
        "response_url": f"https://hooks.slack.com/commands/T0TOLK/{n}/x",
        "trigger_id": f"{n}.1700000000.{n:032x}",
    }


def failed(task: Task, now: float) -> Task:
    return task.to(State.FAILED, now, error={"code": "x", "message": "no"}).but(settled=True)

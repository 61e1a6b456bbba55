"""The engine on its own: a real SQLite store, Slack's emulator reached through a real
slack_sdk client, a fake provider the test drives, and time moved by the test
(``FakeClock``: no sleeps). ``Engine.round()`` is one scheduler tick and every step it
started, as ``bot/engine/scheduler.py`` would fire it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.core.backoff import Backoff
from bot.core.slack_client import slack_client
from bot.core.storage.sqlite import SqliteTaskStore
from bot.core.tasks import Item, Place, State, Task, new_task_id
from bot.engine.delivery import Delivery
from bot.engine.operation import Operation, fail_item, with_item
from bot.engine.poller import Poller
from bot.engine.work import Work
from emulators.slack import SlackEmulator
from providers.errors import ProviderError
from tests.conftest import BOT_TOKEN, FakeClock

GENERAL = "C0GENERAL"
ALICE = "U0ALICE"
OPERATION = "fake.translate_image"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LEASE = 300.0  # the poller's lease
POLL_MIN = 2.0  # both back-offs start here; with rand() == 0 the first delays are exactly it

_keys = itertools.count()


class FakeProvider(Operation):
    """A provider the test drives. ``submit`` hands every item over at once (SUBMITTED),
    or with ``one_by_one`` one item per call (QUEUED until the last); ``poll`` finishes
    the items the test said are finished (``finish``). ``fail_submit``/``fail_poll``:
    errors the next calls raise, in order."""

    provider = "fake"
    poll_key = "fake"

    def __init__(self) -> None:
        self.one_by_one = False
        self.submitted: list[str] = []  # the source of each item handed over, in order
        self.rounds: list[list[str]] = []  # the task ids of each status round
        self.finished: dict[str, str] = {}  # source → "done" or the code it failed with
        self.fail_submit: list[ProviderError] = []
        self.fail_poll: list[ProviderError] = []

    def finish(self, *sources: str, code: str = "done") -> None:
        for source in sources:
            self.finished[source] = code

    def parent_text(self, task: Task) -> str:
        return f"Translating {len(task.items)} images (task `{task.id}`)"

    async def submit(self, task: Task, now: float) -> Task:
        if self.fail_submit:
            raise self.fail_submit.pop(0)
        for index, item in enumerate(task.items):
            if item.provider_id is None:
                self.submitted.append(item.source)
                task = with_item(task, index, replace(item, provider_id=f"job-{item.source}"))
                if self.one_by_one and index < len(task.items) - 1:
                    return task.but(updated_at=now)  # still QUEUED: the next one next call
        return task.to(State.SUBMITTED, now)

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        if self.fail_poll:
            raise self.fail_poll.pop(0)
        self.rounds.append([t.id for t in tasks])
        return [self._absorb(t) for t in tasks]

    def _absorb(self, task: Task) -> Task:
        for index, item in enumerate(task.items):
            code = self.finished.get(item.source) if item.status == "pending" else None
            if code == "done":
                output = {"kind": "image", "fetch": "fake", "filename": f"{item.source}.png"}
                task = with_item(task, index, replace(item, status="done", outputs=(output,)))
            elif code:
                task = with_item(task, index, fail_item(item, code, f"the provider said {code}"))
        return task

    async def fetch(self, output: dict[str, Any]) -> bytes:
        return PNG


@dataclass
class Engine:
    store: SqliteTaskStore
    work: Work
    poller: Poller
    provider: FakeProvider
    clock: FakeClock
    slack: SlackEmulator
    delivery: Delivery
    settled: list[Task] = field(default_factory=list)  # what ``on_settled`` heard

    async def record(
        self,
        *sources: str,
        channel: str = GENERAL,
        response_url: str | None = None,
        gives_up_after: float = 3600.0,
    ) -> Task:
        """A new task for ``sources``, due now, as ``Desk.record`` makes it."""
        now = self.clock()
        task = Task(
            id=new_task_id(),
            dedupe_key=f"test:{next(_keys)}",
            place=Place("T0TOLK", channel, ALICE, response_url=response_url),
            provider="fake",
            operation=OPERATION,
            request={"target": "ko"},
            items=tuple(Item(source=s) for s in sources),
            created_at=now,
            updated_at=now,
            next_poll_at=now,
            deadline=now + gives_up_after,
        )
        task, created = await self.store.create_if_absent(task)
        assert created
        return task

    async def round(self) -> int:
        """One tick at the current time, and every step it started; how many it claimed."""
        claimed = await self.poller.tick()
        await self.poller.drain()
        return claimed

    async def later(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return await self.round()

    async def get(self, task_id: str) -> Task:
        task = await self.store.get(task_id)
        assert task is not None
        return task

    def thread(self, task: Task) -> list[dict[str, Any]]:
        assert task.place.thread_ts
        return self.slack.thread(task.place.channel, task.place.thread_ts)

    def finals(self, task: Task) -> list[str]:
        """The texts of the task's closing messages in its thread (one, once settled)."""
        return [
            m["text"]
            for m in self.thread(task)
            if (m.get("metadata") or {}).get("event_payload", {}).get("marker")
            == f"{task.id}:final"
        ]

    def files(self, task: Task) -> list[str]:
        return [f.name for f in self.slack.files.values() if f.thread_ts == task.place.thread_ts]


@asynccontextmanager
async def open_engine(slack: SlackEmulator, path: Path) -> AsyncIterator[Engine]:
    """The engine on a store at ``path``, answering into ``slack``."""
    clock = FakeClock()
    provider = FakeProvider()
    settled: list[Task] = []

    async def on_settled(task: Task) -> None:
        settled.append(task)

    store = await SqliteTaskStore.open(path)
    try:
        async with aiohttp.ClientSession() as session:
            emulator = urlsplit(slack.base_url).netloc  # its files and response_urls
            delivery = Delivery(
                slack_client(BOT_TOKEN, slack.api_url, session),
                session,
                (),
                slack_file_hosts=(emulator,),
                response_hosts=(emulator,),
            )
            work = Work(
                store,
                delivery,
                {OPERATION: provider},
                retry=Backoff(POLL_MIN, 60.0),
                poll=Backoff(POLL_MIN, 60.0, factor=1.5),
                clock=clock,
                rand=lambda: 0.0,
                on_settled=on_settled,
            )
            poller = Poller(store, work, clock=clock, lease_seconds=LEASE)
            try:
                yield Engine(store, work, poller, provider, clock, slack, delivery, settled)
            finally:
                await poller.close()
                await delivery.close()
    finally:
        await store.close()

"""What a person in Slack would notice, read off the Slack emulator: each task has one
parent message, exactly one final message in its thread, and every result once.

Tolk marks the messages it posts with metadata (``<task>:parent``, ``<task>:final`` …) and
names each uploaded file after its task, so these checks need no knowledge of wording."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bot.core.tasks import Task
from emulators.slack import SlackEmulator
from tests.conftest import FakeClock, Tolk, poll_round

CHANNEL = "C0GENERAL"


def marker(message: dict[str, Any]) -> str | None:
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return payload.get("marker")


def everything(slack: SlackEmulator, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """Every message in the channel: top level and every thread reply."""
    found = []
    for parent in slack.messages(channel):
        found.append(parent)
        found += slack.thread(channel, parent["ts"])
    return found


def parent_of(slack: SlackEmulator, task_id: str, channel: str = CHANNEL) -> dict[str, Any]:
    (parent,) = [m for m in slack.messages(channel) if marker(m) == f"{task_id}:parent"]
    return parent


def finals(slack: SlackEmulator, task_id: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in everything(slack, channel) if marker(m) == f"{task_id}:final"]


def final_text(slack: SlackEmulator, task_id: str, channel: str = CHANNEL) -> str:
    """The one final message of the task, which must be the last word in its thread."""
    (final,) = finals(slack, task_id, channel)
    thread = slack.thread(channel, parent_of(slack, task_id, channel)["ts"])
    assert thread[-1]["ts"] == final["ts"], "something was posted after the final message"
    return str(final["text"])


def thread_files(slack: SlackEmulator, task_id: str, channel: str = CHANNEL) -> list[str]:
    thread = slack.thread(channel, parent_of(slack, task_id, channel)["ts"])
    return [f["name"] for m in thread for f in m.get("files", ())]


def no_duplicates(slack: SlackEmulator) -> None:
    """No file name and no marked message reached Slack twice."""
    names = Counter(f.name for f in slack.files.values())
    assert not [n for n, c in names.items() if c > 1], names
    marks = Counter(m for ch in slack.channels for m in map(marker, everything(slack, ch)) if m)
    assert not [m for m, c in marks.items() if c > 1], marks


async def next_round(tolk: Tolk, clock: FakeClock, task_id: str) -> Task:
    """Move the fake clock to when the task is due, run one poll round, return the task."""
    task = await tolk.services.store.get(task_id)
    assert task is not None
    clock.now = max(clock.now, task.next_poll_at)
    await poll_round(tolk)
    task = await tolk.services.store.get(task_id)
    assert task is not None
    return task


async def settle(tolk: Tolk, clock: FakeClock, task_id: str, rounds: int = 30) -> Task:
    for _ in range(rounds):
        task = await next_round(tolk, clock, task_id)
        if task.settled:
            return task
    raise AssertionError(f"task {task_id} not settled after {rounds} rounds: {task}")


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """For what happens in real time on the emulators' side (a late request finishing)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)

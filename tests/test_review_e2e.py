"""Review through the wire (issue 21 item 4): a channel with review on, a three-image
command, a card per result with the original beside the translation, decisions by the
people allowed (and not by others), the parent's "k of N approved", a restart in the
middle, and the one final message once every result is decided; the Home tab lists
what waits for you."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.core.tasks import State, Task
from bot.runtime import serving
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from tests import postgres_server
from tests.conftest import Tolk
from tests.handlers.slack.test_home import home_text, open_home
from tests.refine_support import CHANNEL, press

ADMIN = "U0ADA"


async def run_until(
    tolk: Tolk, done: Callable[[], bool | Awaitable[bool]], within: float = 15.0
) -> None:
    """Drive the poller until ``done()`` (review tasks never settle while they wait)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        await tolk.services.poller.drain()
        answer = done()
        if await answer if inspect.isawaitable(answer) else answer:
            return
        await tolk.services.poller.tick()
        await asyncio.sleep(0.02)
    raise AssertionError("the expected state never came")


def cards(slack: SlackEmulator, thread_ts: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.thread(CHANNEL, thread_ts)
        if any(b.get("block_id", "").startswith("review:") for b in m.get("blocks") or ())
    ]


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or ():
        for element in block.get("elements") or () if block.get("type") == "actions" else ():
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} on {message.get('text')!r}")


def parent(slack: SlackEmulator, ts: str) -> str:
    return next(str(m["text"]) for m in slack.messages(CHANNEL) if m["ts"] == ts)


async def ask(tolk: Tolk, text: str, user: str, command: str = "/tolk") -> str:
    status, body = await tolk.command(command, text, user=user, channel=CHANNEL)
    assert status == 200, body
    return body


async def task_in(tolk: Tolk, body: str) -> Task:
    match = re.search(r"task `(T[0-9A-Z]{4})`", body)
    assert match, body
    task = await tolk.services.store.get(match.group(1))
    assert task is not None
    return task


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_env(
    request: pytest.FixtureRequest, env: dict[str, str]
) -> AsyncIterator[dict[str, str]]:
    """Tolk's settings on a SQLite file, or on a PostgreSQL database (the replicas' store)."""
    if request.param == "sqlite":
        yield env
        return
    postgres_server.server()  # skips, saying why, when there is no PostgreSQL
    database = await postgres_server.fresh_database()
    try:
        yield {**env, "DATABASE_URL": database}
    finally:
        await postgres_server.release_database(database)


async def test_a_review_round_with_a_restart_in_the_middle(
    slack: SlackEmulator, xiangji: XiangjiEmulator, store_env: dict[str, str]
) -> None:
    env = store_env
    slack.add_user(ADMIN, "ada", is_admin=True)
    slack.add_user("U0CAROL", "carol")
    urls = " ".join(xiangji.sample_url(n) for n in ("a", "b", "c"))
    async with (
        serving(load_settings(env), host="127.0.0.1") as (services, port),
        aiohttp.ClientSession() as session,
    ):
        tolk = Tolk(services, port, session)
        assert "admin" in await ask(tolk, "config review on", "U0ALICE")  # not hers to turn on
        assert "on" in await ask(tolk, "config review on", ADMIN)
        await ask(tolk, "config reviewers <@U0BOB|bob>", ADMIN)
        assert "review: on · reviewers: <@U0BOB>" in await ask(tolk, "config show", "U0ALICE")

        task = await task_in(tolk, await ask(tolk, f"zh>ko {urls}", "U0ALICE", "/translate-image"))

        async def threaded() -> bool:
            now = await services.store.get(task.id)
            return now is not None and now.place.thread_ts is not None

        await run_until(tolk, threaded)
        task = await services.store.get(task.id)
        assert task is not None and task.place.thread_ts
        ts = task.place.thread_ts
        await run_until(tolk, lambda: len(cards(slack, ts)) == 3)

        # each card follows one message holding the original and the translation
        thread = slack.thread(CHANNEL, ts)
        for card in cards(slack, ts):
            before = thread[thread.index(card) - 1]
            names = [f["name"] for f in before.get("files") or ()]
            assert len(names) == 2 and names[0].startswith("original-"), names
            assert "For review" in before["text"]
        assert "0 of 3 approved" in parent(slack, ts)
        assert not any("Review:" in m.get("text", "") for m in thread)  # no final yet

        first = cards(slack, ts)[0]
        await press(tolk, slack, first, button(first, "tolk_review_approve"), user="U0CAROL")
        assert "Only <@U0ALICE>, <@U0BOB> or an admin" in slack.ephemerals(CHANNEL)[-1]["text"]
        await press(tolk, slack, first, button(first, "tolk_review_approve"), user="U0BOB")
        second = cards(slack, ts)[0]  # the first card lost its buttons
        await press(tolk, slack, second, button(second, "tolk_review_reject"), user="U0ALICE")
        await run_until(tolk, lambda: "1 of 3 approved · 1 rejected" in parent(slack, ts))
        decided = [m for m in slack.thread(CHANNEL, ts) if "Approved" in m.get("text", "")]
        assert decided and "by <@U0BOB>" in str(decided[0]["blocks"])
        assert not any(b.get("type") == "actions" for b in decided[0]["blocks"])

        await open_home(tolk, "U0BOB")
        assert "Waiting for your review (1)" in home_text(slack, "U0BOB")
        await open_home(tolk, "U0CAROL")
        assert "Waiting for your review" not in home_text(slack, "U0CAROL")

    # a restart: the decisions and the cards are in the store and in Slack
    async with (
        serving(load_settings(env), host="127.0.0.1") as (services, port),
        aiohttp.ClientSession() as session,
    ):
        tolk = Tolk(services, port, session)
        last = cards(slack, ts)
        assert len(last) == 1
        await press(tolk, slack, last[0], button(last[0], "tolk_review_approve"), user=ADMIN)

        def final() -> list[dict[str, Any]]:
            return [m for m in slack.thread(CHANNEL, ts) if "*Review:*" in m.get("text", "")]

        await run_until(tolk, lambda: len(final()) == 1)
        await tolk.settle()
        text = final()[0]["text"]
        assert "2 of 3 approved" in text
        assert "rejected by <@U0ALICE>" in text and "approved by <@U0ADA>" in text
        done = await services.store.get(task.id)
        assert done is not None and done.state is State.DELIVERED and done.settled
        assert len(final()) == 1  # one final message, nothing more after settling
        # the three translations went out once each (beside their originals)
        uploads = [f["name"] for m in slack.thread(CHANNEL, ts) for f in m.get("files") or ()]
        assert len(uploads) == 6 and len(set(uploads)) == 6


async def test_reviewers_are_named_by_mention_and_review_off_ships_at_once(
    slack: SlackEmulator, xiangji: XiangjiEmulator, tolk: Tolk
) -> None:
    slack.add_user(ADMIN, "ada", is_admin=True)
    said = await ask(tolk, "config reviewers bob", ADMIN)
    assert "is not a mention" in said and "/tolk config reviewers @ana @bo" in said
    assert "review on" in await ask(tolk, "config review maybe", ADMIN)
    shown = await ask(tolk, "config show", ADMIN)
    assert "review: off" in shown
    body = await ask(tolk, f"zh>ko {xiangji.sample_url()}", "U0ALICE", "/translate-image")
    await tolk.settle()  # review off: the task settles without anyone deciding
    task = await task_in(tolk, body)
    assert task.state is State.DELIVERED and task.place.thread_ts
    assert not cards(slack, task.place.thread_ts)


async def test_a_card_offers_refine_when_the_editor_can_open(
    slack: SlackEmulator, xiangji: XiangjiEmulator, public_tolk: Tolk
) -> None:
    slack.add_user(ADMIN, "ada", is_admin=True)
    await ask(public_tolk, "config review on", ADMIN)
    body = await ask(public_tolk, f"zh>ko {xiangji.sample_url()}", "U0ALICE", "/translate-image")
    task = await task_in(public_tolk, body)

    async def carded() -> bool:
        now = await public_tolk.services.store.get(task.id)
        return bool(now and now.place.thread_ts and cards(slack, now.place.thread_ts))

    await run_until(public_tolk, carded)
    task = await public_tolk.services.store.get(task.id)
    assert task is not None and task.place.thread_ts
    card = cards(slack, task.place.thread_ts)[0]
    refine = button(card, "tolk_refine_1")
    await press(public_tolk, slack, card, refine, user="U0ALICE")
    shown = slack.ephemerals(CHANNEL)[-1]
    assert "editor link" in shown["text"]
    assert task.state is State.SUCCEEDED and not task.settled  # still waiting for a decision


async def test_a_card_says_when_its_image_breaks_the_glossary(
    slack: SlackEmulator, xiangji: XiangjiEmulator, tolk: Tolk
) -> None:
    slack.add_user(ADMIN, "ada", is_admin=True)
    await ask(tolk, 'glossary add "Tolk Pro"', ADMIN)
    await ask(tolk, "config review on", ADMIN)
    images = f"{xiangji.sample_url('brand-violation')} {xiangji.sample_url('brand-ok')}"
    task = await task_in(tolk, await ask(tolk, f"zh>ja {images}", "U0ALICE", "/translate-image"))

    async def carded() -> bool:
        now = await tolk.services.store.get(task.id)
        return bool(now and now.place.thread_ts and len(cards(slack, now.place.thread_ts)) == 2)

    await run_until(tolk, carded)
    task = await tolk.services.store.get(task.id)
    assert task is not None and task.place.thread_ts
    pairs = [
        m for m in slack.thread(CHANNEL, task.place.thread_ts) if len(m.get("files") or ()) == 2
    ]
    assert len(pairs) == 2
    assert "⚠ brand term 'Tolk Pro' changed to" in pairs[0]["text"]
    assert "⚠" not in pairs[1]["text"]

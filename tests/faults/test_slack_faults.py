"""Slack misbehaving while Tolk delivers: storms of 429 with ``Retry-After`` on
chat.postMessage and on each step of the upload flow (files.getUploadURLExternal, the
upload URL, files.completeUploadExternal), 5xx on those steps, and answers lost after
Slack already acted. Every file must arrive exactly once and every task must end with
exactly one final message.

Tolk runs on a fake clock; the Slack client's 429 waits are recorded instead of slept
(``RateLimitRetry.sleep``), so a ``Retry-After: 30`` storm costs no real time and the
test can check that the whole 30 s were asked for."""

from __future__ import annotations

import logging

import pytest

from bot.core.slack_retry import RateLimitRetry
from bot.core.tasks import State
from tests.conftest import Tolk
from tests.faults.support import (
    final_text,
    finals,
    next_round,
    no_duplicates,
    parent_of,
    settle,
    thread_files,
)
from tests.test_commands_e2e import task_id_in

POST = "chat.postMessage"
GET_URL, UPLOAD, COMPLETE = "files.getUploadURLExternal", "upload", "files.completeUploadExternal"


@pytest.fixture(autouse=True)
def nothing_logged_as_an_error(caplog):
    """These faults are expected: each is a warning and a retry, never an error."""
    yield
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def waits(timed_tolk: Tolk) -> list[float]:
    """The 429 waits the Slack client asked for, in order (none is actually slept)."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    handlers = [
        h for h in timed_tolk.services.slack.retry_handlers if isinstance(h, RateLimitRetry)
    ]
    assert handlers
    for handler in handlers:
        handler.sleep = sleep
    return asked


async def images(tolk: Tolk, xiangji, n: int, prefix: str) -> str:
    urls = " ".join(xiangji.sample_url(f"{prefix}{i}") for i in range(n))
    status, body = await tolk.command("/translate-image", f"zh>ko {urls}")
    assert status == 200 and "task `" in body  # the ack never waits on Slack's Web API
    await tolk.services.poller.drain()
    return task_id_in(body)


def delivered_once(slack, task_id: str, n: int, prefix: str) -> None:
    expected = [f"{prefix}{i}-ko-{task_id}-{i + 1}.png" for i in range(n)]
    assert sorted(thread_files(slack, task_id)) == expected
    assert sorted(f.name for f in slack.files.values()) == expected
    assert f"all {n} images translated" in final_text(slack, task_id)
    no_duplicates(slack)


async def test_a_429_storm_on_post_message(timed_tolk, clock, slack, xiangji, waits):
    """26 answers of 429 (Retry-After 30) on every message Tolk posts: the parent waits
    out the first storm, the closing message a second one; each lands once."""
    slack.faults.add(POST, status=429, retry_after=30, times=14)
    task_id = await images(timed_tolk, xiangji, 3, "storm")
    task = await timed_tolk.services.store.get(task_id)
    assert task.state is State.QUEUED and task.attempts == 1  # no parent yet: not submitted
    assert task.next_poll_at - clock.now >= 30  # the step waits out Retry-After too
    assert xiangji.requests_for("GetImageTranslateBatch") == []
    while not task.place.thread_ts:
        task = await next_round(timed_tolk, clock, task_id)
    assert parent_of(slack, task_id)["ts"] == task.place.thread_ts  # posted once

    slack.faults.add(POST, status=429, retry_after=30, times=12)  # a storm for the final
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    delivered_once(slack, task_id, 3, "storm")
    faulted = [c for c in slack.calls_to(POST) if c.faulted]
    assert len(faulted) == 26 and slack.faults.pending == []
    # 14 = 6 + 6 + 2 and 12 = 6 + 6: four steps gave up after 1 + 5 tries (and waited
    # Retry-After before the next step); every other 429 was waited out inside the call.
    assert len(waits) == 26 - 4
    assert all(w >= 30 for w in waits)  # the whole Retry-After, never its first digit


@pytest.mark.parametrize("step", [GET_URL, UPLOAD, COMPLETE])
async def test_a_429_storm_on_the_upload_flow(timed_tolk, clock, slack, xiangji, waits, step):
    slack.faults.add(step, status=429, retry_after=10, times=15)
    task_id = await images(timed_tolk, xiangji, 3, "up")
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    delivered_once(slack, task_id, 3, "up")
    assert len([c for c in slack.calls_to(step) if c.faulted]) == 15
    assert waits and all(w >= 10 for w in waits)


async def test_429_and_5xx_on_every_upload_step_at_once(timed_tolk, clock, slack, xiangji, waits):
    for step in (GET_URL, UPLOAD, COMPLETE):
        slack.faults.add(step, status=429, retry_after=5, times=7)
        slack.faults.add(step, status=500, times=3)
        slack.faults.add(step, status=503, times=3)
    task_id = await images(timed_tolk, xiangji, 4, "mix")
    task = await settle(timed_tolk, clock, task_id, rounds=60)
    assert task.state is State.DELIVERED
    delivered_once(slack, task_id, 4, "mix")
    assert slack.faults.pending == []


@pytest.mark.parametrize("step", [GET_URL, UPLOAD, COMPLETE])
async def test_5xx_on_an_upload_step(timed_tolk, clock, slack, xiangji, step):
    slack.faults.add(step, status=500, times=4)
    slack.faults.add(step, status=503, times=4)
    task_id = await images(timed_tolk, xiangji, 2, "five")
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    delivered_once(slack, task_id, 2, "five")
    assert len([c for c in slack.calls_to(step) if c.faulted]) == 8


@pytest.mark.parametrize("status", [500, 503])
async def test_answers_lost_after_slack_acted_post_nothing_twice(
    timed_tolk, clock, slack, xiangji, status
):
    """Slack posted the message / shared the file, then answered 5xx: retrying blindly
    would post it again. Tolk looks in the thread before posting again."""
    slack.faults.add(POST, status=status, times=1, after=True)  # the parent
    slack.faults.add(COMPLETE, status=status, times=1, after=True)  # the first file
    task_id = await images(timed_tolk, xiangji, 2, "lost")
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    assert len(slack.messages("C0GENERAL")) == 1  # one parent
    delivered_once(slack, task_id, 2, "lost")

    second = await images(timed_tolk, xiangji, 1, "fin")
    slack.faults.add(POST, status=status, times=1, after=True)  # the next post is the final
    await settle(timed_tolk, clock, second)
    assert len(finals(slack, second)) == 1
    no_duplicates(slack)

"""What a failure does to a task (``bot/engine/failures.py``), for the failures that
are not a provider's (those are driven end to end in ``test_work.py``): Slack refusing,
Slack revoked, a download lost for good, Slack down past the deadline, a bug."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from bot.core.fetch import DownloadFailed
from bot.core.tasks import Item, Place, State, Task
from bot.engine.failures import DELIVERY_GRACE, after_failure

NOW = 1_000.0


def task(state: State = State.SUCCEEDED, *, deadline: float = NOW + 600) -> Task:
    return Task(
        "T7Q2K",
        "k",
        Place("T", "C", "U"),
        "fake",
        "fake.op",
        {},
        state,
        (Item("a"),),
        deadline=deadline,
    )


def slack(code: str) -> SlackApiError:
    return SlackApiError(code, {"ok": False, "error": code})


def after(failed: Task, exc: BaseException) -> Task:
    return after_failure(
        failed,
        exc,
        NOW,
        retry_in=lambda attempts, retry_after: 10.0 * (attempts + 1),
        poll_in=lambda _: 99.0,
    )


@pytest.mark.parametrize("code", ["token_revoked", "invalid_auth", "missing_scope"])
def test_a_token_slack_no_longer_takes_settles_the_task_without_a_word(code: str) -> None:
    settled = after(task(), slack(code))
    assert settled.settled and settled.state is State.SUCCEEDED


def test_slack_refusing_the_closing_message_settles_the_task() -> None:
    settled = after(task(State.DELIVERED), slack("invalid_blocks"))
    assert settled.settled and settled.state is State.DELIVERED


def test_slack_refusing_a_result_fails_the_task_with_its_reason() -> None:
    failed = after(task(), slack("msg_too_long"))
    assert failed.state is State.FAILED and not failed.settled  # the closing word is next
    assert failed.error is not None and failed.error["code"] == "msg_too_long"


def test_a_download_lost_for_good_fails_the_task() -> None:
    failed = after(task(), DownloadFailed("HTTP 404 from the result host", permanent=True))
    assert failed.state is State.FAILED
    assert failed.error == {"code": "download", "message": "HTTP 404 from the result host"}


@pytest.mark.parametrize(
    "exc",
    [slack("internal_error"), TimeoutError(), DownloadFailed("reset"), RuntimeError("a bug")],
    ids=["slack-5xx", "timeout", "download-reset", "bug"],
)
def test_anything_else_is_tried_again_later(exc: BaseException) -> None:
    once = after(task(), exc)
    twice = after(once, exc)
    assert (once.attempts, once.next_poll_at) == (1, NOW + 10)
    assert (twice.attempts, twice.next_poll_at) == (2, NOW + 20)  # backing off
    assert twice.state is State.SUCCEEDED and not twice.settled


def test_slacks_retry_after_is_waited_for() -> None:
    limited = SlackApiError("slow down", {"ok": False, "error": "ratelimited"})
    waited = after_failure(
        task(),
        limited,
        NOW,
        retry_in=lambda _, retry_after: retry_after or 1.0,
        poll_in=lambda _: 1.0,
    )
    assert waited.next_poll_at >= NOW + 1.0


def test_slack_down_long_past_the_deadline_ends_the_task() -> None:
    late = NOW - DELIVERY_GRACE - 1
    expired = after(task(State.RUNNING, deadline=late), TimeoutError())
    assert expired.state is State.EXPIRED and not expired.settled  # one try at the last word
    given_up = after(task(State.DELIVERED, deadline=late), TimeoutError())
    assert given_up.settled  # the last word itself cannot get through

"""A task's life in the engine, as a person in Slack sees it: one parent message, each
result once, one closing message; retries that wait, failures that say why, a cancel
that is obeyed, a deadline that is kept — and nothing posted twice, whatever happens
between two steps."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.fetch import DownloadFailed, DownloadRefused
from bot.core.tasks import State, Task
from bot.engine.failures import MAX_ATTEMPTS
from providers.errors import ErrorKind, ProviderError
from tests.bot.engine.support import LEASE, POLL_MIN, Engine, FakeProvider


def provider_error(kind: ErrorKind, code: str = "E1", retry_after: float | None = None):
    return ProviderError("fake", "Translate", code, f"the provider said {code}", kind, retry_after)


async def test_submit_poll_deliver_settle_each_answer_once(engine: Engine) -> None:
    task = await engine.record("a", "b")

    assert await engine.round() == 1  # the parent, then the submission
    task = await engine.get(task.id)
    assert task.state is State.SUBMITTED and task.next_poll_at == engine.clock() + POLL_MIN
    assert [m["text"] for m in engine.slack.messages("C0GENERAL")] == [
        f"Translating 2 images (task `{task.id}`)"
    ]
    assert engine.provider.submitted == ["a", "b"]
    assert await engine.round() == 0  # not due again before its first poll

    engine.provider.finish("a")
    await engine.later(POLL_MIN)  # a is ready: it goes out now, b is still with the provider
    task = await engine.get(task.id)
    assert task.state is State.RUNNING and engine.files(task) == ["a.png"]
    assert "1 of 2 done" in engine.slack.messages("C0GENERAL")[0]["text"]  # progress

    engine.provider.finish("b")
    await engine.later(60)
    task = await engine.get(task.id)
    assert task.state is State.DELIVERED and task.settled and task.lease_until == 0
    assert engine.files(task) == ["a.png", "b.png"]
    assert engine.finals(task) == [
        f":white_check_mark: Done — all 2 images translated (task `{task.id}`)."
    ]
    assert [t.id for t in engine.settled] == [task.id]

    assert await engine.later(3600) == 0  # settled: never claimed again, nothing more said
    assert len(engine.thread(task)) == 3 and len(engine.slack.messages("C0GENERAL")) == 1


async def test_an_item_the_provider_fails_is_named_in_the_closing_message(engine: Engine) -> None:
    task = await engine.record("a", "b")
    await engine.round()
    engine.provider.finish("a")
    engine.provider.finish("b", code="E42")
    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.DELIVERED and engine.files(task) == ["a.png"]
    (final,) = engine.finals(task)
    assert "1 of 2 translated" in final and "b: error E42 — the provider said E42" in final


async def test_a_task_whose_every_item_failed_fails_with_one_message(engine: Engine) -> None:
    task = await engine.record("a")
    await engine.round()
    engine.provider.finish("a", code="E42")
    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.FAILED and task.settled and not engine.files(task)
    (final,) = engine.finals(task)
    assert "0 of 1 translated" in final and "E42" in final


async def test_a_retryable_error_waits_then_tries_again(engine: Engine) -> None:
    engine.provider.fail_submit = [provider_error(ErrorKind.RETRYABLE, "busy")]
    task = await engine.record("a")
    await engine.round()
    task = await engine.get(task.id)
    assert task.state is State.QUEUED and task.attempts == 1
    assert task.next_poll_at == engine.clock() + POLL_MIN and not engine.provider.submitted
    assert await engine.round() == 0  # it waits its turn

    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.SUBMITTED and task.attempts == 0  # answered: a fresh budget
    assert engine.provider.submitted == ["a"]
    assert len(engine.slack.messages("C0GENERAL")) == 1  # the parent was not posted again


async def test_the_providers_retry_after_beats_the_back_off(engine: Engine) -> None:
    engine.provider.fail_submit = [provider_error(ErrorKind.RETRYABLE, "429", retry_after=30)]
    task = await engine.record("a")
    await engine.round()
    assert (await engine.get(task.id)).next_poll_at == engine.clock() + 30


async def test_retryable_errors_give_up_after_the_last_attempt(engine: Engine) -> None:
    engine.provider.fail_submit = [
        provider_error(ErrorKind.RETRYABLE, "busy") for _ in range(MAX_ATTEMPTS)
    ]
    task = await engine.record("a")
    for _ in range(MAX_ATTEMPTS):
        await engine.later(60)
    task = await engine.get(task.id)
    assert task.state is State.FAILED and task.settled and task.attempts == MAX_ATTEMPTS
    assert engine.finals(task) == [
        f":x: Task `{task.id}` failed: Fake error busy — the provider said busy."
    ]
    assert not engine.provider.submitted


async def test_a_permanent_error_fails_the_task_at_once(engine: Engine) -> None:
    engine.provider.fail_submit = [provider_error(ErrorKind.PERMANENT, "E104")]
    task = await engine.record("a")
    await engine.round()
    task = await engine.get(task.id)
    assert task.state is State.FAILED and task.settled
    assert task.error == {
        "code": "E104",
        "message": "the provider said E104",
        "kind": str(ErrorKind.PERMANENT),
    }
    assert len(engine.finals(task)) == 1 and "E104" in engine.finals(task)[0]
    assert await engine.later(60) == 0


async def test_a_quota_error_fails_the_task_and_tells_the_quota_watcher(engine: Engine) -> None:
    engine.provider.fail_submit = [provider_error(ErrorKind.QUOTA, "E108")]
    task = await engine.record("a")
    await engine.round()
    task = await engine.get(task.id)
    assert task.state is State.FAILED and task.settled
    assert task.notes["quota_error"]["code"] == "E108"
    assert [t.notes.get("quota_error", {}).get("code") for t in engine.settled] == ["E108"]
    assert len(engine.finals(task)) == 1


async def test_a_pending_answer_while_polling_waits_without_spending_an_attempt(
    engine: Engine,
) -> None:
    task = await engine.record("a")
    await engine.round()
    engine.provider.fail_poll = [provider_error(ErrorKind.PENDING, "114")]
    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.SUBMITTED and task.attempts == 0
    assert task.next_poll_at > engine.clock()
    engine.provider.finish("a")
    await engine.later(60)
    assert (await engine.get(task.id)).state is State.DELIVERED


async def test_a_task_past_its_deadline_gives_up_with_one_message(engine: Engine) -> None:
    task = await engine.record("a", gives_up_after=30)
    await engine.round()
    await engine.later(31)  # the provider never finished
    task = await engine.get(task.id)
    assert task.state is State.EXPIRED and task.settled
    assert len(engine.finals(task)) == 1 and "gave up" in engine.finals(task)[0]


async def test_a_cancel_is_obeyed_at_the_next_step_and_said_once(engine: Engine) -> None:
    task = await engine.record("a")
    await engine.round()
    assert await engine.store.request_cancel(task.id, "U0BOB", engine.clock())
    await engine.store.wake(task.id, engine.clock())
    rounds = len(engine.provider.rounds)

    await engine.round()
    task = await engine.get(task.id)
    assert task.state is State.CANCELLED and task.settled
    assert engine.finals(task) == [
        f":no_entry_sign: Task `{task.id}` was cancelled by <@U0BOB>; nothing more will be posted."
    ]
    engine.provider.finish("a")
    assert await engine.later(60) == 0
    assert len(engine.provider.rounds) <= rounds + 1 and not engine.files(task)


async def test_a_task_leased_by_a_step_that_died_waits_for_the_lease(engine: Engine) -> None:
    task = await engine.record("a")
    (held,) = await engine.store.claim_due(engine.clock(), limit=10, lease_seconds=LEASE)
    assert held.id == task.id  # claimed by a replica that then hung

    assert await engine.round() == 0
    assert await engine.later(LEASE - 1) == 0
    assert await engine.later(1) == 1  # the lease ran out: this replica takes it
    task = await engine.get(task.id)
    assert task.state is State.SUBMITTED and len(engine.slack.messages("C0GENERAL")) == 1


async def test_a_closing_message_slack_took_but_did_not_confirm_is_not_posted_again(
    engine: Engine,
) -> None:
    task = await engine.record("a")
    await engine.round()
    engine.provider.finish("a")
    engine.slack.faults.add("chat.postMessage", status=500, after=True)  # posted, answer lost
    await engine.later(POLL_MIN)  # the step tries again at once, and looks in Slack first
    task = await engine.get(task.id)
    assert task.state is State.DELIVERED and task.settled
    assert len(engine.finals(task)) == 1 and engine.files(task) == ["a.png"]
    assert len(engine.slack.calls_to("chat.postMessage")) == 2  # the parent, the final


async def test_slack_refusing_to_upload_is_retried_and_the_file_goes_once(engine: Engine) -> None:
    task = await engine.record("a")
    await engine.round()
    engine.provider.finish("a")
    engine.slack.faults.add("files.completeUploadExternal", status=500)
    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.SUCCEEDED and task.attempts == 1 and not engine.files(task)

    await engine.later(60)
    task = await engine.get(task.id)
    assert task.settled and engine.files(task) == ["a.png"] and len(engine.finals(task)) == 1


@pytest.mark.parametrize("stopping", [False, True])
async def test_when_stopping_a_one_by_one_submission_ends_at_its_next_saved_point(
    engine: Engine, stopping: bool
) -> None:
    engine.provider.one_by_one = True
    engine.work.stopping = stopping
    task = await engine.record("a", "b", "c")
    await engine.round()
    task = await engine.get(task.id)
    if stopping:  # one item sent and saved, the task left due for whoever runs next
        assert engine.provider.submitted == ["a"]
        assert task.state is State.QUEUED and task.lease_until == 0
        assert task.next_poll_at <= engine.clock()
        engine.work.stopping = False
        await engine.round()
    assert engine.provider.submitted == ["a", "b", "c"]  # each sent once
    assert (await engine.get(task.id)).state is State.SUBMITTED


async def test_slack_down_for_a_while_delays_the_closing_message_which_goes_once(
    engine: Engine,
) -> None:
    task = await engine.record("a")
    await engine.round()
    engine.provider.finish("a")
    engine.slack.faults.add("chat.postMessage", status=503, times=2)  # two tries in one step
    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.DELIVERED and not task.settled and task.attempts > 0
    assert engine.finals(task) == [] and engine.files(task) == ["a.png"]

    await engine.later(60)
    task = await engine.get(task.id)
    assert task.settled and len(engine.finals(task)) == 1 and engine.files(task) == ["a.png"]


class CallbackProvider(FakeProvider):
    """A provider that calls back when done: polling is only the fallback."""

    def poll_floor(self, task: Task) -> float:
        return 30.0


async def test_an_operation_with_a_callback_is_polled_no_more_often_than_its_floor(
    engine: Engine,
) -> None:
    engine.work.operations = {op: CallbackProvider() for op in engine.work.operations}
    task = await engine.record("a")
    await engine.round()
    assert (await engine.get(task.id)).next_poll_at == engine.clock() + 30
    assert await engine.later(29) == 0


class LostFiles(FakeProvider):
    """Its results cannot be fetched, ever (an object store that refuses)."""

    async def fetch(self, output: dict[str, Any]) -> bytes:
        raise DownloadFailed("HTTP 403 from the object store", permanent=True)


class ReportsLostFiles(LostFiles):
    def unreadable(
        self, output: dict[str, Any], error: DownloadRefused | DownloadFailed
    ) -> dict[str, Any] | None:
        return {"kind": "unread", "reason": str(error)}


async def test_an_unreadable_result_fails_its_item_unless_the_operation_reports_it(
    engine: Engine,
) -> None:
    engine.work.operations = {op: LostFiles() for op in engine.work.operations}
    lost = await engine.record("a")
    await engine.round()
    engine.work.operations[lost.operation].finish("a")
    await engine.later(POLL_MIN)
    lost = await engine.get(lost.id)
    assert lost.state is State.FAILED and lost.items[0].error is not None
    assert lost.items[0].error["code"] == "download" and "403" in engine.finals(lost)[0]

    engine.work.operations = {op: ReportsLostFiles() for op in engine.work.operations}
    kept = await engine.record("b")
    await engine.round()
    engine.work.operations[kept.operation].finish("b")
    await engine.later(POLL_MIN)
    kept = await engine.get(kept.id)
    assert kept.state is State.DELIVERED and kept.items[0].status == "done"
    assert kept.items[0].outputs[0] == {
        "kind": "unread",
        "reason": "HTTP 403 from the object store",
    }
    assert engine.files(kept) == [] and len(engine.finals(kept)) == 1

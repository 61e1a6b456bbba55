"""Answers into Slack, each given once (``bot/engine/answers.py``): a message or file
whose intent was saved is looked for in Slack before it goes out again; the
``response_url`` carries what Tolk cannot post itself, within Slack's limits; and work
from a conversation Tolk cannot write to moves to a DM with the person."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from bot.core.tasks import State, Task
from bot.engine.answers import Run, result_filename
from bot.engine.delivery import RESPONSE_URL_SECONDS, RESPONSE_URL_USES
from tests.bot.engine.support import ALICE, GENERAL, PNG, POLL_MIN, Engine


def run_of(engine: Engine, task: Task) -> Run:
    return Run(task, engine.store, engine.delivery, engine.clock)


async def restarted(engine: Engine, run: Run) -> Run:
    """The run a new process makes of the same task: only what was saved survives."""
    return run_of(engine, await engine.get(run.task.id))


async def test_a_message_goes_out_once_per_marker_even_after_a_crash(engine: Engine) -> None:
    run = run_of(engine, await engine.record("a"))
    ts = await run.post_once("note", "Hello", thread_ts=None)
    assert await run.post_once("note", "Hello", thread_ts=None) == ts

    # the process dies after Slack took it, before the ts was saved: the intent was
    again = await restarted(engine, run)
    assert "note" not in again.sent and "note" in again.intents
    assert await again.post_once("note", "Hello", thread_ts=None) == ts
    assert [m["text"] for m in engine.slack.messages(GENERAL)] == ["Hello"]


async def test_an_intent_that_never_reached_slack_is_posted_on_the_next_try(
    engine: Engine,
) -> None:
    run = run_of(engine, await engine.record("a"))
    engine.slack.faults.add("chat.postMessage", status=500)  # refused before posting
    with pytest.raises(SlackApiError):
        await run.post_once("note", "Hello", thread_ts=None)
    again = await restarted(engine, run)
    await again.post_once("note", "Hello", thread_ts=None)
    assert [m["text"] for m in engine.slack.messages(GENERAL)] == ["Hello"]


async def test_a_file_goes_up_once_per_name_even_after_a_crash(engine: Engine) -> None:
    run = run_of(engine, await engine.record("a"))
    parent = await run.post_once("parent", "Results below", thread_ts=None)
    reads: list[str] = []

    async def data() -> bytes:
        reads.append("read")
        return PNG

    await run.upload_once("a-ko.png", parent, data, "image 1")
    again = await restarted(engine, run)  # the file's id was not saved; its intent was
    await again.upload_once("a-ko.png", parent, data, "image 1")
    (uploaded,) = engine.slack.files.values()
    assert uploaded.name == "a-ko.png" and uploaded.content == PNG
    assert reads == ["read"]  # not even downloaded again


async def test_a_long_translation_comes_whole_as_a_file_too(engine: Engine) -> None:
    run = run_of(engine, await engine.record("a"))
    parent = await run.post_once("parent", "Results below", thread_ts=None)
    text = "word " * 10_000
    output = {"kind": "text", "text": "(cut)", "attachment": {"name": "a-ko.txt", "text": text}}
    await run.attach_long_text(output, parent)
    await run.attach_long_text(output, None)  # nowhere to put it: nothing happens
    (attached,) = engine.slack.files.values()
    assert attached.name == "a-ko.txt" and attached.content == text.encode()


async def test_the_response_url_answers_five_times_and_only_while_fresh(engine: Engine) -> None:
    url = engine.slack.new_response_url(channel=GENERAL, user=ALICE)
    run = run_of(engine, await engine.record("a", response_url=url))
    assert [await run.respond(f"answer {n}") for n in range(RESPONSE_URL_USES + 1)] == [
        True
    ] * RESPONSE_URL_USES + [False]
    assert [r["text"] for r in engine.slack.responses] == [
        f"answer {n}" for n in range(RESPONSE_URL_USES)
    ]

    fresh = run_of(engine, await engine.record("b", response_url=url))
    engine.clock.advance(RESPONSE_URL_SECONDS - 60)  # Slack would refuse it soon: not tried
    assert not await fresh.respond("too late")
    assert len(engine.slack.calls_to("response_url")) == RESPONSE_URL_USES


async def test_work_from_where_tolk_cannot_post_moves_to_a_dm(engine: Engine) -> None:
    engine.slack.add_channel("C0OLD", "old", archived=True, members=(ALICE,))
    url = engine.slack.new_response_url(channel="C0OLD", user=ALICE)
    task = await engine.record("a", channel="C0OLD", response_url=url)

    await engine.round()  # the parent cannot go there: the person is told where instead
    task = await engine.get(task.id)
    assert task.place.channel.startswith("D") and task.notes["moved"]["from"] == "C0OLD"
    (notice,) = engine.slack.responses
    assert "direct messages" in notice["text"] and notice["response_type"] == "ephemeral"

    await engine.round()  # due at once: the work carries on in the DM
    engine.provider.finish("a")
    await engine.later(POLL_MIN)
    task = await engine.get(task.id)
    assert task.state is State.DELIVERED and task.settled
    (parent,) = engine.slack.messages(task.place.channel)
    assert "C0OLD" in parent["text"]
    assert engine.files(task) == ["a.png"] and len(engine.finals(task)) == 1
    assert engine.slack.messages("C0OLD") == []


async def test_with_no_dm_either_the_last_word_goes_through_the_response_url(
    engine: Engine,
) -> None:
    engine.slack.add_channel("C0OLD", "old", archived=True, members=(ALICE,))
    engine.slack.faults.add("conversations.open", status=200, error="cannot_dm_bot", times=9)
    url = engine.slack.new_response_url(channel="C0OLD", user=ALICE)
    task = await engine.record("a", channel="C0OLD", response_url=url)

    await engine.round()
    task = await engine.get(task.id)
    assert task.state is State.FAILED and task.settled
    assert task.error is not None and task.error["code"] == "is_archived"
    (last,) = engine.slack.responses
    assert f"Task `{task.id}` stopped" in last["text"]
    assert engine.provider.submitted == [] and await engine.later(60) == 0


async def test_other_slack_failures_are_not_answered_elsewhere(engine: Engine) -> None:
    run = run_of(engine, await engine.record("a"))
    refused = SlackApiError("boom", {"ok": False, "error": "internal_error"})
    assert not await run.answer_elsewhere(refused)
    assert not await run.answer_elsewhere(TimeoutError())
    assert run.task.place.channel == GENERAL and "moved" not in run.task.notes


async def test_result_files_are_named_after_their_source_target_and_task(engine: Engine) -> None:
    task = await engine.record("https://cdn.example.com/shoes/red.jpg?x=1", "b")
    image = {"kind": "image", "url": "https://results.example.com/r/1.png"}
    assert result_filename(task, 0, image) == f"red-ko-{task.id}-1.png"
    assert result_filename(task, 0, {**image, "variant": "removed"}) == (
        f"red-ko-removed-{task.id}-1.png"
    )
    assert result_filename(task, 1, {**image, "filename": "own.docx"}) == "own.docx"

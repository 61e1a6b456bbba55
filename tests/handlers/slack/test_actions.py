"""The "Delete" button on result messages, through the wire: signed ``block_actions``
payloads into the running app; assertions on what the Slack emulator holds after."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from PIL import Image
from slack_sdk.errors import SlackApiError

from bot.core import messages
from bot.core.desk import REMOVE_RESULTS
from bot.core.tasks import State
from emulators.signed import block_actions_payload, event_body, interaction_body, post_signed
from handlers.slack.actions import on_delete_results
from tests.conftest import SIGNING_SECRET
from tests.handlers.support import Ack


def task_id_in(text: str) -> str:
    match = re.search(r"task `(T[0-9A-Z]{4})`", text)
    assert match, f"no task id in {text!r}"
    return match.group(1)


def button_on(message: dict[str, Any]) -> dict[str, Any] | None:
    """The Delete button Tolk put on ``message``, as a click reports it."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == "tolk_delete_results":
                return {**element, "block_id": block.get("block_id", "b"), "action_ts": "1.0"}
    return None


def delete_button(task_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "tolk_delete_results",
        "block_id": "tolk_result_actions",
        "value": task_id,
        "style": "danger",
        "text": {"type": "plain_text", "text": "Delete"},
        "action_ts": f"{time.time():.6f}",
    }


async def press_delete(tolk, slack, task_id: str, message: dict[str, Any], user: str):
    """A click on the Delete button of ``message``, as Slack sends it."""
    channel = "C0GENERAL"
    payload = block_actions_payload(
        message,
        button_on(message) or delete_button(task_id),
        user=user,
        channel=channel,
        trigger_id=slack.new_trigger_id(),
        response_url=slack.new_response_url(channel=channel, user=user, message_ts=message["ts"]),
    )
    body = interaction_body(payload)
    status, text = await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)
    await tolk.settle()  # the removal is a task: the engine runs it
    return status, text


async def image_task(tolk, slack, xiangji, *extra: str):
    """A finished /translate-image task: (task id, parent, the thread's replies)."""
    urls = " ".join(xiangji.sample_url(f"p{i}") for i in range(len(extra) + 1))
    _, body = await tolk.command("/translate-image", f"zh>ko {urls}")
    task_id = task_id_in(body)
    await tolk.settle()
    (parent,) = slack.messages("C0GENERAL")
    return task_id, parent, slack.thread("C0GENERAL", parent["ts"])


def deleting_calls(slack) -> list[Any]:
    return [c for c in slack.calls if c.method in ("files.delete", "chat.delete")]


async def test_the_requester_removes_files_and_messages_and_the_parent_says_so(
    tolk, slack, xiangji
):
    task_id, parent, replies = await image_task(tolk, slack, xiangji, "--removed")
    task = await tolk.services.store.get(task_id)
    file_ids = task.notes["files"]
    assert len(file_ids) == 2 and all(f in slack.files for f in file_ids)
    final = replies[-1]
    assert task_id in final["text"]
    assert button_on(final)["value"] == task_id  # the button the press comes from

    status, _ = await press_delete(tolk, slack, task_id, final, "U0ALICE")

    assert status == 200
    assert not any(f in slack.files for f in file_ids)  # gone from Slack: no download
    assert set(slack.deleted_files) >= set(file_ids)
    assert sorted(c.args["file"] for c in slack.calls_to("files.delete")) == sorted(file_ids)
    assert all(c.response["ok"] for c in deleting_calls(slack))
    assert slack.thread("C0GENERAL", parent["ts"]) == []  # uploads' messages and the final one
    (edited,) = slack.messages("C0GENERAL")
    assert edited["ts"] == parent["ts"] and "edited" in edited
    assert "removed by <@U0ALICE>" in edited["text"] and task_id in edited["text"]
    assert "quota" not in edited["text"].lower()
    stored = await tolk.services.store.get(task_id)
    assert stored.notes["deleted_by"] == "U0ALICE"
    assert stored.notes["sent"] == task.notes["sent"]  # the record of what was posted stays
    assert slack.ephemerals() == []


async def test_pressing_twice_is_harmless(tolk, slack, xiangji):
    task_id, _, replies = await image_task(tolk, slack, xiangji)
    await press_delete(tolk, slack, task_id, replies[-1], "U0ALICE")
    before = len(deleting_calls(slack))
    assert before and "removed by" in slack.messages("C0GENERAL")[0]["text"]

    status, _ = await press_delete(tolk, slack, task_id, replies[-1], "U0ALICE")

    assert status == 200
    assert len(deleting_calls(slack)) == before  # nothing left to do, nothing done
    assert len(slack.calls_to("chat.update")) == 1
    assert slack.ephemerals() == []


async def test_a_rerun_after_everything_is_gone_finds_nothing_to_complain_about(
    tolk, slack, xiangji
):
    task_id, _, replies = await image_task(tolk, slack, xiangji)
    await press_delete(tolk, slack, task_id, replies[-1], "U0ALICE")
    first = len(deleting_calls(slack))
    task = await tolk.services.store.get(task_id)  # as if the first run's note were lost
    await tolk.services.store.save(task.but(notes={**task.notes, "deleted_by": None}))

    status, _ = await press_delete(tolk, slack, task_id, replies[-1], "U0ALICE")

    assert status == 200
    again = deleting_calls(slack)[first:]
    assert again and {c.response.get("error") for c in again} <= {
        "file_deleted",
        "message_not_found",
    }
    (edited,) = slack.messages("C0GENERAL")
    assert "removed by <@U0ALICE>" in edited["text"]
    assert (await tolk.services.store.get(task_id)).notes["deleted_by"] == "U0ALICE"
    assert slack.ephemerals() == []


async def test_someone_else_gets_an_explanation_and_nothing_changes(tolk, slack, xiangji):
    task_id, parent, replies = await image_task(tolk, slack, xiangji)
    files_before = dict(slack.files)
    thread_before = slack.thread("C0GENERAL", parent["ts"])

    status, _ = await press_delete(tolk, slack, task_id, replies[-1], "U0BOB")

    assert status == 200
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["user"] == "U0BOB" and note["thread_ts"] == parent["ts"]
    assert "<@U0ALICE>" in note["text"] and task_id in note["text"]
    assert deleting_calls(slack) == [] and slack.calls_to("chat.update") == []
    assert slack.files == files_before
    assert slack.thread("C0GENERAL", parent["ts"]) == thread_before
    assert slack.messages("C0GENERAL") == [parent]
    assert "deleted_by" not in (await tolk.services.store.get(task_id)).notes


async def test_a_translation_without_a_thread_is_removed_and_the_requester_told(
    tolk, slack, xiangji
):
    _, body = await tolk.command("/translate", "zh>en 我是中国人")
    task_id = task_id_in(body)
    await tolk.settle()
    (answer,) = slack.messages("C0GENERAL")

    await press_delete(tolk, slack, task_id, answer, "U0ALICE")

    assert slack.messages("C0GENERAL") == []
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["user"] == "U0ALICE" and "removed by <@U0ALICE>" in note["text"]


async def test_results_in_someone_elses_thread_go_and_their_message_stays(tolk, slack, xiangji):
    """A flag reaction's results hang off the reacted message: Tolk has no parent of
    its own to edit, so the requester is told in an ephemeral note."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, "PNG")
    original = slack.post_user_message(
        "C0GENERAL", "U0BOB", "new shoes", files=[("p.png", buffer.getvalue(), "image/png")]
    )
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": "C0GENERAL", "ts": original["ts"]},
    }
    body = event_body(reaction)
    await post_signed(
        tolk.session, tolk.events_url, SIGNING_SECRET, body, content_type="application/json"
    )
    await tolk.settle()
    (task,) = await tolk.services.store.list_for_user("U0ALICE")
    replies = slack.thread("C0GENERAL", original["ts"])
    assert replies and task.notes["files"]

    await press_delete(tolk, slack, task.id, replies[-1], "U0ALICE")

    assert slack.thread("C0GENERAL", original["ts"]) == []
    assert not any(f in slack.files for f in task.notes["files"])
    (kept,) = slack.messages("C0GENERAL")
    assert kept["text"] == "new shoes" and "edited" not in kept
    assert kept["files"][0]["id"] in slack.files  # Bob's own image is untouched
    assert slack.calls_to("chat.update") == []
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["user"] == "U0ALICE" and "removed by <@U0ALICE>" in note["text"]
    assert note["thread_ts"] == original["ts"]


async def test_an_unknown_task_is_explained(tolk, slack):
    message = {"type": "message", "ts": "1700000000.000100", "user": slack.bot_user_id, "text": "x"}
    status, _ = await press_delete(tolk, slack, "TZZZZ", message, "U0ALICE")
    assert status == 200
    (note,) = slack.ephemerals("C0GENERAL")
    assert "TZZZZ" in note["text"]
    assert deleting_calls(slack) == []


async def test_a_slack_refusal_keeps_the_button_and_says_to_press_again(tolk, slack, xiangji):
    task_id, parent, replies = await image_task(tolk, slack, xiangji)
    slack.faults.add("files.delete", status=200, error="internal_error", retry_after=None)

    await press_delete(tolk, slack, task_id, replies[-1], "U0ALICE")

    final = replies[-1]
    assert final in slack.thread("C0GENERAL", parent["ts"])  # the Delete button is still there
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["user"] == "U0ALICE" and "again" in note["text"]
    assert "deleted_by" not in (await tolk.services.store.get(task_id)).notes
    assert slack.messages("C0GENERAL")[0]["text"] == parent["text"]

    await press_delete(tolk, slack, task_id, final, "U0ALICE")
    assert slack.thread("C0GENERAL", parent["ts"]) == []
    assert "removed by" in slack.messages("C0GENERAL")[0]["text"]


async def test_the_emulator_lets_a_bot_delete_only_its_own_files(tolk, slack):
    posted = slack.post_user_message(
        "C0GENERAL", "U0ALICE", "mine", files=[("a.png", b"x", "image/png")]
    )
    file_id = posted["files"][0]["id"]
    client = tolk.services.slack
    for file, error in ((file_id, "cant_delete_file"), ("F0NOPE", "file_not_found")):
        with pytest.raises(SlackApiError) as caught:
            await client.files_delete(file=file)
        assert caught.value.response["error"] == error
    assert file_id in slack.files


# --- the listener on its ports: what is recorded, and when -------------------------------


async def click_delete(ports, task_id: str, user: str) -> Ack:
    body = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": "C0GENERAL"},
        "container": {"channel_id": "C0GENERAL", "thread_ts": "1700000000.000100"},
    }
    ack = Ack()
    ack.on_ack = ports.tasks  # what was recorded when Slack got its answer
    await on_delete_results(ack, body, delete_button(task_id), ports.context())
    assert ack.calls == [{}]
    return ack


async def test_a_press_records_the_removal_before_the_answer(ports, slack) -> None:
    await ports.add_task("TDONE")
    ack = await click_delete(ports, "TDONE", "U0ALICE")

    removal = next(t for t in ack.seen if t.operation == REMOVE_RESULTS)
    assert removal.items[0].source == "TDONE" and removal.request["by"] == "U0ALICE"
    assert removal.place.channel == "C0GENERAL" and ports.nudges
    assert deleting_calls(slack) == []  # the engine removes, not the listener

    await click_delete(ports, "TDONE", "U0ALICE")  # a double click: the same removal
    assert [t.id for t in await ports.tasks() if t.operation == REMOVE_RESULTS] == [removal.id]


async def test_a_press_after_a_finished_removal_records_another(ports) -> None:
    """The first removal left something (Slack refused a file): pressing again removes
    again, even though the first removal's task is still in the store."""
    await ports.add_task("TDONE")
    (first,) = removals(await click_delete(ports, "TDONE", "U0ALICE"))
    now = ports.clock()
    await ports.store.save(
        first.to(State.SUCCEEDED, now).to(State.DELIVERED, now).but(settled=True)
    )
    both = removals(await click_delete(ports, "TDONE", "U0ALICE"))
    (second,) = [t for t in both if t.id != first.id]
    assert not second.settled and second.items[0].source == "TDONE"
    assert len(removals(await click_delete(ports, "TDONE", "U0ALICE"))) == 2  # under way


def removals(ack: Ack) -> list:
    return [t for t in ack.seen if t.operation == REMOVE_RESULTS]


async def test_nothing_is_recorded_for_someone_else_or_results_already_gone(ports, slack) -> None:
    await ports.add_task("TDONE")
    await click_delete(ports, "TDONE", "U0BOB")
    await ports.add_task("TGONE", dedupe_key="g", notes={"deleted_by": "U0ALICE"})
    await click_delete(ports, "TGONE", "U0ALICE")
    await click_delete(ports, "TNONE", "U0ALICE")

    assert [t.operation for t in await ports.tasks()] == ["xiangji.translate_image"] * 2
    not_yours, missing = slack.ephemerals("C0GENERAL")
    assert not_yours["user"] == "U0BOB" and not_yours["text"] == messages.results_not_yours(
        "TDONE", "U0ALICE"
    )
    assert missing["text"] == messages.results_task_missing("TNONE")

"""Spend before it goes (issue 20 item 4), the estimate: work over a channel's
``confirm-over`` is not recorded but waits, with Go and Cancel, for the person who asked
or an admin. Through the wire: signed commands, events and button presses into the
running app; assertions on what the Slack and Xiangji emulators received and what the
store holds."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bot.core import messages
from bot.core.spend import HOLD_SECONDS
from emulators.blockkit import validate_blocks
from emulators.signed import block_actions_payload, interaction_body, post_signed
from tests.conftest import SIGNING_SECRET, poll_round
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import png, send_event

GENERAL, LOCALE = "C0GENERAL", "C0LOCALE"
ADMIN = "U0ADMIN"


@pytest.fixture
def admin(slack) -> str:
    """A workspace admin (no ``TOLK_ADMINS``: Slack's admins are Tolk's)."""
    slack.add_user(ADMIN, "ada", real_name="Ada Admin", is_admin=True)
    return ADMIN


async def configure(tolk, setting: str, channel: str = GENERAL) -> str:
    """``/tolk config SETTING`` typed by the admin in ``channel``; its answer."""
    status, body = await tolk.command("/tolk", f"config {setting}", user=ADMIN, channel=channel)
    assert status == 200 and "set `" in body, body
    return body


def urls(xiangji, count: int) -> str:
    return " ".join(xiangji.sample_url(f"p{i}") for i in range(count))


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons on ``message`` by action id, as a press reports them."""
    found = {}
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = {**element, "block_id": block.get("block_id")}
    return found


def estimates(slack, channel: str = GENERAL) -> list[dict[str, Any]]:
    """Tolk's messages in ``channel`` (top level and threads) that are (or were) estimates."""
    out = []
    for message in slack.messages(channel):
        for m in [message, *slack.thread(channel, message["ts"])]:
            if "Before this starts" in m.get("text", "") or "by <@" in m.get("text", ""):
                out.append(copy.deepcopy(m))  # as it was shown then
    return out


async def press(
    tolk,
    slack,
    message: dict[str, Any],
    action_id: str,
    user: str,
    *,
    channel: str = GENERAL,
    team: str = "T0TOLK",
    ephemeral: bool = False,
) -> int:
    """A press on ``action_id`` of ``message``, exactly as Slack sends it."""
    button = buttons(message).get(action_id)
    assert button is not None, f"no {action_id} on {message.get('text')!r}"
    payload = block_actions_payload(
        message,
        button,
        user=user,
        channel=channel,
        trigger_id=slack.new_trigger_id(),
        response_url=slack.new_response_url(
            channel=channel, user=user, message_ts=None if ephemeral else message["ts"]
        ),
        team=team,
    )
    payload["container"]["is_ephemeral"] = ephemeral
    status, _ = await post_signed(
        tolk.session, tolk.events_url, SIGNING_SECRET, interaction_body(payload)
    )
    return status


async def tasks(tolk, channel: str = GENERAL) -> list[Any]:
    """Every task recorded for ``channel`` (after the engine has finished with them)."""
    await tolk.settle()
    return await tolk.services.store.list_for_channel(channel, active_only=False)


def image_calls(xiangji) -> list[Any]:
    return xiangji.requests_for("GetImageTranslateBatch") + xiangji.requests_for(
        "GetImageTranslate"
    )


def ephemeral_texts(slack, user: str, channel: str = GENERAL) -> list[str]:
    return [e["text"] for e in slack.ephemerals(channel) if e["user"] == user]


async def test_work_over_confirm_over_waits_with_an_estimate_and_go_starts_it(
    tolk, slack, xiangji, admin
):
    await configure(tolk, "confirm-over 5")
    await tolk.services.quota.read_all()  # the last reading the estimate quotes
    status, body = await tolk.command("/translate-image", f"zh>ko {urls(xiangji, 6)}")
    assert status == 200 and "Nothing has started" in body, body

    (card,) = estimates(slack)
    assert not validate_blocks(card["blocks"])
    assert set(buttons(card)) == {messages.SPEND_GO, messages.SPEND_CANCEL}
    assert "<@U0ALICE> asked for 6 images into ko" in card["text"]
    assert "~6 image credits of 80,828 left" in card["text"]
    assert await tasks(tolk) == [] and image_calls(xiangji) == []  # nothing half-created

    assert await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE") == 200
    (task,) = await tasks(tolk)
    assert task.place.user == "U0ALICE" and len(task.items) == 6
    assert task.dedupe_key.startswith("command:T0TOLK:")
    await tolk.settle()
    (batch,) = xiangji.requests_for("GetImageTranslateBatch")
    assert batch.params["TargetLanguage"] == "KOR"
    updated = next(m for m in slack.messages(GENERAL) if m["ts"] == card["ts"])
    assert f"Started by <@U0ALICE>: task `{task.id}`" in updated["text"]
    assert buttons(updated) == {}  # the buttons are gone

    # A second Go (a double click, someone else's late press) starts nothing more.
    assert await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE") == 200
    await tolk.settle()
    assert len(await tasks(tolk)) == 1 and len(xiangji.requests_for("GetImageTranslateBatch")) == 1
    (note,) = ephemeral_texts(slack, "U0ALICE")
    assert "Already started" in note and task.id in note


async def test_only_the_requester_or_an_admin_can_press(tolk, slack, xiangji, admin):
    await configure(tolk, "confirm-over 2")
    await tolk.command("/cutout", urls(xiangji, 3))
    (card,) = estimates(slack)
    for action in (messages.SPEND_GO, messages.SPEND_CANCEL):
        assert await press(tolk, slack, card, action, "U0BOB") == 200
    assert await tasks(tolk) == []
    notes = ephemeral_texts(slack, "U0BOB")
    assert len(notes) == 2 and all("Only <@U0ALICE>" in n and "admin" in n for n in notes)
    assert "Before this starts" in slack.messages(GENERAL)[-1]["text"]  # unchanged

    assert await press(tolk, slack, card, messages.SPEND_GO, ADMIN) == 200  # an admin may
    (task,) = await tasks(tolk)
    assert task.operation == "xiangji.cutout" and task.place.user == "U0ALICE"
    await tolk.settle()
    assert len(xiangji.requests_for("GetImageMatting")) == 3
    assert f"Started by <@{ADMIN}>" in slack.messages(GENERAL)[0]["text"]


async def test_cancel_drops_the_request_and_go_after_it_does_nothing(tolk, slack, xiangji, admin):
    await configure(tolk, "confirm-over 1 images")
    await tolk.command("/translate-image", f"ko {urls(xiangji, 2)}")
    (card,) = estimates(slack)
    assert await press(tolk, slack, card, messages.SPEND_CANCEL, "U0ALICE") == 200
    (updated,) = estimates(slack)
    assert "Cancelled by <@U0ALICE>" in updated["text"] and buttons(updated) == {}

    assert await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE") == 200
    await tolk.settle()
    assert await tasks(tolk) == [] and image_calls(xiangji) == []
    (note,) = ephemeral_texts(slack, "U0ALICE")
    assert "Already cancelled" in note


async def test_below_confirm_over_the_work_starts_at_once(tolk, slack, xiangji):
    _, body = await tolk.command("/translate-image", f"zh>ko {urls(xiangji, 20)}")
    task_id = task_id_in(body)  # 20 images: under the default 50
    await tolk.settle()
    assert estimates(slack) == []
    assert [t.id for t in await tasks(tolk)] == [task_id]


async def test_sixty_images_into_three_languages_wait_at_the_default(tolk, slack, xiangji):
    """The default confirm-over is 50 images: 20 images into ko, ja and en are 60."""
    status, body = await tolk.command("/translate-image", f"zh>ko,ja,en {urls(xiangji, 20)}")
    assert status == 200 and "Nothing has started" in body, body
    (card,) = estimates(slack)
    assert "60 images into ko, ja, en" in card["text"] and "50 images" in card["text"]
    assert await tasks(tolk) == [] and image_calls(xiangji) == []
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    (task,) = await tasks(tolk)
    assert len(task.items) == 60 and [t["lang"] for t in task.request["targets"]] == [
        "ko",
        "ja",
        "en",
    ]


async def test_confirm_over_is_per_channel_and_can_go_back(tolk, slack, xiangji, admin):
    body = await configure(tolk, "confirm-over 3")
    assert "3 images or 1,200 characters" in body
    _, shown = await tolk.command("/tolk", "config show")
    assert "confirm-over: 3 images or 1,200 characters" in shown
    _, other = await tolk.command("/tolk", "config show", channel=LOCALE)
    assert "confirm-over: 50 images or 20,000 characters (default)" in other

    await tolk.command("/translate-image", f"ko {urls(xiangji, 4)}", channel=LOCALE)
    assert len(await tasks(tolk, LOCALE)) == 1  # another channel: the default
    await tolk.command("/translate-image", f"ko {urls(xiangji, 4)}")
    assert await tasks(tolk) == [] and len(estimates(slack)) == 1

    await configure(tolk, "confirm-over default")
    await tolk.command("/translate-image", f"ko {urls(xiangji, 4)}")
    assert len(await tasks(tolk)) == 1 and len(estimates(slack)) == 1


async def test_text_over_confirm_over_shows_the_engine_multiplier(tolk, slack, xiangji, admin):
    await configure(tolk, "confirm-over 100 chars")
    await tolk.services.quota.read_all()
    text = "我是中国人。" * 30  # 180 characters
    _, body = await tolk.command("/translate", f"zh>en {text} --engine google")
    assert "Nothing has started" in body
    (card,) = estimates(slack)
    assert "180 characters of text into en" in card["text"]
    assert "~540–810 text credits of 1,000,000 left" in card["text"]
    assert "Google-engine text counts 3–4.5×" in card["text"]
    assert xiangji.requests_for("GetTextTranslate") == []
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["Text"] == text


async def test_the_same_command_twice_while_it_waits_is_one_estimate(tolk, slack, xiangji, admin):
    from emulators.signed import command_body

    await configure(tolk, "confirm-over 1")
    body = command_body("/translate-image", f"ko {urls(xiangji, 2)}", trigger_id="9.9.abc")
    first = await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)
    second = await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)
    assert "Nothing has started" in first[1] and "already waiting" in second[1]
    (card,) = estimates(slack)
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    third = await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)
    (task,) = await tasks(tolk)
    assert "already" in third[1] and task.id in third[1]  # the task Go recorded


async def test_a_flag_over_confirm_over_asks_in_the_thread(tolk, slack, xiangji, admin):
    await configure(tolk, "confirm-over 1")
    files = [(f"p{i}.png", png(), "image/png") for i in range(2)]
    message = slack.post_user_message(GENERAL, "U0BOB", "", files=files)
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": GENERAL, "ts": message["ts"]},
    }
    assert await send_event(tolk, reaction) == 200
    (card,) = slack.thread(GENERAL, message["ts"])
    assert "<@U0ALICE> asked for 2 images into ja" in card["text"]
    assert await tasks(tolk) == []
    assert await send_event(tolk, reaction) == 200  # Slack's retry: no second estimate
    assert len(slack.thread(GENERAL, message["ts"])) == 1

    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    (task,) = await tasks(tolk)
    assert task.operation == "xiangji.translate_message" and task.place.thread_ts == message["ts"]
    await tolk.settle()
    assert image_calls(xiangji)
    names = [f["name"] for m in slack.thread(GENERAL, message["ts"]) for f in m.get("files", [])]
    assert len(names) == 2 and all("-ja-" in n for n in names)


async def test_where_tolk_cannot_post_the_answer_carries_the_estimate(tolk, slack, xiangji, admin):
    slack.add_channel(
        "C0SECRET", "secret", is_private=True, member=False, members=("U0ALICE", ADMIN)
    )
    await configure(tolk, "confirm-over 1", channel="C0SECRET")
    _, body = await tolk.command("/cutout", urls(xiangji, 2), channel="C0SECRET")
    answer = json.loads(body)
    assert not validate_blocks(answer["blocks"])  # Slack checks an answer's blocks too
    assert "Before this starts" in answer["text"]
    card = {"ts": "1700000000.000001", "text": answer["text"], "blocks": answer["blocks"]}
    assert await tasks(tolk, "C0SECRET") == []

    assert (
        await press(
            tolk, slack, card, messages.SPEND_GO, "U0ALICE", channel="C0SECRET", ephemeral=True
        )
        == 200
    )
    (response,) = [r for r in slack.responses if r["replace_original"]]
    assert "Started by <@U0ALICE>: task `" in response["text"]
    assert not validate_blocks(response["blocks"])
    await tolk.settle()
    task = await tolk.services.store.get(task_id_in(response["text"]))
    assert task.operation == "xiangji.cutout" and len(task.items) == 2
    assert task.notes["moved"]["from"] == "C0SECRET"  # the results went where Tolk can post


async def test_a_press_from_another_workspace_finds_nothing(tolk, slack, xiangji, admin):
    await configure(tolk, "confirm-over 1")
    await tolk.command("/cutout", urls(xiangji, 2))
    (card,) = estimates(slack)
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE", team="T0OTHER")
    assert await tasks(tolk) == []
    (note,) = ephemeral_texts(slack, "U0ALICE")
    assert "expired" in note
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    assert len(await tasks(tolk)) == 1


async def test_an_estimate_waits_24_hours(timed_tolk, slack, xiangji, clock, admin):
    tolk = timed_tolk
    await configure(tolk, "confirm-over 1")
    await tolk.command("/cutout", urls(xiangji, 2))
    (card,) = estimates(slack)
    clock.advance(HOLD_SECONDS + 1)
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    await poll_round(tolk)
    assert await tasks(tolk) == [] and xiangji.requests_for("GetImageMatting") == []
    (note,) = ephemeral_texts(slack, "U0ALICE")
    assert "expired" in note

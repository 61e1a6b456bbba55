"""The "Translate…" message shortcut: the form it opens, and what its submission records
— before the form closes, so a form that closed always left its work recorded."""

from __future__ import annotations

import json
from typing import Any

from bot.core import messages
from bot.core.channels import ChannelConfig, Route
from emulators.slack import SlackEmulator
from handlers.slack.shortcuts import on_translate_shortcut, on_translate_submitted
from tests.handlers.support import Ack, Ports


async def open_form(ports: Ports, slack: SlackEmulator, message: dict[str, Any]) -> dict:
    """Open the form on ``message``; the view the Slack emulator now shows."""
    shortcut = {
        "type": "message_action",
        "callback_id": "tolk_translate",
        "trigger_id": slack.new_trigger_id(),
        "team": {"id": "T0TOLK"},
        "channel": {"id": "C0GENERAL"},
        "user": {"id": "U0ALICE"},
        "message_ts": message["ts"],
        "message": message,
    }
    ack = Ack()
    await on_translate_shortcut(ack, shortcut, ports.context())
    assert ack.calls == [{}]
    (view,) = slack.views.values()
    return view


def submitted(view: dict[str, Any], **picked: str) -> dict[str, Any]:
    """``view`` as submitted with ``picked`` (block id → option value)."""
    values = {
        block: {"value": {"selected_option": {"value": value}}} for block, value in picked.items()
    }
    return {**view, "state": {"values": values}}


async def submit(ports: Ports, view: dict[str, Any]) -> Ack:
    ack = Ack()
    ack.on_ack = ports.tasks  # what was recorded when the form closed
    body = {"type": "view_submission", "user": {"id": "U0ALICE"}, "view": view}
    await on_translate_submitted(ack, body, view, ports.context())
    return ack


async def test_the_form_starts_at_the_channels_defaults(ports: Ports, slack: SlackEmulator) -> None:
    await ports.desk.save_channel_config("C0GENERAL", ChannelConfig(defaults=Route("ja", "zh")))
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    view = await open_form(ports, slack, message)
    assert view["callback_id"] == "tolk_translate_modal"
    meta = json.loads(view["private_metadata"])
    assert meta["channel"] == "C0GENERAL" and meta["ts"] == meta["thread_ts"] == message["ts"]
    assert '"ja"' in json.dumps(view) and await ports.tasks() == []


async def test_a_submission_records_the_work_then_closes_the_form(
    ports: Ports, slack: SlackEmulator
) -> None:
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    view = await open_form(ports, slack, message)
    ack = await submit(ports, submitted(view, target="ko", source="zh"))

    assert ack.calls == [{}]  # the form closes without errors
    (task,) = ack.seen  # ... and by then the task was recorded
    assert task.operation == "xiangji.translate_message" and task.request["mode"] == "shortcut"
    assert (task.request["source"], task.request["target"]) == ("zh", "ko")
    assert task.place.user == "U0ALICE" and task.place.thread_ts == message["ts"]

    await submit(ports, submitted(view, target="ko", source="zh"))  # submitted twice: one task
    assert len(await ports.tasks()) == 1


async def test_nothing_to_translate_keeps_the_form_open(ports: Ports, slack: SlackEmulator) -> None:
    message = slack.post_user_message("C0GENERAL", "U0BOB", ":+1:")
    view = await open_form(ports, slack, message)
    ack = await submit(ports, submitted(view, target="ko"))
    assert ack.calls == [
        {"response_action": "errors", "errors": {"target": messages.nothing_to_translate()}}
    ]
    assert await ports.tasks() == []


async def test_documents_without_their_provider_keep_the_form_open(
    ports: Ports, slack: SlackEmulator
) -> None:
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("plan.docx", b"doc", "application/msword")]
    )
    view = await open_form(ports, slack, message)
    ack = await submit(ports, submitted(view, target="ja", source="en", documents="rozetta"))
    (call,) = ack.calls
    assert (
        call["response_action"] == "errors" and "ROZETTA_ACCESS_KEY" in call["errors"]["documents"]
    )
    assert await ports.tasks() == []

    ports.configure(rozetta=True)
    ack = await submit(ports, submitted(view, target="ja", source="en", documents="rozetta"))
    assert ack.calls == [{}]
    (task,) = ack.seen
    assert task.operation == "rozetta.translate_doc"

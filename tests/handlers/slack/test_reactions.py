"""A flag reaction: the message's text, images and documents are translated into the
flag's language, once per message and language; what cannot be done is said to the
person who reacted, and nothing is recorded for it."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from bot.core import messages
from bot.core.channels import ChannelConfig, Route
from emulators.slack import SlackEmulator
from handlers.slack.reactions import on_reaction_added
from tests.handlers.support import Ports


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


def reaction(flag: str, message: dict[str, Any], user: str = "U0ALICE") -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": flag,
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }


async def react(ports: Ports, flag: str, message: dict[str, Any]) -> None:
    await on_reaction_added(reaction(flag, message), ports.context())


async def test_a_flag_translates_the_message_in_its_thread(
    ports: Ports, slack: SlackEmulator
) -> None:
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "新鞋到了", files=[("shoe.png", png(), "image/png")]
    )
    await react(ports, "jp", message)

    (task,) = await ports.tasks()
    assert task.operation == "xiangji.translate_message"
    assert task.request["target"] == "ja" and task.request["mode"] == "reaction"
    assert task.place.user == "U0ALICE" and task.place.thread_ts == message["ts"]
    assert [i.meta["kind"] for i in task.items] == ["text", "file"]
    assert slack.ephemerals() == []


async def test_the_same_language_twice_is_one_task(ports: Ports, slack: SlackEmulator) -> None:
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    for flag in ("us", "gb", "flag-us"):
        await react(ports, flag, message)
    (task,) = await ports.tasks()
    assert task.request["target"] == "en"


async def test_what_is_not_a_flag_is_ignored(ports: Ports, slack: SlackEmulator) -> None:
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    await react(ports, "thumbsup", message)
    assert await ports.tasks() == [] and slack.ephemerals() == []


async def test_nothing_to_translate_is_said_to_the_person(
    ports: Ports, slack: SlackEmulator
) -> None:
    empty = slack.post_user_message("C0GENERAL", "U0BOB", ":+1:")
    await react(ports, "jp", empty)
    english = slack.post_user_message("C0GENERAL", "U0BOB", "New shoes arrived today")
    await react(ports, "us", english)

    first, second = slack.ephemerals("C0GENERAL")
    assert first["user"] == "U0ALICE" and first["text"] == messages.nothing_to_translate()
    assert second["text"] == messages.same_language("en")
    assert await ports.tasks() == []


async def test_a_text_in_another_script_is_read_in_its_own_language(
    ports: Ports, slack: SlackEmulator
) -> None:
    await ports.desk.save_channel_config("C0GENERAL", ChannelConfig(defaults=Route("ko", "zh")))
    message = slack.post_user_message("C0GENERAL", "U0BOB", "New shoes arrived today")
    await react(ports, "jp", message)
    (task,) = await ports.tasks()
    assert task.request["source"] == "en"  # not the channel's zh


async def test_documents_without_a_provider_are_skipped_and_said(
    ports: Ports, slack: SlackEmulator
) -> None:
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("plan.docx", b"doc", "application/msword")]
    )
    await react(ports, "jp", message)
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["text"].startswith(messages.flag_documents_skipped(""))
    assert "ALIBABA_ACCESS_KEY_ID" in note["text"]
    assert await ports.tasks() == []


async def test_documents_go_to_rozetta_when_alibaba_cannot_fetch_them(
    ports: Ports, slack: SlackEmulator
) -> None:
    ports.configure(alibaba=True, rozetta=True)  # no public URL: Alibaba cannot fetch
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("plan.docx", b"doc", "application/msword")]
    )
    await react(ports, "jp", message)
    (task,) = await ports.tasks()
    assert task.operation == "rozetta.translate_doc" and task.request["target"] == "ja"
    assert task.items[0].meta["kind"] == "slack-file"

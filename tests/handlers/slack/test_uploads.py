"""Uploads to a channel set to translate them (``/tolk config auto-images`` /
``auto-docs``): one task per upload; a problem said once in the upload's thread."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from bot.core.channels import ChannelConfig, Route
from emulators.slack import SlackEmulator
from handlers.slack.uploads import on_file_share, on_file_shared, on_other_message
from tests.handlers.support import Ports


def image() -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return "a.png", buffer.getvalue(), "image/png"


def share_event(message: dict[str, Any]) -> dict[str, Any]:
    """The ``message``/``file_share`` event of an upload, as Slack sends it."""
    return {"type": "message", "subtype": "file_share", "channel": "C0GENERAL", **message}


async def auto(ports: Ports, **routes: Route) -> None:
    await ports.desk.save_channel_config("C0GENERAL", ChannelConfig(**routes))


async def test_an_image_upload_is_one_task_however_often_slack_says_so(
    ports: Ports, slack: SlackEmulator
) -> None:
    await auto(ports, auto_images=Route("ko", "zh", "xiangji"))
    upload = slack.post_user_message("C0GENERAL", "U0BOB", "", files=[image()])
    for _ in range(2):
        await on_file_share(share_event(upload), ports.context())
    await on_file_shared()

    (task,) = await ports.tasks()
    assert task.operation == "xiangji.translate_message" and task.request["mode"] == "upload"
    assert task.request["target"] == "ko" and task.place.thread_ts == upload["ts"]
    assert task.place.user == "U0BOB"


async def test_uploads_elsewhere_or_by_a_bot_are_left_alone(
    ports: Ports, slack: SlackEmulator
) -> None:
    upload = slack.post_user_message("C0GENERAL", "U0BOB", "", files=[image()])
    await on_file_share(share_event(upload), ports.context())  # the channel is not set
    await auto(ports, auto_images=Route("ko", "zh", "xiangji"))
    await on_file_share({**share_event(upload), "bot_id": "B0OTHER"}, ports.context())
    await on_other_message()
    assert await ports.tasks() == []


async def test_a_route_that_no_longer_works_is_said_once_in_the_thread(
    ports: Ports, slack: SlackEmulator
) -> None:
    await auto(ports, auto_images=Route("ko", "zh", "xiangji", engine="google"))  # no key now
    upload = slack.post_user_message("C0GENERAL", "U0BOB", "", files=[image()])
    for _ in range(2):
        await on_file_share(share_event(upload), ports.context())
    (note,) = slack.thread("C0GENERAL", upload["ts"])
    assert "XIANGJI_IMG_TRANS_GOOGLE_KEY" in note["text"]
    assert await ports.tasks() == []


async def test_documents_follow_the_auto_docs_route(ports: Ports, slack: SlackEmulator) -> None:
    await auto(ports, auto_docs=Route("ja", None, "rozetta"))
    upload = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("plan.docx", b"doc", "application/msword")]
    )
    await on_file_share(share_event(upload), ports.context())
    (note,) = slack.thread("C0GENERAL", upload["ts"])  # Rozetta is off: said once
    assert "ROZETTA_ACCESS_KEY" in note["text"]
    assert await ports.tasks() == []

    ports.configure(rozetta=True)
    second = slack.post_user_message(
        "C0GENERAL", "U0BOB", "", files=[("plan.docx", b"doc", "application/msword")]
    )
    await on_file_share(share_event(second), ports.context())
    (task,) = await ports.tasks()
    assert task.operation == "rozetta.translate_doc" and task.request["target"] == "ja"
    assert slack.thread("C0GENERAL", second["ts"]) == []

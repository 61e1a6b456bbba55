"""The Refine button on a finished image task: the person who clicks gets their own
short-lived link, in an ephemeral message; nothing is recorded until the page hands a
result back (``tests/handlers/web/test_refine_page.py``)."""

from __future__ import annotations

from typing import Any

from bot.core import messages
from bot.core.links import Links
from bot.core.tasks import Item
from emulators.slack import SlackEmulator
from handlers.slack.refine import on_open, on_refine
from tests.handlers.support import Ack, Ports

IMAGE = Item(
    source="https://img.example.com/shoe.png",
    provider_id="RID1",
    status="done",
    outputs=({"kind": "image", "url": "https://i.tosoiot.com/r/RID1/1.png"},),
)


def click(value: str, user: str = "U0BOB") -> tuple[dict[str, Any], dict[str, Any]]:
    body = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": "C0GENERAL"},
        "container": {"channel_id": "C0GENERAL", "thread_ts": "1700000000.000100"},
    }
    return body, {"action_id": "tolk_refine_0", "value": value}


async def press(ports: Ports, value: str, user: str = "U0BOB") -> Ack:
    ack = Ack()
    body, action = click(value, user)
    await on_refine(ack, body, action, ports.context())
    assert ack.calls == [{}]
    return ack


async def test_the_clicker_gets_a_link_of_their_own_in_their_language(
    ports: Ports, slack: SlackEmulator
) -> None:
    ports.links = Links("https://tolk.example.com", "test-secret", clock=ports.clock)
    await ports.add_task("TDONE", items=(IMAGE,))
    await press(ports, "TDONE:0", user="U0BOB")  # Bob's Slack is in Korean

    (note,) = slack.ephemerals("C0GENERAL")
    assert note["user"] == "U0BOB" and note["thread_ts"] == "1700000000.000100"
    link = next(e["url"] for b in note["blocks"] if b["type"] == "actions" for e in b["elements"])
    task, index, user, lang, expires, sig = link.split("/refine/")[1].split("/")
    assert (task, index, user, lang) == ("TDONE", "0", "U0BOB", "KOR")
    assert ports.links.refine_link_valid(task, index, user, lang, expires, sig)
    assert await ports.store.list_for_channel("C0GENERAL") == [await ports.store.get("TDONE")]


async def test_without_a_public_url_it_says_what_is_missing(
    ports: Ports, slack: SlackEmulator
) -> None:
    await ports.add_task("TDONE", items=(IMAGE,))
    await press(ports, "TDONE:0")
    (note,) = slack.ephemerals("C0GENERAL")
    assert note["text"] == messages.refine_needs_public_url()


async def test_an_image_that_cannot_be_refined_or_a_task_that_is_gone(
    ports: Ports, slack: SlackEmulator
) -> None:
    ports.links = Links("https://tolk.example.com", "test-secret", clock=ports.clock)
    await ports.add_task("TDONE", items=(IMAGE,))
    await press(ports, "TDONE:3")
    await press(ports, "TGONE:0")
    await ports.add_task("TDEL", dedupe_key="d", items=(IMAGE,), notes={"deleted_by": "U0ALICE"})
    await press(ports, "TDEL:0")  # its results were removed from Slack

    first, missing, removed = slack.ephemerals("C0GENERAL")
    why = "it has no finished Xiangji result"
    assert first["text"] == messages.refine_unavailable("TDONE", why)
    assert missing["text"] == messages.results_task_missing("TGONE")
    assert removed["text"] == messages.refine_unavailable("TDEL", why)


async def test_the_link_button_itself_needs_only_an_ack() -> None:
    ack = Ack()
    await on_open(ack)
    assert ack.calls == [{}]

"""Getting to a Refine link the way a person does: a finished image task in a thread, a
press on its Refine button, the link in the ephemeral answer."""

from __future__ import annotations

import re
from typing import Any

from emulators.signed import block_actions_payload, interaction_body, post_signed
from emulators.slack import SlackEmulator
from tests.conftest import SIGNING_SECRET, Tolk

CHANNEL = "C0GENERAL"


async def finished(tolk: Tolk, slack: SlackEmulator, command: str, text: str) -> dict[str, Any]:
    """Run a slash command to the end; return the closing message in its thread."""
    status, body = await tolk.command(command, text)
    assert status == 200, body
    task_id = re.search(r"task `(T[0-9A-Z]{4})`", body)
    assert task_id, body
    await tolk.settle()
    task = await tolk.services.store.get(task_id.group(1))
    assert task is not None and task.place.thread_ts
    return slack.thread(CHANNEL, task.place.thread_ts)[-1]


def refine_controls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("action_id", "").startswith("tolk_refine_")
    ]


async def press(
    tolk: Tolk,
    slack: SlackEmulator,
    message: dict[str, Any],
    action: dict[str, Any],
    user: str = "U0ALICE",
) -> int:
    payload = block_actions_payload(
        message,
        action,
        user=user,
        channel=CHANNEL,
        trigger_id=slack.new_trigger_id(),
        response_url=slack.new_response_url(channel=CHANNEL, user=user),
    )
    status, _ = await post_signed(
        tolk.session, tolk.events_url, SIGNING_SECRET, interaction_body(payload)
    )
    return status


def link_for(slack: SlackEmulator, user: str) -> str:
    """The editor link in the newest ephemeral Tolk showed ``user``."""
    for message in reversed(slack.ephemerals(CHANNEL)):
        if message.get("user") != user:
            continue
        for block in message.get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("url"):
                    return str(element["url"])
    raise AssertionError(f"no Refine link shown to {user}: {slack.ephemerals(CHANNEL)}")


async def refine_link(
    tolk: Tolk,
    slack: SlackEmulator,
    text: str,
    *,
    command: str = "/translate-image",
    user: str = "U0ALICE",
) -> tuple[str, dict[str, Any]]:
    """A finished task's first image, Refine pressed by ``user``: (link, closing message)."""
    final = await finished(tolk, slack, command, text)
    (button,) = refine_controls(final)
    assert await press(tolk, slack, final, button, user) == 200
    return link_for(slack, user), final

"""Refine: the buttons under image results, the editor link, and what the Refine
page (``handlers/web/refine.py``) and its result POST say; the page's script shows
``refine_page_texts`` by state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.mrkdwn import clip, escape, sections

REFINE_BUTTONS = 5  # more images than this: one menu instead of a row of buttons


def refine_elements(task_id: str, refine: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    """Refine buttons (``tolk_refine_<n>``, value ``<task>:<index>``), or one menu."""
    if len(refine) > REFINE_BUTTONS:
        options = [
            {
                "text": {"type": "plain_text", "text": clip(f"{index + 1} · {name}", 75)},
                "value": f"{task_id}:{index}",
            }
            for index, name in refine[:100]
        ]
        placeholder = {"type": "plain_text", "text": "Refine an image…"}
        return [
            {
                "type": "static_select",
                "action_id": "tolk_refine_pick",
                "placeholder": placeholder,
                "options": options,
            }
        ]
    return [
        {
            "type": "button",
            "action_id": f"tolk_refine_{index + 1}",
            "value": f"{task_id}:{index}",
            "text": {
                "type": "plain_text",
                "text": "Refine" if len(refine) == 1 else f"Refine {index + 1}",
            },
        }
        for index, _ in refine
    ]


def refine_link(url: str, what: str, minutes: int) -> tuple[str, list[dict[str, Any]]]:
    """The ephemeral answer to Refine: a link for the person who pressed it."""
    text = (
        f":art: Your editor link for {what}. It is yours alone and works for {minutes} "
        "minutes; save in the editor and the refined image comes back to this thread."
    )
    button = {
        "type": "button",
        "action_id": "tolk_refine_open",
        "text": {"type": "plain_text", "text": "Open the editor"},
        "url": url,
        "style": "primary",
    }
    blocks = [*sections(text), {"type": "actions", "elements": [button]}]
    return f"{text} {url}", blocks


def refine_unavailable(task_id: str, why: str) -> str:
    return f"That image of task `{task_id}` cannot be refined: {why}."


def refine_needs_public_url() -> str:
    return (
        "Refine opens a page served by Tolk, and this Tolk has no public address: "
        "an admin sets `TOLK_PUBLIC_URL` to turn it on."
    )


def refine_image_label(noun: str, number: int, task_id: str, name: str) -> str:
    """How Refine names an image in Slack: ``image 2 of task `T7Q2K` (shoe.png)``."""
    return f"{noun} {number} of task `{task_id}` ({escape(name)})"


# What the Refine page and its result POST say (handlers/web/refine.py).
REFINE_LINK_INVALID = (
    "This Refine link has expired or is not valid. Press Refine under the image in Slack "
    "for a new one."
)
REFINE_IMAGE_GONE = "That image is no longer there to refine."
REFINE_LINK_SPENT = (
    "This link has already sent its refined image to Slack. To refine the image again, "
    "press Refine in Slack for a new link."
)
REFINE_FOREIGN_ORIGIN = "Results are accepted only from Tolk's own Refine page."
REFINE_NOT_JSON_TYPE = "Send the editor's message as application/json."
REFINE_TOO_LARGE = "That result is larger than an editor's message can be."
REFINE_NOT_JSON = "The result is not JSON."
REFINE_NO_URL = "The message carries no refined URL for this link's image."
REFINE_HOST_REFUSED = "The refined image is not on a host Tolk downloads from."
# The editor's message names a URL that is not this image's result.
REFINE_RESULT_DISAGREES = (
    "The editor's message gives two different refined URLs for this link's image; nothing was sent."
)
REFINE_NOT_THIS_IMAGE = (
    "That URL is not the editor's refined image for this link's image; nothing was sent."
)


def refine_wrong_message(expected: str) -> str:
    return f"Expected the editor's {expected} message."


def refine_page_texts(minutes: int) -> dict[str, str]:
    return {
        "loading": "Loading Xiangji's editor…",
        "editing": "Edit, then save in the editor: the result goes to the Slack thread "
        f"(this link works for {minutes} minutes).",
        "sending": "Sending the refined image to Slack…",
        "accepted": "Sent: the refined image is on its way to the Slack thread.",
        "already-sent": "Already sent to Slack. For another version, press Refine again.",
        "unchanged": "Nothing changed yet: edit the image, then save.",
        "refused": "Tolk did not take the result.",
        "unreachable": "Could not reach Tolk: ",
    }


def refined_comment(user: str, what: str) -> str:
    return f":art: Refined by <@{user}> in Xiangji's editor · {what}"


def refine_failed(user: str, what: str, reason: str) -> str:
    return f":warning: The image <@{user}> refined ({what}) could not be posted: {escape(reason)}."

"""Refine: the buttons (or, for many images, the menu) on a finished image task.

A link button's URL is the same for everyone who sees the message, and a Refine link
must belong to the person who opens it (the refined image is posted as theirs, and the
link authorises that one post). So Refine is an ordinary button: the click answers
with an ephemeral message holding that person's own short-lived link, the editor in
their Slack language (``users.info`` with ``include_locale``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.links import REFINE_SECONDS
from handlers import ports
from handlers.slack.actions import pressed_where, tell
from handlers.web.refine import editor_language

log = logging.getLogger(__name__)

REFINE = re.compile(r"^tolk_refine_(\d+|pick)$")
OPEN = "tolk_refine_open"  # the link button in the ephemeral answer: Slack still reports it


def register(app: AsyncApp) -> None:
    app.action(REFINE)(on_refine)
    app.action(OPEN)(on_open)


async def on_open(ack: AsyncAck) -> None:
    await ack()


async def on_refine(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> None:
    await ack()  # nothing is recorded: the answer is an ephemeral link
    slack, refine, links = ports.slack(context), ports.refine(context), ports.links(context)
    user, channel, thread_ts = pressed_where(body)
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    task_id, _, index = str(value).partition(":")
    task = await ports.desk(context).get(task_id)
    if task is None:
        text = messages.results_task_missing(task_id)
    elif not index.isdigit() or int(index) not in dict(refine.refinable(task)):
        text = messages.refine_unavailable(task.id, "it has no finished Xiangji result")
    elif links.public_url is None:
        text = messages.refine_needs_public_url()
    else:
        lang = editor_language(await _locale(slack, user))
        url = links.refine_url(task.id, int(index), user, lang)
        what = refine.image_label(task, int(index))
        text, blocks = messages.refine_link(url, what, int(REFINE_SECONDS // 60))
        log.info("task %s: Refine link for image %s given to %s", task.id, int(index) + 1, user)
        await tell(slack, channel, user, thread_ts, text, blocks)
        return
    await tell(slack, channel, user, thread_ts, text)


async def _locale(slack: AsyncWebClient, user: str) -> str | None:
    try:
        resp = await slack.users_info(user=user, include_locale=True)
    except SlackApiError as exc:  # e.g. no users:read yet: the editor opens in English
        log.warning("users.info for %s failed: %s", user, exc)
        return None
    return (resp.get("user") or {}).get("locale")

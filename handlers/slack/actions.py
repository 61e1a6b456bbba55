"""Buttons on Tolk's messages. ``tolk_delete_results`` (on a task's final result
message, value = the task id) removes what Tolk posted for the task.

Only the person who asked for the task (``task.place.user``) may remove its results;
anyone else gets an ephemeral note and nothing changes. The removal itself — one Slack
call per file and message, too many for Slack's 3-second window on a large batch — is
recorded as a task of its own (``TaskDesk.remove_results``) before the click is
acknowledged, and the engine runs it (``bot/engine/operations/remove.py``): retried
when Slack fails, carried on after a restart. Pressing twice while it runs is the same
removal; pressing after it finished does nothing more.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from handlers import ports

log = logging.getLogger(__name__)

DELETE_RESULTS = "tolk_delete_results"


def register(app: AsyncApp) -> None:
    app.action(DELETE_RESULTS)(on_delete_results)


async def on_delete_results(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> None:
    desk, slack = ports.desk(context), ports.slack(context)
    user, channel, thread_ts = pressed_where(body)
    task_id = str(action.get("value") or "")
    task = await desk.get(task_id)
    if task is not None and task.place.user == user and not task.notes.get("deleted_by"):
        await desk.remove_results(task, by=user, thread_ts=thread_ts)
    await ack()
    if task is None:
        await tell(slack, channel, user, thread_ts, messages.results_task_missing(task_id))
    elif task.place.user != user:
        text = messages.results_not_yours(task.id, task.place.user)
        await tell(slack, channel, user, thread_ts, text)


def pressed_where(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Who pressed a button, and the channel and thread of its message."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    return body["user"]["id"], channel, thread_ts


async def tell(
    slack: AsyncWebClient,
    channel: str | None,
    user: str,
    thread_ts: str | None,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """An ephemeral answer to whoever pressed a button, where they pressed it."""
    if not channel:
        return
    try:
        await slack.chat_postEphemeral(
            channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
        )
    except SlackApiError as exc:
        log.warning("ephemeral to %s in %s failed: %s", user, channel, exc)

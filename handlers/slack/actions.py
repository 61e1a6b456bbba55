"""Buttons on Tolk's messages. ``tolk_delete_results`` (on a task's final result
message, value = the task id) removes what Tolk posted for the task.

Only the person who asked for the task (``task.place.user``) may remove its results;
anyone else gets an ephemeral note and nothing changes. The removal itself — every file
Tolk uploaded (``notes["files"]``), the thread messages that carried them, every message
in ``notes["sent"]`` but the parent, then an edit of the parent naming who removed them —
is one Slack call per item, too many for Slack's 3-second window on a large batch, so it
runs after the answer. Pressing twice is harmless: a file or message already gone counts
as removed. The final message (with the button) goes last, and only when everything
else went, so a partial failure leaves the button there to press again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core import messages
from bot.core.slack_client import slack_error_code
from bot.core.tasks import Task
from bot.wiring import Services

log = logging.getLogger(__name__)

DELETE_RESULTS = "tolk_delete_results"

# Answers that mean "already gone" (or, for a message, "not Tolk's to delete").
FILE_GONE = frozenset({"file_not_found", "file_deleted"})
MESSAGE_GONE = frozenset({"message_not_found", "cant_delete_message"})

# Removals under way in this process, by task id: held so none is garbage-collected, and
# so a double click does not start a second one.
_running: dict[str, asyncio.Future[None]] = {}


def register(app: AsyncApp) -> None:
    app.action(DELETE_RESULTS)(on_delete_results)


async def on_delete_results(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> None:
    await ack()
    services: Services = context["services"]
    user, channel, thread_ts = pressed_where(body)
    task_id = str(action.get("value") or "")
    task = await services.store.get(task_id)
    if task is None:
        await tell(services, channel, user, thread_ts, messages.results_task_missing(task_id))
    elif task.place.user != user:
        text = messages.results_not_yours(task.id, task.place.user)
        await tell(services, channel, user, thread_ts, text)
    elif not task.notes.get("deleted_by") and task.id not in _running:
        job = asyncio.ensure_future(remove_results(services, task.id, user))
        _running[task.id] = job
        job.add_done_callback(lambda _: _running.pop(task.id, None))


def pressed_where(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Who pressed a button, and the channel and thread of its message."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    return body["user"]["id"], channel, thread_ts


async def settle() -> None:
    """Wait for removals under way (tests, shutdown)."""
    while _running:
        await asyncio.gather(*list(_running.values()), return_exceptions=True)


async def remove_results(services: Services, task_id: str, user: str) -> None:
    try:
        await _remove(services, task_id, user)
    except Exception:
        log.exception("task %s: removing the results failed", task_id)


async def _remove(services: Services, task_id: str, user: str) -> None:
    task = await services.store.get(task_id)
    if task is None:
        return
    slack = services.slack
    channel = task.place.channel
    sent: dict[str, str] = dict(task.notes.get("sent", {}))
    # Tolk's own parent message, if it posted one; a reaction's or the shortcut's thread
    # hangs off someone else's message, which stays as it is.
    parent_ts = sent.pop(f"{task.id}:parent", None)
    thread_ts = task.place.thread_ts or parent_ts
    final_ts = sent.pop(f"{task.id}:final", None)
    file_ids = [f for f in task.notes.get("files", []) if f]
    problems: list[str] = []

    carriers = await _messages_with_files(services, channel, thread_ts, set(file_ids))
    kept: set[str] = set()  # files Slack would not delete: their messages stay too
    for file_id in file_ids:
        try:
            await slack.files_delete(file=file_id)
        except SlackApiError as exc:
            if slack_error_code(exc) not in FILE_GONE:
                kept.add(file_id)
                problems.append(f"file {file_id}: {slack_error_code(exc)}")
    doomed = [ts for ts, files in carriers.items() if not files & kept]
    for ts in dict.fromkeys([*doomed, *sent.values()]):
        if ts not in (parent_ts, thread_ts, final_ts):
            await _delete_message(services, channel, ts, problems)
    if not problems and final_ts:  # the message with the button goes last
        await _delete_message(services, channel, final_ts, problems)
    if problems:
        log.warning("task %s: results partly removed: %s", task.id, problems)
        text = messages.results_partly_removed(task.id, problems)
        await tell(services, channel, user, thread_ts, text)
        return
    text = messages.results_removed(task.id, user)
    if parent_ts:
        try:
            await slack.chat_update(channel=channel, ts=parent_ts, text=text)
        except SlackApiError as exc:  # e.g. someone deleted the parent: the results are gone
            log.warning("task %s: editing the parent failed: %s", task.id, exc)
    else:
        await tell(services, channel, user, thread_ts, text)
    await _note_removed(services, task, user)


async def _messages_with_files(
    services: Services, channel: str, parent_ts: str | None, file_ids: set[str]
) -> dict[str, set[str]]:
    """The thread messages that carry the uploads (ts → their file ids of ours): their
    comments outlive the files."""
    if not (parent_ts and file_ids):
        return {}
    found: dict[str, set[str]] = {}
    cursor = None
    try:
        while True:
            resp = await services.slack.conversations_replies(
                channel=channel, ts=parent_ts, limit=200, cursor=cursor
            )
            for m in resp.get("messages", []):
                if ours := {f.get("id") for f in m.get("files", ())} & file_ids:
                    found[str(m["ts"])] = ours
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found
    except SlackApiError as exc:  # e.g. a DM without im:history: the files still go
        log.warning("reading thread %s in %s failed: %s", parent_ts, channel, exc)
        return found


async def _delete_message(services: Services, channel: str, ts: str, problems: list[str]) -> None:
    try:
        await services.slack.chat_delete(channel=channel, ts=ts)
    except SlackApiError as exc:
        if slack_error_code(exc) not in MESSAGE_GONE:
            problems.append(f"message {ts}: {slack_error_code(exc)}")


async def _note_removed(services: Services, task: Task, user: str) -> None:
    current = await services.store.get(task.id) or task
    notes = {**current.notes, "deleted_by": user, "deleted_at": services.clock()}
    await services.store.save(current.but(notes=notes))


async def tell(
    services: Services,
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
        await services.slack.chat_postEphemeral(
            channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
        )
    except SlackApiError as exc:
        log.warning("ephemeral to %s in %s failed: %s", user, channel, exc)

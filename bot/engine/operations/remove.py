"""Removing what Tolk posted for a task: the Delete button on a result message.

The button's handler (``handlers/slack/actions.py``) records one ``slack.remove_results``
task (``bot.core.desk.REMOVE_RESULTS``; its item's source is the task whose results go)
and this operation does the work in ``submit``, as the engine's step, so a removal
interrupted by a crash or a Slack outage is carried on, not lost:

every file Tolk uploaded for the task (``notes["files"]``), the thread messages that
carried them, every message in ``notes["sent"]`` but the parent, then an edit of the
parent naming who removed them (or, with no parent of Tolk's own, an ephemeral note to
that person where they pressed). Running again is harmless: a file or message already
gone counts as removed. The final message (with the button) goes last, and only when
everything else went, so a partial failure leaves the button there to press again and
says so.

Slack's refusals of one file or message are collected and reported, never raised; any
other failure (the network, Slack down) is raised and the engine retries the step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.desk import REMOVE_RESULTS
from bot.core.slack_client import slack_error_code
from bot.core.storage import TaskStore
from bot.core.tasks import State, Task
from bot.engine.operation import Operation
from bot.engine.tenant import slack_context

log = logging.getLogger(__name__)

# Answers that mean "already gone" (or, for a message, "not Tolk's to delete").
FILE_GONE = frozenset({"file_not_found", "file_deleted"})
MESSAGE_GONE = frozenset({"message_not_found", "cant_delete_message"})


def remove_operations(
    store: TaskStore, slack: AsyncWebClient, clock: Callable[[], float]
) -> dict[str, Operation]:
    return {REMOVE_RESULTS: RemoveResults(store, slack, clock)}


class RemoveResults(Operation):
    provider = "slack"
    needs_thread = False  # it answers where the button was pressed, or edits the parent

    def __init__(self, store: TaskStore, slack: AsyncWebClient, clock: Callable[[], float]) -> None:
        self.store = store
        self._slack = slack
        self.clock = clock

    @property
    def slack(self) -> AsyncWebClient:
        """The workspace's client the step runs with (``bot.engine.tenant``)."""
        return slack_context.get() or self._slack

    def parent_text(self, task: Task) -> str:
        return ""

    async def submit(self, task: Task, now: float) -> Task:
        target = await self.store.get(task.items[0].source)
        if target is not None and not target.notes.get("deleted_by"):
            await self._remove(target, task.request["by"], task.request.get("thread_ts"))
        done = replace(task.items[0], status="done")
        return task.to(State.SUCCEEDED, now, items=(done,))

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        return list(tasks)  # nothing is ever left with a provider

    def final_text(self, task: Task) -> str | None:
        return None  # the edited parent, or the note where the button was pressed

    async def _remove(self, task: Task, user: str, pressed_in: str | None) -> None:
        channel = task.place.channel
        sent: dict[str, str] = dict(task.notes.get("sent", {}))
        # Tolk's own parent message, if it posted one; a reaction's or the shortcut's
        # thread hangs off someone else's message, which stays as it is.
        parent_ts = sent.pop(f"{task.id}:parent", None)
        thread_ts = task.place.thread_ts or parent_ts
        final_ts = sent.pop(f"{task.id}:final", None)
        file_ids = [f for f in task.notes.get("files", []) if f]
        problems: list[str] = []

        carriers = await self._messages_with_files(channel, thread_ts, set(file_ids))
        kept: set[str] = set()  # files Slack would not delete: their messages stay too
        for file_id in file_ids:
            try:
                await self.slack.files_delete(file=file_id)
            except SlackApiError as exc:
                if slack_error_code(exc) not in FILE_GONE:
                    kept.add(file_id)
                    problems.append(f"file {file_id}: {slack_error_code(exc)}")
        doomed = [ts for ts, files in carriers.items() if not files & kept]
        for ts in dict.fromkeys([*doomed, *sent.values()]):
            if ts not in (parent_ts, thread_ts, final_ts):
                await self._delete_message(channel, ts, problems)
        if not problems and final_ts:  # the message with the button goes last
            await self._delete_message(channel, final_ts, problems)
        where = thread_ts or pressed_in  # the task's thread, where its results were
        if problems:
            log.warning("task %s: results partly removed: %s", task.id, problems)
            text = messages.results_partly_removed(task.id, problems)
            await self._tell(channel, user, where, text)
            return
        text = messages.results_removed(task.id, user)
        if parent_ts:
            try:
                await self.slack.chat_update(channel=channel, ts=parent_ts, text=text)
            except SlackApiError as exc:  # e.g. someone deleted the parent: results are gone
                log.warning("task %s: editing the parent failed: %s", task.id, exc)
        else:
            await self._tell(channel, user, where, text)
        current = await self.store.get(task.id) or task
        notes = {**current.notes, "deleted_by": user, "deleted_at": self.clock()}
        await self.store.save(current.but(notes=notes))

    async def _messages_with_files(
        self, channel: str, parent_ts: str | None, file_ids: set[str]
    ) -> dict[str, set[str]]:
        """The thread messages that carry the uploads (ts → their file ids of ours): their
        comments outlive the files."""
        if not (parent_ts and file_ids):
            return {}
        found: dict[str, set[str]] = {}
        cursor = None
        try:
            while True:
                resp = await self.slack.conversations_replies(
                    channel=channel, ts=parent_ts, limit=200, cursor=cursor
                )
                replies: list[dict[str, Any]] = resp.get("messages") or []
                for m in replies:
                    if ours := {f.get("id") for f in m.get("files", ())} & file_ids:
                        found[str(m["ts"])] = {str(f) for f in ours}
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return found
        except SlackApiError as exc:  # e.g. a DM without im:history: the files still go
            log.warning("reading thread %s in %s failed: %s", parent_ts, channel, exc)
            return found

    async def _delete_message(self, channel: str, ts: str, problems: list[str]) -> None:
        try:
            await self.slack.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            if slack_error_code(exc) not in MESSAGE_GONE:
                problems.append(f"message {ts}: {slack_error_code(exc)}")

    async def _tell(self, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        """An ephemeral note to whoever pressed the button, where they pressed it."""
        try:
            await self.slack.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except SlackApiError as exc:
            log.warning("ephemeral to %s in %s failed: %s", user, channel, exc)

"""A step's answers into Slack, each given at most once.

``Run`` is a task as it changes during one step of ``bot/engine/work.py``, with what it
needs to answer: the store (an intent is saved before every post), the delivery (Slack,
downloads) and the clock. A message goes out once per *marker*: the intent is recorded
first and the Slack ts after, and a task found with an intent but no ts (the process
died in between) looks in Slack for the marker before posting (``delivery.once``). A
file's marker is its name in the thread.

Where Tolk cannot write (not invited, an archived channel) the answer goes through the
command's ``response_url`` while Slack still takes it, and the rest of the work moves to
a DM with the person (``answer_elsewhere``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.mrkdwn import escape
from bot.core.review import is_result, reviewed
from bot.core.slack_client import SlackFailure, slack_error_code, slack_failure
from bot.core.storage import TaskStore
from bot.core.tasks import Item, State, Task
from bot.engine import review
from bot.engine.delivery import RESPONSE_URL_SECONDS, RESPONSE_URL_USES, Delivery, once
from bot.engine.operation import Operation, item_target, several_targets

log = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]


@dataclass
class Run:
    """The task as it changes during one step, saved at each intent to post."""

    task: Task
    store: TaskStore
    delivery: Delivery
    clock: Callable[[], float]

    def note(self, **changes: Any) -> None:
        self.task = self.task.but(notes={**self.task.notes, **changes})

    @property
    def sent(self) -> dict[str, str]:
        """Marker → Slack ts (or ``"response_url"``) of every answer given so far."""
        sent: dict[str, str] = self.task.notes.get("sent", {})
        return sent

    @property
    def intents(self) -> set[str]:
        """Markers of every answer that was about to go out."""
        return set(self.task.notes.get("intents", ()))

    async def intend(self, marker: str) -> None:
        self.note(intents=sorted({*self.intents, marker}))
        await self.store.save(self.task)

    def mark_sent(self, marker: str, ts: str) -> None:
        self.note(sent={**self.sent, marker: ts})

    # --- messages and files -------------------------------------------------------------

    async def deliver_output(
        self, op: Operation, index: int, item: Item, output: dict[str, Any]
    ) -> None:
        """One finished output of item ``index`` into Slack, by its kind: a channel answer
        (``message``/``ephemeral``), a line in the thread (``text``), or a file (any other
        kind: downloaded from its ``url``, or handed over by ``op.fetch``)."""
        task = self.task
        place = task.place
        kind = output["kind"]
        moved = "moved" in task.notes
        if kind == "summary":  # folded into the closing message (``op.final_text``)
            return
        if kind in ("message", "ephemeral") and not moved:
            # the answer in the channel itself (/translate): else through the response_url
            try:
                await self.answer_in_channel(output)
            except Exception as exc:
                if slack_failure(exc) is not SlackFailure.ELSEWHERE:
                    raise
                if not await self.respond_with(output):
                    raise
                return
            await self.attach_long_text(output, self.sent.get(f"{task.id}:message"))
            return
        if kind in ("message", "ephemeral", "text"):  # in the thread (OCR lines, a move)
            marker = f"{task.id}:text:{index}:{item.delivered}"
            await self.post_once(
                marker, output["text"], thread_ts=place.thread_ts, blocks=output.get("blocks")
            )
            await self.attach_long_text(output, place.thread_ts)
            return
        filename = result_filename(task, index, output)
        comment = output.get("comment") or messages.result_comment(
            index + 1,
            len(task.items),
            item.source,
            output.get("variant"),
            item_target(task, item)[0] if several_targets(task) else None,
        )
        comment = "\n".join([comment, *output.get("notes", ())])  # e.g. a glossary broken

        async def data() -> bytes:
            if output.get("fetch"):  # the provider hands the file over itself (signed calls)
                return await op.fetch(output)
            return await self.delivery.download(output["url"])

        if reviewed(task) and is_result(item):  # the original beside it, a card after
            await review.upload_pair(self, index, filename, data, output.get("notes") or ())
            return
        await self.upload_once(filename, place.thread_ts, data, comment)

    async def post_once(
        self, marker: str, text: str, *, thread_ts: str | None, blocks: Blocks | None = None
    ) -> str:
        """Post ``text`` in the task's channel (in ``thread_ts``'s thread, if given) once
        per ``marker``; return its ts, whether posted now or before."""
        channel, oldest = self.task.place.channel, self.task.created_at - 1
        ts = await once(
            self.sent,
            self.intents,
            marker,
            record_intent=lambda: self.intend(marker),
            find=lambda: self.delivery.find_marker(
                channel, marker, thread_ts=thread_ts, oldest=oldest
            ),
            post=lambda: self.delivery.post(
                channel, text, marker=marker, thread_ts=thread_ts, blocks=blocks
            ),
        )
        self.mark_sent(marker, ts)
        return ts

    async def upload_once(
        self,
        filename: str,
        thread_ts: str | None,
        data: Callable[[], Awaitable[bytes]],
        comment: str,
    ) -> None:
        """Upload a file once per task and name (``data`` is read only if it goes out)."""
        task = self.task
        marker = f"{task.id}:file:{filename}"
        if (
            marker in self.intents
            and thread_ts
            and await self.delivery.has_file(task.place.channel, thread_ts, filename)
        ):
            log.info("task %s: %s already in the thread; not uploading again", task.id, filename)
            return
        content = await data()
        await self.intend(marker)
        file_id = await self.delivery.upload(
            task.place.channel, thread_ts, filename, content, comment
        )
        self.note(files=[*self.task.notes.get("files", []), file_id])

    async def attach_long_text(self, output: dict[str, Any], thread_ts: str | None) -> None:
        """A translation too long to read as a message comes whole as a text file too."""
        attached = output.get("attachment")
        if not attached or not thread_ts:
            return
        content = str(attached["text"]).encode()

        async def data() -> bytes:
            return content

        comment = messages.long_text_comment(len(attached["text"]))
        await self.upload_once(str(attached["name"]), thread_ts, data, comment)

    async def answer_in_channel(self, output: dict[str, Any]) -> None:
        """A ``message`` output in the channel itself (/translate), once; an
        ``ephemeral`` one only to the person (nothing to repeat if it is lost)."""
        place = self.task.place
        if output["kind"] == "ephemeral":
            await self.delivery.ephemeral(
                place.channel, place.user, output["text"], blocks=output.get("blocks")
            )
            return
        await self.post_once(
            f"{self.task.id}:message",
            output["text"],
            thread_ts=None,
            blocks=output.get("blocks"),
        )

    # --- where Tolk cannot write ----------------------------------------------------------

    def response_url(self) -> str | None:
        """The command's ``response_url`` while Slack still takes posts on it."""
        task = self.task
        url = task.place.response_url
        fresh = self.clock() < task.created_at + RESPONSE_URL_SECONDS - 60
        if url and fresh and task.notes.get("responses", 0) < RESPONSE_URL_USES:
            return url
        return None

    async def respond(self, text: str, blocks: Blocks | None = None, kind: str = "") -> bool:
        """Answer through the command's ``response_url`` (works where Tolk was never
        invited): in the channel for a channel answer, else only to the person. False
        when there is none left or Slack refused it."""
        url = self.response_url()
        if url is None:
            return False
        self.note(responses=self.task.notes.get("responses", 0) + 1)
        await self.store.save(self.task)
        try:
            await self.delivery.respond(url, text, in_channel=kind == "message", blocks=blocks)
        except Exception as exc:
            log.warning("task %s: the response_url refused the answer: %s", self.task.id, exc)
            return False
        self.mark_sent(f"{self.task.id}:{kind or 'response'}", "response_url")
        return True

    async def respond_with(self, output: dict[str, Any]) -> bool:
        """An answer through the response_url, whole: a long one as plain text (no file
        can go there), cut visibly only past Slack's 40,000 characters."""
        if attached := output.get("attachment"):
            return await self.respond(escape(attached["text"]), None, output["kind"])
        return await self.respond(output["text"], output.get("blocks"), output["kind"])

    async def answer_elsewhere(self, exc: BaseException) -> bool:
        """Tolk cannot write where the work came from (not invited, archived): carry on in
        a DM with the person, telling them through the response_url where the results go;
        when no DM can be had either, the final word goes through the response_url and
        the task settles. False: ``exc`` is some other failure."""
        if slack_failure(exc) is not SlackFailure.ELSEWHERE:
            return False
        task = self.task
        code = slack_error_code(exc)
        log.info("task %s: cannot post in %s (%s)", task.id, task.place.channel, code)
        if "moved" not in task.notes:
            try:
                dm: str | None = await self.delivery.open_dm(task.place.user)
            except Exception as dm_exc:
                log.warning("task %s: no DM with %s: %s", task.id, task.place.user, dm_exc)
                dm = None
            if dm and dm != task.place.channel:
                origin = task.place.channel
                self.note(moved={"from": origin, "error": code})
                place = replace(task.place, channel=dm, thread_ts=None)
                self.task = self.task.but(place=place, next_poll_at=self.clock())
                await self.respond(messages.moved_notice(task.id, origin, code))
                return True
        # Nowhere of Tolk's own to write: the response_url carries the last word, if any.
        now = self.clock()
        if not self.task.final:
            error = {"code": code, "message": messages.cannot_post(code), "kind": "slack"}
            self.task = self.task.to(State.FAILED, now, error=error)
        text = messages.cannot_post_anywhere(task.id, task.place.channel, code)
        if not await self.respond(text):
            log.error("task %s: no place left to tell %s; settling", task.id, task.place.user)
        self.task = self.task.but(settled=True, updated_at=now)
        return True


def result_filename(task: Task, index: int, output: dict[str, Any]) -> str:
    """``a-ko-T7Q2K-1.jpg``: readable (the item's own language: ``a-ja-T7Q2K-2.jpg``
    in a task of several), and unique per task by the item's index, so it marks the
    upload. An operation may name the file itself (``output["filename"]``)."""
    if output.get("filename"):
        return str(output["filename"])
    source_name = PurePosixPath(urlsplit(task.items[index].source).path).name or "image"
    stem = PurePosixPath(source_name).stem or "image"
    ext = PurePosixPath(urlsplit(output["url"]).path).suffix or ".png"
    variant = f"-{output['variant']}" if output.get("variant") else ""
    target = item_target(task, task.items[index])[0]
    return f"{stem}-{target}{variant}-{task.id}-{index + 1}{ext}"

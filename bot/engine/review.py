"""Review in the engine (``bot/core/review.py`` says what a reviewed task is).

A reviewed task's images go out as one message each holding the original and the
translation, followed by a card (Approve / Reject / Refine). When the provider work is
done the task does not settle: ``hold`` keeps it waiting (its next step at the end of
the review window), edits the parent's "k of N approved" whenever a decision wakes it,
and lets the final message go once every result is decided — or the window closed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.fetch import DownloadFailed, DownloadRefused
from bot.core.review import (
    REVIEW_SECONDS,
    Decision,
    decisions,
    result_label,
    reviewable,
    reviewers,
)
from bot.core.storage import TaskStore
from bot.core.tasks import Item, Task

if TYPE_CHECKING:
    from bot.engine.answers import Run

log = logging.getLogger(__name__)


async def _original(run: Run, item: Item) -> bytes | None:
    """The image that was translated, fetched again as the task itself read it: a Slack
    file with the bot token (only that file), a URL from a public address. None when it
    cannot be had: the translation goes alone."""
    try:
        if item.meta.get("kind") == "slack-file":
            file_id = str(item.meta.get("file_id") or "") or None
            return await run.delivery.download_slack_file(item.source, file_id=file_id)
        if urlsplit(item.source).scheme in ("http", "https"):
            return await run.delivery.download_public(item.source)
    except (DownloadRefused, DownloadFailed) as exc:
        log.info("task %s: original not fetched for review: %s", run.task.id, type(exc).__name__)
    return None


async def upload_pair(
    run: Run,
    index: int,
    filename: str,
    data: Callable[[], Awaitable[bytes]],
    notes: Sequence[str] = (),
) -> None:
    """The original and the translation in one message, once per result file; ``notes``
    (a glossary broken in the image) under its comment."""
    task, place = run.task, run.task.place
    marker = f"{task.id}:file:{filename}"
    if (
        marker in run.intents
        and place.thread_ts
        and await run.delivery.has_file(place.channel, place.thread_ts, filename)
    ):
        return
    translation = await data()
    original = await _original(run, task.items[index])
    name, target = result_label(task, index)
    total = len(task.items)
    await run.intend(marker)
    if original is not None:
        comment = "\n".join([messages.review_pair_comment(index, total, name, target), *notes])
        files = [(f"original-{PurePosixPath(name).name}", original), (filename, translation)]
        ids = await run.delivery.upload_many(place.channel, place.thread_ts, files, comment)
    else:
        comment = "\n".join([messages.review_single_comment(index, total, name, target), *notes])
        one = await run.delivery.upload(
            place.channel, place.thread_ts, filename, translation, comment
        )
        ids = [one]
    run.note(files=[*task.notes.get("files", []), *ids])


async def post_card(run: Run, index: int, refine: Sequence[tuple[int, str]]) -> None:
    """The card under result ``index`` once all its files are in the thread."""
    task = run.task
    item = task.items[index]
    marker = f"{task.id}:card:{index}"
    if index not in reviewable(task) or item.delivered < len(item.outputs) or marker in run.sent:
        return
    name, target = result_label(task, index)
    mine = [(i, label) for i, label in refine if i == index]
    text, blocks = messages.review_card(
        task.id, index, len(task.items), name, target, task.place.user, reviewers(task), mine
    )
    await run.post_once(marker, text, thread_ts=task.place.thread_ts, blocks=blocks)


async def hold(run: Run, store: TaskStore, now: float, parent: str | None) -> bool:
    """True while results wait for decisions (the task stays unsettled, due again when
    the review window closes or a decision wakes it). ``parent``: the parent's text,
    when Tolk owns it, to show the count on."""
    task = run.task
    indexes = reviewable(task)
    if not indexes:
        return False
    decided = await decisions(store, task.id, indexes)
    approved = sum(1 for d in decided.values() if d.decision == "approved")
    if parent is not None and task.place.thread_ts:
        count = messages.review_progress(approved, len(decided) - approved, len(indexes))
        counted = f"{parent} · {count}"
        if counted != task.notes.get("review_parent"):
            await run.delivery.update(task.place.channel, task.place.thread_ts, counted)
            run.note(review_parent=counted)
    closes = task.created_at + REVIEW_SECONDS
    if len(decided) < len(indexes) and now < closes:
        run.task = run.task.but(next_poll_at=closes)
        return True
    run.note(review=_summary(task, indexes, decided))
    return False


def _summary(task: Task, indexes: Sequence[int], decided: dict[int, Decision]) -> str:
    total = len(task.items)
    done = [
        (messages.review_item(i, total, *result_label(task, i)), d.decision, d.by)
        for i, d in sorted(decided.items())
    ]
    waiting = [
        messages.review_item(i, total, *result_label(task, i)) for i in indexes if i not in decided
    ]
    return messages.review_summary(done, waiting, len(indexes))

"""Alibaba machine-translation operations: document tasks and (retiring) image tasks.

Documents: one ``CreateDocTranslateTask`` per document, each persisted before the next,
with a ``ClientToken`` derived from the task so a submission repeated after a crash is
the same task on Alibaba's side (within its 3-minute window). A Slack upload is private,
so Alibaba fetches it from a signed link (``bot/core/links.py``). With ``TOLK_PUBLIC_URL``
set, a ``CallbackUrl`` lets Alibaba wake the task the moment it finishes; polling
``GetDocTranslateTask`` stays the fallback. The translated file's URL lives one hour,
so it is downloaded and uploaded in the same step that sees it.

Images: one ``CreateImageTranslateTask`` for up to 20 URLs — one per target language
in a task of several — polled with ``GetImageTranslateTask`` (no batch status call
exists; one call per Alibaba task per round). Documents into several languages are one
``CreateDocTranslateTask`` per document and language (an item each).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.links import Links
from bot.core.tasks import Item, State, Task
from bot.engine.operation import (
    Operation,
    fail_item,
    item_target,
    next_language_batch,
    several_targets,
    source_count,
    sources_once,
    submit_one_by_one,
    task_targets,
    waiting,
    with_item,
)
from bot.engine.ratelimit import RateLimits
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.wire import DocTask, describe
from providers.errors import ErrorKind, ProviderError

DOC_POLL_KEY = "alibaba.doc"
CALLBACK_POLL_FLOOR = 30.0  # seconds between fallback polls of a task with a callback
IMAGE_POLL_KEY = "alibaba.image"


def alibaba_operations(
    client: AlibabaMTClient, limits: RateLimits, links: Links
) -> dict[str, Operation]:
    return {
        "alibaba.translate_doc": TranslateDoc(client, limits, links),
        "alibaba.translate_image": TranslateImage(client, limits),
    }


def client_token(task: Task, index: int = 0) -> str:
    """The same for every submission of one item of one task (Alibaba's idempotency)."""
    return f"tolk-{task.id}-{index}"


def doc_name(task: Task, index: int) -> str:
    """``guide-ja.docx``: the source's name and the item's target language (a PDF comes
    back as DOCX: Alibaba MT spec, 'GetDocTranslateTask'). The task's thread holds only
    its own files, so names mark uploads: two documents of one name into one language
    take their item's number too."""
    item = task.items[index]
    target = item_target(task, item)[0]
    name = item.meta.get("name") or PurePosixPath(urlsplit(item.source).path).name or "document"
    stem, ext = PurePosixPath(name).stem or "document", PurePosixPath(name).suffix.lower()
    ext = ".docx" if ext == ".pdf" else ext
    same = [
        i
        for i, other in enumerate(task.items)
        if other.meta.get("name") == item.meta.get("name") and item_target(task, other)[0] == target
    ]
    suffix = f"-{index + 1}" if item.meta.get("name") and len(same) > 1 else ""
    return f"{stem}-{target}{suffix}{ext}"


class TranslateDoc(Operation):
    provider = "alibaba"
    needs_thread = True
    poll_key = DOC_POLL_KEY
    noun = "document"

    def __init__(self, client: AlibabaMTClient, limits: RateLimits, links: Links) -> None:
        self.client = client
        self.limits = limits
        self.links = links

    def parent_text(self, task: Task) -> str:
        r = task.request
        names = [i.meta.get("name") or i.source for i in sources_once(task)]
        targets = task_targets(task) if several_targets(task) else r["target"]
        return messages.doc_parent(task.id, task.place.user, names, r["source"], targets)

    def poll_floor(self, task: Task) -> float:
        return CALLBACK_POLL_FLOOR if task.notes.get("callback") else 0.0

    def file_url(self, task: Task, index: int) -> str | None:
        item = task.items[index]
        if item.meta.get("kind") != "slack-file":
            return item.source  # a public URL the person gave: passed as it is
        if self.links.public_url is None:
            return None
        return self.links.file_url(task.id, index, item.meta.get("name", "document"))

    async def submit(self, task: Task, now: float) -> Task:
        task = await submit_one_by_one(task, now, self._create)
        if self.links.public_url and not task.notes.get("callback"):
            task = task.but(notes={**task.notes, "callback": True})
        return task

    async def _create(self, task: Task, index: int) -> Item:
        item, r = task.items[index], task.request
        file_url = self.file_url(task, index)
        if file_url is None:
            return fail_item(item, "no-public-url", messages.no_public_url())
        callback = self.links.callback_url("alibaba", task.id) if self.links.public_url else None
        await self.limits.acquire("alibaba.doc.create")
        try:
            created = await self.client.create_doc_translate_task(
                r["source_code"],
                item_target(task, item)[1],
                file_url,
                scene=r.get("scene"),
                callback_url=callback,
                client_token=client_token(task, index),
            )
        except ProviderError as exc:
            if exc.kind is not ErrorKind.PERMANENT:
                raise  # retried by the engine (same ClientToken), or a quota failure
            return fail_item(item, exc.code, exc.message)
        return replace(item, provider_id=created.task_id)

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """One ``GetDocTranslateTask`` per pending document, at most 5 a second."""
        pending = [(t, i) for t in tasks for i, item in enumerate(t.items) if waiting(item)]
        results = await asyncio.gather(*(self._status(t.items[i]) for t, i in pending))
        found = {(t.id, i): doc for (t, i), doc in zip(pending, results, strict=True)}
        return [self._absorb(t, found) for t in tasks]

    async def _status(self, item: Item) -> DocTask:
        await self.limits.acquire("alibaba.doc.status")
        return await self.client.get_doc_translate_task(item.provider_id or "")

    def _absorb(self, task: Task, found: dict[tuple[str, int], DocTask]) -> Task:
        for index, item in enumerate(task.items):
            doc = found.get((task.id, index))
            if doc is None:
                continue
            if doc.done:
                name = doc_name(task, index)
                output = {
                    "kind": "file",
                    "url": doc.file_url,
                    "filename": name,
                    "comment": messages.doc_comment(name, doc.page_count),
                }
                task = with_item(task, index, replace(item, status="done", outputs=(output,)))
            elif doc.failed:
                code = doc.error_code or "error"
                task = with_item(
                    task,
                    index,
                    fail_item(item, code, doc.error_message or messages.provider_gave_no_reason()),
                )
        return task


class TranslateImage(Operation):
    """``/translate-image … --provider alibaba``: Alibaba marks this API for retirement."""

    provider = "alibaba"
    needs_thread = True
    poll_key = IMAGE_POLL_KEY

    def __init__(self, client: AlibabaMTClient, limits: RateLimits) -> None:
        self.client = client
        self.limits = limits

    def parent_text(self, task: Task) -> str:
        r = task.request
        targets = task_targets(task) if several_targets(task) else r["target"]
        return messages.image_parent(
            task.id, task.place.user, source_count(task), r["source"], targets
        )

    async def submit(self, task: Task, now: float) -> Task:
        """One Alibaba task per target language (its images), QUEUED while languages are
        left — saved after each, so a restart repeats none (and the ClientToken, by the
        language's first item, makes a repeat the same task) — SUBMITTED after the last.
        With several languages, one Alibaba refuses for good fails alone."""
        r = task.request
        if (next_batch := next_language_batch(task)) is not None:
            target, batch = next_batch
            await self.limits.acquire("alibaba.image.create")
            try:
                alibaba_id = await self.client.create_image_translate_task(
                    [task.items[i].source for i in batch],
                    r["source_code"],
                    target[1],
                    client_token=client_token(task, batch[0]),
                )
            except ProviderError as exc:
                if exc.kind is not ErrorKind.PERMANENT or not several_targets(task):
                    raise
                for i in batch:
                    task = with_item(task, i, fail_item(task.items[i], exc.code, exc.message))
            else:
                for i in batch:
                    task = with_item(task, i, replace(task.items[i], provider_id=alibaba_id))
        if any(i.status == "pending" and not i.provider_id for i in task.items):
            return task.but(updated_at=now)
        if any(waiting(i) for i in task.items):
            return task.to(State.SUBMITTED, now)
        return task.to(State.SUCCEEDED, now)

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        return list(await asyncio.gather(*(self._poll_one(t) for t in tasks)))

    async def _poll_one(self, task: Task) -> Task:
        """One ``GetImageTranslateTask`` per Alibaba task still working (one per target
        language)."""
        for alibaba_id in dict.fromkeys(i.provider_id for i in task.items if waiting(i)):
            task = await self._poll_alibaba_task(task, alibaba_id or "")
        return task

    async def _poll_alibaba_task(self, task: Task, alibaba_id: str) -> Task:
        mine = [i for i, item in enumerate(task.items) if item.provider_id == alibaba_id]
        await self.limits.acquire("alibaba.image.status")
        result = await self.client.get_image_translate_task(alibaba_id, len(mine))
        if not result.done:
            return task
        by_source = {e.source_url: e for e in result.elements}
        for position, index in enumerate(mine):
            item = task.items[index]
            element = by_source.get(item.source) or result.elements[position]
            if element.success and element.url:
                outputs = ({"kind": "image", "url": element.url},)
                item = replace(item, status="done", outputs=outputs)
            else:
                item = fail_item(item, element.error_code, describe(element.error_code))
            task = with_item(task, index, item)
        return task

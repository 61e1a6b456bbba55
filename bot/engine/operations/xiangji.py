"""Xiangji operations: text translation, image translation (one URL synchronous, several
as one asynchronous batch), and cutouts (matting; one synchronous, several asynchronous).

An image task runs on the engine named in ``request["engine"]`` (the client sends that
engine's key; Aliyun for tasks recorded before engines existed). The batch takes no
``NeedRmUrl`` or ``Qos`` (the Xiangji spec's 'Batch image translation' does not list
them), so several images with ``--removed`` or ``--fast``/``--best`` go one synchronous
call per step instead, each persisted before the next, like cutouts: no image is sent
twice, no option is dropped.

Several target languages (``bot/engine/operation.py``, "targets"): each item goes into
its own language. Images: one batch per language, each saved before the next, a language
refused for good failing alone. Text (``/translate``, a message's text): one call per
language, each saved, and one answer with a section per language.

Asynchronous images and cutouts are both answered by ``GetImageTranslateBatchResult``,
so they share one poll key: one status call per 50 pending ids per round, whatever the
number of tasks and whichever operation they belong to.

The glossary (``request["glossary"]``, ``bot.core.brand_guard``): text is shielded before
each call and restored after, per target language. Every translated image of a task with
a glossary has its regions read (``GetImageTranslateBatchQuery`` — the same call, and the
same batching, as ``--ocr``; none at all without a glossary or ``--ocr``) and checked: the
violations are kept on the item (``meta["violations"]``) and said on the image's comment,
and the closing message counts the images that break the glossary. An image whose regions
cannot be read still goes out, its comment saying the glossary was not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypedDict

from bot.core import brand_guard, messages
from bot.core.fetch import DownloadFailed, DownloadRefused, FileTooLarge
from bot.core.glossary import Term
from bot.core.languages import detect_source, provider_code
from bot.core.mrkdwn import split
from bot.core.slacktext import for_translation
from bot.core.tasks import Item, State, Task
from bot.engine.delivery import Delivery
from bot.engine.operation import (
    Operation,
    closing_message,
    fail_item,
    item_target,
    next_language_batch,
    several_targets,
    source_count,
    task_targets,
    with_item,
)
from bot.engine.operations.refine import OPERATION as REFINE
from bot.engine.operations.refine import Refine
from bot.engine.operations.refine import refinable as editable_images
from bot.engine.ratelimit import RateLimits
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import XiangjiClient
from providers.xiangji.wire import IMAGE_ENGINES, BatchDetail, BatchItem, OcrLine

TEXT_PART = 4000  # characters per text call: under Xiangji's 5,000 UTF-16 units, emoji too
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Xiangji documents no limit; product images are far smaller
IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif", b"BM": "bmp"}

BATCH_IDS = 50  # ids per status call; Xiangji documents no limit, this keeps URLs short
POLL_KEY = "xiangji.batch"
#: The operations whose translated images are checked against the glossary.
GLOSSARY_CHECKED = frozenset({"xiangji.translate_image", "xiangji.translate_message"})
NOT_FOUND = "the provider did not find it"


def xiangji_operations(
    client: XiangjiClient, limits: RateLimits, delivery: Delivery, *, refine: bool = False
) -> dict[str, Operation]:
    """``refine``: Tolk offers Refine (the closing message of an image that breaks the
    glossary says to use it, else to fix the image outside Tolk)."""
    return {
        "xiangji.translate_text": TranslateText(client, limits),
        "xiangji.translate_image": TranslateImage(client, limits, refine=refine),
        "xiangji.cutout": Cutout(client, limits),
        "xiangji.translate_message": TranslateMessage(client, limits, delivery, refine=refine),
        REFINE: Refine(),
    }


class _Options(TypedDict):
    """What a synchronous image call may carry and the batch cannot."""

    need_rm_url: bool
    qos: str | None


class _Xiangji(Operation):
    provider = "xiangji"
    poll_key: str | None = POLL_KEY

    def __init__(self, client: XiangjiClient, limits: RateLimits, *, refine: bool = False) -> None:
        self.client = client
        self.limits = limits
        self.refine = refine

    def refinable(self, task: Task) -> list[tuple[int, str]]:
        return editable_images(task)  # translated images and cutouts; never text

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """One batch-result round for every pending id of ``tasks``; the regions (OCR
        text) are read, batched too, only for images that finished in this round and
        only for tasks that want them (``--ocr``, a glossary to check)."""
        pending = [i.provider_id for t in tasks for i in t.items if i.status == "pending"]
        results: dict[str, BatchItem] = {}
        for chunk in _chunks([p for p in pending if p], BATCH_IDS):
            await self.limits.acquire("xiangji.status")
            results.update(await self.client.get_image_translate_batch_result(chunk))
        done = {rid for rid, found in results.items() if found.done}
        finished = [
            i.provider_id
            for t in tasks
            if done and _wants_regions(t)
            for i in t.items
            if i.status == "pending" and i.provider_id in done
        ]
        regions: dict[str, _Regions] = {}
        for chunk in _chunks(finished, BATCH_IDS):
            regions.update(await self._read_regions(chunk))
        return [_absorb(t, results, regions) for t in tasks]

    async def _read_regions(self, ids: list[str]) -> dict[str, _Regions]:
        """The regions of each of ``ids`` (one call), or why they could not be read: a
        failed call fails only the reading — the images still go out."""
        await self.limits.acquire("xiangji.status")
        try:
            details = await self.client.get_image_translate_batch_query(ids)
        except ProviderError as exc:
            return {rid: (None, exc.message or exc.code) for rid in ids}
        return {rid: _regions_of(details.get(rid)) for rid in ids}

    async def _after_sync(self, task: Task, item: Item, request_id: str) -> Item:
        """An image translated synchronously (``item`` done): its recognised text
        (``--ocr``) and its glossary check, from one read of its regions by request id
        — none when the task wants neither. The image is never sent again."""
        if not _wants_regions(task):
            return item
        read = (await self._read_regions([request_id]))[request_id]
        return _with_regions(task, item, read)

    def _glossary_line(self, task: Task, text: str) -> str:
        """The closing message, with a line when images break the glossary."""
        broken = sum(1 for i in task.items if i.status == "done" and i.meta.get("violations"))
        if not broken:
            return text
        return f"{text}\n{messages.glossary_breaks(broken, self.refine)}"


class TranslateText(_Xiangji):
    needs_thread = False
    poll_key = None

    def parent_text(self, task: Task) -> str:
        return ""

    async def submit(self, task: Task, now: float) -> Task:
        if several_targets(task):
            return await self._several(task, now)
        r = task.request
        item = task.items[0]
        plain, spans = brand_guard.for_translation(item.source, _glossary(task), r["target"])
        await self.limits.acquire("xiangji.submit")
        result = await self.client.get_text_translate(
            plain, r["source_code"], r["target_code"], engine=r.get("engine")
        )
        answer = messages.translation_blocks(
            task.id,
            task.place.user,
            item.source,
            brand_guard.from_translation(result.text, spans),
            r["source"],
            r["target"],
        )
        kind = "ephemeral" if r.get("private") else "message"
        output = {"kind": kind, **answer}
        done = replace(item, status="done", outputs=(output,))
        return task.to(State.SUCCEEDED, now, items=(done,))

    async def _several(self, task: Task, now: float) -> Task:
        """One language per call, kept on its item (``meta["translation"]``) and saved
        before the next, so a restart translates none twice; a language the provider
        refuses for good fails alone. When none is left, the one answer: a section per
        language, on the first item translated."""
        r = task.request
        index = next((i for i, it in enumerate(task.items) if it.status == "pending"), None)
        if index is not None:
            item = task.items[index]
            target, target_code = item_target(task, item)
            plain, spans = brand_guard.for_translation(item.source, _glossary(task), target)
            await self.limits.acquire("xiangji.submit")
            try:
                result = await self.client.get_text_translate(
                    plain, r["source_code"], target_code, engine=r.get("engine")
                )
            except ProviderError as exc:
                if exc.kind is not ErrorKind.PERMANENT:
                    raise
                item = fail_item(item, exc.code, exc.message)
            else:
                translated = brand_guard.from_translation(result.text, spans)
                item = replace(item, status="done", meta={**item.meta, "translation": translated})
            task = with_item(task, index, item)
        if any(i.status == "pending" for i in task.items):
            return task.but(updated_at=now)  # still QUEUED: the next language next
        first = next((i for i, it in enumerate(task.items) if it.status == "done"), None)
        if first is None:
            return task.to(State.SUCCEEDED, now)  # every language refused: the task fails
        answer = messages.translations_blocks(
            task.id, task.place.user, task.items[first].source, _translations(task), r["source"]
        )
        output = {"kind": "ephemeral" if r.get("private") else "message", **answer}
        task = with_item(task, first, replace(task.items[first], outputs=(output,)))
        return task.to(State.SUCCEEDED, now)


class TranslateImage(_Xiangji):
    def parent_text(self, task: Task) -> str:
        r = task.request
        return messages.image_parent(
            task.id,
            task.place.user,
            source_count(task),
            r["source"],
            task_targets(task) if several_targets(task) else r["target"],
            engine=engine_shown(task),
        )

    def final_text(self, task: Task) -> str:
        return self._glossary_line(task, closing_text(task, engine_shown(task)))

    async def submit(self, task: Task, now: float) -> Task:
        r = task.request
        engine = engine_of(task)
        options: _Options = {"need_rm_url": bool(r.get("removed")), "qos": r.get("qos")}
        if len(task.items) > 1 or r.get("ocr"):
            if options["need_rm_url"] or options["qos"]:  # the batch cannot carry them
                return await self._one_by_one(task, now, engine, options)
            return await self._batch(task, now, engine)
        await self.limits.acquire("xiangji.submit")
        item = task.items[0]
        result = await self.client.get_image_translate(
            item.source, r["source_code"], item_target(task, item)[1], engine=engine, **options
        )
        done = replace(
            item, status="done", provider_id=result.request_id, outputs=_outputs(task, result)
        )
        done = await self._after_sync(task, done, result.request_id)
        return task.to(State.SUCCEEDED, now, items=(done,))

    async def _batch(self, task: Task, now: float, engine: str) -> Task:
        """One asynchronous batch per target language — the images of the next language
        not yet sent — then QUEUED while languages are left (the engine saves after each,
        so a restart never sends a batch twice), SUBMITTED after the last. With several
        languages, one the provider refuses for good fails alone."""
        r = task.request
        if (next_batch := next_language_batch(task)) is not None:
            target, batch = next_batch
            await self.limits.acquire("xiangji.submit")
            try:
                ids = await self.client.get_image_translate_batch(
                    [task.items[i].source for i in batch],
                    r["source_code"],
                    target[1],
                    engine=engine,
                )
            except ProviderError as exc:
                if exc.kind is not ErrorKind.PERMANENT or not several_targets(task):
                    raise
                for i in batch:
                    task = with_item(task, i, fail_item(task.items[i], exc.code, exc.message))
            else:
                for i, rid in zip(batch, ids, strict=True):
                    task = with_item(task, i, replace(task.items[i], provider_id=rid))
        if any(i.status == "pending" and not i.provider_id for i in task.items):
            return task.but(updated_at=now)  # still QUEUED: the next language next
        if any(i.status == "pending" for i in task.items):
            return task.to(State.SUBMITTED, now)
        return task.to(State.SUCCEEDED, now)  # every language refused

    async def _one_by_one(self, task: Task, now: float, engine: str, options: _Options) -> Task:
        """The next image not yet sent, as one synchronous call: the engine saves the task
        after each and calls again while it is QUEUED. An image the provider refuses for
        good fails alone; anything else (retryable, quota) is raised for the engine."""
        r = task.request
        index = next(
            (i for i, it in enumerate(task.items) if it.status == "pending" and not it.provider_id),
            None,
        )
        if index is not None:
            item = task.items[index]
            await self.limits.acquire("xiangji.submit")
            try:
                result = await self.client.get_image_translate(
                    item.source,
                    r["source_code"],
                    item_target(task, item)[1],
                    engine=engine,
                    **options,
                )
            except ProviderError as exc:
                if exc.kind is not ErrorKind.PERMANENT:
                    raise
                item = fail_item(item, exc.code, exc.message)
            else:
                outputs = _outputs(task, result)
                item = replace(item, status="done", provider_id=result.request_id, outputs=outputs)
                item = await self._after_sync(task, item, result.request_id)
            task = with_item(task, index, item)
        if any(i.status == "pending" and not i.provider_id for i in task.items):
            return task.but(updated_at=now)  # still QUEUED: the next image next
        return task.to(State.SUCCEEDED, now)


class Cutout(_Xiangji):
    def parent_text(self, task: Task) -> str:
        return messages.cutout_parent(task.id, task.place.user, len(task.items))

    async def submit(self, task: Task, now: float) -> Task:
        """One URL: a synchronous call. Several: one asynchronous job per URL; the engine
        saves after each, so a restart never submits an image twice."""
        bg = tuple(task.request["bg"]) if task.request.get("bg") else None
        await self.limits.acquire("xiangji.submit")
        if len(task.items) == 1:
            result = await self.client.get_image_matting(task.items[0].source, bg_color=bg)
            done = replace(
                task.items[0],
                status="done",
                provider_id=result.request_id,
                outputs=_outputs(task, result),
            )
            return task.to(State.SUCCEEDED, now, items=(done,))
        index = next(i for i, item in enumerate(task.items) if item.provider_id is None)
        job_id = await self.client.submit_image_matting(task.items[index].source, bg_color=bg)
        items = list(task.items)
        items[index] = replace(items[index], provider_id=job_id)
        state = State.SUBMITTED if all(i.provider_id for i in items) else State.QUEUED
        return task.to(state, now, items=tuple(items))


#: An image's regions as read: (its OCR lines, None) or (None, why they could not be read).
_Regions = tuple[tuple[OcrLine, ...] | None, str | None]


def _regions_of(detail: BatchDetail | None) -> _Regions:
    if detail is None:
        return None, NOT_FOUND
    if not detail.done:
        return None, detail.message or str(detail.code)
    return detail.ocr, None


def _glossary(task: Task) -> list[Term]:
    """The task's glossary as recorded with it (empty: the workspace has none)."""
    return brand_guard.entries(task.request.get("glossary"))


def _checks_glossary(task: Task) -> bool:
    return (
        task.operation in GLOSSARY_CHECKED
        and bool(task.request.get("glossary"))  # most tasks have none: nothing to read
        and bool(_glossary(task))
    )


def _wants_regions(task: Task) -> bool:
    """Whether the task's finished images have their regions read: ``--ocr``, or a
    glossary to check them against."""
    return bool(task.request.get("ocr")) or _checks_glossary(task)


def _with_regions(task: Task, item: Item, read: _Regions) -> Item:
    """``item`` (done) with what its regions tell: the recognised text (``--ocr``), or a
    line saying it could not be read; with a glossary, the violations kept in
    ``meta["violations"]`` and said — or that the glossary could not be checked — on
    its image's comment. No violation, no word."""
    lines, why = read
    outputs = item.outputs
    if task.request.get("ocr"):
        if why is not None:
            outputs += ({"kind": "text", "text": messages.ocr_unavailable(item.source, why)},)
        elif lines:
            text = messages.ocr_text(item.source, lines, _lang(task, item))
            outputs += ({"kind": "text", "text": text},)
    item = replace(item, outputs=outputs)
    if not _checks_glossary(task):
        return item
    if why is not None:
        notes = [messages.glossary_unchecked(why)]
        item = replace(item, meta={**item.meta, "glossary_unchecked": why})
    else:
        found = brand_guard.violations(lines or (), _glossary(task), item_target(task, item)[0])
        if not found:
            return item
        notes = [_violation_note(v) for v in found]
        item = replace(item, meta={**item.meta, "violations": brand_guard.as_json(found)})
    return _with_notes(item, notes)


def _violation_note(violation: brand_guard.Violation) -> str:
    if violation.expected is None:
        return messages.brand_term_changed(violation.term, violation.found, violation.box)
    return messages.glossary_term_not_used(
        violation.term, violation.expected, violation.found, violation.box
    )


def _with_notes(item: Item, notes: list[str]) -> Item:
    """``notes`` for the comment of the item's translated image (its first image output;
    a removed-text variant keeps its own): delivery writes them under it."""
    outputs = list(item.outputs)
    at = next((n for n, o in enumerate(outputs) if o.get("kind") == "image"), None)
    if at is None:
        return item
    outputs[at] = {**outputs[at], "notes": notes}
    return replace(item, outputs=tuple(outputs))


def _absorb(task: Task, results: dict[str, BatchItem], regions: dict[str, _Regions]) -> Task:
    """Fold one status round into ``task``: finished items carry their outputs (and
    what their regions tell, when they were read)."""
    if not any(_moved(i, results) for i in task.items):  # the common round: as it is
        return task
    items = []
    for item in task.items:
        found = results.get(item.provider_id or "")
        if item.status != "pending" or found is None or found.pending:
            items.append(item)
        elif found.done and found.result is not None:
            done = replace(item, status="done", outputs=_outputs(task, found.result))
            read = regions.get(item.provider_id or "")
            items.append(done if read is None else _with_regions(task, done, read))
        else:
            error = {"code": str(found.code), "message": found.message or "unknown error"}
            items.append(replace(item, status="failed", error=error))
    return task.but(items=tuple(items))


def _moved(item: Item, results: dict[str, BatchItem]) -> bool:
    found = results.get(item.provider_id or "")
    return item.status == "pending" and found is not None and not found.pending


def _outputs(task: Task, result: Any) -> tuple[dict[str, Any], ...]:
    if task.operation == "xiangji.cutout":
        return ({"kind": "image", "url": result.url, "variant": "cutout"},)
    outputs: tuple[dict[str, Any], ...] = ({"kind": "image", "url": result.url},)
    if task.request.get("removed") and getattr(result, "rm_url", None):
        outputs += ({"kind": "image", "url": result.rm_url, "variant": "removed"},)
    return outputs


def engine_of(task: Task) -> str:
    """The image engine of ``task``: its request's, Aliyun for older tasks."""
    engine = str(task.request.get("engine") or "aliyun")
    return engine if engine in IMAGE_ENGINES else "aliyun"


def engine_shown(task: Task) -> str | None:
    """The engine to name in the parent and closing messages — None for Aliyun,
    Xiangji's own default, which goes without saying."""
    engine = engine_of(task)
    return None if engine == "aliyun" else engine


def closing_text(task: Task, engine: str | None) -> str:
    """The standard closing message (``Operation.final_text``'s), naming ``engine``."""
    return closing_message(task, engine=engine)


def _lang(task: Task, item: Item) -> str | None:
    """The item's language, to name beside its result in a task of several (else None)."""
    return item_target(task, item)[0] if several_targets(task) else None


def _translations(task: Task, kind: str | None = None) -> list[tuple[str, str | None, str]]:
    """Each language's translation of a text (``meta["translation"]``) or why it failed,
    in item order — of the items of ``meta["kind"] == kind`` when given."""
    parts: list[tuple[str, str | None, str]] = []
    for item in task.items:
        if kind is not None and item.meta.get("kind") != kind:
            continue
        lang = item_target(task, item)[0]
        if item.status == "done":
            parts.append((lang, str(item.meta.get("translation", "")), ""))
        elif item.status == "failed":
            parts.append((lang, None, (item.error or {}).get("message", "")))
    return parts


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class TranslateMessage(_Xiangji):
    """A Slack message's text and images (a flag reaction, the shortcut, an upload to an
    auto-translate channel), translated into the message's own thread.

    Items are the message's text (``meta.kind == "text"``) and its image files
    (``meta.kind == "file"``, ``source`` = ``url_private``). One item is sent per step and
    persisted, so a restart never sends an image twice; an item the provider refuses
    fails alone and is listed in the closing message."""

    poll_key = None

    def __init__(
        self, client: XiangjiClient, limits: RateLimits, delivery: Delivery, *, refine: bool = False
    ) -> None:
        super().__init__(client, limits, refine=refine)
        self.delivery = delivery

    def parent_text(self, task: Task) -> str:
        return ""  # the thread is the message's own

    def final_text(self, task: Task) -> str | None:
        """The standard closing message, naming the image engine when it is not Aliyun;
        none when the text alone was translated (its translation was the answer)."""
        if task.state is State.DELIVERED and all(i.meta.get("kind") == "text" for i in task.items):
            return None
        images = any(i.meta.get("kind") == "file" for i in task.items)
        return self._glossary_line(task, closing_text(task, engine_shown(task) if images else None))

    async def submit(self, task: Task, now: float) -> Task:
        index = next((i for i, item in enumerate(task.items) if item.status == "pending"), None)
        if index is None:
            return task.to(State.SUCCEEDED, now)
        item = task.items[index]
        try:
            if item.meta.get("kind") == "text":
                done = await self._text(task, item)
            else:
                done = await self._image(task, item)
        except ProviderError as exc:
            if exc.kind is not ErrorKind.PERMANENT:
                raise
            done = replace(item, status="failed", error={"code": exc.code, "message": exc.message})
        items = list(task.items)
        items[index] = done
        task = task.but(items=tuple(items), updated_at=now)
        if item.meta.get("kind") == "text" and several_targets(task):
            task = _one_answer(task)
        if all(i.status != "pending" for i in task.items):
            return task.to(State.SUCCEEDED, now)
        return task

    async def _text(self, task: Task, item: Any) -> Any:
        r = task.request
        target, target_code = item_target(task, item)
        plain, _ = for_translation(item.source)  # what the language is told from
        masked, spans = brand_guard.for_translation(item.source, _glossary(task), target)
        source = r.get("source")
        lang = detect_source(plain) if source is None else None
        source_code = r.get("source_code") or (provider_code(lang, "xiangji") if lang else None)
        if lang is not None and lang.code == target and several_targets(task):
            return fail_item(item, "same-language", messages.already_in_language(target))
        if source_code is None or (lang is not None and lang.code == target):
            return replace(
                item,
                status="failed",
                error={"code": "source", "message": messages.cannot_tell_language()},
            )
        translated = []
        for part in split(masked, TEXT_PART):  # Xiangji takes 5,000 UTF-16 units a call
            await self.limits.acquire("xiangji.submit")
            result = await self.client.get_text_translate(part, source_code, target_code)
            translated.append(result.text)
        if several_targets(task):  # the one answer comes when every language is in
            translation = brand_guard.from_translation("\n\n".join(translated), spans)
            source_lang = lang.code if lang else source
            meta = {**item.meta, "translation": translation, "from": source_lang}
            return replace(item, status="done", meta=meta)
        text = messages.message_translation(
            brand_guard.from_translation("\n\n".join(translated), spans),
            lang.code if lang else source,
            r["target"],
            task.id,
            r.get("origin"),
            task.place.user,
        )
        return replace(item, status="done", outputs=({"kind": "text", **text},))

    async def _image(self, task: Task, item: Any) -> Any:
        r = task.request
        name = item.meta.get("name", "image")
        try:
            data = await self.delivery.download_slack_file(item.source, limit=MAX_IMAGE_BYTES)
        except FileTooLarge:
            return fail_item(item, "too-large", messages.file_too_large(name, MAX_IMAGE_BYTES))
        except DownloadRefused:
            return fail_item(item, "not-slack", messages.not_a_slack_file(name))
        except DownloadFailed as exc:
            if not exc.permanent:
                raise
            return fail_item(item, "fetch", messages.download_failed(str(exc)))
        if not any(data.startswith(magic) for magic in IMAGE_MAGIC):
            return fail_item(item, "not-an-image", messages.not_an_image(name))
        await self.limits.acquire("xiangji.submit")
        result = await self.client.upload_image_translate(
            data,
            name,
            r["image_source_code"],
            item_target(task, item)[1],
            engine=engine_of(task),
            need_rm_url=bool(r.get("removed")),
            qos=r.get("qos"),
        )
        done = replace(
            item, status="done", provider_id=result.request_id, outputs=_outputs(task, result)
        )
        return await self._after_sync(task, done, result.request_id)


def _one_answer(task: Task) -> Task:
    """A message's text translated into several languages: once every language is in,
    one answer with a part per language, on the first text item translated."""
    texts = [i for i, item in enumerate(task.items) if item.meta.get("kind") == "text"]
    if any(task.items[i].status == "pending" for i in texts):
        return task
    first = next((i for i in texts if task.items[i].status == "done"), None)
    if first is None:
        return task  # every language failed: the closing message lists them
    item = task.items[first]
    answer = messages.message_translations(
        _translations(task, "text"),
        item.meta.get("from"),
        task.id,
        task.request.get("origin"),
        task.place.user,
    )
    return with_item(task, first, replace(item, outputs=({"kind": "text", **answer},)))

"""A catalogue: a spreadsheet of product images (``bot.core.catalogue``) translated into
one or more languages as one task — one parent message kept up to date, one ZIP of
results per language and a manifest CSV in its thread, one closing message.

The task is recorded with one item, the uploaded Slack file. Its first step reads the
file and turns the task into *chunks*: one item per language and ``CHUNK`` rows, each
sent as one asynchronous Xiangji batch (its request ids kept in the item's meta), one
submission per step, saved before the next — a restart never sends a chunk twice. A
status round asks for every pending id of every catalogue at once (``BATCH_IDS`` per
call). A chunk is done when each of its rows has a result or an error; a row's failure
fails that row alone. When a language's last chunk is done, its ZIP is built (results
downloaded ``PARALLEL`` at a time into a file on disk, never held as a set in memory)
and uploaded; when every language is done, the manifest follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.catalogue import (
    MAX_FILE_BYTES,
    ZIP_FILE_BYTES,
    CatalogueError,
    Row,
    manifest_lines,
    read_catalogue,
    result_name,
)
from bot.core.catalogue_tasks import CHUNK as CHUNK
from bot.core.catalogue_tasks import OPERATION as OPERATION
from bot.core.catalogue_tasks import (
    ZIP_CHUNK,
    chunk_indexes,
    chunk_items,
    outcomes,
    results_of,
    rows_of,
    targets_of,
)
from bot.core.catalogue_tasks import failed as failed_rows
from bot.core.storage import TaskStore
from bot.core.tasks import Item, State, Task
from bot.engine.delivery import Delivery
from bot.engine.operation import Operation, fail_item, with_item
from bot.engine.operations.xiangji import IMAGE_MAGIC, MAX_IMAGE_BYTES
from bot.engine.ratelimit import RateLimits
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import XiangjiClient
from providers.xiangji.wire import BatchItem

BATCH_IDS = 200  # ids per status call: Xiangji ids are 12–16 characters, ~3.4 KB a GET
PARALLEL = 32  # result downloads at once while a ZIP is built
CATCH_UP = 2.0  # seconds between status rounds while chunks are still being sent


class Catalogue(Operation):
    provider = "xiangji"
    poll_key: str | None = "xiangji.catalogue"
    live_progress = True

    def __init__(
        self, client: XiangjiClient, limits: RateLimits, delivery: Delivery, store: TaskStore
    ) -> None:
        self.client = client
        self.limits = limits
        self.delivery = delivery
        self.store = store
        # the task as this process last polled it: its files are built right after, from
        # results not yet saved (after a restart the store has them, with the outputs)
        self._polled: dict[str, Task] = {}
        self._asked: dict[str, float] = {}  # task → when its chunks' status was last asked
        self._zips: dict[str, str] = {}  # task → its uploaded ZIP, on disk while it runs

    # --- what the person sees ------------------------------------------------------------

    def parent_text(self, task: Task) -> str:
        return messages.catalogue_parent(
            task.id, task.place.user, _name(task), _worked(task), _counts(task)
        )

    def final_text(self, task: Task) -> str | None:
        failed = [(r.id, lang, error) for r, lang, _, status, error in _entries(task) if error]
        return messages.catalogue_done(task.id, _name(task), _worked(task), _counts(task), failed)

    def final_actions(self, task: Task) -> list[dict[str, Any]]:
        """A Retry failed button when rows failed (the requester or an admin presses it)."""
        count = sum(len(rows) for rows in failed_rows(task).values())
        return messages.catalogue_retry_button(task.id, count) if count else []

    # --- the work ----------------------------------------------------------------------

    async def submit(self, task: Task, now: float) -> Task:
        if "rows" not in task.request:
            return await self._read(task, now)
        index = next(
            (n for n, i in enumerate(task.items) if i.status == "pending" and not i.provider_id),
            None,
        )
        if index is not None:
            task = _attach_files(with_item(task, index, await self._send(task, task.items[index])))
            self._remember(task)
        if any(i.status == "pending" and not i.provider_id for i in task.items):
            task = await self._catch_up(task, now)
            return task.but(updated_at=now)  # still QUEUED: the next chunk next step
        self._forget_zip(task.id)  # every image has gone
        self._asked.pop(task.id, None)
        if all(i.status != "pending" for i in task.items):
            return task.to(State.SUCCEEDED, now)
        return task.to(State.SUBMITTED, now)

    async def _read(self, task: Task, now: float) -> Task:
        """The uploaded file into rows, and the task into chunks (or a clear failure)."""
        upload = task.items[0]
        try:
            name = str(upload.meta.get("name") or "")
            data = await self.delivery.download_slack_file(
                upload.source,
                limit=ZIP_FILE_BYTES if name.lower().endswith(".zip") else MAX_FILE_BYTES,
                file_id=upload.meta.get("file_id"),
            )
            catalogue = read_catalogue(str(upload.meta.get("name") or "catalogue.csv"), data)
        except CatalogueError as exc:
            error = {"code": "catalogue", "message": str(exc), "kind": "permanent"}
            return task.to(State.FAILED, now, error=error)
        rows = [[r.id, r.source, r.extra] for r in catalogue.rows]
        request = {**task.request, "rows": rows, "columns": list(catalogue.columns)}
        every = list(range(len(rows)))
        targets = targets_of(task)
        size = CHUNK
        if catalogue.kind == "zip":  # its images go up one by one: kept on disk meanwhile
            request["zip"] = {"url": upload.source, "file_id": upload.meta.get("file_id")}
            await self._keep_zip(task.id, data)
            size = ZIP_CHUNK
        chunks = chunk_items(targets, {t["lang"]: every for t in targets}, size)
        return task.but(request=request, items=chunks, updated_at=now)

    async def _send(self, task: Task, chunk: Item) -> Item:
        if task.request.get("zip"):
            return await self._send_images(task, chunk)
        every = rows_of(task)
        rows = [every[i] for i in chunk_indexes(chunk)]
        await self.limits.acquire("xiangji.submit")
        try:
            ids = await self.client.get_image_translate_batch(
                [r.source for r in rows],
                task.request["source_code"],
                chunk.meta["target_code"],
                engine=str(task.request.get("engine") or "aliyun"),
            )
        except ProviderError as exc:
            if exc.kind is not ErrorKind.PERMANENT:
                raise
            return fail_item(replace(chunk, provider_id="batch"), exc.code, exc.message)
        return replace(chunk, provider_id="batch", meta={**chunk.meta, "ids": ids})

    async def _send_images(self, task: Task, chunk: Item) -> Item:
        """A ZIP's images of this chunk, one synchronous upload each (Xiangji's batch
        takes URLs only): the chunk is done when every image has its result or error. A
        retryable failure is raised, and the chunk's images go again."""
        every, path = rows_of(task), await self._zip_path(task)
        lang, code = chunk.meta["target"], chunk.meta["target_code"]
        results: list[list[str]] = []
        for i in chunk_indexes(chunk):
            row = every[i]
            data = await asyncio.to_thread(_zip_entry, path, row.source)
            if data is None:
                results.append(["", messages.not_an_image(row.source)])
                continue
            await self.limits.acquire("xiangji.submit")
            try:
                result = await self.client.upload_image_translate(
                    data,
                    PurePosixPath(row.source).name,
                    task.request["source_code"],
                    code,
                    engine=str(task.request.get("engine") or "aliyun"),
                )
            except ProviderError as exc:
                if exc.kind is not ErrorKind.PERMANENT:
                    raise
                results.append(["", f"{exc.code}: {exc.message}"])
                continue
            results.append([result.url, ""] if result.url else ["", f"no result ({lang})"])
        meta = {**chunk.meta, "results": results}
        return replace(chunk, provider_id="upload", status="done", meta=meta)

    async def _keep_zip(self, task_id: str, data: bytes) -> str:
        fd, path = tempfile.mkstemp(suffix=".zip")
        with os.fdopen(fd, "wb") as kept:
            await asyncio.to_thread(kept.write, data)
        self._zips[task_id] = path
        return path

    async def _zip_path(self, task: Task) -> str:
        """The task's ZIP on disk: kept since it was read, or fetched again (a restart)."""
        path = self._zips.get(task.id)
        if path:  # (forgotten when removed)
            return path
        source = task.request["zip"]
        data = await self.delivery.download_slack_file(
            source["url"], limit=ZIP_FILE_BYTES, file_id=source.get("file_id")
        )
        return await self._keep_zip(task.id, data)

    def _forget_zip(self, task_id: str) -> None:
        path = self._zips.pop(task_id, None)
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    async def _catch_up(self, task: Task, now: float) -> Task:
        """While later chunks wait for the submission limit, ask how the earlier ones are
        doing (the status limit is another budget), every ``CATCH_UP`` seconds: results
        come in, and files go out, while the rest is still being sent."""
        if time.monotonic() - self._asked.get(task.id, 0.0) < CATCH_UP:
            return task  # (``now`` is the step's start: the whole sending is one step)
        self._asked[task.id] = time.monotonic()
        return (await self.poll([task], now))[0]

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        pending = [
            rid
            for t in tasks
            for i in t.items
            if i.status == "pending" and i.meta.get("ids")  # sent, and not all answered
            for rid, got in zip(i.meta["ids"], results_of(i), strict=True)
            if got is None
        ]
        answers: dict[str, BatchItem] = {}
        for start in range(0, len(pending), BATCH_IDS):
            await self.limits.acquire("xiangji.status")
            chunk = pending[start : start + BATCH_IDS]
            answers.update(await self.client.get_image_translate_batch_result(chunk))
        polled = [_absorb(t, answers) for t in tasks]
        for task in polled:
            self._remember(task)
        return polled

    def _remember(self, task: Task) -> None:
        """The newest state of a task with files to build (see ``_polled``)."""
        if any(o.get("fetch") for i in task.items for o in i.outputs):
            self._polled[task.id] = task

    async def fetch(self, output: dict[str, Any]) -> bytes:
        """A language's ZIP, or the manifest, built from the task as stored."""
        task = self._polled.get(str(output["task"])) or await self.store.get(str(output["task"]))
        if task is None:
            raise ProviderError(
                "xiangji", OPERATION, "gone", "the task is gone", ErrorKind.PERMANENT
            )
        if output.get("manifest"):
            self._polled.pop(task.id, None)  # the last file of the task
            return "".join(
                manifest_lines(_entries(task), tuple(task.request.get("columns", ())))
            ).encode()
        return await self._zip(task, str(output["zip"]))

    async def _zip(self, task: Task, lang: str) -> bytes:
        done = [(o.row, o.url) for o in outcomes(task, lang) if o.url]
        slots = asyncio.Semaphore(PARALLEL)
        fd, path = tempfile.mkstemp(suffix=".zip")
        os.close(fd)
        try:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # images: no gain

                async def add(row: Row, url: str) -> None:
                    async with slots:
                        data = await self.delivery.download(url)
                    suffix = PurePosixPath(urlsplit(url).path).suffix or ".png"
                    archive.writestr(result_name(row, lang, suffix), data)

                await asyncio.gather(*(add(row, url) for row, url in done))
            return await asyncio.to_thread(_read_file, path)
        finally:
            os.unlink(path)


def _zip_entry(path: str, name: str) -> bytes | None:
    """An image of the ZIP (None: too large, or not an image by its first bytes)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        if info.file_size > MAX_IMAGE_BYTES:
            return None
        data = archive.read(info)
    return data if any(data.startswith(magic) for magic in IMAGE_MAGIC) else None


def _read_file(path: str) -> bytes:
    with open(path, "rb") as built:
        return built.read()


# --- the task's own bookkeeping (``bot.core.catalogue_tasks`` reads it) ------------------


def _name(task: Task) -> str:
    return str(task.request.get("name") or "catalogue")


def _worked(task: Task) -> int:
    """How many rows the task works on (a retry: its failed rows, not the sheet's)."""
    return len({i for item in task.items for i in chunk_indexes(item)}) or len(rows_of(task))


def _absorb(task: Task, answers: dict[str, BatchItem]) -> Task:
    items = list(task.items)
    for n, item in enumerate(items):
        if item.status != "pending" or not item.meta.get("ids"):
            continue
        results = results_of(item)
        for k, rid in enumerate(item.meta["ids"]):
            found = answers.get(rid)
            if results[k] is not None or found is None or found.pending:
                continue
            if found.done and found.result is not None and found.result.url:
                results[k] = [str(found.result.url), ""]
            else:
                results[k] = ["", f"{found.code}: {found.message or 'unknown error'}"]
        status = "done" if all(r is not None for r in results) else "pending"
        items[n] = replace(item, status=status, meta={**item.meta, "results": results})
    return _attach_files(task.but(items=tuple(items)))


def _attach_files(task: Task) -> Task:
    """A language whose chunks are all done gets its ZIP (on its last chunk); once every
    language is, the manifest follows (on the last chunk of all)."""
    items = list(task.items)
    stem = PurePosixPath(_name(task)).stem + (
        f"-retry-{task.id}" if task.request.get("retry_of") else ""
    )
    for lang in {str(i.meta.get("target")) for i in items}:
        mine = [n for n, i in enumerate(items) if i.meta.get("target") == lang]
        last = mine[-1]
        if all(items[n].status != "pending" for n in mine) and not _has(items[last], "zip"):
            zipped = {"kind": "file", "fetch": True, "zip": lang, "task": task.id}
            zipped["filename"] = f"{stem}-{lang}.zip"
            zipped["comment"] = messages.catalogue_zip_comment(lang, _count(task, lang))
            items[last] = _with_output(items[last], zipped)
    if all(i.status != "pending" for i in items) and not any(_has(i, "manifest") for i in items):
        manifest = {"kind": "file", "fetch": True, "manifest": True, "task": task.id}
        manifest["filename"] = f"{stem}-manifest.csv"
        manifest["comment"] = messages.catalogue_manifest_comment()
        items[-1] = _with_output(items[-1], manifest)
    return task.but(items=tuple(items))


def _with_output(item: Item, output: dict[str, Any]) -> Item:
    status = "done" if item.status == "failed" else item.status  # its file still goes out
    return replace(item, status=status, outputs=(*item.outputs, output))


def _has(item: Item, key: str) -> bool:
    return any(o.get(key) for o in item.outputs)


def _entries(task: Task) -> list[tuple[Row, str, str, str, str]]:
    """The manifest's lines: (row, language, result file, status, error)."""
    entries = []
    for target in targets_of(task):
        lang = target["lang"]
        for o in outcomes(task, lang):
            if o.url:
                suffix = PurePosixPath(urlsplit(o.url).path).suffix or ".png"
                entries.append((o.row, lang, result_name(o.row, lang, suffix), "done", ""))
            else:
                status = "failed" if o.answered else "pending"
                entries.append((o.row, lang, "", status, o.error))
    return entries


def _count(task: Task, lang: str) -> tuple[int, int]:
    """(done, failed) rows of ``lang``."""
    found = outcomes(task, lang)
    return sum(1 for o in found if o.url), sum(1 for o in found if o.answered and not o.url)


def _counts(task: Task) -> list[tuple[str, int, int]]:
    """Per language in order: (lang, done, failed)."""
    return [(t["lang"], *_count(task, t["lang"])) for t in targets_of(task)]

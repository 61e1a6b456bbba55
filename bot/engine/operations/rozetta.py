"""Rozetta file translation: ``/translate-doc … --provider rozetta`` and auto-docs
channels set to Rozetta.

Rozetta takes uploads, not URLs: Tolk fetches the document itself (a Slack file with the
bot token; a URL only from a public address, ``Delivery.download_public``) and uploads it
with ``POST /api/v1/file-translate`` — one call per document (per document and language
in a task of several, each file then named with its language), each persisted before
the next. Rozetta has no idempotency token, so a crash between its answer and Tolk's save
uploads that one document again.

Polling costs one ``GET /translate-result/all`` per round for every pending Rozetta task,
however many; when the account's history makes that answer heavier than asking per id,
the round asks per id instead (``wire.choose_poll``). A finished item is downloaded as a
ZIP by its item id, unpacked, and uploaded under the file's original name with its
word (T-4OO) or character (T-3MT) count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.core import messages
from bot.core.fetch import DownloadFailed, DownloadRefused, FileTooLarge
from bot.core.tasks import Item, Task
from bot.engine.delivery import Delivery
from bot.engine.operation import (
    Operation,
    fail_item,
    item_target,
    several_targets,
    sources_once,
    submit_one_by_one,
    task_targets,
    waiting,
)
from providers.errors import ErrorKind, ProviderError
from providers.rozetta.client import RozettaClient
from providers.rozetta.wire import TranslateItem, Translation, choose_poll

log = logging.getLogger(__name__)

POLL_KEY = "rozetta"
MAX_DOC_BYTES = 50 * 1024 * 1024  # Rozetta takes up to 500 MB; Slack files are smaller


def rozetta_operations(client: RozettaClient, delivery: Delivery) -> dict[str, Operation]:
    return {"rozetta.translate_doc": TranslateDoc(client, delivery)}


def source_name(item: Item) -> str:
    return (
        item.meta.get("name")
        or unquote(PurePosixPath(urlsplit(item.source).path).name)
        or "document"
    )


class TranslateDoc(Operation):
    provider = "rozetta"
    needs_thread = True
    poll_key = POLL_KEY
    noun = "document"

    def __init__(self, client: RozettaClient, delivery: Delivery) -> None:
        self.client = client
        self.delivery = delivery
        self.history = 0  # translations in the last "all" answer: the account's history
        self.calls = {"all": 0, "per-id": 0}  # status calls made, by kind (benchmarks)

    def parent_text(self, task: Task) -> str:
        r = task.request
        names = [source_name(i) for i in sources_once(task)]
        targets = task_targets(task) if several_targets(task) else r["target"]
        return messages.doc_parent(task.id, task.place.user, names, r["source"], targets)

    # --- submission ---------------------------------------------------------------------------

    async def submit(self, task: Task, now: float) -> Task:
        return await submit_one_by_one(task, now, self._upload)

    async def _upload(self, task: Task, index: int) -> Item:
        item = task.items[index]
        name = source_name(item)
        try:
            if item.meta.get("kind") == "slack-file":
                # only the file checked when the task was made (``file_id``): the token
                # opens nothing else (issue 16); an item without one is refused
                data = await self.delivery.download_slack_file(
                    item.source, limit=MAX_DOC_BYTES, file_id=str(item.meta.get("file_id") or "")
                )
            else:
                data = await self.delivery.download_public(item.source, limit=MAX_DOC_BYTES)
        except FileTooLarge:
            return fail_item(item, "too-large", messages.file_too_large(name, MAX_DOC_BYTES))
        except DownloadRefused as exc:  # the URL itself, or where it redirected
            return fail_item(item, "refused", messages.url_refused(str(exc)))
        except DownloadFailed as exc:
            if not exc.permanent:
                raise  # a timeout, a reset, a 5xx: the engine tries again later
            return fail_item(item, "fetch", messages.download_failed(str(exc)))
        if _web_page_for_a_document(name, data):
            return fail_item(item, "not-a-document", messages.not_a_document(name))
        r = task.request
        try:
            translate_id = await self.client.file_translate(
                [(name, data)], [item_target(task, item)[1]], source_lang=r.get("source_code")
            )
        except ProviderError as exc:
            if exc.kind is not ErrorKind.PERMANENT:
                raise
            return fail_item(item, exc.code, exc.message)
        return replace(item, provider_id=translate_id)

    # --- polling --------------------------------------------------------------------------------

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """One round for every pending Rozetta task: one "all" call, or per id if cheaper."""
        wanted = sorted({i.provider_id or "" for t in tasks for i in t.items if waiting(i)})
        found: dict[str, Translation] = {}
        if wanted and choose_poll(len(wanted), self.history) == "all":
            everything = await self.client.translate_result_all()
            self.calls["all"] += 1
            self.history = len(everything)
            found = {t.translate_id: t for t in everything if t.translate_id in wanted}
        elif wanted:
            results = await asyncio.gather(*(self.client.translate_result(w) for w in wanted))
            self.calls["per-id"] += len(wanted)
            found = {t.translate_id: t for t in results}
        return [self._absorb(t, found) for t in tasks]

    def _absorb(self, task: Task, found: dict[str, Translation]) -> Task:
        items = list(task.items)
        for index, item in enumerate(items):
            translation = found.get(item.provider_id or "") if waiting(item) else None
            target, target_code = item_target(task, item)
            result = _item_for(translation, target_code) if translation else None
            if result is None or result.state == "pending":
                continue
            if result.state == "failed":
                error = result.failure("translate-result")
                message = error.message if error else messages.provider_gave_no_reason()
                items[index] = fail_item(item, result.failure_code or "item-error", message)
                continue
            member = result.file_name or source_name(item)  # its name in the ZIP
            name = _with_language(member, target) if several_targets(task) else member
            output = {
                "kind": "file",
                "fetch": "rozetta",
                "item_id": result.item_id,
                "filename": name,
                "member": member,
                "comment": messages.rozetta_comment(name, result.word_count),
            }
            items[index] = replace(item, status="done", outputs=(output,))
        return task.but(items=tuple(items))

    async def fetch(self, output: dict[str, Any]) -> bytes:
        """The translated file of one finished item: its ZIP, unpacked."""
        files = await self.client.download_files([output["item_id"]])
        if not files:
            raise ProviderError(
                "rozetta",
                "downloads",
                "empty-zip",
                "Rozetta's download held no file",
                ErrorKind.RETRYABLE,
            )
        wanted = output.get("member") or output.get("filename")
        return next((data for name, data in files if name == wanted), files[0][1])


def _with_language(name: str, lang: str) -> str:
    """``guide-ja.docx``: a translated file's name with its language, in a task of several
    (the thread holds one per language, and names mark uploads)."""
    path = PurePosixPath(name)
    return f"{path.stem}-{lang}{path.suffix}" if path.stem else f"{name}-{lang}"


def _web_page_for_a_document(name: str, data: bytes) -> bool:
    """The address answered with a web page (a sign-in or error page) where a document
    that is not itself HTML was expected."""
    if name.lower().endswith((".html", ".htm", ".xhtml")):
        return False
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _item_for(translation: Translation, target: str) -> TranslateItem | None:
    items = translation.items
    same = [i for i in items if (i.target_lang or "").lower() == target.lower()]
    candidates = same or list(items)
    return candidates[0] if candidates else None

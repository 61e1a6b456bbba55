"""Xiangji operations: text translation, image translation (one URL synchronous,
several as one asynchronous batch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bot import messages
from bot.tasks import State, Task
from providers.xiangji import XiangjiClient
from providers.xiangji.wire import BatchDetail, BatchItem, ImageResult

BATCH_IDS = 50  # per status call; Xiangji documents no limit, this keeps URLs short


def xiangji_operations(client: XiangjiClient) -> dict[str, Any]:
    return {
        "xiangji.translate_text": TranslateText(client),
        "xiangji.translate_image": TranslateImage(client),
    }


class TranslateText:
    provider = "xiangji"
    needs_thread = False

    def __init__(self, client: XiangjiClient) -> None:
        self.client = client

    def parent_text(self, task: Task) -> str:
        return ""

    async def submit(self, task: Task, now: float) -> Task:
        r = task.request
        item = task.items[0]
        result = await self.client.get_text_translate(
            item.source, r["source_code"], r["target_code"], engine=r.get("engine")
        )
        text, blocks = messages.translation_blocks(
            task.id, task.place.user, item.source, result.text, r["source"], r["target"]
        )
        kind = "ephemeral" if r.get("private") else "message"
        done = replace(
            item, status="done", outputs=({"kind": kind, "text": text, "blocks": blocks},)
        )
        return task.to(State.SUCCEEDED, now, items=(done,))

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        return list(tasks)  # synchronous: nothing to poll


class TranslateImage:
    provider = "xiangji"
    needs_thread = True

    def __init__(self, client: XiangjiClient) -> None:
        self.client = client

    def parent_text(self, task: Task) -> str:
        r = task.request
        return messages.image_parent(
            task.id, task.place.user, len(task.items), r["source"], r["target"]
        )

    async def submit(self, task: Task, now: float) -> Task:
        r = task.request
        options = {"need_rm_url": bool(r.get("removed")), "qos": r.get("qos")}
        if len(task.items) == 1 and not r.get("ocr"):
            item = task.items[0]
            result = await self.client.get_image_translate(
                item.source, r["source_code"], r["target_code"], **options
            )
            done = replace(
                item, status="done", provider_id=result.request_id, outputs=_outputs(result, r)
            )
            return task.to(State.SUCCEEDED, now, items=(done,))
        ids = await self.client.get_image_translate_batch(
            [i.source for i in task.items], r["source_code"], r["target_code"], **options
        )
        items = tuple(replace(i, provider_id=rid) for i, rid in zip(task.items, ids, strict=True))
        return task.to(State.SUBMITTED, now, items=items)

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """One batch-result call per 50 pending images, whatever the number of tasks;
        OCR text is fetched (batched too) only for images that finished this round."""
        pending = [i.provider_id for t in tasks for i in t.items if i.status == "pending"]
        results: dict[str, BatchItem] = {}
        for chunk in _chunks([p for p in pending if p], BATCH_IDS):
            results.update(await self.client.get_image_translate_batch_result(chunk))
        ocr_ids = [
            i.provider_id
            for t in tasks
            if t.request.get("ocr")
            for i in t.items
            if i.provider_id in results and results[i.provider_id].done
        ]
        details: dict[str, BatchDetail | None] = {}
        for chunk in _chunks(ocr_ids, BATCH_IDS):
            details.update(await self.client.get_image_translate_batch_query(chunk))
        return [self._update(t, results, details) for t in tasks]

    def _update(
        self, task: Task, results: dict[str, BatchItem], details: dict[str, BatchDetail | None]
    ) -> Task:
        items = []
        for item in task.items:
            found = results.get(item.provider_id or "")
            if item.status != "pending" or found is None or found.pending:
                items.append(item)
            elif found.done and found.result is not None:
                outputs = _outputs(found.result, task.request)
                detail = details.get(item.provider_id or "")
                if detail is not None and detail.ocr:
                    outputs += (
                        {"kind": "text", "text": messages.ocr_text(item.source, detail.ocr)},
                    )
                items.append(replace(item, status="done", outputs=outputs))
            else:
                meaning = found.message or "unknown error"
                items.append(
                    replace(
                        item, status="failed", error={"code": str(found.code), "message": meaning}
                    )
                )
        return task.but(items=tuple(items))


def _outputs(result: ImageResult, request: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    outputs: tuple[dict[str, Any], ...] = ({"kind": "image", "url": result.url},)
    if request.get("removed") and result.rm_url:
        outputs += ({"kind": "image", "url": result.rm_url, "variant": "removed"},)
    return outputs


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]

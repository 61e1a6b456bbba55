"""Refined images from Xiangji's editor, back into the thread of the image they refine.

The Refine page (``handlers/web/refine.py``) records one ``xiangji.refine`` task per signed link
when the editor hands over its result. The provider's work was done in the browser, so
``submit`` only names the file; the engine downloads it (allowed hosts only) and uploads
it with its once-only markers, retries and restarts, like any other result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.tasks import Item, State, Task
from bot.engine.operation import Operation, item_target, several_targets
from providers.xiangji.refine import CUTOUT_EDITOR, IMAGE_EDITOR, Editor

OPERATION = "xiangji.refine"

# The operations whose results Xiangji's editors open, by their request ids.
EDITORS: dict[str, Editor] = {
    "xiangji.translate_image": IMAGE_EDITOR,
    "xiangji.translate_message": IMAGE_EDITOR,
    "xiangji.cutout": CUTOUT_EDITOR,
}


def refinable(task: Task) -> list[tuple[int, str]]:
    """(index, name) of each image of ``task`` an editor can open: done, with
    Xiangji's request id and an image result, and not deleted from Slack."""
    if task.operation not in EDITORS or task.notes.get("deleted_by"):
        return []
    return [
        (index, shown_name(task, item))
        for index, item in enumerate(task.items)
        if item.status == "done"
        and item.provider_id
        and any(o.get("kind") == "image" for o in item.outputs)
    ]


def image_label(task: Task, index: int) -> str:
    """``image 2 of task `T7Q2K` (shoe.png)`` — how Slack messages name the image."""
    noun = "cutout" if task.operation == "xiangji.cutout" else "image"
    name = shown_name(task, task.items[index])
    return messages.refine_image_label(noun, index + 1, task.id, name)


def shown_name(task: Task, item: Item) -> str:
    """The image's name, with its language in a task of several (``shoe.png · ja``):
    the same image is there once per language."""
    if several_targets(task):
        return f"{image_name(item)} · {item_target(task, item)[0]}"
    return image_name(item)


def image_name(item: Item) -> str:
    """A Slack file's own name, else the last part of the image URL."""
    return item.meta.get("name") or PurePosixPath(urlsplit(item.source).path).name or item.source


class Refine(Operation):
    provider = "xiangji"
    needs_thread = True  # the original's thread, already there

    def parent_text(self, task: Task) -> str:
        return ""

    async def submit(self, task: Task, now: float) -> Task:
        item = task.items[0]
        r = task.request
        stem = PurePosixPath(r["name"]).stem
        suffix = PurePosixPath(urlsplit(item.source).path).suffix or ".png"
        output = {
            "kind": "image",
            "url": item.source,
            "filename": f"{stem}-refined-{task.id}{suffix}",
            "comment": messages.refined_comment(r["by"], r["label"]),
        }
        done = replace(item, status="done", outputs=(output,))
        return task.to(State.SUCCEEDED, now, items=(done,))

    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        return list(tasks)  # nothing is ever left with the provider

    def final_text(self, task: Task) -> str | None:
        """The upload, with its comment, is the answer; a refusal is said in the thread."""
        item = task.items[0]
        if item.status == "done":
            return None
        reason = (item.error or {}).get("message", "it could not be downloaded")
        return messages.refine_failed(task.request["by"], task.request["label"], reason)

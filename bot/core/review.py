"""Review: with ``/tolk config review on`` a channel's image results wait on a card each
until someone who may decide approves or rejects them; the task's final message comes
when every result is decided.

A task is reviewed when its request carries ``review`` (written when it was recorded,
from the channel's settings then): ``{"reviewers": [user ids]}``. Each decision is one
setting of its own (``REVIEWS``, key ``<task>:<item index>``), written by the button's
handler and read by the engine, so two people deciding two images at the same moment
never overwrite each other, and decisions survive restarts and are seen by every replica.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bot.core.channels import ChannelConfig
from bot.core.spend import Work
from bot.core.storage import TaskStore
from bot.core.tasks import Item, Task

REVIEWS = "review"  # setting namespace: "<task>:<index>" → a Decision as JSON
#: Image work whose results can wait for review (catalogues do not: thousands of cards).
REVIEWED_OPERATIONS = frozenset(
    {
        "xiangji.translate_image",
        "xiangji.cutout",
        "xiangji.translate_message",
        "alibaba.translate_image",
    }
)
#: How long results wait for a decision before the task closes with what was decided.
REVIEW_SECONDS = 7 * 24 * 3600
TEXT_KINDS = frozenset({"message", "ephemeral", "text", "summary"})
APPROVED, REJECTED = "approved", "rejected"


@dataclass(frozen=True)
class Decision:
    decision: str  # approved | rejected
    by: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "by": self.by, "at": self.at}

    @classmethod
    def from_json(cls, data: Any) -> Decision | None:
        if not isinstance(data, dict) or data.get("decision") not in (APPROVED, REJECTED):
            return None
        return cls(str(data["decision"]), str(data.get("by") or ""), float(data.get("at") or 0))


def reviewed(task: Task) -> bool:
    return isinstance(task.request.get("review"), dict)


def reviewers(task: Task) -> list[str]:
    """The channel's reviewers when the task was recorded."""
    review = task.request.get("review") or {}
    return [str(u) for u in review.get("reviewers") or ()]


def is_result(item: Item) -> bool:
    """An item with a file among its outputs: an image to look at and decide on."""
    return item.status == "done" and any(o.get("kind") not in TEXT_KINDS for o in item.outputs)


def with_review(work: Work, here: ChannelConfig) -> Work:
    """``work`` marked for review when its channel (``here``) has review on and it makes
    images; the reviewers are taken as they are now (a later change does not move it)."""
    if not here.review or work.operation not in REVIEWED_OPERATIONS:
        return work
    return replace(work, request={**work.request, "review": {"reviewers": list(here.reviewers)}})


def result_label(task: Task, index: int) -> tuple[str, str | None]:
    """How a card names result ``index``: its image's name, and its language in a task
    of several languages."""
    item = task.items[index]
    name = item.meta.get("name") or PurePosixPath(urlsplit(item.source).path).name or "image"
    several = len(task.request.get("targets") or ()) > 1
    return str(name), str(item.meta.get("target")) if several else None


def reviewable(task: Task) -> list[int]:
    """The indexes of the task's items that wait on a card (finished, with a file)."""
    return [i for i, item in enumerate(task.items) if is_result(item)]


async def decisions(store: TaskStore, task_id: str, indexes: Iterable[int]) -> dict[int, Decision]:
    """The decisions taken so far on ``indexes`` of ``task_id``."""
    found: dict[int, Decision] = {}
    for index in indexes:
        decision = Decision.from_json(await store.get_setting(REVIEWS, f"{task_id}:{index}"))
        if decision is not None:
            found[index] = decision
    return found


async def decide(store: TaskStore, task_id: str, index: int, decision: Decision) -> Decision | None:
    """Record ``decision`` on image ``index`` unless one was taken already; returns the
    earlier decision in that case (the first word stands), else None."""
    key = f"{task_id}:{index}"
    earlier = Decision.from_json(await store.get_setting(REVIEWS, key))
    if earlier is not None:
        return earlier
    await store.put_setting(REVIEWS, key, decision.to_json())
    return None

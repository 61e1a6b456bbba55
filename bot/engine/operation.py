"""What an operation is: one kind of provider work, as the engine drives it.

An operation (``bot/engine/operations/…``) submits a task's work to its provider and
takes in its status; the engine (``bot/engine/work.py``) does everything else — the
parent message, retries, uploads, the one closing message — and never imports an
operation: ``bot/wiring.py`` builds the registry (operation name → ``Operation``).

``Operation`` is a base class rather than a Protocol: the three methods every operation
writes (``parent_text``, ``submit``, ``poll``) are abstract, and every optional hook is
declared here with the default the engine relies on. The engine calls each hook
directly; an operation overrides only what it changes. The hooks:

=========================  =============================================================
``needs_thread``           results go in the thread of a parent message (default True)
``poll_key``               tasks with the same key share one batched status round
                           (default None: each task is polled in its own step)
``noun``                   what an item is called in the closing message ("image")
``poll_floor(task)``       the shortest wait between polls, e.g. while a provider
                           callback will say when the work is done (default 0)
``final_text(task)``       the closing message of a task delivered, or failed because
                           no item could be translated; None: the answer itself was the
                           last word (default: "Done — …", none for a task without a
                           thread)
``fetch(output)``          the bytes of an output marked ``"fetch"``, which only the
                           provider can hand over (signed calls); default: none can be
``unreadable(output, e)``  an output refused (``DownloadRefused``) or lost for good (a
                           permanent ``DownloadFailed``): the record kept in its place,
                           the item still done; default None: the item fails
``refinable(task)``        (index, name) of each result Xiangji's editor can open, for
                           the Refine buttons (default: none)
=========================  =============================================================

Below the class, the small item helpers operations share, and the targets: a task may
translate into several languages (``request["targets"]``, ``[{"lang", "code"}, …]`` in
the asked order, with ``request["target"]``/``["target_code"]`` the first). Its items
are then source-major — for each input, one item per language, each naming its own in
``meta["target"]``/``meta["target_code"]`` — and every operation asks ``item_target``
what an item is translated into. A task of one target has neither.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from bot.core import messages
from bot.core.fetch import DownloadFailed, DownloadRefused
from bot.core.tasks import Item, State, Task


class Operation(ABC):
    """One kind of provider work; see the module docstring for the hooks."""

    provider: str  # "xiangji", "alibaba", … (names the provider in failure messages)
    needs_thread: bool = True
    poll_key: str | None = None
    noun: str = "image"

    @abstractmethod
    def parent_text(self, task: Task) -> str:
        """The parent message whose thread gets the results."""

    @abstractmethod
    async def submit(self, task: Task, now: float) -> Task:
        """Send the work; return the task SUBMITTED (the provider works on it), SUCCEEDED
        (answered at once), or still QUEUED with one more item sent: the engine saves it
        and calls again, so a restart never sends an item twice."""

    @abstractmethod
    async def poll(self, tasks: Sequence[Task], now: float) -> list[Task]:
        """One status round for ``tasks`` (batched where the provider allows), in their
        order: items that finished carry their outputs, the rest stay pending."""

    def final_actions(self, task: Task) -> list[dict[str, Any]]:
        """Blocks added to a delivered task's closing message (a catalogue's Retry failed)."""
        return []

    #: The parent message shows the work's progress itself (``parent_text``): the engine
    #: edits it whenever that text changes, rather than appending "k of N done".
    live_progress: bool = False

    def poll_floor(self, task: Task) -> float:
        return 0.0

    def final_text(self, task: Task) -> str | None:
        if task.state is State.DELIVERED and not self.needs_thread:
            return None  # the answer (/translate's message) was the last word
        return closing_message(task, noun=self.noun)

    async def fetch(self, output: dict[str, Any]) -> bytes:
        raise DownloadFailed(f"{self.provider} hands over no files itself", permanent=True)

    def unreadable(
        self, output: dict[str, Any], error: DownloadRefused | DownloadFailed
    ) -> dict[str, Any] | None:
        return None

    def refinable(self, task: Task) -> list[tuple[int, str]]:
        return []


def closing_message(task: Task, *, noun: str = "image", engine: str | None = None) -> str:
    """ "Done — all 3 images translated", listing each item that failed and why; with
    several target languages, the count per language ("ko 2/2 · ja 1/2") and each
    failure with its language."""
    several = several_targets(task)
    failures = [
        messages.item_failure(
            i.meta.get("name") or i.source,
            i.error.get("code", "?"),
            i.error.get("message", ""),
            item_target(task, i)[0] if several else None,
        )
        for i in task.items
        if i.status == "failed" and i.error
    ]
    if several:
        counts = [
            (
                lang,
                sum(1 for i in of if i.status == "done"),
                len(of),
            )
            for lang in task_targets(task)
            if (of := [i for i in task.items if item_target(task, i)[0] == lang])
        ]
        return messages.done_by_language(
            task.id, source_count(task), counts, failures, noun=noun, engine=engine
        )
    delivered = sum(1 for i in task.items if i.status == "done")
    return messages.done(task.id, delivered, len(task.items), failures, noun=noun, engine=engine)


# --- items -------------------------------------------------------------------------------


def next_language_batch(task: Task) -> tuple[tuple[str, str], list[int]] | None:
    """The items not yet sent of the first language that has any: (its target, their
    indexes) — what one batch submission carries (None: everything was sent)."""
    unsent = [i for i, it in enumerate(task.items) if it.status == "pending" and not it.provider_id]
    if not unsent:
        return None
    target = item_target(task, task.items[unsent[0]])
    return target, [i for i in unsent if item_target(task, task.items[i]) == target]


def with_item(task: Task, index: int, item: Item) -> Task:
    items = list(task.items)
    items[index] = item
    return task.but(items=tuple(items))


def fail_item(item: Item, code: str, message: str) -> Item:
    return replace(item, status="failed", error={"code": code, "message": message})


def waiting(item: Item) -> bool:
    """Submitted and not finished: the provider has it."""
    return item.status == "pending" and bool(item.provider_id)


async def submit_one_by_one(
    task: Task, now: float, send: Callable[[Task, int], Awaitable[Item]]
) -> Task:
    """One item per call (``send`` returns it submitted or failed): QUEUED while items
    are left — the engine saves after each, so a restart never sends one twice — then
    SUBMITTED, or SUCCEEDED when the provider refused every item."""
    index = next(
        (i for i, it in enumerate(task.items) if it.status == "pending" and not it.provider_id),
        None,
    )
    if index is not None:
        task = with_item(task, index, await send(task, index))
    if any(i.status == "pending" and not i.provider_id for i in task.items):
        return task.but(updated_at=now)
    if any(waiting(i) for i in task.items):
        return task.to(State.SUBMITTED, now)
    return task.to(State.SUCCEEDED, now)


# --- targets -----------------------------------------------------------------------------


def item_target(task: Task, item: Item) -> tuple[str, str]:
    """The language ``item`` is translated into and its provider code: the item's own
    (``meta["target"]``, ``meta["target_code"]``) in a task of several targets, else the
    request's (a single-target task, or one stored before targets existed)."""
    lang = item.meta.get("target")
    if lang:
        return str(lang), str(item.meta.get("target_code") or task.request.get("target_code"))
    return str(task.request.get("target", "")), str(task.request.get("target_code", ""))


def task_targets(task: Task) -> list[str]:
    """The languages ``task`` translates into, in the asked order (one for most tasks)."""
    targets = task.request.get("targets")
    if targets:
        return [str(t["lang"]) for t in targets]
    target = task.request.get("target")
    return [str(target)] if target else []


def several_targets(task: Task) -> bool:
    """``task`` translates into more than one language (its items are per language)."""
    return len(task.request.get("targets") or ()) > 1


def source_count(task: Task) -> int:
    """How many inputs (images, documents, texts) ``task`` has, whatever the number of
    target languages: its items, or with several targets, those of the first language."""
    return len(sources_once(task))


def sources_once(task: Task) -> list[Item]:
    """Each input of ``task`` once: with several targets, the first item of each run of
    one source's languages (source-major, each run in the asked order — a pair left out,
    such as a text not translated into its own language, shortens a run, and a URL given
    twice is two inputs)."""
    if not several_targets(task):
        return list(task.items)
    order = {lang: n for n, lang in enumerate(task_targets(task))}
    firsts: list[Item] = []
    previous = len(order)
    for item in task.items:
        position = order.get(item_target(task, item)[0], len(order))
        if position <= previous or not firsts:
            firsts.append(item)
        previous = position
    return firsts

"""The console's review buttons: ``approve [TASK] [N]`` and ``reject [TASK] [N]`` press
Approve or Reject on a result's card (``/tolk config review on``), as the person at the
console."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sandbox.workspaces import ConsoleError

APPROVE, REJECT = "tolk_review_approve", "tolk_review_reject"


def review_card(message: dict[str, Any]) -> bool:
    return any(str(b.get("block_id", "")).startswith("review:") for b in _blocks(message))


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks") or []
    return [b for b in blocks if isinstance(b, dict)]


class ReviewCommands:
    """Mixed into ``sandbox.console.Console``, whose methods these use."""

    replies: Callable[[], list[dict[str, Any]]]
    press: Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]

    async def decide(self, words: list[str], *, approve: bool) -> None:
        """Approve or reject result ``N`` of ``TASK`` (default: the first card still
        waiting, in the newest thread that has one)."""
        task = next((w.upper() for w in words if not w.isdigit()), "")
        number = next((int(w) for w in words if w.isdigit()), None)
        wanted = APPROVE if approve else REJECT
        for message in self.replies():  # oldest first: the first card still waiting
            for block in _blocks(message):
                kind, _, value = str(block.get("block_id", "")).partition(":")
                task_id, _, index = value.partition(":")
                if kind != "review" or task not in ("", task_id):
                    continue
                if number is not None and index != str(number - 1):
                    continue
                for element in block.get("elements") or ():
                    if element.get("action_id") == wanted:
                        await self.press(message, element)
                        return
        raise ConsoleError(
            "no result waits for review here; turn it on with `/tolk config review on`, "
            "then translate an image"
        )

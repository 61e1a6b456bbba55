"""What a task's request carries of the workspace's brand guard, fixed when the work is
recorded (``within_spend`` calls ``with_glossary`` first): a snapshot of the glossary
(``bot.core.glossary``), so a task does what the glossary said when it was asked for,
whatever changes after.

``request["glossary"]`` is a list of ``{"term", "translation", "lang"}``: for a text
(``/translate``, a message's text) the entries whose term occurs in it; for anything with
images — whose text Tolk cannot read before the provider does — every entry. An empty
glossary leaves the request as it is.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.mrkdwn import unescape
from bot.core.spend import Work
from handlers.ports import TaskDesk

TEXT_OPERATION = "xiangji.translate_text"
MESSAGE_OPERATION = "xiangji.translate_message"


async def with_glossary(desk: TaskDesk, work: Work) -> Work:
    """``work`` with its glossary snapshot (see the module docstring)."""
    glossary = await desk.glossary(work.place.team)
    if not glossary:
        return work
    if work.operation == TEXT_OPERATION or (
        work.operation == MESSAGE_OPERATION
        and all(item.meta.get("kind") == "text" for item in work.items)
    ):
        texts = [item.source for item in work.items]
    else:
        texts = None
    if texts is None:
        snapshot = glossary.snapshot_all()
    else:  # as Slack sent it, and with its escaping undone (A &amp; B is A & B)
        snapshot = glossary.snapshot_for_text("\n".join(t for s in texts for t in (s, unescape(s))))
    return replace(work, request={**work.request, "glossary": snapshot})

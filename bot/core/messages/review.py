"""Review (``/tolk config review on``): the card each result waits on, what a decision
turns it into, the parent's count, the closing summary, and the refusals."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.core.messages._common import typed
from bot.core.messages.refine import refine_elements
from bot.core.mrkdwn import clip, escape

REVIEW_APPROVE = "tolk_review_approve"
REVIEW_REJECT = "tolk_review_reject"


def _what(index: int, total: int, name: str, target: str | None) -> str:
    into = f" · {escape(target)}" if target else ""
    where = f"{index + 1} of {total} · " if total > 1 else ""
    return f"{where}{escape(name)}{into}"


def review_pair_comment(index: int, total: int, name: str, target: str | None) -> str:
    """The comment on the message holding the original and the translation."""
    return f":mag: For review — {_what(index, total, name, target)}: the original, then the translation."


def review_single_comment(index: int, total: int, name: str, target: str | None) -> str:
    """The comment when the original could not be fetched again: the translation alone."""
    return (
        f":mag: For review — {_what(index, total, name, target)}: the translation "
        "(the original is in the request above)."
    )


def _deciders(requester: str, reviewers: Sequence[str]) -> str:
    people = [f"<@{requester}>", *(f"<@{u}>" for u in reviewers if u != requester)]
    return ", ".join(people) + " or an admin"


def review_card(
    task_id: str,
    index: int,
    total: int,
    name: str,
    target: str | None,
    requester: str,
    reviewers: Sequence[str],
    refine: Sequence[tuple[int, str]] = (),
) -> tuple[str, list[dict[str, Any]]]:
    """The card under a result: Approve / Reject (and Refine when the editor can open it)."""
    what = _what(index, total, name, target)
    text = f"*Review* {what} — approve it to ship it, reject it, or refine it first."
    value = f"{task_id}:{index}"
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": REVIEW_APPROVE,
            "style": "primary",
            "value": value,
            "text": {"type": "plain_text", "text": "Approve"},
        },
        {
            "type": "button",
            "action_id": REVIEW_REJECT,
            "style": "danger",
            "value": value,
            "text": {"type": "plain_text", "text": "Reject"},
        },
        *refine_elements(task_id, refine),
    ]
    who = f"Who decides: {_deciders(requester, reviewers)} · task `{task_id}`"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": who}]},
        {"type": "actions", "block_id": f"review:{value}", "elements": buttons},
    ]
    return text, blocks


def _when(at: float) -> str:
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
    return f"<!date^{int(at)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def review_decided_card(
    index: int, total: int, name: str, target: str | None, decision: str, by: str, at: float
) -> tuple[str, list[dict[str, Any]]]:
    """The card once decided: who decided what, and when; no buttons left."""
    mark = ":white_check_mark: Approved" if decision == "approved" else ":x: Rejected"
    text = f"{mark} — {_what(index, total, name, target)}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"by <@{by}> · {_when(at)}"}],
        },
    ]
    return text, blocks


def review_progress(approved: int, rejected: int, total: int) -> str:
    """The parent's count: ``2 of 5 approved`` (and how many were rejected)."""
    line = f"{approved} of {total} approved"
    return f"{line} · {rejected} rejected" if rejected else line


def review_summary(
    decided: Sequence[tuple[str, str, str]], undecided: Sequence[str], total: int
) -> str:
    """The closing message's review part. ``decided``: (what, decision, by) per result,
    in order; ``undecided``: results nobody decided before the review closed."""
    approved = [d for d in decided if d[1] == "approved"]
    lines = [f"*Review:* {len(approved)} of {total} approved."]
    lines += [
        f"• {what} — {'approved' if d == 'approved' else 'rejected'} by <@{by}>"
        for what, d, by in decided
    ]
    lines += [f"• {what} — not reviewed in time (not approved)" for what in undecided]
    return clip("\n".join(lines), 2900)


def review_item(index: int, total: int, name: str, target: str | None) -> str:
    return _what(index, total, name, target)


def review_not_yours(task_id: str, requester: str, reviewers: Sequence[str]) -> str:
    return (
        f"Only {_deciders(requester, reviewers)} may decide on the results of task "
        f"`{task_id}`. A channel's reviewers are set with `/tolk config reviewers @a @b`."
    )


def review_already(decision: str, by: str) -> str:
    return f"That result was {decision} already, by <@{by}>: the first decision stands."


def review_closed(task_id: str) -> str:
    return f"Task `{task_id}` is closed: its review is over, so nothing changed."


def reviewers_shown(reviewers: Sequence[str]) -> str:
    return ", ".join(f"<@{u}>" for u in reviewers) if reviewers else "none (requester or an admin)"


def review_on_off(usage: str) -> str:
    return (
        "Write `/tolk config review on` (each image result waits for Approve or Reject) "
        f"or `/tolk config review off`.\n{usage}"
    )


def reviewers_need_mentions(word: str, usage: str) -> str:
    """``reviewers`` takes people by mention (Slack sends their ids), up to 20, or none."""
    what = f"`{escape(typed(word))}` is not a mention of a person. " if word else ""
    return (
        f"{what}Name the reviewers by mentioning them: `/tolk config reviewers @ana @bo` "
        "(up to 20), or `/tolk config reviewers none`.\n" + usage
    )


def review_admins_only() -> str:
    return (
        "Only a workspace admin or owner may change review or reviewers "
        "(or the people in `TOLK_ADMINS`, when it is set)."
    )

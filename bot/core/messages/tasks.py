"""``/tolk tasks``, ``cancel`` and ``retry``, and the answers every command can give
before it starts (a duplicate request, a busy store).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.messages._common import duration


def ack_duplicate(task_id: str, state: str) -> str:
    return f"That request is already task `{task_id}` ({state})."


def try_again() -> str:
    return (
        ":hourglass: Tolk could not record that just now (its store is busy) and did nothing. "
        "Please send it again in a moment."
    )


def needs_task_id(action: str) -> str:
    return f"Say which task, e.g. `/tolk {action} T7Q2K` (the id is in the task's first message)."


def task_list(rows: Sequence[tuple[str, str, str, str, float]]) -> str:
    """``rows``: (task id, what, state, user, age in seconds)."""
    if not rows:
        return "No pending tasks in this channel."
    lines = [
        f"• `{tid}` {what} — {state}, {duration(age)} old, for <@{user}>"
        for tid, what, state, user, age in rows
    ]
    return f"*Pending tasks here ({len(rows)})*\n" + "\n".join(lines)


def no_such_task(task_id: str) -> str:
    return f"There is no task `{task_id}` in this channel. `/tolk tasks` lists the pending ones."


def cannot_cancel(task_id: str, state: str) -> str:
    return f"Task `{task_id}` is already {state}; there is nothing to cancel."


def cancelling(task_id: str) -> str:
    return f"Cancelling task `{task_id}`."


def cannot_retry(task_id: str, state: str) -> str:
    return f"Task `{task_id}` is {state}; only failed, expired or cancelled tasks can be retried."


def retrying(old_id: str, new_id: str) -> str:
    return f"Retrying task `{old_id}` as task `{new_id}`."


def not_yours_to_change(task_id: str, action: str, owner: str, admins: Sequence[str]) -> str:
    """Cancel or retry refused: who may do it — the requester, and the Tolk admins
    (``TOLK_ADMINS``) or, without that list, the workspace's admins and owners."""
    if admins:
        names = ", ".join(f"<@{a}>" for a in sorted(admins))
        others = f"a Tolk admin ({names})"
    else:
        others = "a workspace admin or owner"
    return (
        f"Only the person who started task `{task_id}` (<@{owner}>) or {others} can "
        f"{action} it. Nothing was changed."
    )

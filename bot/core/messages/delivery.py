"""Where Tolk cannot post: the results then go to the person's direct messages, told
through the command's ``response_url`` (``bot/engine/delivery.py``).
"""

from __future__ import annotations

from bot.core.mrkdwn import escape

_WHY_NOT = {
    "channel_not_found": "it was never invited there",
    "not_in_channel": "it is not a member there",
    "is_archived": "the channel is archived",
    "thread_not_found": "the thread's first message was deleted",
    "user_not_in_channel": "you are not in that channel any more",
}


def _why_not(code: str) -> str:
    return _WHY_NOT.get(code, f"Slack said `{escape(code)}`")


def cannot_post(code: str) -> str:
    return f"Tolk cannot post there ({_why_not(code)})"


def moved_parent(task_id: str, origin: str, code: str, what: str) -> str:
    """The first message of a task's results in the person's DM with Tolk."""
    about = f"\n{what}" if what else ""
    return (
        f":mailbox_with_mail: Tolk cannot post in <#{origin}> ({_why_not(code)}), so the results "
        f"of task `{task_id}` come here.{about}\nTo get them in the channel next time, type "
        "`/invite @Tolk` there."
    )


def moved_notice(task_id: str, origin: str, code: str) -> str:
    """Told only to the person, in the channel, through the command's response_url."""
    return (
        f":mailbox_with_mail: Tolk cannot post here ({_why_not(code)}), so the results of task "
        f"`{task_id}` go to your direct messages with Tolk. To get them here, type "
        "`/invite @Tolk` in this channel."
    )


def cannot_post_anywhere(task_id: str, origin: str, code: str) -> str:
    return (
        f":x: Task `{task_id}` stopped: Tolk cannot post in <#{origin}> ({_why_not(code)}) "
        "and could not open a direct message with you. Type `/invite @Tolk` in the channel, "
        f"then `/tolk retry {task_id}`."
    )

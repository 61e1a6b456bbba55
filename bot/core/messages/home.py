"""The App Home tab (``handlers/slack/home.py``): a person's tasks, the quota left,
their channels' settings and, for admins, the workspace's provider keys
(``provider_keys``), kept within Slack's limits (100 blocks, 3,000 characters a section).
The Home tab may name the quota.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.channels import ChannelConfig, Route
from bot.core.messages._common import duration, engine_note, language

HOME_MAX_BLOCKS = 100  # Slack's limit for a Home tab view
HOME_MAX_SECTION = 3000  # characters in one section's text


def home_task_line(
    task_id: str,
    what: str,
    state: str,
    age: float,
    channel: str,
    link: str | None,
    removed: bool = False,
) -> str:
    """One task on the Home tab: id, what, state, age, where, and a link to its thread."""
    where = f"<#{channel}> · <{link}|open thread>" if link else f"<#{channel}>"
    note = " · results removed" if removed else ""
    return f"• `{task_id}` {what} — {state}, {duration(age)} ago · {where}{note}"


def home_review_line(task_id: str, waiting: int, channel: str, link: str | None) -> str:
    """A task whose results wait for the reader's decision."""
    where = f"<#{channel}> · <{link}|open thread>" if link else f"<#{channel}>"
    what = "1 result waits" if waiting == 1 else f"{waiting} results wait"
    return f"• `{task_id}` — {what} for Approve or Reject · {where}"


def home_quota_lines(quota: dict[str, int | None] | None) -> str:
    if quota is None:
        return "Quota not available."
    if not quota:
        return "No service with a quota is configured."
    return "\n".join(
        f"• {name}: {left:,} left" if left is not None else f"• {name}: unknown right now"
        for name, left in sorted(quota.items())
    )


def _home_route(route: Route | None, what: str) -> str:
    if route is None:
        return f"{what} off"
    via = f" via {route.provider}" if route.provider else ""
    engine = engine_note(route.engine)
    return f"{what} {language(route.source)}→{route.target}{via}{engine}"


def home_channel_line(channel: str, config: ChannelConfig, default_threshold: int) -> str:
    """One channel's settings on the Home tab: default languages, auto-translation, alerts."""
    defaults = config.defaults
    languages = (
        f"defaults {language(defaults.source)}→{defaults.target}"
        if defaults
        else "no default languages"
    )
    threshold = (
        f"alert below {config.quota_threshold:,}"
        if config.quota_threshold is not None
        else f"alert below {default_threshold:,} (default)"
    )
    parts = [
        languages,
        _home_route(config.auto_images, "auto-translate images"),
        _home_route(config.auto_docs, "auto-translate documents"),
        threshold,
    ]
    return f"• <#{channel}>: " + " · ".join(parts)


def _home_sections(title: str, lines: Sequence[str], empty: str) -> list[dict[str, Any]]:
    """``title`` and ``lines`` as mrkdwn sections, each under Slack's 3,000 characters."""
    if not lines:
        lines = [empty]
    blocks: list[dict[str, Any]] = []
    text = f"*{title}*"
    for line in lines:
        line = line if len(line) < HOME_MAX_SECTION else line[: HOME_MAX_SECTION - 2] + "…"
        if len(text) + 1 + len(line) > HOME_MAX_SECTION:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            text = line
        else:
            text = f"{text}\n{line}"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks


def home_view(
    *,
    pending: Sequence[str],
    recent: Sequence[str],
    quota: str,
    channels: Sequence[str],
    updated_at: float,
    keys: Sequence[dict[str, Any]] = (),
    review: Sequence[str] = (),
) -> dict[str, Any]:
    """The Home tab: lines from ``home_task_line``, ``home_quota_lines``, ``home_channel_line``;
    ``keys``, for an admin, the blocks of ``provider_keys_home`` (last, and never cut)."""
    stamp = int(updated_at)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your Tolk tasks"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Updated <!date^{stamp}^{{date_short_pretty}} at {{time}}|just now> · "
                    "`/tolk help` lists the commands",
                }
            ],
        },
        *(
            [
                *_home_sections(f"Waiting for your review ({len(review)})", review, ""),
                {"type": "divider"},
            ]
            if review
            else []
        ),
        *_home_sections(
            f"Pending ({len(pending)})",
            pending,
            "Nothing pending. Try `/translate-image zh>ko https://example.com/a.jpg`.",
        ),
        {"type": "divider"},
        *_home_sections(f"Recent ({len(recent)})", recent, "No finished tasks yet."),
        {"type": "divider"},
        *_home_sections("Quota left", [quota], ""),
        {"type": "divider"},
        *_home_sections(
            "Settings of your channels", channels, "You have no tasks in any channel yet."
        ),
    ]
    room = HOME_MAX_BLOCKS - len(keys)
    if len(blocks) > room:
        more = {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "More is not shown here; `/tolk tasks` lists a channel's pending tasks.",
                }
            ],
        }
        blocks = [*blocks[: room - 1], more]
    return {"type": "home", "blocks": [*blocks, *keys]}

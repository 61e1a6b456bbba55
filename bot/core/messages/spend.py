"""Spend before it goes (``bot.core.spend``): the estimate with Go and Cancel, what
becomes of it, monthly limits refused and shown, and ``/tolk config confirm-over`` and
``limit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core import spend as _spend
from bot.core.channels import ChannelConfig
from bot.core.messages._common import engine_label, typed
from bot.core.mrkdwn import escape, sections
from bot.core.spend import Use, confirm_over, month_name

#: The buttons of an estimate (their value is the id of the request waiting for Go).
SPEND_GO = "tolk_spend_go"
SPEND_CANCEL = "tolk_spend_cancel"

SPEND_USAGE = (
    "Usage: `/tolk config confirm-over N` (ask before work over N images or N×400 "
    "characters; `N images` or `N chars` sets one of them; `default` goes back to 50 "
    "images or 20,000 characters) · `/tolk config limit images N/month` · "
    "`/tolk config limit characters N/month` · `/tolk config limit images off`."
)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _admins(admins: Sequence[str], fallback: str) -> str:
    if not admins:
        return fallback
    return "Tolk admins (" + ", ".join(f"<@{a}>" for a in sorted(admins)) + ")"


def spend_what(images: int, characters: int, targets: Sequence[str]) -> str:
    """ "60 images and 1,200 characters of text into ko, ja, en"."""
    parts = []
    if images:
        parts.append(_count(images, "image"))
    if characters:
        parts.append(_count(characters, "character") + " of text")
    into = f" into {escape(', '.join(targets))}" if targets else ""
    return " and ".join(parts or ["nothing"]) + into


def _credits(service: str) -> str:
    """A Xiangji quota service's credits as the estimate names them."""
    if service == _spend.TEXT_SERVICE:
        return "text credits"
    if service.startswith("image translation"):
        engine = service.removeprefix("image translation").strip(" ()")
        return f"image credits ({engine})" if engine and engine != "Aliyun" else "image credits"
    return f"{service} credits"


def spend_credit(service: str, low: int, high: int, left: int | None) -> str:
    """What work takes from one Xiangji quota: "~480 image credits of 12,300 left"
    (``left``: the last reading; None when there is none)."""
    amount = f"~{low:,}" if low == high else f"~{low:,}–{high:,}"
    tail = f" of {left:,} left" if left is not None else " (no quota reading yet)"
    return f"{amount} {escape(_credits(service))}{tail}"


def spend_text_factor(engine: str, low: float, high: float) -> str:
    """ "Google-engine text counts 3–4.5×"."""
    return f"{escape(engine_label(engine))}-engine text counts {low:g}–{high:g}×"


def spend_alibaba(images: int) -> str:
    return f"{_count(images, 'image')} on Alibaba Cloud's account"


def spend_month_left(service: str, limit: int, used: int, month: str) -> str:
    """A monthly limit on the estimate (``month``: "May 2025")."""
    return (
        f"This channel in {escape(month)}: {max(0, limit - used):,} of {limit:,} "
        f"{escape(service)} left"
    )


def spend_estimate(
    user: str,
    what: str,
    costs: Sequence[str],
    month_left: Sequence[str],
    images: int,
    characters: int,
) -> str:
    """The estimate a request over ``confirm-over`` (``images``, ``characters``) waits
    with: who asked for what (``spend_what``), what it takes from each Xiangji quota
    (``spend_credit``, ``spend_text_factor``; joined "; "), what the channel has left
    this month (``spend_month_left``), and how to go on."""
    lines = [f":raised_hand: *Before this starts* — <@{user}> asked for {what}."]
    if costs:
        lines.append("; ".join(costs))
    lines += list(month_left)
    lines.append(
        f"This channel asks first above {images:,} images or {characters:,} characters. "
        f"Nothing has started: *Go* starts it, *Cancel* drops it (<@{user}> or an admin). "
        "The buttons wait 24 h."
    )
    return "\n".join(lines)


def spend_card(hold_id: str, text: str) -> list[dict[str, Any]]:
    """The estimate with its Go and Cancel buttons (``hold_id``: Tolk's own random id)."""
    return [
        *sections(text),
        {
            "type": "actions",
            "block_id": "tolk_spend",
            "elements": [
                {
                    "type": "button",
                    "action_id": SPEND_GO,
                    "text": {"type": "plain_text", "text": "Go"},
                    "style": "primary",
                    "value": hold_id,
                },
                {
                    "type": "button",
                    "action_id": SPEND_CANCEL,
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "value": hold_id,
                },
            ],
        },
    ]


def spend_waiting(images: int, characters: int) -> str:
    """The command's answer while its estimate waits in the channel."""
    return (
        f":raised_hand: Nothing has started yet: this channel asks first above {images:,} "
        f"images or {characters:,} characters. The estimate is in the channel — press "
        "*Go* there to start it, or *Cancel*."
    )


def spend_still_waiting() -> str:
    return "That request is already waiting for *Go* on its estimate; nothing has started."


def spend_unposted(text: str) -> str:
    """The estimate where Tolk could not post its buttons (and the answer takes no blocks)."""
    return (
        f"{text}\nTolk cannot post in this conversation, so there are no buttons here: "
        "invite Tolk (`/invite @Tolk`) and send it again, or send less at a time."
    )


def spend_started(user: str, task_id: str, what: str) -> str:
    return f":white_check_mark: Started by <@{user}>: task `{task_id}` — {what}."


def spend_cancelled(user: str, what: str) -> str:
    return f":no_entry_sign: Cancelled by <@{user}> — nothing was started ({what})."


def spend_gone() -> str:
    return (
        "This estimate has expired (after 24 h) or was answered already; nothing more was "
        "started. Send the request again if it is still wanted."
    )


def spend_answered(state: str | None, user: str | None, task_id: str | None) -> str:
    """Someone pressed a button of an estimate ``user`` answered already (``state``:
    started — as ``task_id`` — or cancelled)."""
    by = f"<@{user}>" if user else "someone"
    if state == "started":
        return f"Already started by {by}: task `{task_id or '?'}`. Nothing more was started."
    if state == "cancelled":
        return f"Already cancelled by {by}; nothing was started."
    return "This estimate was answered already; nothing more was started."


def spend_not_yours(user: str, admins: Sequence[str]) -> str:
    """A press by someone other than ``user``, who asked, and the admins."""
    others = _admins(admins, "a workspace admin or owner").replace("Tolk admins", "a Tolk admin")
    return f"Only <@{user}>, who asked for this, or {others} can press Go or Cancel."


def spend_over_limit(
    service: str, asked: int, left: int, limit: int, month: str, admins: Sequence[str]
) -> str:
    """Work refused because it would go past the channel's monthly limit of ``service``
    (``month``: "May 2025")."""
    who = _admins(admins, "Workspace admins and owners")
    return (
        f":no_entry: That would go past this channel's monthly limit: it needs "
        f"{asked:,} {escape(service)}, and {left:,} of {limit:,} are left in "
        f"{escape(month)} (UTC). Nothing was started. {who} can raise it with "
        f"`/tolk config limit {escape(service)} N/month`."
    )


def spend_settings(config: ChannelConfig, use: Use, month: str) -> str:
    """``/tolk config show``'s lines on spend: confirm-over, limits, this month's use."""
    images, characters = confirm_over(config)
    default = (
        " (default)" if config.confirm_images is None and config.confirm_characters is None else ""
    )
    lines = [f"• confirm-over: {images:,} images or {characters:,} characters{default}"]
    for service, limit, used in (
        ("images", config.limit_images, use.images),
        ("characters", config.limit_characters, use.characters),
    ):
        shown = f"{limit:,}/month" if limit is not None else "off"
        lines.append(f"• limit {service}: {shown} — {used:,} used in {month_name(month)}")
    return "\n".join(lines)


def spend_confirm_shown(images: int | None, characters: int | None) -> str:
    """How a changed ``confirm-over`` reads in the channel."""
    if images is None and characters is None:
        return f"the default ({_spend.CONFIRM_IMAGES:,} images or {_spend.CONFIRM_CHARACTERS:,} characters)"
    parts = []
    if images is not None:
        parts.append(f"{images:,} images")
    if characters is not None:
        parts.append(f"{characters:,} characters")
    return " or ".join(parts)


def spend_confirm_needs_number(value: str) -> str:
    """``confirm-over`` with something other than a whole number (and a unit)."""
    got = f" — not `{typed(value, 40)}`" if value else ""
    return (
        f"`confirm-over` needs a whole number of images{got}: e.g. "
        "`/tolk config confirm-over 50`, `confirm-over 30 images`, `confirm-over 8000 chars` "
        f"or `confirm-over default`.\n{SPEND_USAGE}"
    )


def spend_limit_needs_service(value: str) -> str:
    got = f", not `{typed(value, 40)}`" if value else ""
    return (
        f"`limit` needs `images` or `characters`{got}: e.g. "
        f"`/tolk config limit images 2000/month`.\n{SPEND_USAGE}"
    )


def spend_limit_needs_number(service: str, value: str) -> str:
    got = f" — not `{typed(value, 40)}`" if value else ""
    return (
        f"`limit {service}` needs a whole number per month or `off`{got}: e.g. "
        f"`/tolk config limit {service} {2000 if service == 'images' else 500000}/month` or "
        f"`/tolk config limit {service} off`.\n{SPEND_USAGE}"
    )


def spend_admins_only(admins: Sequence[str]) -> str:
    who = _admins(admins, "workspace admins and owners")
    return f"Only {who} can change what this channel may spend. `/tolk config show` shows it."

"""The Go and Cancel buttons of an estimate (``bot.core.spend``; the check that posts it
is ``handlers.slack.spending.within_spend``).

Work over a channel's ``confirm-over`` is not recorded: it waits, kept in the store's
settings under a random id (the buttons' value) for 24 h. Only the person who asked and
the admins (``TOLK_ADMINS``, else the workspace's admins and owners) may answer; anyone
else is told so, alone, and nothing changes. Go takes the request — one taker, whoever
presses at the same moment — checks the channel's monthly limits again, records the task
exactly as the command would have (its dedupe key: pressing twice is one task) and
counts it; Cancel drops it. Either way the estimate is updated to say who did what.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.mrkdwn import sections
from bot.core.spend import Held, month_name, month_of, over_limit, targets_of
from handlers import ports
from handlers.ports import TaskDesk
from handlers.slack.actions import pressed_where, tell
from handlers.slack.home import is_admin

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.action(messages.SPEND_GO)(on_press)
    app.action(messages.SPEND_CANCEL)(on_press)


async def on_press(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: dict[str, Any],
    respond: AsyncRespond,
) -> None:
    """Go or Cancel on an estimate (the button says which)."""
    go = action.get("action_id") == messages.SPEND_GO
    desk, slack, config = ports.desk(context), ports.slack(context), ports.config(context)
    user, channel, thread_ts = pressed_where(body)
    team = str(context.get("team_id") or (body.get("team") or {}).get("id") or "")
    hold_id = str(action.get("value") or "")
    book = desk.spend
    held = await book.held(hold_id)
    if held is None or held.team != team:  # expired, answered, or another workspace's
        outcome = await book.outcome(hold_id) if held is None else None
        await ack()
        if outcome is not None and outcome.get("team") == team:
            text = _answered(outcome)
        else:
            text = messages.spend_gone()
        await tell(slack, channel, user, thread_ts, text)
        return
    if user != held.user and not await is_admin(slack, config, user):
        await ack()
        text = messages.spend_not_yours(held.user, sorted(config.admins))
        await tell(slack, channel, user, thread_ts, text)
        return
    taken = await book.take(hold_id)
    if taken is None:  # answered by someone else this very moment
        outcome = await book.outcome(hold_id)
        await ack()
        text = _answered(outcome) if outcome else messages.spend_gone()
        await tell(slack, channel, user, thread_ts, text)
        return
    what = messages.spend_what(taken.images, taken.characters, targets_of(taken.work.request))
    if go:
        text = await _start(desk, taken, user, what, sorted(config.admins))
    else:
        await book.decide(hold_id, {"state": "cancelled", "by": user, "team": team})
        text = messages.spend_cancelled(user, what)
    await ack()
    await _update_card(slack, respond, body, text)


async def _start(desk: TaskDesk, held: Held, user: str, what: str, admins: list[str]) -> str:
    """Record the held work (its limits checked again: the month may have filled up
    since), count it, and say so; the request goes back if recording fails."""
    book, place = desk.spend, held.work.place
    try:
        async with book.lock:
            used = await book.used(place.team, place.channel)
            over = over_limit(await book.channel(place.channel), used, held.cost())
            if over is not None:
                await book.decide(held.id, {"state": "refused", "by": user, "team": held.team})
                month = month_name(month_of(book.now()))
                return messages.spend_over_limit(
                    over.service, over.asked, over.left, over.limit, month, admins
                )
            task, created = await desk.record(**held.work.record_args())
            if created:
                await book.count(place.team, place.channel, held.cost())
    except Exception:
        await book.put_back(held)
        raise
    outcome = {"state": "started", "by": user, "task": task.id, "team": held.team}
    await book.decide(held.id, outcome)
    return messages.spend_started(user, task.id, what)


def _answered(outcome: dict[str, Any]) -> str:
    return messages.spend_answered(outcome.get("state"), outcome.get("by"), outcome.get("task"))


async def _update_card(
    slack: AsyncWebClient, respond: AsyncRespond, body: dict[str, Any], text: str
) -> None:
    """The estimate, replaced by what became of it (its buttons gone): Tolk's own message
    by ``chat.update``; an ephemeral one (where Tolk could not post) through the press's
    ``response_url``."""
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if channel and ts and not container.get("is_ephemeral"):
        try:
            await slack.chat_update(channel=channel, ts=ts, text=text, blocks=sections(text))
            return
        except SlackApiError as exc:
            log.warning("could not update the estimate in %s: %s", channel, exc)
    if body.get("response_url"):
        try:
            await respond(text=text, blocks=sections(text), replace_original=True)
        except Exception as exc:  # the answer is given; the card keeps its buttons
            log.warning("could not replace the estimate through its response_url: %r", exc)

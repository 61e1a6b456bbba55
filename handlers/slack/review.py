"""Review (``/tolk config review on``): the Approve / Reject buttons on each result's
card (``bot.core.review.with_review`` marks work for review as it is recorded).

A decision is the requester's, a reviewer's (the channel's, when the task was recorded,
or now) or an admin's. It is recorded (who, when) before the card changes, the first
decision on a result stands, and the task is woken so the engine moves the parent's
count and, after the last decision, posts the final message.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core import messages
from bot.core.review import (
    APPROVED,
    REJECTED,
    Decision,
    result_label,
    reviewable,
    reviewers,
)
from bot.core.tasks import State
from handlers import ports
from handlers.slack.actions import pressed_where, tell
from handlers.slack.tolk import tolk_admin

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.action(messages.REVIEW_APPROVE)(on_decide)
    app.action(messages.REVIEW_REJECT)(on_decide)


async def on_decide(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> None:
    await ack()
    desk, slack, config = ports.desk(context), ports.slack(context), ports.config(context)
    user, channel, thread_ts = pressed_where(body)
    task_id, _, index_text = str(action.get("value") or "").partition(":")
    task = await desk.get(task_id)
    if task is None:
        await tell(slack, channel, user, thread_ts, messages.results_task_missing(task_id))
        return
    index = int(index_text) if index_text.isdigit() else -1
    if task.settled or task.state is not State.SUCCEEDED or index not in reviewable(task):
        await tell(slack, channel, user, thread_ts, messages.review_closed(task.id))
        return
    now_reviewers = (await desk.spend.channel(task.place.channel)).reviewers
    allowed = user == task.place.user or user in {*reviewers(task), *now_reviewers}
    if not allowed and not await tolk_admin(slack, config, user):
        text = messages.review_not_yours(task.id, task.place.user, reviewers(task))
        await tell(slack, channel, user, thread_ts, text)
        return
    verdict = APPROVED if action.get("action_id") == messages.REVIEW_APPROVE else REJECTED
    decision = Decision(verdict, user, desk.now())
    earlier = await desk.decide(task, index, decision)
    if earlier is not None:
        await tell(
            slack, channel, user, thread_ts, messages.review_already(earlier.decision, earlier.by)
        )
        decision = earlier
    log.info("task %s: result %s %s by %s", task.id, index + 1, decision.decision, decision.by)
    name, target = result_label(task, index)
    text, blocks = messages.review_decided_card(
        index, len(task.items), name, target, decision.decision, decision.by, decision.at
    )
    message_ts = (body.get("container") or {}).get("message_ts")
    if channel and message_ts:
        try:
            await slack.chat_update(channel=channel, ts=message_ts, text=text, blocks=blocks)
        except SlackApiError as exc:  # the decision stands; the card shows it next time
            log.warning("task %s: review card not updated: %s", task.id, exc)

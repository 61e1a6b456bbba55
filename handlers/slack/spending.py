"""Spend: the one check before work is recorded (``within_spend``), called by
``handlers.slack.common.record_task`` — see the section comment below."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core import messages
from bot.core.channels import ChannelConfig
from bot.core.review import REVIEWED_OPERATIONS, with_review
from bot.core.spend import (
    TEXT_SERVICE,
    Cost,
    Use,
    Work,
    confirm_over,
    cost_of,
    month_name,
    month_of,
    needs_go,
    over_limit,
    targets_of,
    text_factor,
)
from bot.core.tasks import Place, Task
from handlers import ports
from handlers.ports import SlackConfig, TaskDesk
from handlers.slack.guard import with_glossary
from handlers.slack.parsing import UsageError

log = logging.getLogger(__name__)


# --- spend: the one check before work is recorded -------------------------------------------
#
# Every path that records work a person asked for — commands, flags, the Translate… form,
# uploads — goes through ``record_task`` or ``record_message_work``, and both through
# ``within_spend``: work that would take the channel past a monthly limit is refused,
# work over the channel's confirm-over waits for Go (``bot.core.spend``), and nothing is
# recorded — no task, no provider call — until then. Their callers pass the desk and the
# configuration only, so the rest of the request's ports (the Slack client that posts the
# estimate, the quota's last reading) come from the request itself: ``bind_request``, a
# middleware ``handlers.slack.spend`` installs, keeps Bolt's context for the request.

_REQUEST: ContextVar[Mapping[str, Any] | None] = ContextVar("tolk_request", default=None)
#: Slack waits 3 s for an answer: the estimate's post must leave time for the rest.
CARD_SECONDS = 2.0


def bind_request(context: dict[str, Any]) -> None:
    """This request's context (its ports) for ``within_spend``, set by Tolk's middleware
    (``bot.app.InjectPorts``). Bolt runs the middleware, then the listener, all in the
    request's own task, so what is set here is what this request's listener sees; every
    request sets its own before any listener runs."""
    _REQUEST.set(context)


class SpendStop(UsageError):
    """Nothing was recorded: the work waits for Go, or a monthly limit refused it.

    ``str()`` is what a command answers. ``card`` (text, blocks): the estimate with its
    buttons when it could not be posted in the channel — a command's answer carries it
    then. Work that did not come from a command has been answered in Slack already."""

    def __init__(self, text: str, *, card: tuple[str, list[dict[str, Any]]] | None = None):
        super().__init__(text)
        self.card = card


async def within_spend(desk: TaskDesk, config: SlackConfig | None, work: Work) -> tuple[Task, bool]:
    """Record ``work`` unless a monthly limit refuses it or it must wait for Go
    (``SpendStop``); recorded work is counted in the channel's month."""
    work = await with_glossary(desk, work)  # the glossary as it is now, for this task
    if work.operation in REVIEWED_OPERATIONS:  # results wait for review there
        work = with_review(work, await desk.spend.channel(work.place.channel))
    cost = cost_of(work.operation, work.request, work.items)
    if not cost:
        return await desk.record(**work.record_args())
    book, place = desk.spend, work.place
    request = _REQUEST.get()
    config = config or (ports.config(request) if request else SlackConfig())
    async with book.lock:  # check, record and count: one request at a time
        earlier = await book.held_for(work.dedupe_key)
        if earlier is not None:  # this very request again (a redelivery, a second send)
            outcome = await book.outcome(earlier)
            if outcome is None:
                raise SpendStop(messages.spend_still_waiting())
            if outcome.get("state") != "started":
                raise SpendStop(
                    messages.spend_answered(outcome.get("state"), outcome.get("by"), None)
                )
            return await desk.record(**work.record_args())  # the task Go recorded
        here = await book.channel(place.channel)
        used = await book.used(place.team, place.channel)
        over = over_limit(here, used, cost)
        fits = over is None and not needs_go(here, cost)
        if fits:  # counted now; recorded (and written) outside the lock, with the others
            reserved = book.reserve(place.team, place.channel, cost)
        else:
            hold_id = await book.hold(work, cost) if over is None else ""
    if fits:
        try:
            task, created = await desk.record(**work.record_args())
        except BaseException:
            book.release(reserved, cost)
            raise
        if not created:  # this very request again: counted the first time
            book.release(reserved, cost)
        await book.flush()
        return task, created
    month = month_name(month_of(book.now()))
    if over is not None:
        text = messages.spend_over_limit(
            over.service, over.asked, over.left, over.limit, month, sorted(config.admins)
        )
        await _tell_requester(request, place, text)
        raise SpendStop(text)
    text = await _estimate(request, work, cost, here, used, month)
    raise await _post_estimate(request, place, text, hold_id, confirm_over(here))


async def _estimate(
    request: Mapping[str, Any] | None,
    work: Work,
    cost: Cost,
    here: ChannelConfig,
    used: Use,
    month: str,
) -> str:
    """The estimate: who asked for what, what it takes from each Xiangji quota (the
    quota's last reading: no provider is asked), what the channel has left this month."""
    quota = ports.quota(request) if request else None
    readings = await quota.last_reading() if quota else {}
    left = {s: int(r["left"]) for s, r in readings.items() if r.get("left") is not None}
    costs = [messages.spend_credit(s, low, high, left.get(s)) for s, low, high in cost.credits]
    low, high = text_factor(cost.text_engine)
    if cost.characters and high > 1:
        costs.append(messages.spend_text_factor(cost.text_engine or "", low, high))
    if cost.images and all(s == TEXT_SERVICE for s, _, _ in cost.credits):
        costs.append(messages.spend_alibaba(cost.images))  # no Xiangji quota
    month_left = [
        messages.spend_month_left(service, limit, spent, month)
        for service, limit, spent in (
            ("images", here.limit_images, used.images),
            ("characters", here.limit_characters, used.characters),
        )
        if limit is not None
    ]
    what = messages.spend_what(cost.images, cost.characters, targets_of(work.request))
    return messages.spend_estimate(work.place.user, what, costs, month_left, *confirm_over(here))


async def _post_estimate(
    request: Mapping[str, Any] | None,
    place: Place,
    text: str,
    hold_id: str,
    confirm: tuple[int, int],
) -> SpendStop:
    """Post the estimate with Go and Cancel where the work was asked for (its thread), as
    Tolk; where Tolk cannot post, a command's answer carries it, else the requester alone
    sees it. What the command answers."""
    blocks = messages.spend_card(hold_id, text)
    slack = ports.slack(request) if request else None
    if slack is not None:
        try:
            async with asyncio.timeout(CARD_SECONDS):
                await slack.chat_postMessage(
                    channel=place.channel, thread_ts=place.thread_ts, text=text, blocks=blocks
                )
            return SpendStop(messages.spend_waiting(*confirm))
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.info(
                "estimate not posted in %s (%s): answered to the requester", place.channel, exc
            )
    if place.response_url is None:  # not a command: the requester alone sees it
        await _tell_requester(request, place, text, blocks)
    return SpendStop(messages.spend_unposted(text), card=(text, blocks))


async def _tell_requester(
    request: Mapping[str, Any] | None,
    place: Place,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Work that did not come from a command (a flag, the form, an upload): tell whoever
    asked, where they asked. A command's answer says it instead."""
    if place.response_url is not None or request is None:
        return
    try:
        await ports.slack(request).chat_postEphemeral(
            channel=place.channel,
            user=place.user,
            text=text,
            blocks=blocks,
            thread_ts=place.thread_ts,
        )
    except SlackApiError as exc:
        log.warning("could not tell %s in %s about spend: %s", place.user, place.channel, exc)

"""A country-flag reaction on a message: its text and images are translated into that
country's language, in the message's thread. The same language on the same message
twice (``:us:`` then ``:gb:``, or a Slack retry) is one task."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.channels import load_channel
from bot.languages import LanguageError, language_for_flag, lookup
from bot.services import Services
from bot.tasks import Place
from handlers.common import fetch_message, message_items, message_request, record_task


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(on_reaction_added)


async def on_reaction_added(event: dict[str, Any], context: dict[str, Any]) -> None:
    services: Services = context["services"]
    item = event.get("item") or {}
    target = language_for_flag(event.get("reaction", ""))
    if target is None or item.get("type") != "message" or services.xiangji is None:
        return
    channel, ts, user = item["channel"], item["ts"], event.get("user", "")
    team = context.get("team_id") or ""
    key = f"reaction:{team}:{channel}:{ts}:{target.code}"
    message = await fetch_message(services, channel, ts)
    items = message_items(message) if message else ()
    if not items:
        await services.slack.chat_postEphemeral(
            channel=channel, user=user, text=messages.nothing_to_translate()
        )
        return
    defaults = (await load_channel(services.store, channel)).defaults
    try:
        request = message_request(
            lookup(defaults.source) if defaults and defaults.source else None,
            target,
            {"channel": channel, "ts": ts},
            has_images=any(i.meta.get("kind") == "file" for i in items),
            mode="reaction",
        )
    except LanguageError as exc:
        await services.slack.chat_postEphemeral(channel=channel, user=user, text=str(exc))
        return
    await record_task(
        services,
        dedupe_key=key,
        place=Place(team, channel, user, (message or {}).get("thread_ts") or ts),
        provider="xiangji",
        operation="xiangji.translate_message",
        request=request,
        items=items,
    )

"""A country-flag reaction on a message: its text, images and documents are translated
into that country's language, in the message's thread. The same language on the same
message twice (``:us:`` then ``:gb:``, or a Slack retry) is one task (and one document
task). A reaction an admin gave a language set (``/tolk config flag :earth_asia: sea``)
translates into every language of the set: one task, its items once per language (a text
is not translated into the language it is written in).

Source languages: the channel's default source (``/tolk config defaults SRC>TGT``), except
that a text clearly written in another script is read in that script's language
(``bot.core.languages.text_source``): an English message in a ``zh>en`` channel is translated
from English. Images keep the default (else zh). A text already in the flag's language is
left out. Documents go the way an upload to an auto-docs channel goes
(``handlers.slack.uploads.record_documents``), see ``document_route``. Images go through the
channel's auto-images engine when it names one, else the first configured engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.channels import ChannelConfig, Route
from bot.core.languages import Language, LanguageError, language_for_flag, lookup, provider_code
from bot.core.languages import text_source as read_text_source
from bot.core.tasks import Place
from handlers import ports
from handlers.ports import ChannelSettings, SlackConfig
from handlers.slack.common import (
    documents,
    fetch_message,
    message_engine,
    message_items,
    message_request,
    message_work,
    record_message_work,
)
from handlers.slack.parsing import UsageError
from handlers.slack.uploads import record_documents


def register(app: AsyncApp) -> None:
    app.event("reaction_added")(on_reaction_added)


async def on_reaction_added(event: dict[str, Any], context: dict[str, Any]) -> None:
    slack, config = ports.slack(context), ports.config(context)
    item = event.get("item") or {}
    if item.get("type") != "message":
        return
    team = context.get("team_id") or ""
    targets = await flag_targets(ports.channels(context), team, event.get("reaction", ""))
    if not targets:
        return
    target = targets[0]
    channel, ts, user = item["channel"], item["ts"], event.get("user", "")
    key = f"reaction:{team}:{channel}:{ts}:{'+'.join(t.code for t in targets)}"
    message = await fetch_message(slack, channel, ts)
    items = message_items(message) if message and config.xiangji else ()
    docs = documents(message) if message else []
    if not items and not docs:
        if config.xiangji:
            await _tell(slack, channel, user, messages.nothing_to_translate())
        return
    channel_config = await ports.channels(context).channel_config(channel)
    defaults = channel_config.defaults
    default = lookup(defaults.source) if defaults and defaults.source else None
    text = next((i for i in items if i.meta.get("kind") == "text"), None)
    text_source = read_text_source(default, text.source) if text else None
    if text is not None and targets == (text_source,):  # nothing to translate in the text
        items = tuple(i for i in items if i is not text)
        if not items and not docs:
            await _tell(slack, channel, user, messages.same_language(target.code))
            return
    place = Place(team, channel, user, (message or {}).get("thread_ts") or ts)
    origin = {"channel": channel, "ts": ts}
    if items:
        has_images = any(i.meta.get("kind") == "file" for i in items)
        wanted = channel_config.auto_images.engine if channel_config.auto_images else None
        try:
            request = message_request(
                default,
                targets,
                origin,
                has_images=has_images,
                mode="reaction",
                engine=message_engine(config, wanted) if has_images else None,
            )
        except (LanguageError, UsageError) as exc:
            await _tell(slack, channel, user, str(exc))
        else:
            if default is not None and text_source not in (None, default):
                request = {  # the text's own script beats the channel default; images keep it
                    **request,
                    "source": text_source.code,
                    "source_code": provider_code(text_source, "xiangji"),
                }
            request, work = message_work(request, items, targets, text_source=text_source)
            await record_message_work(ports.desk(context), key, place, request, work)
    if docs:
        route = document_route(config, channel_config, targets)
        problem = (
            route
            if isinstance(route, str)
            else await record_documents(
                ports.desk(context),
                config,
                route,
                place,
                docs,
                dedupe_key=f"{key}:documents",
                origin=origin,
            )
        )
        if problem:
            await _tell(slack, channel, user, messages.flag_documents_skipped(problem))


async def flag_targets(channels: ChannelSettings, team: str, reaction: str) -> tuple[Language, ...]:
    """The languages a reaction translates into: the workspace's language set when one is
    configured for it (``/tolk config flag :earth_asia: sea``), else a country flag's
    language, else none."""
    sets = await channels.language_sets(team)
    if (name := sets.flag_set(reaction)) is not None:
        return tuple(lookup(code) for code in sets.sets[name])
    lang = language_for_flag(reaction)
    return (lang,) if lang else ()


def document_route(
    config: SlackConfig, channel: ChannelConfig, targets: Sequence[Language]
) -> Route | str:
    """Where a flag sends a message's documents: the channel's auto-docs provider when it
    names one; else Rozetta when it can and Alibaba cannot (no ``TOLK_PUBLIC_URL`` to serve
    Slack files from) or no source is known (Rozetta detects it); else Alibaba. Source: the
    auto-docs setting's, else the channel default's; Alibaba with neither reads English
    (PRODUCT.md: documents are read as en where the provider cannot detect), and for an
    English target says how to name the source. A string is why nothing can be done; an
    unconfigured provider is said by ``record_documents``."""
    auto, defaults = channel.auto_docs, channel.defaults
    source = (auto.source if auto else None) or (defaults.source if defaults else None)
    if auto and auto.provider:
        provider = auto.provider
    else:
        alibaba = config.alibaba and config.public_url is not None
        provider = "rozetta" if config.rozetta and (not alibaba or source is None) else "alibaba"
    codes = [t.code for t in targets]
    if provider == "alibaba" and source is None and config.alibaba:
        if codes == ["en"]:
            return messages.flag_documents_need_source("en")
        source = "en"
        codes = [c for c in codes if c != "en"]  # of several, not English into English
    return Route(",".join(codes), source, provider)


async def _tell(slack: AsyncWebClient, channel: str, user: str, text: str) -> None:
    await slack.chat_postEphemeral(channel=channel, user=user, text=text)

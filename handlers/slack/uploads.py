"""Files posted in a channel set to auto-translate (``/tolk config auto-images on …``).

A route may name several targets (``/tolk config auto-images on zh>ko,ja``, kept as
``ko,ja``): one task per upload still, each file once per target.

One upload fires two events — ``message`` (subtype ``file_share``) and ``file_shared``.
The message event carries every file of the message, so it alone creates the task
(deduplicated on the message); ``file_shared`` is acknowledged and otherwise ignored, so
one upload is always one task.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.channels import Route
from bot.core.languages import Language, LanguageError, lookup
from bot.core.tasks import Place
from handlers import ports
from handlers.ports import ChannelSettings, SlackConfig, TaskDesk
from handlers.slack.catalogue import asks_for_catalogue, catalogue_files, record_catalogues
from handlers.slack.common import (
    check_targets,
    doc_request,
    document_items,
    documents,
    fan_out,
    message_engine,
    message_items,
    message_request,
    message_work,
    record_message_work,
    record_task,
    require_doc_provider,
)
from handlers.slack.parsing import UsageError


def register(app: AsyncApp) -> None:
    app.event({"type": "message", "subtype": "file_share"})(on_file_share)
    app.event("file_shared")(on_file_shared)
    app.event("message")(on_other_message)  # subscribed for uploads; everything else is ignored


async def on_file_share(event: dict[str, Any], context: dict[str, Any]) -> None:
    channel = event.get("channel", "")
    channels = ports.channels(context)
    here = await channels.channel_config(channel)
    sheets = catalogue_files(event)
    catalogue = bool(sheets) and (asks_for_catalogue(event) or here.auto_images is not None)
    if event.get("bot_id") or (
        here.auto_images is None and here.auto_docs is None and not catalogue
    ):
        return
    desk, config, slack = ports.desk(context), ports.config(context), ports.slack(context)
    ts = event["ts"]
    origin = {"channel": channel, "ts": ts}
    place = Place(
        team=context.get("team_id") or event.get("team", ""),
        channel=channel,
        user=event.get("user", ""),
        thread_ts=event.get("thread_ts") or ts,
    )
    if catalogue:  # a spreadsheet of images: one catalogue task per file, nothing else
        sets = dict((await channels.language_sets(place.team)).sets)
        problem = await record_catalogues(
            desk,
            config,
            place,
            event,
            sheets,
            route=here.auto_images,
            sets=sets,
            read=ports.files(context),
        )
        if problem:
            await _once(channels, slack, f"catalogue:{channel}:{ts}", place, problem)
        return
    docs = documents(event)
    if docs and here.auto_docs is not None:
        problem = await record_documents(
            desk,
            config,
            here.auto_docs,
            place,
            docs,
            dedupe_key=f"upload-docs:{place.team}:{channel}:{ts}",
            origin=origin,
        )
        if problem:
            await _once(channels, slack, f"docs:{channel}:{ts}", place, problem)
    items = tuple(i for i in message_items(event) if i.meta.get("kind") == "file")
    route = here.auto_images
    if not items or route is None or not config.xiangji:
        return
    try:
        targets = route_targets(route)
        request = message_request(
            lookup(route.source) if route.source else None,
            targets,
            origin,
            has_images=True,
            mode="upload",
            engine=message_engine(config, route.engine),
        )
    except (LanguageError, UsageError) as exc:  # valid when set; say so if not now
        await _once(channels, slack, f"bad-route:{channel}:{ts}", place, str(exc))
        return
    request, items = message_work(request, items, targets)
    await record_message_work(desk, f"upload:{place.team}:{channel}:{ts}", place, request, items)


def route_targets(route: Route) -> tuple[Language, ...]:
    """A route's target languages: one code, or several kept as ``ko,ja``."""
    return tuple(lookup(code) for code in route.target.split(","))


async def record_documents(
    desk: TaskDesk,
    config: SlackConfig,
    route: Route,
    place: Place,
    files: list[dict[str, Any]],
    *,
    dedupe_key: str,
    origin: dict[str, str],
) -> str | None:
    """One document task for the Slack ``files`` of a message, along ``route`` (its
    provider, Alibaba when none); what stands in the way, as a sentence, when it cannot be
    made. Used by uploads to an auto-docs channel and by flag reactions."""
    provider = route.provider or "alibaba"
    try:
        require_doc_provider(config, provider)
        if provider == "alibaba" and config.public_url is None:
            raise UsageError(messages.no_public_url())
        source = lookup(route.source) if route.source else None
        targets = route_targets(route)
        check_targets(source, targets, provider, "doc")
    except (UsageError, LanguageError) as exc:
        return str(exc)
    _, items = fan_out(document_items(files), targets, provider)
    await record_task(
        desk,
        config,
        dedupe_key=dedupe_key,
        place=place,
        provider=provider,
        operation=f"{provider}.translate_doc",
        request=doc_request(source, targets, provider, origin=origin),
        items=items,
    )
    return None


async def on_file_shared() -> None:
    """Covered by the ``message`` event of the same upload (see the module docstring)."""


async def on_other_message() -> None:
    """Other channel messages need nothing from Tolk."""


async def _once(
    channels: ChannelSettings, slack: AsyncWebClient, key: str, place: Place, text: str
) -> None:
    """A short reply in the upload's thread, at most once per upload."""
    if await channels.first_notice(key):
        await slack.chat_postMessage(channel=place.channel, thread_ts=place.thread_ts, text=text)

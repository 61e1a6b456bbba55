"""The "Translate…" message shortcut: a form for languages, provider and options, then
the same work as a flag reaction. It works on messages inside threads too, where slash
commands cannot reach. With more than one Xiangji image engine configured, the form
offers the engine too (starting at the channel's auto-images engine, else the default).

"Into" takes several languages and the workspace's language sets: one task either way,
its items once per language (see ``handlers.slack.common.fan_out``).

A submitted form is checked, its tasks recorded, and only then is the form closed (the
``ack``): if recording fails the form stays open and Slack says so, rather than closing
on work that was never recorded."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.languages import (
    Language,
    LanguageError,
    lookup,
    provider_code,
    read_targets,
    text_source,
)
from bot.core.tasks import Place
from handlers import ports
from handlers.ports import ChannelSettings
from handlers.slack.common import (
    check_targets,
    doc_request,
    document_items,
    documents,
    fan_out,
    fetch_message,
    image_engines,
    message_engine,
    message_items,
    message_request,
    message_work,
    record_message_work,
    record_task,
    require_doc_provider,
)
from handlers.slack.parsing import UsageError

QOS = {"fast": "LowLatency", "best": "BestQuality"}


def register(app: AsyncApp) -> None:
    app.shortcut("tolk_translate")(on_translate_shortcut)
    app.view("tolk_translate_modal")(on_translate_submitted)


async def on_translate_shortcut(
    ack: AsyncAck, shortcut: dict[str, Any], context: dict[str, Any]
) -> None:
    await ack()  # nothing is recorded here: the form opens, its submission records
    channel = shortcut["channel"]["id"]
    message = shortcut.get("message") or {}
    team = (shortcut.get("team") or {}).get("id", "")
    here = await ports.channels(context).channel_config(channel)
    sets = await ports.channels(context).language_sets(team)
    defaults = here.defaults
    engines = image_engines(ports.config(context))
    wanted = here.auto_images.engine if here.auto_images else None
    metadata = json.dumps(
        {
            "channel": channel,
            "ts": shortcut["message_ts"],
            "thread_ts": message.get("thread_ts") or shortcut["message_ts"],
            "team": team,
        }
    )
    languages = [(code, lookup(code).name) for code in messages.MODAL_LANGUAGES]
    view = messages.translate_modal(
        metadata,
        languages,
        defaults.target if defaults else "en",
        defaults.source if defaults else None,
        engines=engines if len(engines) > 1 else (),
        engine=wanted if wanted in engines else (engines[0] if engines else None),
        sets=sorted(sets.sets.items()),
    )
    await ports.slack(context).views_open(trigger_id=shortcut["trigger_id"], view=view)


async def on_translate_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
) -> None:
    desk, config = ports.desk(context), ports.config(context)
    meta = json.loads(view.get("private_metadata") or "{}")
    values = view["state"]["values"]

    def picked(block: str) -> str | None:
        element = values.get(block, {}).get("value", {})
        option = element.get("selected_option")
        return option["value"] if option else None

    checked = {
        o["value"] for o in values.get("options", {}).get("value", {}).get("selected_options") or []
    }
    try:
        targets = await _targets(values, ports.channels(context), meta.get("team", ""))
    except LanguageError as exc:
        await ack(response_action="errors", errors={"target": messages.modal_error(str(exc))})
        return
    source_code = picked("source")
    source = None if source_code in (None, "auto") else lookup(source_code)
    message = await fetch_message(ports.slack(context), meta["channel"], meta["ts"])
    items = message_items(message) if message else ()
    docs = documents(message) if message else []
    if not items and not docs:
        await ack(response_action="errors", errors={"target": messages.nothing_to_translate()})
        return
    doc_provider = picked("documents") or "alibaba"
    try:
        if docs:
            require_doc_provider(config, doc_provider)
            if doc_provider == "alibaba" and config.public_url is None:
                raise UsageError(messages.no_public_url())
            check_targets(source, targets, doc_provider, "doc")
    except (UsageError, LanguageError) as exc:
        await ack(response_action="errors", errors={"documents": messages.modal_error(str(exc))})
        return
    origin = {"channel": meta["channel"], "ts": meta["ts"]}
    request: dict[str, Any] = {}
    has_images = any(i.meta.get("kind") == "file" for i in items)
    try:
        engine = message_engine(config, picked("engine")) if has_images else None
    except UsageError as exc:
        block = "engine" if "engine" in values else "target"
        await ack(response_action="errors", errors={block: messages.modal_error(str(exc))})
        return
    try:
        if items:
            request = message_request(
                source,
                targets,
                origin,
                has_images=has_images,
                mode="shortcut",
                removed="removed" in checked,
                qos=QOS.get(picked("quality") or ""),
                engine=engine,
            )
    except LanguageError as exc:
        await ack(response_action="errors", errors={"source": messages.modal_error(str(exc))})
        return
    # The form starts at the channel's default source; left there, it is the default, and a
    # text clearly in another script is read in that script's language (as for flags).
    text = next((i for i in items if i.meta.get("kind") == "text"), None)
    defaults = (await ports.channels(context).channel_config(meta["channel"])).defaults
    own = text_source(source, text.source) if text and source else None
    if request and own and own != source and defaults and source and defaults.source == source.code:
        request = {**request, "source": own.code, "source_code": provider_code(own, "xiangji")}
    place = Place(meta.get("team", ""), meta["channel"], body["user"]["id"], meta["thread_ts"])
    key = f"shortcut:{meta.get('team', '')}:{view['id']}"
    if items:
        read_as = lookup(request["source"]) if request.get("source") else None
        request, work = message_work(request, items, targets, text_source=read_as)
        await record_message_work(desk, key, place, request, work)
    if docs:
        _, doc_work = fan_out(document_items(docs), targets, doc_provider)
        await record_task(
            desk,
            config,
            dedupe_key=f"{key}:documents",
            place=place,
            provider=doc_provider,
            operation=f"{doc_provider}.translate_doc",
            request=doc_request(source, targets, doc_provider, origin=origin),
            items=doc_work,
        )
    await ack()  # the form closes once its work is recorded


async def _targets(
    values: dict[str, Any], channels: ChannelSettings, team: str
) -> tuple[Language, ...]:
    """The languages picked in the form's "Into" (a multi-select of languages and the
    workspace's language sets; one ``selected_option`` is read too), in the order picked,
    duplicates removed, at most ``MAX_TARGETS`` (else ``LanguageError``)."""
    element = values.get("target", {}).get("value", {})
    chosen = element.get("selected_options") or [element.get("selected_option") or {}]
    words = [str(o.get("value") or "").removeprefix(messages.SET_VALUE) for o in chosen]
    words = [w for w in words if w] or ["en"]
    sets = await channels.language_sets(team)
    return read_targets(",".join(words), sets.sets)

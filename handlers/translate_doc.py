"""``/translate-doc [SRC>]TGT URL``: a document translation task (Alibaba by default,
``--provider rozetta``).

Alibaba fetches the file: a public URL is passed as it is; a Slack file link is private,
so Alibaba fetches it from a signed Tolk link — which needs ``TOLK_PUBLIC_URL``. Rozetta
takes uploads, so Tolk fetches the file itself (Slack files with the bot token)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.languages import LanguageError, check_pair
from bot.services import Services
from handlers.common import (
    command_key,
    command_place,
    doc_item,
    doc_request,
    record_task,
    require_doc_provider,
)
from handlers.parsing import UsageError, parse_translate_doc


def register(app: AsyncApp) -> None:
    app.command("/translate-doc")(on_translate_doc)


async def on_translate_doc(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    services: Services = context["services"]
    usage = messages.USAGE["translate-doc"]
    try:
        cmd = parse_translate_doc(command.get("text", ""))
        require_doc_provider(services, cmd.provider)
        check_pair(cmd.source, cmd.target, cmd.provider, "doc")
        item = doc_item(services, cmd.url)
        slack_file = item.meta.get("kind") == "slack-file"
        if cmd.provider == "alibaba" and slack_file and services.links.public_url is None:
            raise UsageError(messages.no_public_url())
        request = doc_request(cmd.source, cmd.target, cmd.provider, scene=cmd.scene)
    except UsageError as exc:
        await ack(text=str(exc))
        return
    except LanguageError as exc:
        await ack(text=f"{exc}\n{usage}")
        return
    task, created = await record_task(
        services,
        dedupe_key=command_key(command),
        place=command_place(command),
        provider=cmd.provider,
        operation=f"{cmd.provider}.translate_doc",
        request=request,
        items=(item,),
    )
    name = item.meta["name"]
    await ack(
        text=messages.ack_doc(task.id, [name], request["source"], request["target"])
        if created
        else messages.ack_duplicate(task.id, task.state)
    )

"""``/translate-doc [SRC>]TGT URL``: a document translation task (Alibaba by default,
``--provider rozetta``).

Alibaba fetches the file: a public URL is passed as it is; a Slack file link is private,
so Alibaba fetches it from a signed Tolk link — which needs ``TOLK_PUBLIC_URL``. Rozetta
takes uploads, so Tolk fetches the file itself (Slack files with the bot token).

A Slack file is taken only when it is shared in the conversation where the command was
typed, or is the person's own (``files.info``, before the command is answered: see
``handlers.slack.common.checked_slack_file``); otherwise, and for any other Slack address,
the person is told why and nothing is recorded. Several targets (``en>ja,ko``, a
language set) make one task: the document once per target."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.languages import LanguageError
from handlers import ports
from handlers.slack.common import (
    check_targets,
    command_key,
    command_place,
    command_sets,
    doc_item,
    doc_request,
    fan_out,
    record_task,
    require_doc_provider,
    shown,
    slack_file_id,
)
from handlers.slack.parsing import UsageError, parse_translate_doc


def register(app: AsyncApp) -> None:
    app.command("/translate-doc")(on_translate_doc)


async def on_translate_doc(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    config = ports.config(context)
    usage = messages.USAGE["translate-doc"]
    try:
        sets = await command_sets(ports.channels(context), command)
        cmd = parse_translate_doc(command.get("text", ""), sets)
        require_doc_provider(config, cmd.provider)
        check_targets(cmd.source, cmd.all_targets, cmd.provider, "doc")
        slack_file = slack_file_id(config, cmd.url) is not None
        if cmd.provider == "alibaba" and slack_file and config.public_url is None:
            raise UsageError(messages.no_public_url())
        # a Slack file: files.info first
        item = await doc_item(ports.slack(context), config, cmd.url, command)
        request = doc_request(cmd.source, cmd.all_targets, cmd.provider, scene=cmd.scene)
        _, items = fan_out((item,), cmd.all_targets, cmd.provider)
    except UsageError as exc:
        await ack(text=str(exc))
        return
    except LanguageError as exc:
        await ack(text=f"{exc}\n{usage}")
        return
    task, created = await record_task(
        ports.desk(context),
        config,
        dedupe_key=command_key(command),
        place=command_place(command),
        provider=cmd.provider,
        operation=f"{cmd.provider}.translate_doc",
        request=request,
        items=items,
    )
    name = item.meta["name"]
    await ack(
        text=messages.ack_doc(task.id, [name], request["source"], shown(cmd.all_targets))
        if created
        else messages.ack_duplicate(task.id, task.state)
    )

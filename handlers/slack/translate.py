"""``/translate [SRC>]TGT TEXT``: text translation through Xiangji's text API, into one
language or several (``zh>ko,ja``, a language set): one task either way."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.languages import LanguageError, detect_source, provider_code
from bot.core.tasks import Item
from handlers import ports
from handlers.slack.common import (
    check_targets,
    command_sets,
    fan_out,
    record_command,
    require_xiangji,
    shown,
)
from handlers.slack.parsing import UsageError, parse_translate


def register(app: AsyncApp) -> None:
    app.command("/translate")(on_translate)


async def on_translate(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    config = ports.config(context)
    try:
        sets = await command_sets(ports.channels(context), command)
        cmd = parse_translate(command.get("text", ""), sets)
        require_xiangji(config, "text_trans_key", "text translation", "XIANGJI_TEXT_TRANS_KEY")
        source = cmd.source or detect_source(cmd.text)
        if source is None:
            raise UsageError(messages.cannot_detect(messages.USAGE["translate"]))
        targets = cmd.all_targets
        if len(targets) > 1:  # a detected language among several targets is left out
            targets = tuple(t for t in targets if t != source) or targets
        if source in targets:
            raise UsageError(messages.same_language(source.code))
        check_targets(source, targets, "xiangji", "text")
        fields, items = fan_out((Item(source=cmd.text),), targets, "xiangji")
        request = {
            "source": source.code,
            "source_code": provider_code(source, "xiangji"),
            **fields,
            "engine": cmd.engine,  # a name; the Xiangji client sends its Type number
            "private": cmd.private,
        }
    except UsageError as exc:
        await ack(text=str(exc))
        return
    except LanguageError as exc:
        await ack(text=f"{exc}\n{messages.USAGE['translate']}")
        return
    await record_command(
        ports.desk(context),
        config,
        ack,
        command,
        operation="xiangji.translate_text",
        request=request,
        items=items,
        acknowledgement=lambda task: messages.ack_text(task.id, source.code, shown(targets)),
    )

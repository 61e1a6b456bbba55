"""``/translate [SRC>]TGT TEXT``: text translation through Xiangji's text API."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.languages import LanguageError, check_pair, detect_source, provider_code
from bot.core.tasks import Item
from handlers import ports
from handlers.slack.common import record_command, require_xiangji
from handlers.slack.parsing import UsageError, parse_translate


def register(app: AsyncApp) -> None:
    app.command("/translate")(on_translate)


async def on_translate(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    config = ports.config(context)
    try:
        cmd = parse_translate(command.get("text", ""))
        require_xiangji(config, "text_trans_key", "text translation", "XIANGJI_TEXT_TRANS_KEY")
        source = cmd.source or detect_source(cmd.text)
        if source is None:
            raise UsageError(messages.cannot_detect(messages.USAGE["translate"]))
        if source == cmd.target:
            raise UsageError(messages.same_language(source.code))
        check_pair(source, cmd.target, "xiangji", "text")
        request = {
            "source": source.code,
            "target": cmd.target.code,
            "source_code": provider_code(source, "xiangji"),
            "target_code": provider_code(cmd.target, "xiangji"),
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
        items=(Item(source=cmd.text),),
        acknowledgement=lambda task: messages.ack_text(task.id, source.code, cmd.target.code),
    )

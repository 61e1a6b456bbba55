"""``/cutout URL… [--bg R,G,B]``: background removal through Xiangji matting."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.tasks import Item
from handlers import ports
from handlers.slack.common import record_command, require_xiangji
from handlers.slack.parsing import UsageError, parse_cutout


def register(app: AsyncApp) -> None:
    app.command("/cutout")(on_cutout)


async def on_cutout(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    config = ports.config(context)
    try:
        cmd = parse_cutout(command.get("text", ""))
        require_xiangji(config, "matting_key", "background removal", "XIANGJI_MATTING_KEY")
    except UsageError as exc:
        await ack(text=str(exc))
        return
    await record_command(
        ports.desk(context),
        config,
        ack,
        command,
        operation="xiangji.cutout",
        request={"bg": list(cmd.bg) if cmd.bg else None},
        items=tuple(Item(source=url) for url in cmd.urls),
        acknowledgement=lambda task: messages.ack_cutout(task.id, len(cmd.urls)),
    )

"""``/cutout URL… [--bg R,G,B]``: background removal through Xiangji matting."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import messages
from bot.services import Services
from bot.tasks import Item
from handlers.common import command_key, command_place, record_task
from handlers.parsing import UsageError, parse_cutout


def register(app: AsyncApp) -> None:
    app.command("/cutout")(on_cutout)


async def on_cutout(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    services: Services = context["services"]
    try:
        cmd = parse_cutout(command.get("text", ""))
        xiangji = services.settings.xiangji
        if services.xiangji is None or xiangji is None or not xiangji.matting_key:
            raise UsageError(
                messages.provider_off(
                    "Xiangji", "background removal", ("XIANGJI_USER_KEY", "XIANGJI_MATTING_KEY")
                )
            )
    except UsageError as exc:
        await ack(text=str(exc))
        return
    task, created = await record_task(
        services,
        dedupe_key=command_key(command),
        place=command_place(command),
        provider="xiangji",
        operation="xiangji.cutout",
        request={"bg": list(cmd.bg) if cmd.bg else None},
        items=tuple(Item(source=url) for url in cmd.urls),
    )
    text = (
        messages.ack_cutout(task.id, len(cmd.urls))
        if created
        else messages.ack_duplicate(task.id, task.state)
    )
    await ack(text=text)

"""``/media-job FUNCTION INPUT [JSON]`` and ``/media-job status JOBID``: Alibaba MTS
intelligent-production jobs, results posted into the thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.tasks import Item
from handlers import ports
from handlers.slack.common import command_key, command_place
from handlers.slack.parsing import MediaStatusCommand, UsageError, parse_media_job


def register(app: AsyncApp) -> None:
    app.command("/media-job")(on_media_job)


async def on_media_job(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    config = ports.config(context)
    try:
        cmd = parse_media_job(command.get("text", ""))
        if not config.alibaba:
            raise UsageError(
                messages.provider_off(
                    "Alibaba Cloud",
                    "media jobs",
                    ("ALIBABA_ACCESS_KEY_ID", "ALIBABA_ACCESS_KEY_SECRET"),
                )
            )
        status = isinstance(cmd, MediaStatusCommand)
        if not status and not config.mts_output:
            raise UsageError(messages.no_mts_output())
    except UsageError as exc:
        await ack(text=str(exc))
        return
    if isinstance(cmd, MediaStatusCommand):
        request: dict[str, Any] = {"function": None, "job_id": cmd.job_id}
        item = Item(source=cmd.job_id, provider_id=cmd.job_id)
    else:
        request = {"function": cmd.function, "input": cmd.input, "params": cmd.params}
        item = Item(source=cmd.input)
    task, created = await ports.desk(context).record(
        dedupe_key=command_key(command),
        place=command_place(command),
        provider="mts",
        operation="mts.iproduction",
        request=request,
        items=(item,),
    )
    if not created:
        text = messages.ack_duplicate(task.id, task.state)
    elif isinstance(cmd, MediaStatusCommand):
        text = messages.ack_media_status(task.id, cmd.job_id)
    else:
        text = messages.ack_media(task.id, cmd.function, cmd.input)
    await ack(text=text)

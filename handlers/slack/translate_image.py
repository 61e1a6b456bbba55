"""``/translate-image [SRC>]TGT URL… [--engine E]``: one URL is a synchronous Xiangji
call, several (or ``--ocr``) one asynchronous batch polled by the poller — or, with
``--removed`` or ``--fast``/``--best`` (which the batch does not take), one synchronous
call per image. ``--engine`` picks Xiangji's engine (its own key); without it, the first
configured of aliyun, google, papago, baidu, deepl. Several targets (``zh>ko,ja``, a
language set) make one task whose items are each URL once per target."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core import messages
from bot.core.languages import LanguageError, lookup, provider_code
from bot.core.tasks import Item
from handlers import ports
from handlers.ports import SlackConfig, TaskDesk
from handlers.slack.common import (
    check_targets,
    command_key,
    command_place,
    command_sets,
    fan_out,
    image_engine,
    record_command,
    record_task,
    require_alibaba,
    shown,
)
from handlers.slack.parsing import ImageCommand, UsageError, parse_translate_image

DEFAULT_IMAGE_SOURCE = "zh"  # the common case for product images (PRODUCT.md)


def register(app: AsyncApp) -> None:
    app.command("/translate-image")(on_translate_image)


async def on_translate_image(
    ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]
) -> None:
    desk, config = ports.desk(context), ports.config(context)
    try:
        sets = await command_sets(ports.channels(context), command)
        cmd = parse_translate_image(command.get("text", ""), sets)
        if cmd.provider == "alibaba":
            await _alibaba(desk, config, ack, command, cmd)
            return
        engine = image_engine(config, cmd.engine, messages.USAGE["translate-image"])
        source = cmd.source or lookup(DEFAULT_IMAGE_SOURCE)
        check_targets(source, cmd.all_targets, "xiangji", "image")
        fields, items = fan_out([Item(source=url) for url in cmd.urls], cmd.all_targets, "xiangji")
        request = {
            "source": source.code,
            "source_code": provider_code(source, "xiangji"),
            **fields,
            "removed": cmd.removed,
            "ocr": cmd.ocr,
            "qos": cmd.qos,
            "engine": engine,
        }
    except UsageError as exc:
        await ack(text=str(exc))
        return
    except LanguageError as exc:
        await ack(text=f"{exc}\n{messages.USAGE['translate-image']}")
        return
    await record_command(
        desk,
        config,
        ack,
        command,
        operation="xiangji.translate_image",
        request=request,
        items=items,
        acknowledgement=lambda task: messages.ack_images(
            task.id, len(cmd.urls), source.code, shown(cmd.all_targets), engine=engine
        ),
    )


async def _alibaba(
    desk: TaskDesk,
    config: SlackConfig,
    ack: AsyncAck,
    command: dict[str, Any],
    cmd: ImageCommand,
) -> None:
    """Alibaba's image tasks: zh or en sources, no OCR / removed-text / quality options."""
    usage = messages.USAGE["translate-image"]
    for option, used in (
        ("--removed", cmd.removed),
        ("--ocr", cmd.ocr),
        ("--fast` / `--best", cmd.qos),
    ):
        if used:
            raise UsageError(messages.option_not_for_provider(option, "alibaba", usage))
    require_alibaba(config, "Alibaba image translation")
    source = cmd.source or lookup(DEFAULT_IMAGE_SOURCE)
    check_targets(source, cmd.all_targets, "alibaba", "image")
    fields, items = fan_out([Item(source=url) for url in cmd.urls], cmd.all_targets, "alibaba")
    task, created = await record_task(
        desk,
        config,
        dedupe_key=command_key(command),
        place=command_place(command),
        provider="alibaba",
        operation="alibaba.translate_image",
        request={
            "source": source.code,
            "source_code": provider_code(source, "alibaba"),
            **fields,
        },
        items=items,
    )
    await ack(
        text=messages.ack_images(task.id, len(cmd.urls), source.code, shown(cmd.all_targets))
        if created
        else messages.ack_duplicate(task.id, task.state)
    )

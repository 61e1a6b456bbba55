"""``/tolk help | tasks | cancel ID | retry ID | quota | config …``: looking after tasks
and channel settings from Slack."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.channels import ChannelConfig, Route
from bot.core.desk import RETRYABLE
from bot.core.languages import LanguageError, check_pair, lookup
from bot.core.tasks import FINAL, Task
from handlers import ports
from handlers.ports import ChannelSettings, SlackConfig, TaskDesk
from handlers.slack.common import command_key, image_engine
from handlers.slack.parsing import ConfigChange, UsageError, parse_tolk

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.command("/tolk")(on_tolk)


async def on_tolk(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    desk, config = ports.desk(context), ports.config(context)
    try:
        cmd = parse_tolk(command.get("text", ""))
    except UsageError as exc:
        await ack(text=str(exc))
        return
    if cmd.action == "help":
        await ack(text=messages.HELP)
    elif cmd.action == "tasks":
        await ack(text=await _task_list(desk, command["channel_id"]))
    elif cmd.action == "quota":
        quota = ports.quota(context)
        await ack(text=await quota.report(within=1.5) if quota else messages.quota_unavailable())
    elif cmd.action == "config":
        await _config(ack, ports.channels(context), config, command, cmd.config)
    else:
        task = await desk.get(cmd.task_id or "")
        user = command["user_id"]
        if task is None or task.place.channel != command["channel_id"]:
            await ack(text=messages.no_such_task(cmd.task_id or ""))
        elif not await _may_change(ports.slack(context), config, task, user):
            admins = sorted(config.admins)
            await ack(
                text=messages.not_yours_to_change(task.id, cmd.action, task.place.user, admins)
            )
        elif cmd.action == "cancel":
            cancelling = await desk.cancel(task, user)
            await ack(
                text=messages.cancelling(task.id)
                if cancelling
                else messages.cannot_cancel(task.id, task.state)
            )
        elif task.state not in RETRYABLE:
            await ack(text=messages.cannot_retry(task.id, task.state))
        else:
            new, _ = await desk.retry(task, dedupe_key=command_key(command), by=user)
            await ack(text=messages.retrying(task.id, new.id))


async def _task_list(desk: TaskDesk, channel: str) -> str:
    now = desk.now()
    rows = [
        (
            t.id,
            t.operation.split(".")[-1].replace("_", " "),
            str(t.state),
            t.place.user,
            now - t.created_at,
        )
        for t in await desk.for_channel(channel)
        if t.state not in FINAL
    ]
    return messages.task_list(rows)


async def _may_change(slack: AsyncWebClient, config: SlackConfig, task: Task, user: str) -> bool:
    """Cancel and retry are for the person who started the task and for admins: the
    ``TOLK_ADMINS`` list when it is set, else the workspace's admins and owners."""
    if task.place.user == user:
        return True
    if config.admins:
        return user in config.admins
    return await workspace_admin(slack, user)


async def workspace_admin(slack: AsyncWebClient, user: str) -> bool:
    """``users.info`` says ``user`` is an admin or owner of the workspace. If Slack
    cannot say (an error, no ``users:read``), the answer is no."""
    try:
        resp = await slack.users_info(user=user)
    except SlackApiError as exc:
        log.warning("users.info for %s failed, so not treated as an admin: %s", user, exc)
        return False
    profile = resp.get("user") or {}
    return bool(
        profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner")
    )


async def _config(
    ack: AsyncAck,
    channels: ChannelSettings,
    config: SlackConfig,
    command: dict[str, Any],
    change: ConfigChange | None,
) -> None:
    channel, user = command["channel_id"], command["user_id"]
    here = await channels.channel_config(channel)
    if change is None or change.setting == "show":
        await ack(text=messages.config_show(here, config.quota_threshold))
        return
    if config.admins and user not in config.admins:
        await ack(text=messages.admins_only(sorted(config.admins)))
        return
    try:
        if change.engine is not None:  # a channel's engine must have its key configured
            image_engine(config, change.engine, messages.USAGE["config"])
        here, shown = _apply(here, change)
    except LanguageError as exc:
        await ack(text=f"{exc}\n{messages.USAGE['config']}")
        return
    except UsageError as exc:
        await ack(text=str(exc))
        return
    here = replace(here, changed_by={**here.changed_by, change.setting: user})
    await channels.save_channel_config(channel, here)
    await ack(response_type="in_channel", text=messages.config_changed(user, change.setting, shown))


def _apply(config: ChannelConfig, change: ConfigChange) -> tuple[ChannelConfig, str]:
    """The channel's config with ``change`` applied, and how to show the new value."""
    if change.setting == "quota-threshold":
        return replace(config, quota_threshold=change.number), str(change.number)
    if not change.on:
        off: dict[str, Any] = {change.setting.replace("-", "_"): None}
        return replace(config, **off), "off"
    assert change.target is not None
    source = change.source.code if change.source else None
    if change.setting == "auto-images":
        check_pair(change.source or lookup("zh"), change.target, "xiangji", "image")
        route = Route(change.target.code, source, "xiangji", change.engine)
        engine = messages.engine_note(change.engine)
        return replace(config, auto_images=route), f"on {source or 'zh'}→{route.target}{engine}"
    if change.setting == "auto-docs":
        provider = change.provider or "alibaba"
        if change.source is None and provider == "alibaba":  # Rozetta detects; Alibaba cannot
            raise LanguageError(messages.auto_docs_needs_source(change.target.code))
        check_pair(change.source, change.target, provider, "doc")
        route = Route(change.target.code, source, provider)
        return replace(
            config, auto_docs=route
        ), f"on {source or 'auto'}→{route.target} via {provider}"
    route = Route(change.target.code, source)
    return replace(config, defaults=route), f"{source or 'auto'}→{route.target}"

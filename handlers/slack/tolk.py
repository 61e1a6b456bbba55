"""``/tolk help | tasks | cancel ID | retry ID | quota | config …``: looking after tasks
and channel settings from Slack."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core import messages
from bot.core.channels import ChannelConfig, Route, load_channel, save_channel
from bot.core.languages import LanguageError, check_pair, lookup
from bot.core.tasks import FINAL, Item, State, Task
from bot.engine.work import CANCEL_INDEX
from bot.wiring import Services
from handlers.slack.common import command_key, image_engine, record_task
from handlers.slack.parsing import ConfigChange, UsageError, parse_tolk

log = logging.getLogger(__name__)

RETRYABLE_STATES = frozenset({State.FAILED, State.EXPIRED, State.CANCELLED})


def register(app: AsyncApp) -> None:
    app.command("/tolk")(on_tolk)


async def on_tolk(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    services: Services = context["services"]
    try:
        cmd = parse_tolk(command.get("text", ""))
    except UsageError as exc:
        await ack(text=str(exc))
        return
    if cmd.action == "help":
        await ack(text=messages.HELP)
    elif cmd.action == "tasks":
        await ack(text=await _task_list(services, command["channel_id"]))
    elif cmd.action == "quota":
        quota = getattr(services, "quota", None)
        await ack(text=await quota.report(within=1.5) if quota else messages.quota_unavailable())
    elif cmd.action == "config":
        await _config(ack, services, command, cmd.config)
    else:
        task = await services.store.get(cmd.task_id or "")
        if task is None or task.place.channel != command["channel_id"]:
            await ack(text=messages.no_such_task(cmd.task_id or ""))
        elif not await _may_change(services, task, command["user_id"]):
            admins = sorted(services.settings.admins)
            await ack(
                text=messages.not_yours_to_change(task.id, cmd.action, task.place.user, admins)
            )
        elif cmd.action == "cancel":
            await ack(text=await _cancel(services, task, command["user_id"]))
        else:
            await ack(text=await _retry(services, task, command))


async def _task_list(services: Services, channel: str) -> str:
    now = services.clock()
    rows = [
        (
            t.id,
            t.operation.split(".")[-1].replace("_", " "),
            str(t.state),
            t.place.user,
            now - t.created_at,
        )
        for t in await services.store.list_for_channel(channel)
        if t.state not in FINAL
    ]
    return messages.task_list(rows)


async def _may_change(services: Services, task: Task, user: str) -> bool:
    """Cancel and retry are for the person who started the task and for admins: the
    ``TOLK_ADMINS`` list when it is set, else the workspace's admins and owners."""
    if task.place.user == user:
        return True
    admins = services.settings.admins
    if admins:
        return user in admins
    return await workspace_admin(services, user)


async def workspace_admin(services: Services, user: str) -> bool:
    """``users.info`` says ``user`` is an admin or owner of the workspace. If Slack
    cannot say (an error, no ``users:read``), the answer is no."""
    try:
        resp = await services.slack.users_info(user=user)
    except SlackApiError as exc:
        log.warning("users.info for %s failed, so not treated as an admin: %s", user, exc)
        return False
    profile = resp.get("user") or {}
    return bool(
        profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner")
    )


async def _cancel(services: Services, task: Task, user: str) -> str:
    """The per-task flag is what a step obeys; the index lets a batched status round see
    every cancellation with one read (``Work.poll_group``)."""
    if task.state in FINAL:
        return messages.cannot_cancel(task.id, task.state)
    # The flag is read by the next step, which may be running now; bringing the task's
    # poll time forward (only when no step holds it) makes that step come at once.
    await services.store.put_setting("cancel", task.id, user)
    recent = await services.store.get_setting("cancel", CANCEL_INDEX) or {}
    await services.store.put_setting("cancel", CANCEL_INDEX, {**recent, task.id: user})
    await services.store.wake(task.id, services.clock())
    services.poller.nudge()
    return messages.cancelling(task.id)


async def _retry(services: Services, task: Task, command: dict[str, Any]) -> str:
    if task.state not in RETRYABLE_STATES:
        return messages.cannot_retry(task.id, task.state)
    new, _ = await record_task(
        services,
        dedupe_key=command_key(command),
        place=replace(task.place, user=command["user_id"], thread_ts=None),
        provider=task.provider,
        operation=task.operation,
        request={**task.request, "retry_of": task.id},
        items=tuple(Item(source=i.source, meta=i.meta) for i in task.items),
    )
    return messages.retrying(task.id, new.id)


async def _config(
    ack: AsyncAck, services: Services, command: dict[str, Any], change: ConfigChange | None
) -> None:
    channel, user = command["channel_id"], command["user_id"]
    config = await load_channel(services.store, channel)
    if change is None or change.setting == "show":
        await ack(text=messages.config_show(config, services.settings.quota_threshold))
        return
    admins = services.settings.admins
    if admins and user not in admins:
        await ack(text=messages.admins_only(sorted(admins)))
        return
    try:
        if change.engine is not None:  # a channel's engine must have its key configured
            image_engine(services, change.engine, messages.USAGE["config"])
        config, shown = _apply(config, change)
    except LanguageError as exc:
        await ack(text=f"{exc}\n{messages.USAGE['config']}")
        return
    except UsageError as exc:
        await ack(text=str(exc))
        return
    config = replace(config, changed_by={**config.changed_by, change.setting: user})
    await save_channel(services.store, channel, config)
    await ack(response_type="in_channel", text=messages.config_changed(user, change.setting, shown))


def _apply(config: ChannelConfig, change: ConfigChange) -> tuple[ChannelConfig, str]:
    """The channel's config with ``change`` applied, and how to show the new value."""
    if change.setting == "quota-threshold":
        return replace(config, quota_threshold=change.number), str(change.number)
    if not change.on:
        field = change.setting.replace("-", "_")
        return replace(config, **{field: None}), "off"
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

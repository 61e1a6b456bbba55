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
from bot.core.languages import MAX_SETS, LanguageError, LanguageSets, lookup
from bot.core.spend import CHARACTERS_PER_IMAGE, month_of
from bot.core.tasks import FINAL, Task
from handlers import ports
from handlers.ports import ChannelSettings, SlackConfig, TaskDesk
from handlers.slack.common import check_targets, command_key, image_engine
from handlers.slack.parsing import ConfigChange, SetChange, UsageError, parse_tolk

log = logging.getLogger(__name__)

SPEND_SETTINGS = ("confirm-over", "limit")  # changed by admins only (bot.core.spend)


def register(app: AsyncApp) -> None:
    app.command("/tolk")(on_tolk)


async def on_tolk(ack: AsyncAck, command: dict[str, Any], context: dict[str, Any]) -> None:
    desk, config = ports.desk(context), ports.config(context)
    team = command.get("team_id", "")
    try:
        sets = await ports.channels(context).language_sets(team)
        cmd = parse_tolk(command.get("text", ""), sets.sets)
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
    elif cmd.action == "config" and cmd.sets is not None:
        await _sets(ack, ports.channels(context), ports.slack(context), config, command, cmd.sets)
    elif cmd.action == "config":
        await _config(
            ack, ports.channels(context), config, command, cmd.config, desk, ports.slack(context)
        )
    else:
        task = await desk.get(cmd.task_id or "")
        user = command["user_id"]
        if task is None or task.place.channel != command["channel_id"]:
            await ack(text=messages.no_such_task(cmd.task_id or ""))
        elif not await may_change(ports.slack(context), config, task, user):
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


async def may_change(slack: AsyncWebClient, config: SlackConfig, task: Task, user: str) -> bool:
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
    desk: TaskDesk,
    slack: AsyncWebClient,
) -> None:
    channel, user = command["channel_id"], command["user_id"]
    here = await channels.channel_config(channel)
    if change is None or change.setting == "show":
        spent = await desk.spend.used(command.get("team_id", ""), channel)
        spend = messages.spend_settings(here, spent, month_of(desk.now()))
        await ack(text=f"{messages.config_show(here, config.quota_threshold)}\n{spend}")
        return
    if config.admins and user not in config.admins:
        await ack(text=messages.admins_only(sorted(config.admins)))
        return
    spend_setting = change.setting in SPEND_SETTINGS  # limits are for admins only
    if spend_setting and not config.admins and not await workspace_admin(slack, user):
        await ack(text=messages.spend_admins_only([]))
        return
    review_setting = change.setting in ("review", "reviewers")  # so is who checks results
    if review_setting and not config.admins and not await workspace_admin(slack, user):
        await ack(text=messages.review_admins_only())
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
    if change.setting in SPEND_SETTINGS:
        return _apply_spend(config, change)
    if change.setting == "quota-threshold":
        return replace(config, quota_threshold=change.number), str(change.number)
    if change.setting == "review":
        return replace(config, review=change.on), "on" if change.on else "off"
    if change.setting == "reviewers":
        return replace(config, reviewers=change.users), messages.reviewers_shown(change.users)
    if not change.on:
        off: dict[str, Any] = {change.setting.replace("-", "_"): None}
        return replace(config, **off), "off"
    assert change.target is not None
    source = change.source.code if change.source else None
    targets = change.targets or (change.target,)
    target = ",".join(t.code for t in targets)  # a Route keeps several as "ko,ja"
    if change.setting == "auto-images":
        check_targets(change.source or lookup("zh"), targets, "xiangji", "image")
        route = Route(target, source, "xiangji", change.engine)
        engine = messages.engine_note(change.engine)
        return replace(config, auto_images=route), f"on {source or 'zh'}→{route.target}{engine}"
    if change.setting == "auto-docs":
        provider = change.provider or "alibaba"
        if change.source is None and provider == "alibaba":  # Rozetta detects; Alibaba cannot
            raise LanguageError(messages.auto_docs_needs_source(change.target.code))
        check_targets(change.source, targets, provider, "doc")
        route = Route(target, source, provider)
        return replace(
            config, auto_docs=route
        ), f"on {source or 'auto'}→{route.target} via {provider}"
    route = Route(change.target.code, source)
    return replace(config, defaults=route), f"{source or 'auto'}→{route.target}"


async def _sets(
    ack: AsyncAck,
    channels: ChannelSettings,
    slack: AsyncWebClient,
    config: SlackConfig,
    command: dict[str, Any],
    change: SetChange,
) -> None:
    """The workspace's language sets and flag sets: anyone sees them; Tolk's admins
    (``TOLK_ADMINS`` when set, else the workspace's admins and owners) change them, for
    the whole workspace."""
    team, user = command.get("team_id", ""), command["user_id"]
    book = await channels.language_sets(team)
    if change.action == "list":
        await ack(text=messages.sets_list(book.sets, book.flags))
        return
    if not await tolk_admin(slack, config, user):
        await ack(text=messages.sets_admins_only(sorted(config.admins)))
        return
    if change.action == "save":
        assert change.name is not None
        codes = tuple(lang.code for lang in change.languages)
        saved = LanguageSets({**book.sets, change.name: codes}, book.flags)
        text = messages.set_saved(user, change.name, codes, change.name in book.sets)
    elif change.action == "remove":
        assert change.name is not None
        if change.name not in book.sets:
            await ack(text=messages.no_set_to_remove(change.name, sorted(book.sets)))
            return
        emojis = sorted(e for e, name in book.flags.items() if name == change.name)
        saved = LanguageSets(
            {k: v for k, v in book.sets.items() if k != change.name},
            {e: name for e, name in book.flags.items() if name != change.name},
        )
        text = messages.set_removed(user, change.name, emojis)
    elif change.action == "flag":
        assert change.name is not None and change.emoji is not None
        if change.emoji not in book.flags and len(book.flags) >= MAX_SETS:
            await ack(text=messages.too_many_sets(MAX_SETS))
            return
        saved = LanguageSets(book.sets, {**book.flags, change.emoji: change.name})
        text = messages.flag_saved(user, change.emoji, change.name, book.sets[change.name])
    else:  # unflag
        assert change.emoji is not None
        if change.emoji not in book.flags:
            await ack(text=messages.no_flag_to_remove(change.emoji))
            return
        saved = LanguageSets(book.sets, {e: n for e, n in book.flags.items() if e != change.emoji})
        text = messages.flag_removed(user, change.emoji)
    await channels.save_language_sets(team, saved)
    await ack(response_type="in_channel", text=text)


async def tolk_admin(slack: AsyncWebClient, config: SlackConfig, user: str) -> bool:
    """One of Tolk's admins: the ``TOLK_ADMINS`` list when it is set, else the
    workspace's admins and owners (``workspace_admin``)."""
    if config.admins:
        return user in config.admins
    return await workspace_admin(slack, user)


def _apply_spend(config: ChannelConfig, change: ConfigChange) -> tuple[ChannelConfig, str]:
    """``confirm-over`` (N alone: N images or N×400 characters) and ``limit``."""
    if change.setting == "confirm-over":
        images: int | None
        characters: int | None
        if not change.on:  # back to the defaults
            images = characters = None
        elif change.service == "images":
            images, characters = change.number, config.confirm_characters
        elif change.service == "characters":
            images, characters = config.confirm_images, change.number
        else:
            images = change.number
            characters = (change.number or 0) * CHARACTERS_PER_IMAGE
        changed = replace(config, confirm_images=images, confirm_characters=characters)
        return changed, messages.spend_confirm_shown(images, characters)
    service = change.service or "images"
    limit = change.number if change.on else None
    if service == "characters":
        changed = replace(config, limit_characters=limit)
    else:
        changed = replace(config, limit_images=limit)
    return changed, f"{limit:,} {service} a month" if limit is not None else f"off for {service}"

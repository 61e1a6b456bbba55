"""Catalogues: a CSV or XLSX of product images uploaded with the message
``/translate-image zh>ko,ja`` (any channel), or into a channel with auto-images on,
becomes one ``xiangji.catalogue`` task per file (``bot.engine.operations.catalogue``
reads it and does the work). Its languages, engine and source come from the message,
else from the channel's auto-images setting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.core import messages
from bot.core.catalogue import MAX_FILE_BYTES, ZIP_FILE_BYTES, CatalogueError, read_catalogue
from bot.core.catalogue_tasks import OPERATION, retry_of_failed
from bot.core.channels import Route
from bot.core.languages import Language, LanguageError, lookup, provider_code
from bot.core.tasks import Item, Place
from handlers import ports
from handlers.ports import SlackConfig, SlackFiles, TaskDesk
from handlers.slack.actions import pressed_where, tell
from handlers.slack.common import check_targets, image_engine, record_task, target_fields
from handlers.slack.parsing import Sets, UsageError, parse_catalogue
from handlers.slack.tolk import may_change

SUFFIXES = frozenset({".csv", ".xlsx", ".xlsm", ".zip"})
COMMAND = "/translate-image"
DEFAULT_SOURCE = "zh"  # as /translate-image's


def register(app: AsyncApp) -> None:
    app.action(messages.RETRY_FAILED)(on_retry_failed)


async def on_retry_failed(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> None:
    """Retry failed: a new catalogue task for the failed rows only, in the same thread
    (the requester or an admin; pressed twice, one task)."""
    await ack()
    desk, config, slack = ports.desk(context), ports.config(context), ports.slack(context)
    user, channel, thread_ts = pressed_where(body)
    task_id = str(action.get("value") or "")
    task = await desk.get(task_id)
    if task is None or task.operation != OPERATION:
        await tell(slack, channel, user, thread_ts, messages.results_task_missing(task_id))
        return
    if not await may_change(slack, config, task, user):
        text = messages.not_yours_to_change(
            task.id, "retry", task.place.user, sorted(config.admins)
        )
        await tell(slack, channel, user, thread_ts, text)
        return
    again = retry_of_failed(task)
    if again is None:
        await tell(slack, channel, user, thread_ts, messages.catalogue_nothing_to_retry(task.id))
        return
    request, items = again
    try:
        new, created = await record_task(
            desk,
            config,
            dedupe_key=f"catalogue-retry:{task.id}",
            place=replace(task.place, user=user),
            provider="xiangji",
            operation=OPERATION,
            request=request,
            items=items,
        )
    except UsageError as exc:  # past a monthly limit, or waiting for Go
        await tell(slack, channel, user, thread_ts, str(exc))
        return
    text = messages.catalogue_retry_started(task.id, new.id, user)
    if not created:
        text = messages.catalogue_nothing_to_retry(task.id)
    await tell(slack, channel, user, thread_ts, text)


def catalogue_files(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's files that are catalogues (by their name)."""
    return [
        f
        for f in event.get("files") or ()
        if PurePosixPath(str(f.get("name", "")).lower()).suffix in SUFFIXES and f.get("url_private")
    ]


def asks_for_catalogue(event: dict[str, Any]) -> bool:
    return str(event.get("text") or "").strip().startswith(COMMAND)


async def record_catalogues(
    desk: TaskDesk,
    config: SlackConfig,
    place: Place,
    event: dict[str, Any],
    files: list[dict[str, Any]],
    *,
    route: Route | None,
    sets: Sets,
    read: SlackFiles,
) -> str | None:
    """One catalogue task per file; what stands in the way, as a sentence, if none can
    be made (nothing is recorded then)."""
    try:
        source, targets, engine = _languages(config, event, route, sets)
        check_targets(source, targets, "xiangji", "image")
    except (UsageError, LanguageError) as exc:
        return str(exc)
    for file in files:
        try:  # read now: a bad file is answered at once, and the rows are what it spends
            data = await read(
                str(file["url_private"]),
                limit=ZIP_FILE_BYTES if _is_zip(file) else MAX_FILE_BYTES,
                file_id=str(file.get("id")),
                team=place.team,
            )
            catalogue = read_catalogue(str(file.get("name") or ""), data)
        except CatalogueError as exc:
            return messages.catalogue_refused(str(file.get("name") or ""), str(exc))
        except Exception:  # Slack could not hand it over now
            return messages.catalogue_unreadable(str(file.get("name")))
        rows = len(catalogue.rows)
        request = {
            "source": source.code,
            "source_code": provider_code(source, "xiangji"),
            **target_fields(targets, "xiangji"),
            "engine": engine,
            "name": str(file.get("name") or "catalogue.csv"),
            "rows_expected": rows,
            "origin": {"channel": place.channel, "ts": str(event.get("ts", ""))},
        }
        item = Item(
            source=str(file["url_private"]),
            meta={"kind": "slack-file", "file_id": file.get("id"), "name": request["name"]},
        )
        try:
            await record_task(
                desk,
                config,
                dedupe_key=f"catalogue:{place.team}:{place.channel}:{event.get('ts')}:{file.get('id')}",
                place=place,
                provider="xiangji",
                operation=OPERATION,
                request=request,
                items=(item,),
            )
        except UsageError as exc:  # past a monthly limit, or waiting for Go
            return str(exc)
    return None


def _languages(
    config: SlackConfig, event: dict[str, Any], route: Route | None, sets: Sets
) -> tuple[Language, tuple[Language, ...], str]:
    usage = messages.USAGE["catalogue"]
    if not config.xiangji or not config.image_engines:
        raise UsageError(messages.catalogue_needs_xiangji())
    if asks_for_catalogue(event):
        text = str(event.get("text") or "").strip()[len(COMMAND) :]
        cmd = parse_catalogue(text, sets)
        source = cmd.source or lookup(DEFAULT_SOURCE)
        return source, cmd.all_targets, image_engine(config, cmd.engine, usage)
    assert route is not None  # an auto-images channel
    source = lookup(route.source) if route.source else lookup(DEFAULT_SOURCE)
    targets = tuple(lookup(code) for code in route.target.split(","))
    return source, targets, image_engine(config, route.engine, usage)


def _is_zip(file: dict[str, Any]) -> bool:
    return str(file.get("name") or "").lower().endswith(".zip")

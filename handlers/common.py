"""What every handler does after parsing: record the task once, and nudge the poller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from slack_bolt.async_app import AsyncAck

from bot import messages
from bot.delivery import host_allowed
from bot.languages import Language, check_pair, lookup, provider_code
from bot.services import Services
from bot.services import record_task as record_task  # the handlers' way in
from bot.slacktext import has_words
from bot.tasks import Item, Place, Task
from handlers.parsing import UsageError
from providers.alibaba.wire import DOC_TYPES


def require_xiangji(services: Services, key: str, what: str, variable: str) -> None:
    """Refuse (as bad input) a command whose Xiangji service key is not configured."""
    settings = services.settings.xiangji
    if services.xiangji is None or settings is None or not getattr(settings, key):
        raise UsageError(messages.provider_off("Xiangji", what, ("XIANGJI_USER_KEY", variable)))


async def record_command(
    services: Services,
    ack: AsyncAck,
    command: dict[str, Any],
    *,
    operation: str,
    request: dict[str, Any],
    items: tuple[Item, ...],
    acknowledgement: Callable[[Task], str],
) -> None:
    """Record a slash command's Xiangji task once and ack naming it (or the existing one)."""
    task, created = await record_task(
        services,
        dedupe_key=command_key(command),
        place=command_place(command),
        provider="xiangji",
        operation=operation,
        request=request,
        items=items,
    )
    await ack(
        text=acknowledgement(task) if created else messages.ack_duplicate(task.id, task.state)
    )


def command_place(command: dict[str, Any]) -> Place:
    return Place(
        team=command.get("team_id", ""),
        channel=command["channel_id"],
        user=command["user_id"],
        response_url=command.get("response_url") or None,
    )


def command_key(command: dict[str, Any]) -> str:
    """Slack gives each invocation its own trigger id; a redelivery carries the same one."""
    return f"command:{command.get('team_id', '')}:{command['trigger_id']}"


MAX_FILES = 20
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DOC_BYTES = 50 * 1024 * 1024  # Alibaba's document limit
DOC_EXTENSIONS = DOC_TYPES


def message_items(message: dict[str, Any]) -> tuple[Item, ...]:
    """What can be translated in a Slack message: its text, and its image files.

    Files over the size or count limit become items that have already failed, so the
    closing message says what was skipped and why."""
    items: list[Item] = []
    text = message.get("text") or ""
    if has_words(text):
        items.append(Item(source=text, meta={"kind": "text", "name": "the text"}))
    images = [f for f in message.get("files", []) if is_image(f)]
    for n, file in enumerate(images):
        meta = {"kind": "file", "name": file.get("name", "image"), "file_id": file.get("id")}
        item = Item(source=file.get("url_private", ""), meta=meta)
        if n >= MAX_FILES:
            item = _failed(item, "too-many", messages.too_many_files(MAX_FILES))
        elif int(file.get("size") or 0) > MAX_FILE_BYTES:
            item = _failed(item, "too-large", messages.file_too_large(meta["name"], MAX_FILE_BYTES))
        items.append(item)
    return tuple(items)


def is_image(file: dict[str, Any]) -> bool:
    return str(file.get("mimetype", "")).startswith("image/")


def documents(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's files that document translation takes (by type or extension)."""
    return [
        f
        for f in message.get("files", [])
        if str(f.get("filetype", "")).lower() in DOC_EXTENSIONS
        or f.get("name", "").rsplit(".", 1)[-1].lower() in DOC_EXTENSIONS
    ]


def document_items(files: list[dict[str, Any]]) -> tuple[Item, ...]:
    """Slack files as document items; Alibaba fetches each from a signed link."""
    items = []
    for n, file in enumerate(files):
        name = file.get("name", "document")
        meta = {"kind": "slack-file", "name": name, "file_id": file.get("id")}
        item = Item(source=file.get("url_private", ""), meta=meta)
        if n >= MAX_FILES:
            item = _failed(item, "too-many", messages.too_many_files(MAX_FILES))
        elif int(file.get("size") or 0) > MAX_DOC_BYTES:
            item = _failed(item, "too-large", messages.file_too_large(name, MAX_DOC_BYTES))
        items.append(item)
    return tuple(items)


def _failed(item: Item, code: str, message: str) -> Item:
    return replace(item, status="failed", error={"code": code, "message": message})


def message_request(
    source: Language | None,
    target: Language,
    origin: dict[str, str],
    *,
    has_images: bool,
    image_default: Language | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The request of a ``xiangji.translate_message`` task; raises ``LanguageError`` when
    the provider cannot do it (checked before anything is recorded)."""
    image_source = source or image_default or lookup("zh")
    if has_images:
        check_pair(image_source, target, "xiangji", "image")
    return {
        "source": source.code if source else None,
        "source_code": provider_code(source, "xiangji") if source else None,
        "target": target.code,
        "target_code": provider_code(target, "xiangji"),
        "image_source_code": provider_code(image_source, "xiangji"),
        "origin": origin,
        **options,
    }


async def fetch_message(services: Services, channel: str, ts: str) -> dict[str, Any] | None:
    """One message by channel and ts, top-level or in a thread (a Slack call, no provider)."""
    resp = await services.slack.conversations_replies(channel=channel, ts=ts, limit=200)
    return next((m for m in resp.get("messages", []) if m.get("ts") == ts), None)


def require_alibaba(services: Services, what: str) -> None:
    if services.alibaba is None:
        raise UsageError(
            messages.provider_off(
                "Alibaba Cloud", what, ("ALIBABA_ACCESS_KEY_ID", "ALIBABA_ACCESS_KEY_SECRET")
            )
        )


def doc_item(services: Services, url: str) -> Item:
    """A document by URL; a Slack file's URL is marked so Alibaba gets a signed link."""
    name = PurePosixPath(urlsplit(url).path).name or "document"
    slack_file = host_allowed(url, services.delivery.slack_file_hosts)
    return Item(source=url, meta={"kind": "slack-file" if slack_file else "url", "name": name})


def doc_request(source: Any, target: Any, provider: str, **options: Any) -> dict[str, Any]:
    """The request of a ``<provider>.translate_doc`` task (languages already checked);
    no source means the provider detects it (Rozetta)."""
    return {
        "source": source.code if source else None,
        "target": target.code,
        "source_code": provider_code(source, provider) if source else None,
        "target_code": provider_code(target, provider),
        **{k: v for k, v in options.items() if v is not None},
    }


def require_doc_provider(services: Services, provider: str) -> None:
    if provider == "alibaba":
        require_alibaba(services, "document translation")
    elif services.rozetta is None:
        raise UsageError(
            messages.provider_off(
                "Rozetta",
                "Rozetta document translation",
                ("ROZETTA_ACCESS_KEY", "ROZETTA_SECRET_KEY"),
            )
        )

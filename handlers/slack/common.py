"""What the Slack handlers share after parsing: checks against the configuration (which
providers and keys are on), Slack files and addresses, and recording the task once
through the desk (``handlers.ports.TaskDesk``), which starts the work — after the one
spend check every path goes through (``within_spend``: monthly limits, and the estimate
that waits for Go).

Slack files and Slack addresses (issue 16). Tolk's bot token opens files a person may
not see, so a Slack file given by link is taken only when ``files.info`` says it is
shared in the conversation where the person asked, or is theirs (``checked_slack_file``),
and the item records the file's own ``url_private`` as Slack gives it, not what was
typed. Any other Slack address (the API, the web app, webhooks, a workspace URL) is
refused as a document or image (``slack_address``). Files of a message the person acted
on (uploads, flags, the shortcut) become items only with their own ``url_private``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.languages import Language, check_pair, lookup, provider_code
from bot.core.slack_client import slack_error_code
from bot.core.slacktext import has_words
from bot.core.spend import (
    Work,
)
from bot.core.tasks import Item, Place, Task
from handlers.ports import ChannelSettings, SlackConfig, TaskDesk
from handlers.slack.parsing import UsageError
from handlers.slack.spending import SpendStop, within_spend
from providers.alibaba.spec import DOC_TYPES
from providers.alibaba.spec import MAX_DOC_BYTES as ALIBABA_DOC_BYTES

log = logging.getLogger(__name__)

# Names that are Slack's own: a URL on any of them (any port, any scheme) is Slack's.
SLACK_DOMAINS = ("slack.com", "slack-edge.com", "slack-files.com", "slack-redir.net")
SLACK_FILE_HOST = "files.slack.com"
# A url_private's file segment: TEAM-FILE on Slack (E… on Enterprise Grid), FILE in the
# emulator; then the name, or download/ and the name.
_FILE_PATH = re.compile(r"/files-pri/(?:[TE][A-Z0-9]+-)?(F[A-Z0-9]+)/(?:download/)?([^/]+)")
# Slack waits 3 s for a command's answer; files.info must leave time for the rest.
FILES_INFO_SECONDS = 2.0
# Operations whose items are URLs a person typed, fetched by the provider itself.
URL_OPERATIONS = frozenset({"xiangji.translate_image", "xiangji.cutout", "alibaba.translate_image"})


async def record_task(
    desk: TaskDesk,
    config: SlackConfig,
    *,
    dedupe_key: str,
    place: Place,
    provider: str,
    operation: str,
    request: dict[str, Any],
    items: tuple[Item, ...],
) -> tuple[Task, bool]:
    """``TaskDesk.record``, after one check: an image URL a person gave
    (``URL_OPERATIONS``) may not be a Slack address — ``UsageError`` says so and nothing
    is recorded."""
    if operation in URL_OPERATIONS:
        for item in items:
            if slack_address(config, item.source):
                raise UsageError(messages.slack_address_not_an_image(item.source))
    work = Work(dedupe_key, place, provider, operation, request, items)
    return await within_spend(desk, config, work)


async def record_message_work(
    desk: TaskDesk, key: str, place: Place, request: dict[str, Any], items: tuple[Item, ...]
) -> None:
    """A message's text and images as one ``xiangji.translate_message`` task (a flag,
    the Translate… form, an upload to an auto-images channel). Work that waits for Go
    or that a limit refuses (``within_spend``) has been answered in Slack already."""
    work = Work(key, place, "xiangji", "xiangji.translate_message", request, items)
    try:
        await within_spend(desk, None, work)
    except SpendStop:
        return


def slack_address(config: SlackConfig, url: str) -> bool:
    """``url`` is on one of Slack's names (any port or scheme), or on the host and port of
    ``SLACK_API_URL`` (the emulator in tests and the sandbox)."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower().rstrip("."), parts.port
        api = urlsplit(config.slack_api_url)
    except ValueError:
        return False
    if any(host == d or host.endswith(f".{d}") for d in SLACK_DOMAINS):
        return True
    default = {"https": 443, "http": 80}
    return bool(host) and (host, port or default.get(parts.scheme)) == (
        (api.hostname or "").lower(),
        api.port or default.get(api.scheme),
    )


def slack_file_id(config: SlackConfig, url: str) -> str | None:
    """The file id in ``url`` when it is exactly a Slack file's link that the bot token
    may be sent to (``Delivery.download_slack_file``): ``https://files.slack.com`` on its
    default port, or ``SLACK_API_URL``'s own scheme, host and port when that is not a
    Slack name (the emulator); no user or password; ``/files-pri/<file>/<name>`` (or
    ``…/download/<name>``). None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        api = urlsplit(config.slack_api_url)
    except ValueError:
        return None
    netloc = parts.netloc.lower()
    on_file_host = parts.scheme == "https" and netloc in (SLACK_FILE_HOST, f"{SLACK_FILE_HOST}:443")
    api_host = (api.hostname or "").lower()
    emulator = not any(api_host == d or api_host.endswith(f".{d}") for d in SLACK_DOMAINS)
    on_emulator = emulator and (parts.scheme, netloc) == (api.scheme, api.netloc.lower())
    match = _FILE_PATH.fullmatch(parts.path)
    if not (on_file_host or on_emulator) or match is None or port == 0:
        return None
    if unquote(match.group(2)) in (".", "..") or "@" in netloc:
        return None
    return match.group(1)


def shared_with(file: dict[str, Any], channel: str, user: str) -> bool:
    """``file`` (from ``files.info``) is ``user``'s own, or is shared in ``channel``."""
    if user and file.get("user") == user:
        return True
    places: set[str] = set()
    for key in ("channels", "groups", "ims"):
        places.update(file.get(key) or ())
    for kind in ("public", "private"):
        places.update(((file.get("shares") or {}).get(kind) or {}).keys())
    return channel in places


async def checked_slack_file(
    slack: AsyncWebClient, config: SlackConfig, url: str, *, channel: str, user: str
) -> dict[str, Any]:
    """The ``files.info`` file behind a Slack file link, when ``user`` may have Tolk open
    it in ``channel`` (``shared_with``); else ``UsageError`` with what to do instead.

    Asked before the command is acknowledged: one Web API call, bounded by
    ``FILES_INFO_SECONDS`` so the answer stays inside Slack's 3 s. A Slack that does not
    answer in time, or answers with an error, means no: the person is asked to try again."""
    file_id = slack_file_id(config, url)
    if file_id is None:
        raise UsageError(messages.slack_address_not_a_file(url))
    try:
        async with asyncio.timeout(FILES_INFO_SECONDS):
            resp = await slack.files_info(file=file_id)
    except SlackApiError as exc:
        if slack_error_code(exc) in ("file_not_found", "file_deleted", "access_denied"):
            raise UsageError(messages.slack_file_not_visible()) from exc
        raise UsageError(messages.slack_file_unchecked()) from exc
    except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
        raise UsageError(messages.slack_file_unchecked()) from exc
    file = resp.get("file") or {}
    if file.get("id") != file_id or not shared_with(file, channel, user):
        raise UsageError(messages.slack_file_not_visible())
    if slack_file_id(config, str(file.get("url_private") or "")) != file_id:
        raise UsageError(messages.slack_address_not_a_file(url))  # external, a tombstone…
    return file


def image_engines(config: SlackConfig) -> list[str]:
    """The Xiangji image engines whose key is configured, the default first."""
    return list(config.image_engines) if config.xiangji else []


def image_engine(config: SlackConfig, wanted: str | None, usage: str) -> str:
    """The engine an image command runs on: ``wanted`` (``--engine``, the form, the
    channel's setting) when its key is configured, else the first configured one.
    ``UsageError`` naming the variable to set when ``wanted``'s key is not configured,
    or when no image key is configured at all."""
    configured = image_engines(config)
    if not configured:
        raise UsageError(messages.image_translation_off(usage))
    if wanted is None:
        return configured[0]
    if wanted not in configured:
        raise UsageError(
            messages.engine_not_configured(
                wanted, config.engine_variables.get(wanted, ""), configured, usage
            )
        )
    return wanted


def message_engine(config: SlackConfig, wanted: str | None) -> str | None:
    """The engine for a message's images (a flag, the form, an upload): as
    ``image_engine``, except that with no image key at all there is none (the images then
    fail one by one, saying so, and the text is still translated)."""
    if not image_engines(config):
        return None
    return image_engine(config, wanted, "")


def require_xiangji(config: SlackConfig, key: str, what: str, variable: str) -> None:
    """Refuse (as bad input) a command whose Xiangji service key is not configured."""
    if not config.xiangji or key not in config.xiangji_keys:
        raise UsageError(messages.provider_off("Xiangji", what, ("XIANGJI_USER_KEY", variable)))


async def record_command(
    desk: TaskDesk,
    config: SlackConfig,
    ack: AsyncAck,
    command: dict[str, Any],
    *,
    operation: str,
    request: dict[str, Any],
    items: tuple[Item, ...],
    acknowledgement: Callable[[Task], str],
) -> None:
    """Record a slash command's Xiangji task once and ack naming it (or the existing one)."""
    try:
        task, created = await record_task(
            desk,
            config,
            dedupe_key=command_key(command),
            place=command_place(command),
            provider="xiangji",
            operation=operation,
            request=request,
            items=items,
        )
    except SpendStop as exc:  # waits for Go, or past a monthly limit
        if exc.card is not None:  # the estimate could not be posted: the answer carries it
            await ack(text=exc.card[0], blocks=exc.card[1])
        else:
            await ack(text=str(exc))
        return
    except UsageError as exc:  # a Slack address where an image URL belongs
        await ack(text=str(exc))
        return
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
MAX_DOC_BYTES = ALIBABA_DOC_BYTES  # Alibaba's document limit
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
        if not own_url(file):
            item = _failed(item, "not-slack", messages.not_a_slack_file(meta["name"]))
        elif n >= MAX_FILES:
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
        if not own_url(file):
            item = _failed(item, "not-slack", messages.not_a_slack_file(name))
        elif n >= MAX_FILES:
            item = _failed(item, "too-many", messages.too_many_files(MAX_FILES))
        elif int(file.get("size") or 0) > MAX_DOC_BYTES:
            item = _failed(item, "too-large", messages.file_too_large(name, MAX_DOC_BYTES))
        items.append(item)
    return tuple(items)


def own_url(file: dict[str, Any]) -> bool:
    """A message's file object carries its own ``url_private``: a Slack file path naming
    this very file (the host and scheme are checked where it is fetched,
    ``Delivery.download_slack_file``). Only such files of the message acted on are fetched."""
    try:
        path = urlsplit(str(file.get("url_private") or "")).path
    except ValueError:
        return False
    match = _FILE_PATH.fullmatch(path)
    return match is not None and bool(file.get("id")) and match.group(1) == file.get("id")


def _failed(item: Item, code: str, message: str) -> Item:
    return replace(item, status="failed", error={"code": code, "message": message})


# --- several target languages ------------------------------------------------------------
#
# The contract with the engine (issue 20): a command into several languages is ONE task.
# Its request names the first target as ever (``target``, ``target_code``) and every
# target in order (``targets``: ``[{"lang": "ko", "code": <provider code>}, …]``); its
# items are source-major — each source once per target, the item's meta naming its target
# (``target``, ``target_code``), keeping what else the meta held. With one target the
# task is exactly as before: no ``targets``, no target in any item's meta.


def as_targets(target: Language | Sequence[Language]) -> tuple[Language, ...]:
    return (target,) if isinstance(target, Language) else tuple(target)


def target_fields(targets: Sequence[Language], provider: str) -> dict[str, Any]:
    """A request's target: the first of ``targets``; with several, all of them."""
    first = targets[0]
    fields: dict[str, Any] = {"target": first.code, "target_code": provider_code(first, provider)}
    if len(targets) > 1:
        fields["targets"] = [{"lang": t.code, "code": provider_code(t, provider)} for t in targets]
    return fields


def fan_out(
    items: Sequence[Item],
    targets: Sequence[Language],
    provider: str,
    *,
    skip: Callable[[Item, Language], bool] = lambda item, target: False,
) -> tuple[dict[str, Any], tuple[Item, ...]]:
    """The request's target fields and the items of work into ``targets`` (see above).
    ``skip(item, target)``: a pair left out (a text already in that language); a target
    left with nothing to do is left out too, and when one target is left the task is a
    one-target task. No pair left: no items (the caller says there is nothing to do)."""
    pairs = [(item, t) for item in items for t in targets if not skip(item, t)]
    used = [t for t in targets if any(u == t for _, u in pairs)]
    if len(used) <= 1:
        return target_fields(used or targets[:1], provider), tuple(item for item, _ in pairs)
    return target_fields(used, provider), tuple(
        replace(
            item,
            meta={**item.meta, "target": t.code, "target_code": provider_code(t, provider)},
        )
        for item, t in pairs
    )


def shown(targets: Sequence[Language]) -> str | list[str]:
    """Targets as the acknowledgements take them: one code, or the codes of several."""
    return targets[0].code if len(targets) == 1 else [t.code for t in targets]


async def command_sets(channels: ChannelSettings, command: dict[str, Any]) -> dict[str, Any]:
    """The language sets of the command's workspace (name → codes), for its parser."""
    return dict((await channels.language_sets(command.get("team_id", ""))).sets)


def check_targets(
    source: Language | None, targets: Sequence[Language], provider: str, operation: str
) -> None:
    """``check_pair`` for every target: the first the provider cannot do raises
    ``LanguageError`` naming it."""
    for target in targets:
        check_pair(source, target, provider, operation)


def message_request(
    source: Language | None,
    target: Language | Sequence[Language],
    origin: dict[str, str],
    *,
    has_images: bool,
    image_default: Language | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The request of a ``xiangji.translate_message`` task into ``target`` (one language
    or several: ``message_work`` then makes the items); raises ``LanguageError`` when the
    provider cannot do it (checked before anything is recorded). With several targets,
    images are not checked against their own language (those pairs are left out)."""
    targets = as_targets(target)
    image_source = source or image_default or lookup("zh")
    if has_images:
        own = provider_code(image_source, "xiangji")
        check_targets(
            image_source,
            [t for t in targets if len(targets) == 1 or t.xiangji != own],
            "xiangji",
            "image",
        )
    return {
        "source": source.code if source else None,
        "source_code": provider_code(source, "xiangji") if source else None,
        **target_fields(targets, "xiangji"),
        "image_source_code": provider_code(image_source, "xiangji"),
        "origin": origin,
        **options,
    }


def message_work(
    request: dict[str, Any],
    items: Sequence[Item],
    targets: Sequence[Language],
    *,
    text_source: Language | None = None,
) -> tuple[dict[str, Any], tuple[Item, ...]]:
    """A ``xiangji.translate_message`` task's request and items into ``targets``: with
    several, a text is not translated into its own language (``text_source``) nor images
    into the language they are read in (the request's ``image_source_code``)."""
    if len(targets) == 1:
        return request, tuple(items)

    def skip(item: Item, target: Language) -> bool:
        if item.meta.get("kind") == "text":
            return target == text_source
        return provider_code(target, "xiangji") == request["image_source_code"]

    fields, work = fan_out(items, targets, "xiangji", skip=skip)
    return {**{k: v for k, v in request.items() if k != "targets"}, **fields}, work


async def fetch_message(slack: AsyncWebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """One message by channel and ts, top-level or in a thread (a Slack call, no provider)."""
    resp = await slack.conversations_replies(channel=channel, ts=ts, limit=200)
    found: list[dict[str, Any]] = resp.get("messages") or []
    return next((m for m in found if m.get("ts") == ts), None)


def require_alibaba(config: SlackConfig, what: str) -> None:
    if not config.alibaba:
        raise UsageError(
            messages.provider_off(
                "Alibaba Cloud", what, ("ALIBABA_ACCESS_KEY_ID", "ALIBABA_ACCESS_KEY_SECRET")
            )
        )


async def doc_item(
    slack: AsyncWebClient, config: SlackConfig, url: str, command: dict[str, Any]
) -> Item:
    """A document by URL. A Slack file is taken only when the person may have it opened
    here (``checked_slack_file``), recorded under the ``url_private`` Slack gives for it
    and marked so Alibaba gets a signed link; any other Slack address is refused
    (``UsageError``)."""
    name = PurePosixPath(urlsplit(url).path).name or "document"
    if not slack_address(config, url):
        return Item(source=url, meta={"kind": "url", "name": name})
    file = await checked_slack_file(
        slack, config, url, channel=command["channel_id"], user=command["user_id"]
    )
    meta = {"kind": "slack-file", "name": file.get("name") or name, "file_id": file["id"]}
    return Item(source=str(file["url_private"]), meta=meta)


def doc_request(
    source: Language | None,
    target: Language | Sequence[Language],
    provider: str,
    **options: Any,
) -> dict[str, Any]:
    """The request of a ``<provider>.translate_doc`` task into one target or several
    (languages already checked; the items come from ``fan_out``); no source means the
    provider detects it (Rozetta)."""
    fields = target_fields(as_targets(target), provider)
    return {
        "source": source.code if source else None,
        "target": fields.pop("target"),
        "source_code": provider_code(source, provider) if source else None,
        "target_code": fields.pop("target_code"),
        **fields,
        **{k: v for k, v in options.items() if v is not None},
    }


def require_doc_provider(config: SlackConfig, provider: str) -> None:
    if provider == "alibaba":
        require_alibaba(config, "document translation")
    elif not config.rozetta:
        raise UsageError(
            messages.provider_off(
                "Rozetta",
                "Rozetta document translation",
                ("ROZETTA_ACCESS_KEY", "ROZETTA_SECRET_KEY"),
            )
        )

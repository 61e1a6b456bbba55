"""Getting results into Slack: download from allowed hosts, upload with
``files_upload_v2``, post messages — each at most once per task.

"Once" survives crashes: before a post, the task records its *intent* (a marker) in
the store; after it, the Slack ts. A task found with an intent but no ts (the process
died in between) first looks in Slack for the marker — message metadata for messages,
the file name for uploads — and only posts if it is not there.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.mrkdwn import SECTION, clip, fit_message
from bot.slack_client import (
    NOT_JSON,
    SlackFailure,
    TolkWebClient,
    slack_error_code,
    slack_failure,
)
from bot.slack_retry import RateLimitRetry

log = logging.getLogger(__name__)

METADATA_EVENT = "tolk_task_message"
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
RESPONSE_TIMEOUT = aiohttp.ClientTimeout(total=10)
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=15)

REDIRECTS = 5  # hops a download follows, each checked like the first URL
RESPONSE_URL_SECONDS = 30 * 60  # Slack's life of a command's response_url
RESPONSE_URL_USES = 5


class DownloadRefused(Exception):
    """The URL is not on an allowed host; it is never fetched."""


class DownloadFailed(Exception):
    """The file could not be fetched. ``permanent``: no retry will fetch it (no such
    host, 4xx, a redirect off the allowed hosts, a sign-in page); otherwise (timeouts,
    resets, 5xx) a later try may work. ``str()`` says what happened, with the host."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class FileTooLarge(Exception):
    """The file is larger than Tolk accepts; its size is not going to change."""


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, however it is chunked — ``StreamReader.read(n)`` returns only what
    has arrived so far — and ``FileTooLarge`` as soon as it passes ``limit``."""
    chunks, size = [], 0
    async for chunk in stream.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def host_allowed(url: str, allowed: Sequence[str]) -> bool:
    """``allowed`` holds ``host``, ``host:port`` or ``*.domain`` entries.

    A wildcard never admits an IP literal on a private, loopback or link-local
    address: only an entry naming that exact host does."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a bad port or bracket: not a URL we fetch
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    for entry in allowed:
        if entry in (host, f"{host}:{port}"):
            return True
        if entry.startswith("*.") and fnmatch.fnmatchcase(host, entry) and not _private_ip(host):
            return True
    return False


def _named_exactly(url: str, allowed: Sequence[str]) -> bool:
    """``url``'s host is an entry of ``allowed`` itself, not only under a wildcard (call
    after ``host_allowed``)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return any(entry in (host, f"{host}:{port}") for entry in allowed)


def _private_ip(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    # not is_global: also carrier-grade NAT space, where clouds put metadata services
    # (Alibaba Cloud's 100.100.100.200)
    return not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved


async def _resolves_publicly(host: str, port: int | None) -> bool:
    """Every address ``host`` resolves to is public (no loopback, private, link-local)."""
    if _private_ip(host):
        return False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443)
    except OSError:
        return True  # unresolvable here: the fetch fails on its own, nothing private is hit
    return all(not _private_ip(str(info[4][0])) for info in infos)


class Delivery:
    def __init__(
        self,
        slack: AsyncWebClient,
        session: aiohttp.ClientSession,
        allowed_hosts: Sequence[str],
        *,
        slack_file_hosts: Sequence[str] = ("files.slack.com",),
        response_hosts: Sequence[str] = ("hooks.slack.com",),
        max_concurrent: int = 8,
    ) -> None:
        self.slack = slack
        self._acting = only_429_retries(slack)
        self._session = session
        self._allowed = tuple(allowed_hosts)
        self.slack_file_hosts = tuple(slack_file_hosts)
        self.response_hosts = tuple(response_hosts)
        self._transfers = asyncio.Semaphore(max_concurrent)

    async def download(self, url: str, *, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """A provider's result, from an allowed host only. A host admitted by a
        ``*.domain`` entry (not named itself) must also resolve to public addresses."""
        return await self._get(url, {}, limit, self._check_result_url)

    async def _check_result_url(self, url: str) -> None:
        if not host_allowed(url, self._allowed):
            raise DownloadRefused(url)
        if not _named_exactly(url, self._allowed):
            parts = urlsplit(url)
            if not await _resolves_publicly(parts.hostname or "", parts.port):
                raise DownloadRefused(url)

    async def download_public(self, url: str, *, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """A URL a person gave, for a provider that takes only uploads: fetched only when
        its host resolves to public addresses, or is explicitly allowed."""
        return await self._get(url, {}, limit, self._check_public_url)

    async def _check_public_url(self, url: str) -> None:
        if host_allowed(url, self._allowed):
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadRefused(url)
        if not await _resolves_publicly(parts.hostname, parts.port):
            raise DownloadRefused(url)

    async def download_slack_file(self, url: str, *, limit: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """A Slack file's ``url_private``: Slack's hosts only, with the bot token. A redirect
        means Slack wants a login (wrong token or scope): never followed."""
        if not host_allowed(url, self.slack_file_hosts):
            raise DownloadRefused(url)
        headers = {"Authorization": f"Bearer {self.slack.token}"}
        return await self._get(url, headers, limit, None)

    async def _get(
        self,
        url: str,
        headers: dict[str, str],
        limit: int,
        check: Callable[[str], Awaitable[None]] | None,
    ) -> bytes:
        """GET ``url``, following up to ``REDIRECTS`` redirects when ``check`` admits
        each hop (``check`` None: no redirect is followed). See ``DownloadFailed``."""
        for _ in range(REDIRECTS + 1):
            if check is not None:
                await check(url)
            host = urlsplit(url).hostname or url
            async with self._transfers:
                try:
                    async with self._session.get(
                        url, headers=headers, timeout=DOWNLOAD_TIMEOUT, allow_redirects=False
                    ) as resp:
                        if resp.status in (301, 302, 303, 307, 308) and check is not None:
                            url = urljoin(url, resp.headers.get("Location", ""))
                            continue
                        if resp.status != 200:
                            raise _status_failure(host, resp.status, headers)
                        return await read_at_most(resp.content, limit)
                except aiohttp.ClientConnectorDNSError as exc:
                    raise DownloadFailed(
                        f"there is no such host as {host}", permanent=True
                    ) from exc
                except aiohttp.ClientConnectorError as exc:
                    refused = isinstance(exc.os_error, ConnectionRefusedError)
                    raise DownloadFailed(
                        f"{host} refused the connection"
                        if refused
                        else f"{host} could not be reached",
                        permanent=refused,
                    ) from exc
                except aiohttp.InvalidURL as exc:
                    raise DownloadFailed(f"{url} is not a valid address", permanent=True) from exc
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise DownloadFailed(f"{host}: {type(exc).__name__}") from exc
        raise DownloadFailed(f"{host} redirected more than {REDIRECTS} times", permanent=True)

    async def upload(
        self, channel: str, thread_ts: str | None, filename: str, data: bytes, comment: str
    ) -> str:
        async with self._transfers:
            resp = await self._acting.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file=data,
                filename=filename,
                title=filename,
                initial_comment=comment,
            )
        return str(resp["files"][0]["id"]) if resp.get("files") else ""

    async def has_file(self, channel: str, thread_ts: str, filename: str) -> bool:
        """A reply in the thread carries ``filename`` (the thread's own message does not
        count: it may hold the very document that was translated)."""
        for message in await self._replies(channel, thread_ts):
            if message.get("ts") == thread_ts:
                continue
            if any(f.get("name") == filename for f in message.get("files", ())):
                return True
        return False

    async def post(
        self,
        channel: str,
        text: str,
        *,
        marker: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Post a message; one that Slack refuses as it is (``invalid_blocks`` …) is sent
        again as plain text, so the person still gets the words."""
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"marker": marker}}
        try:
            resp = await self._acting.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            if slack_failure(exc) is not SlackFailure.REFUSED or not (
                blocks or len(text) > SECTION
            ):
                raise
            log.error(
                "Slack refused a message (%s); sending it as plain text", slack_error_code(exc)
            )
            resp = await self._acting.chat_postMessage(
                channel=channel,
                text=clip(text, SECTION),
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        return str(resp["ts"])

    async def open_dm(self, user: str) -> str:
        """The id of Tolk's direct-message conversation with ``user`` (``im:write``)."""
        resp = await self.slack.conversations_open(users=user)
        return str(resp["channel"]["id"])

    async def respond(
        self, url: str, text: str, *, in_channel: bool = False, blocks: list | None = None
    ) -> None:
        """Post through a command's ``response_url`` (Slack's hosts only). Works where Tolk
        was never invited; ``SlackApiError`` when Slack refuses (expired, used up)."""
        if not host_allowed(url, self.response_hosts):
            raise DownloadRefused(url)
        body = fit_message(
            {
                "response_type": "in_channel" if in_channel else "ephemeral",
                "text": text,
                **({"blocks": blocks} if blocks else {}),
            }
        )
        async with self._session.post(url, json=body, timeout=RESPONSE_TIMEOUT) as resp:
            answer = await resp.text()
            if resp.status != 200:
                error = answer.strip()[:100] if answer.strip().isidentifier() else NOT_JSON
                if resp.status >= 500:
                    error = NOT_JSON
                raise SlackApiError(f"response_url: {error}", {"ok": False, "error": error})

    async def find_marker(
        self, channel: str, marker: str, *, thread_ts: str | None, oldest: float
    ) -> str | None:
        """The ts of a message Tolk posted with ``marker``, if Slack has it."""
        if thread_ts:
            messages = await self._replies(channel, thread_ts)
        else:
            resp = await self.slack.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
            )
            messages = resp.get("messages", [])
        for message in messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("marker") == marker:
                return str(message["ts"])
        return None

    async def _replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor = None
        while True:
            resp = await self.slack.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
            )
            messages += resp.get("messages", [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return messages

    async def update(
        self, channel: str, ts: str, text: str, blocks: list[dict] | None = None
    ) -> None:
        await self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    async def ephemeral(self, channel: str, user: str, text: str, **kwargs: Any) -> None:
        await self.slack.chat_postEphemeral(channel=channel, user=user, text=text, **kwargs)


def only_429_retries(slack: AsyncWebClient) -> AsyncWebClient:
    """``slack`` for calls that act (post a message, share a file): it retries a 429, which
    Slack answers before doing anything, but not a 5xx or a dropped connection, which may
    come after the message was posted or the file shared — a blind retry would post it
    twice. Those failures go back to the step, which looks in Slack first (``once``,
    ``has_file``)."""
    return TolkWebClient(
        token=slack.token,
        base_url=slack.base_url,
        timeout=slack.timeout,
        ssl=slack.ssl,
        proxy=slack.proxy,
        session=slack.session,
        headers=slack.headers,
        retry_handlers=[h for h in slack.retry_handlers if isinstance(h, RateLimitRetry)],
    )


def _status_failure(host: str, status: int, headers: dict[str, str]) -> DownloadFailed:
    if status >= 500 or status in (408, 429):
        return DownloadFailed(f"{host} answered HTTP {status}")
    if 300 <= status < 400 and "Authorization" in headers:
        return DownloadFailed(
            f"{host} sent a sign-in page instead of the file (Tolk may not read it)", permanent=True
        )
    if 300 <= status < 400:
        return DownloadFailed(f"{host} redirected elsewhere (HTTP {status})", permanent=True)
    gone = {404: " (not found)", 403: " (forbidden)", 410: " (gone)", 401: " (needs a login)"}
    return DownloadFailed(f"{host} answered HTTP {status}{gone.get(status, '')}", permanent=True)


async def once(
    sent: dict[str, str],
    intents: set[str],
    marker: str,
    *,
    record_intent: Callable[[], Awaitable[None]],
    find: Callable[[], Awaitable[str | None]],
    post: Callable[[], Awaitable[str]],
) -> str:
    """Post at most once per ``marker``: see the module docstring."""
    if marker in sent:
        return sent[marker]
    if marker in intents and (found := await find()):
        log.info("found %s already in Slack after a restart; not posting again", marker)
        return found
    await record_intent()
    return await post()

"""Getting results into Slack: download from allowed hosts, upload with
``files_upload_v2``, post messages — each at most once per task.

"Once" survives crashes: before a post, the task records its *intent* (a marker) in
the store; after it, the Slack ts. A task found with an intent but no ts (the process
died in between) first looks in Slack for the marker — message metadata for messages,
the file name for uploads — and only posts if it is not there.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.fetch import (  # the names others import from here, since before bot.core.fetch
    DOWNLOAD_TIMEOUT as DOWNLOAD_TIMEOUT,
)
from bot.core.fetch import (
    MAX_DOWNLOAD_BYTES,
    PER_OWNER,
    TRANSFERS,
    DownloadRefused,
    Fetcher,
    public_address,
)
from bot.core.fetch import REDIRECTS as REDIRECTS
from bot.core.fetch import DownloadFailed as DownloadFailed
from bot.core.fetch import FileTooLarge as FileTooLarge
from bot.core.fetch import read_at_most as read_at_most
from bot.core.logs import current_work
from bot.core.mrkdwn import SECTION, clip, fit_message
from bot.core.slack_client import (
    NOT_JSON,
    SlackFailure,
    TolkWebClient,
    slack_error_code,
    slack_failure,
)
from bot.core.slack_retry import RateLimitRetry
from bot.engine.tenant import slack_context

log = logging.getLogger(__name__)

METADATA_EVENT = "tolk_task_message"
RESPONSE_TIMEOUT = aiohttp.ClientTimeout(total=10)

RESPONSE_URL_SECONDS = 30 * 60  # Slack's life of a command's response_url
RESPONSE_URL_USES = 5


def current_owner() -> str | None:
    """Whose transfer this is: the person the current task is for (set by the work
    engine in ``current_work``), for ``FairSlots``."""
    owner = current_work.get().get("owner")
    return str(owner) if owner else None


def host_allowed(url: str, allowed: Sequence[str]) -> bool:
    """``allowed`` holds ``host``, ``host:port``, ``*.domain`` or ``*.domain:port`` entries.

    An entry without a port admits only the default port of the URL's scheme (443 for
    https, 80 for http). A port is part of what an entry names: ``files.slack.com`` means
    Slack's file service on 443, while ``files.slack.com:8443`` is some other service on
    that name, ``http://files.slack.com:443`` a cleartext connection, and for a loopback
    or private entry every other port is another program on that machine. An entry that
    matched any port and scheme turned one allowed service into everything behind its
    name; a non-default port must be named (``127.0.0.1:8999``).

    A wildcard never admits an IP literal on a private, loopback or link-local
    address: only an entry naming that exact host does."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or bracket: not a URL we fetch
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default = 443 if parts.scheme == "https" else 80
    port = default if port is None else port
    host = parts.hostname.lower()
    for entry in allowed:
        try:
            named = urlsplit(f"//{entry.strip()}")
            entry_host, entry_port = (named.hostname or "").lower(), named.port
        except ValueError:  # a malformed entry admits nothing
            continue
        if not entry_host or port != (default if entry_port is None else entry_port):
            continue
        if entry_host == host:
            return True
        if (
            entry_host.startswith("*.")
            and fnmatch.fnmatchcase(host, entry_host)
            and not _private_ip(host)
        ):
            return True
    return False


def _named_exactly(url: str, allowed: Sequence[str]) -> bool:
    """``url``'s host is an entry of ``allowed`` itself, not only under a wildcard (call
    after ``host_allowed``; the same port rule applies)."""
    return host_allowed(url, [entry for entry in allowed if not entry.strip().startswith("*.")])


def _private_ip(host: str) -> bool:
    """``host`` is an IP literal off the public internet (``bot.core.fetch.public_address``:
    also carrier-grade NAT space, where clouds put metadata services — Alibaba Cloud's
    100.100.100.200 — and IPv4 addresses inside IPv6 ones)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not public_address(host)


class Delivery:
    def __init__(
        self,
        slack: AsyncWebClient,
        session: aiohttp.ClientSession,
        allowed_hosts: Sequence[str],
        *,
        slack_file_hosts: Sequence[str] = ("files.slack.com",),
        response_hosts: Sequence[str] = ("hooks.slack.com",),
        max_concurrent: int = TRANSFERS,
        per_owner: int = PER_OWNER,
        fetcher: Fetcher | None = None,
    ) -> None:
        self._slack = slack
        self._acting_clients: weakref.WeakKeyDictionary[AsyncWebClient, AsyncWebClient] = (
            weakref.WeakKeyDictionary()
        )
        self._session = session
        self._allowed = tuple(allowed_hosts)
        self.slack_file_hosts = tuple(slack_file_hosts)
        self.response_hosts = tuple(response_hosts)
        # every URL Tolk opens itself goes through the fetcher (bot/core/fetch.py): resolved
        # once, checked, connected to the checked address, in fair per-person slots
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or Fetcher(transfers=max_concurrent, per_owner=per_owner)

    @property
    def slack(self) -> AsyncWebClient:
        """The Slack client of the workspace the current step works for
        (``bot.engine.tenant.slack_context``), else the one this Delivery was given."""
        return slack_context.get() or self._slack

    @property
    def _acting(self) -> AsyncWebClient:
        slack = self.slack
        acting = self._acting_clients.get(slack)
        if acting is None:
            acting = self._acting_clients[slack] = only_429_retries(slack)
        return acting

    async def close(self) -> None:
        """Close the fetcher if this Delivery made it (``open_services`` closes its own)."""
        if self._own_fetcher:
            await self.fetcher.close()

    async def download(
        self, url: str, *, limit: int = MAX_DOWNLOAD_BYTES, owner: str | None = None
    ) -> bytes:
        """A provider's result, from an allowed host only. A host admitted by a
        ``*.domain`` entry (not named itself) must also be at public addresses: checked
        by the fetcher on the addresses it connects to."""
        return await self._get(
            url, {}, limit, self._check_result_url, trusted=self._allowed, owner=owner
        )

    async def _check_result_url(self, url: str) -> None:
        if not host_allowed(url, self._allowed):
            raise DownloadRefused(url)

    async def download_public(
        self, url: str, *, limit: int = MAX_DOWNLOAD_BYTES, owner: str | None = None
    ) -> bytes:
        """A URL a person gave, for a provider that takes only uploads: fetched only from
        public addresses, or from a host named in the allowed hosts (the fetcher checks
        the addresses it connects to)."""
        return await self._get(
            url, {}, limit, self._check_public_url, trusted=self._allowed, owner=owner
        )

    async def _check_public_url(self, url: str) -> None:
        if host_allowed(url, self._allowed):
            return
        try:
            parts = urlsplit(url)
        except ValueError:
            raise DownloadRefused(url) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadRefused(url)

    async def download_slack_file(
        self, url: str, *, limit: int = MAX_DOWNLOAD_BYTES, file_id: str | None = None
    ) -> bytes:
        """A Slack file's ``url_private``, with the bot token. This is the one place the
        token goes anywhere but Slack's Web API, so only where Slack serves files:

        - over HTTPS to ``files.slack.com`` on its default port, or to the host of
          ``SLACK_API_URL`` when that is not a slack.com name (the emulator); over plain
          http only to that very host and port, when ``SLACK_API_URL`` itself is plain
          http (the emulator on loopback) — never to ``slack.com`` or any other Slack
          host, whatever ``slack_file_hosts`` holds;
        - only to a file path, ``/files-pri/<file>/<name>`` or
          ``/files-pri/<file>/download/<name>`` (``<file>`` is ``TEAM-FILE`` on Slack,
          ``FILE`` in the emulator), and with ``file_id`` only to that file's;
        - never with a user or password in the URL, never after a redirect (a redirect
          means Slack wants a login: wrong token or scope).

        Who may have which file fetched is decided before anything is recorded
        (``handlers.slack.common``, ``files.info``); this is the last line of defence."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise DownloadRefused(url) from None
        api = urlsplit(str(self.slack.base_url or ""))

        def slack_com(entry: str) -> bool:
            name = entry.strip().lower().rsplit("@", 1)[-1].split(":", 1)[0]
            return name == "slack.com" or name.endswith(".slack.com")

        file_hosts = [
            h
            for h in self.slack_file_hosts
            if h.strip().lower() == "files.slack.com" or not slack_com(h)
        ]
        if parts.scheme == "https":
            on_host = host_allowed(url, file_hosts)
        else:  # plain http: only to SLACK_API_URL's own host and port, when it is http
            on_host = (
                parts.scheme == "http"
                and api.scheme == "http"
                and parts.netloc.lower() == api.netloc.lower()
                and api.netloc.lower() in (h.strip().lower() for h in file_hosts)
            )
        segments = parts.path.split("/")
        if len(segments) == 5 and segments[3] == "download":
            del segments[3]
        name = unquote(segments[-1]) if len(segments) == 4 else ""
        shaped = (
            len(segments) == 4
            and segments[:2] == ["", "files-pri"]
            and re.fullmatch(r"(?:[TE][A-Z0-9]+-)?F[A-Z0-9]+", segments[2]) is not None
            and name not in ("", ".", "..")
            and not any(c in name for c in "/\\")
        )
        stored_as = segments[2].rsplit("-", 1)[-1] if len(segments) == 4 else None
        own = file_id is None or stored_as == file_id
        if not (on_host and shaped and own) or parts.username or parts.password or port == 0:
            raise DownloadRefused(url)
        headers = {"Authorization": f"Bearer {self.slack.token}"}
        return await self._get(url, headers, limit, None)

    async def _get(
        self,
        url: str,
        headers: dict[str, str],
        limit: int,
        check: Callable[[str], Awaitable[None]] | None,
        *,
        trusted: Sequence[str] | None = None,
        owner: str | None = None,
    ) -> bytes:
        """GET ``url`` through the fetcher, following up to ``REDIRECTS`` redirects when
        ``check`` admits each hop (``check`` None: no redirect is followed). Only a host
        named in ``trusted`` (None: Slack's file hosts) may be at a non-public address.
        ``owner``: whose transfer it is (default: the current task's person). See
        ``DownloadFailed``."""
        return await self.fetcher.get(
            url,
            headers=headers,
            limit=limit,
            check=check,
            trusted=self.slack_file_hosts if trusted is None else trusted,
            owner=owner if owner is not None else current_owner(),
        )

    async def upload(
        self, channel: str, thread_ts: str | None, filename: str, data: bytes, comment: str
    ) -> str:
        async with self.fetcher.slots.slot(current_owner()):
            resp = await self._acting.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file=data,
                filename=filename,
                title=filename,
                initial_comment=comment,
            )
        return str(resp["files"][0]["id"]) if resp.get("files") else ""

    async def upload_many(
        self,
        channel: str,
        thread_ts: str | None,
        files: Sequence[tuple[str, bytes]],
        comment: str,
    ) -> list[str]:
        """Several files in one message (a review card's original and translation)."""
        async with self.fetcher.slots.slot(current_owner()):
            resp = await self._acting.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file_uploads=[
                    {"file": data, "filename": name, "title": name} for name, data in files
                ],
                initial_comment=comment,
            )
        return [str(f["id"]) for f in resp.get("files") or ()]

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

        async def send(text: str, blocks: list[dict[str, Any]] | None) -> Any:
            return await self._acting.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )

        try:
            resp = await send(text, blocks)
        except SlackApiError as exc:
            if slack_failure(exc) is not SlackFailure.REFUSED or not (
                blocks or len(text) > SECTION
            ):
                raise
            log.error(
                "Slack refused a message (%s); sending it as plain text", slack_error_code(exc)
            )
            resp = await send(clip(text, SECTION), None)
        return str(resp["ts"])

    async def open_dm(self, user: str) -> str:
        """The id of Tolk's direct-message conversation with ``user`` (``im:write``)."""
        resp = await self.slack.conversations_open(users=user)
        return str(resp["channel"]["id"])

    async def respond(
        self,
        url: str,
        text: str,
        *,
        in_channel: bool = False,
        blocks: list[dict[str, Any]] | None = None,
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
                refused = {"ok": False, "error": error}
                # slack_sdk leaves SlackApiError.__init__ unannotated
                raise SlackApiError(f"response_url: {error}", refused)  # type: ignore[no-untyped-call]

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
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
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

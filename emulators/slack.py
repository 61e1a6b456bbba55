"""An in-process emulator of the Slack Web API, speaking its wire format.

The real ``slack_sdk`` ``AsyncWebClient`` (and therefore slack-bolt's ``AsyncApp``) works
against it unmodified: point ``base_url`` at :attr:`SlackEmulator.api_url`. It rejects what
Slack rejects (bad tokens, unknown channels, missing text, uploads whose bytes never arrived)
and records every call so tests can inspect both traffic and the resulting workspace state.

It is as strict as Slack where Tolk can trip: Block Kit limits (:mod:`emulators.blockkit`,
answered ``invalid_blocks`` with Slack's ``errors`` array), ``text`` over 40,000 characters
(``msg_too_long``), conversation membership (a private channel or DM the bot is not in is
``channel_not_found``; a public one is writable only with ``chat:write.public`` and is
``not_in_channel`` for uploads, ephemerals and history), archived channels (``is_archived``),
scopes (``missing_scope``), and ``response_url`` limits (5 posts within 30 minutes).

It also models Slack's OAuth and many workspaces: ``register_app`` (client id and secret,
redirect URIs, token rotation, event URL and signing secret), ``add_workspace`` (another
team, optionally in an Enterprise Grid, with its own channels and people: fill it inside
``with emu.in_workspace(team_id):``), ``authorize`` (an installer's one-time ``code``, 10
minutes), ``oauth.v2.access`` (``invalid_client_id``, ``bad_client_secret``,
``invalid_code``, ``bad_redirect_uri``, ``invalid_grant_type``,
``invalid_refresh_token``), ``auth.revoke`` and ``uninstall`` with the signed
``tokens_revoked`` / ``app_uninstalled`` events (``send_event``). Every call is served in
its token's workspace: another workspace's channel is ``channel_not_found``, its people
``user_not_found``; a revoked token is ``token_revoked``, a rotated-out or expired one
``token_expired``, an unknown one ``invalid_auth``. The constructor's ``bot_token`` keeps
acting in the emulator's own workspace, as before.

Besides ``/api/<method>`` it serves the file upload URLs handed out by
``files.getUploadURLExternal`` (``/upload/<file_id>``), ``url_private`` downloads
(``/files-pri/<file_id>/<name>``, bot token required) and ``response_url`` endpoints
(``/response/<id>``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import mimetypes
import pathlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from emulators.blockkit import validate_blocks, validate_view
from emulators.signed import signed_headers

Handler = Callable[["SlackEmulator", dict[str, Any]], dict[str, Any]]

_TS_RE = re.compile(r"^\d{9,10}\.\d{6}$")
_JSON_ARGS = ("blocks", "attachments", "view", "files")
_MAX_TEXT = 40_000
_RESPONSE_URL_USES = 5
_RESPONSE_URL_TTL = 30 * 60  # seconds
_CODE_TTL = 10 * 60  # an OAuth ``code`` lives 10 minutes, and is good once
_TOKEN_TTL = 12 * 60 * 60  # ``expires_in`` of a rotating access token
# Methods called without a token (the app's client credentials authenticate them).
_NO_TOKEN_METHODS = frozenset({"oauth.v2.access"})
# What a workspace-scoped call sees; swapped in while a workspace's token is served.
_WORKSPACE_ATTRS = (
    "channels",
    "users",
    "team_id",
    "team_name",
    "enterprise_id",
    "bot_user_id",
    "bot_id",
    "_default_channels",
)
# The bot scopes of manifest.yml (tests/emulators/test_strict_slack.py keeps them in step).
DEFAULT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "files:read",
        "channels:history",
        "groups:history",
        "reactions:read",
        "users:read",
        "im:write",
        "im:history",
    }
)
# Scopes a method needs whatever the conversation (history scopes depend on its kind).
_METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.delete": "files:write",
    "files.info": "files:read",
    "users.info": "users:read",
    "conversations.open": "im:write",
    "reactions.get": "reactions:read",
}


class SlackError(Exception):
    """A Slack ``{"ok": false, "error": ...}`` answer raised from inside a handler."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid_blocks(errors: list[str]) -> SlackError:
    """Slack's answer to blocks that break Block Kit's rules."""
    return SlackError(
        "invalid_blocks",
        errors=errors,
        response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
    )


def _missing(name: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


@dataclass
class Call:
    """One HTTP request to the emulator (``method`` is ``"upload"`` for upload URL posts and
    ``"response_url"`` for response_url posts)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float
    faulted: bool = False
    response: dict[str, Any] | None = None


@dataclass
class Channel:
    """A conversation with its top-level messages and threads (parent ts -> replies).

    ``members`` holds user ids (the bot's included when it is in the conversation). A
    private channel, DM or group DM is invisible to the bot unless it is a member.
    """

    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    is_archived: bool = False
    is_mpim: bool = False

    @property
    def is_public(self) -> bool:
        return not (self.is_private or self.is_im or self.is_mpim)

    def info(self, viewer: str | None = None) -> dict[str, Any]:
        """The conversation object as ``viewer`` (the bot, usually) sees it."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": self.is_public,
            "is_group": self.is_private and not self.is_mpim,
            "is_im": self.is_im,
            "is_mpim": self.is_mpim,
            "is_private": not self.is_public,
            "is_member": viewer in self.members,
            "is_archived": self.is_archived,
        }
        if self.is_im:
            data["user"] = next((m for m in sorted(self.members) if m != viewer), self.name)
        return data


@dataclass
class File:
    """An uploaded file; ``content`` holds the exact bytes, ``path`` the copy in files_dir."""

    id: str
    name: str
    title: str
    size: int
    content: bytes
    mimetype: str
    filetype: str
    user: str
    url_private: str
    url_private_download: str
    permalink: str
    channel: str | None = None
    thread_ts: str | None = None
    path: pathlib.Path | None = None
    alt_txt: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    shares: list[dict[str, Any]] = field(default_factory=list)
    team: str = ""  # the workspace it was uploaded in

    def to_api(self, seen: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """The file object as Slack's API returns it: where it is shared, in ``channels``
        (public channels), ``groups`` (private channels, group DMs), ``ims`` (DMs) and
        ``shares`` (``public`` / ``private``). With ``seen``, only the conversations for
        which ``seen(channel_id)`` is true are shown (``files.info`` shows what the caller
        can see)."""
        public: dict[str, list[dict[str, Any]]] = {}
        private: dict[str, list[dict[str, Any]]] = {}
        groups: list[str] = []
        ims: list[str] = []
        for share in self.shares:
            if seen is not None and not seen(share["channel"]):
                continue
            entry = {"ts": share["ts"], "channel_name": share["channel_name"]}
            if share.get("thread_ts"):
                entry["thread_ts"] = share["thread_ts"]
            kind = share.get("kind", "public")
            (public if kind == "public" else private).setdefault(share["channel"], []).append(entry)
            listed = groups if kind == "group" else ims if kind == "im" else None
            if listed is not None and share["channel"] not in listed:
                listed.append(share["channel"])
        data = {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": self.filetype.upper(),
            "user": self.user,
            "size": self.size,
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(public),
            "url_private": self.url_private,
            "url_private_download": self.url_private_download,
            "permalink": self.permalink,
            "channels": list(public),
            "groups": groups,
            "ims": ims,
            "shares": {
                **({"public": public} if public else {}),
                **({"private": private} if private else {}),
            },
        }
        if self.alt_txt:
            data["alt_txt"] = self.alt_txt
        return data


@dataclass
class _Pending:
    """An upload slot from files.getUploadURLExternal; ``content`` is None until bytes arrive."""

    id: str
    filename: str
    length: int
    alt_txt: str | None
    content: bytes | None = None


@dataclass
class App:
    """An app registered for OAuth (``register_app``): its credentials, redirect URIs,
    the bot scopes it asks for, token rotation, and where its events go."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    app_id: str
    scopes: frozenset[str]
    token_rotation: bool = False
    event_url: str | None = None
    signing_secret: str | None = None


@dataclass
class Workspace:
    """A second (third, ...) workspace: its own channels, users and bot user. The
    emulator's own workspace (``team_id``) keeps living on the emulator's attributes."""

    team_id: str
    team_name: str
    enterprise_id: str | None
    enterprise_name: str | None
    bot_user_id: str
    bot_id: str
    channels: dict[str, Channel] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    _default_channels: tuple[str, ...] = ()


@dataclass
class Grant:
    """A one-time OAuth ``code`` handed to an installer's browser by ``authorize``."""

    code: str
    client_id: str
    team_id: str
    user_id: str
    redirect_uri: str | None
    scopes: frozenset[str]
    created: float
    used: bool = False


@dataclass
class Token:
    """A bot token issued by ``oauth.v2.access``. ``state`` is ``"active"``,
    ``"revoked"`` (auth.revoke, uninstall: ``token_revoked``) or ``"expired"`` (replaced
    by a refresh, or past ``expires_at``: ``token_expired``)."""

    token: str
    client_id: str
    team_id: str
    user_id: str  # the installer
    scopes: frozenset[str]
    expires_at: float | None = None
    refresh_token: str | None = None
    state: str = "active"


@dataclass
class Fault:
    method: str
    status: int
    retry_after: int | None
    times: int
    error: str | None
    after: bool = False
    body: str | None = None
    content_type: str = "application/json"


class FaultPlan:
    """Injected failures: ``add("chat.postMessage", status=429, retry_after=1, times=1)``.

    ``method`` is a Web API method name, ``"upload"`` for the upload URL or
    ``"response_url"``. A status of 200
    with ``error`` makes the call answer ``{"ok": false, "error": error}``. With
    ``after=True`` the call takes effect first and only its answer is the fault (a 5xx
    or a timeout after Slack acted): the message is posted, the file shared. With ``body``
    the answer is that raw text with ``content_type`` instead of Slack's JSON, as from a
    load balancer: ``add("chat.postMessage", status=502, body="<html>Bad Gateway</html>",
    content_type="text/html")``.
    """

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        error: str | None = None,
        *,
        after: bool = False,
        body: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.pending.append(
            Fault(method, status, retry_after, times, error, after, body, content_type)
        )

    def clear(self) -> None:
        self.pending.clear()

    def take(self, method: str) -> Fault | None:
        """Consume one occurrence of the first fault planned for ``method``."""
        for fault in self.pending:
            if fault.method == method:
                fault.times -= 1
                if fault.times <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    @staticmethod
    def response(fault: Fault) -> web.Response:
        error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
        headers = {}
        if fault.status == 429 and fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.body is not None:
            return web.Response(
                text=fault.body,
                status=fault.status,
                content_type=fault.content_type,
                headers=headers,
            )
        return web.json_response(
            {"ok": False, "error": error}, status=fault.status, headers=headers
        )


def _filetype(name: str) -> str:
    ext = pathlib.PurePath(name).suffix.lower().lstrip(".")
    return {"txt": "text", "jpeg": "jpg", "md": "markdown", "": "binary"}.get(ext, ext)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class SlackEmulator:
    """A fake Slack workspace served over HTTP. See the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        team_id: str = "T0TOLK",
        bot_user_id: str = "U0TOLKBOT",
        files_dir: pathlib.Path | None = None,
        scopes: set[str] | frozenset[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``scopes`` are the bot token's (default: the manifest's, see DEFAULT_SCOPES);
        ``clock`` gives the time for expiries (``response_url``), so tests can move it."""
        self.bot_token = bot_token
        self.scopes = frozenset(DEFAULT_SCOPES if scopes is None else scopes)
        self.clock = clock
        self.team_id = team_id
        self.team_name = "Tolk Sandbox"
        self.enterprise_id: str | None = None
        self.bot_user_id = bot_user_id
        self.bot_id = "B0TOLKBOT"
        self.app_id = "A0TOLK"
        self.files_dir = files_dir
        self.base_url = ""
        self.api_url = ""
        self.calls: list[Call] = []
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.files: dict[str, File] = {}
        self.deleted_files: set[str] = set()  # ids removed by files.delete
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.faults = FaultPlan()
        self.latency: dict[str, float] = {}  # seconds added before a method (or "upload")
        self._ephemerals: list[dict[str, Any]] = []
        self._pending: dict[str, _Pending] = {}
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, bool] = {}
        # OAuth: registered apps, other workspaces, codes, issued tokens (see authorize).
        self.apps: dict[str, App] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, str] = {}  # unused refresh token -> access token
        self.bot_token_revoked = False  # auth.revoke with ``bot_token``
        self._current_token = bot_token  # the token of the call being served
        self.events_sent: list[tuple[dict[str, Any], int, str]] = []  # (payload, status, body)
        self._last_micros = 0
        self._ids = 0
        self._runner: web.AppRunner | None = None
        # Everyone is in these two (as in #general); the bot too, so plain tests just work.
        self._default_channels = ("C0GENERAL", "C0LOCALE")
        self.add_channel("C0GENERAL", "general")
        self.add_channel("C0LOCALE", "localisation")
        self.add_user(
            "U0ALICE", "alice", real_name="Alice Anders", locale="en-US", tz="America/New_York"
        )
        self.add_user("U0BOB", "bob", real_name="Bob Baek", locale="ko-KR", tz="Asia/Seoul")
        self.add_user(bot_user_id, "tolk", real_name="Tolk", is_bot=True)

    # ----- lifecycle -----------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on ``host:port`` (port 0 picks a free port) and fill in the URLs."""
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{file_id}/download/{name}", self._handle_download)
        app.router.add_get("/files-pri/{file_id}/{name}", self._handle_download)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_get("/signin", self._handle_signin)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self.api_url = f"{self.base_url}/api/"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ----- workspace set-up and inspection ---------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        member: bool = True,
        archived: bool = False,
        members: Iterable[str] = (),
    ) -> Channel:
        """A conversation; the bot is in it when ``member``, with ``members`` (user ids)."""
        channel = Channel(
            channel_id,
            name,
            is_private=is_private,
            is_im=channel_id[0] == "D",
            is_archived=archived,
            members=set(members) | ({self.bot_user_id} if member else set()),
        )
        if channel_id in self._default_channels:
            channel.members |= {u for u, info in self.users.items() if not info["is_bot"]}
        self.channels[channel_id] = channel
        return channel

    def invite(self, channel: str, user: str | None = None) -> None:
        """``/invite``: ``user`` (the bot by default) joins ``channel``."""
        self.channels[channel].members.add(user or self.bot_user_id)

    def remove(self, channel: str, user: str) -> None:
        """``/kick``: ``user`` (the bot's id to remove the bot) leaves ``channel``."""
        self.channels[channel].members.discard(user)

    def archive(self, channel: str) -> None:
        self.channels[channel].is_archived = True

    def add_dm(self, user: str, other: str | None = None) -> Channel:
        """A DM between two people (``other``: another human by default) that the bot is
        not in; a slash command can be typed there, but the bot cannot post to it."""
        if other is None:
            other = next(u for u, info in self.users.items() if u != user and not info["is_bot"])
        for who in (user, other):
            if who not in self.users or self.users[who]["is_bot"]:
                raise ValueError(f"{who!r} is not a person in this workspace")
        dm_id = f"D0EMU{self._next_id():06d}"
        return self.add_channel(dm_id, other, member=False, members=(user, other))

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        locale: str = "en-US",
        tz: str = "UTC",
        is_bot: bool = False,
        is_admin: bool = False,
        is_owner: bool = False,
    ) -> dict[str, Any]:
        real_name = real_name or name
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "tz": tz,
            "locale": locale,
            "is_bot": is_bot,
            "is_admin": is_admin or is_owner,  # as in Slack: an owner is an admin too
            "is_owner": is_owner,
            "deleted": False,
            "profile": {"display_name": name, "real_name": real_name},
        }
        self.users[user_id] = user
        if not is_bot:
            for channel_id in self._default_channels:
                if channel_id in self.channels:
                    self.channels[channel_id].members.add(user_id)
        return user

    # ----- OAuth, many workspaces -----------------------------------------------------

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str] = (),
        *,
        app_id: str | None = None,
        scopes: Iterable[str] | None = None,
        token_rotation: bool = False,
        event_url: str | None = None,
        signing_secret: str | None = None,
    ) -> App:
        """An app installable with ``oauth.v2.access``; ``scopes`` are the bot scopes it
        asks for (default: the manifest's), ``event_url`` its Events API Request URL."""
        app = App(
            client_id,
            client_secret,
            tuple(redirect_uris),
            app_id or self.app_id,
            frozenset(DEFAULT_SCOPES if scopes is None else scopes),
            token_rotation,
            event_url,
            signing_secret,
        )
        self.apps[client_id] = app
        return app

    def add_workspace(
        self,
        team_id: str,
        name: str,
        *,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        bot_user_id: str | None = None,
        general: str | None = None,
    ) -> Workspace:
        """Another workspace, with a ``#general`` (id ``general``, default ``C<team>GEN``)
        that everyone and the bot are in, and the bot user. Add people and channels with
        ``with emu.in_workspace(team_id): emu.add_user(...)``."""
        if team_id == self.team_id or team_id in self.workspaces:
            raise ValueError(f"workspace {team_id} exists")
        suffix = team_id[1:]
        ws = Workspace(
            team_id,
            name,
            enterprise_id,
            enterprise_name or (enterprise_id and f"{name} Grid"),
            bot_user_id or f"U{suffix}BOT",
            f"B{suffix}BOT",
        )
        self.workspaces[team_id] = ws
        general = general or f"C{suffix}GEN"
        ws._default_channels = (general,)
        with self.in_workspace(team_id):
            self.add_channel(general, "general")
            self.add_user(ws.bot_user_id, "tolk", real_name="Tolk", is_bot=True)
        return ws

    @contextlib.contextmanager
    def in_workspace(self, team_id: str) -> Iterator[None]:
        """Within the block the emulator's workspace attributes (``channels``, ``users``,
        ``team_id``, ``bot_user_id`` ...) are those of ``team_id``'s workspace."""
        if team_id == self.team_id and team_id not in self.workspaces:
            yield
            return
        ws = self.workspaces[team_id]
        saved = {name: getattr(self, name) for name in _WORKSPACE_ATTRS}
        for name in _WORKSPACE_ATTRS:
            setattr(self, name, getattr(ws, name))
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def _team(self, team_id: str) -> tuple[str, str | None, str | None]:
        """(name, enterprise id, enterprise name) of a workspace."""
        if team_id in self.workspaces:
            ws = self.workspaces[team_id]
            return ws.team_name, ws.enterprise_id, ws.enterprise_name
        if team_id == self.team_id:
            return self.team_name, self.enterprise_id, None
        raise KeyError(f"no workspace {team_id!r}")

    def authorize(
        self,
        client_id: str,
        team_id: str,
        user_id: str,
        *,
        redirect_uri: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> str:
        """``user_id`` of ``team_id`` approves the app on Slack's consent page; returns
        the ``code`` Slack would put on the redirect (good once, for 10 minutes)."""
        app = self.apps[client_id]
        self._team(team_id)
        with self.in_workspace(team_id):
            if user_id not in self.users or self.users[user_id]["is_bot"]:
                raise ValueError(f"{user_id!r} is not a person in {team_id}")
        if redirect_uri is not None and redirect_uri not in app.redirect_uris:
            raise ValueError(f"redirect_uri {redirect_uri!r} is not registered")  # Slack's page
        code = f"{self._next_id()}.{secrets.token_hex(24)}"
        granted = app.scopes if scopes is None else frozenset(scopes)
        self.grants[code] = Grant(
            code, client_id, team_id, user_id, redirect_uri, granted, self.clock()
        )
        return code

    def installed_tokens(self, team_id: str, *, active: bool = True) -> list[Token]:
        return [
            t
            for t in self.tokens.values()
            if t.team_id == team_id and (not active or t.state == "active")
        ]

    def revoke_tokens(self, team_id: str, client_id: str | None = None) -> list[Token]:
        """Revoke every active token of the app(s) in ``team_id``; the revoked ones."""
        gone = [
            t
            for t in self.installed_tokens(team_id)
            if client_id is None or t.client_id == client_id
        ]
        for t in gone:
            t.state = "revoked"
            if t.refresh_token:
                self._refresh_tokens.pop(t.refresh_token, None)
        return gone

    def event_payload(self, client_id: str, team_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """The Events API ``event_callback`` envelope, as Slack posts it to the app."""
        app = self.apps[client_id]
        _, enterprise_id, _ = self._team(team_id)
        with self.in_workspace(team_id):
            bot_user = self.bot_user_id
        return {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "enterprise_id": enterprise_id,
            "api_app_id": app.app_id,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev0EMU{self._next_id():06d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": enterprise_id,
                    "team_id": team_id,
                    "user_id": bot_user,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def tokens_revoked_payload(
        self, client_id: str, team_id: str, revoked: Iterable[Token]
    ) -> dict[str, Any]:
        """``tokens_revoked``: user ids keyed by kind (``bot`` for bot tokens)."""
        with self.in_workspace(team_id):
            bot_user = self.bot_user_id
        bots = [bot_user] if any(True for _ in revoked) else []
        event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": bots}}
        return self.event_payload(client_id, team_id, event)

    def uninstall(self, client_id: str, team_id: str) -> list[dict[str, Any]]:
        """An admin removes the app from ``team_id``: its tokens there stop working
        (``token_revoked``); returns the ``tokens_revoked`` and ``app_uninstalled``
        payloads Slack sends (in that order here; Slack does not promise an order)."""
        revoked = self.revoke_tokens(team_id, client_id)
        return [
            self.tokens_revoked_payload(client_id, team_id, revoked),
            self.event_payload(client_id, team_id, {"type": "app_uninstalled"}),
        ]

    async def send_event(
        self, client_id: str, payload: dict[str, Any], *, retry_num: int | None = None
    ) -> tuple[int, str]:
        """POST ``payload`` to the app's ``event_url``, signed with its signing secret
        (``X-Slack-Signature``/``X-Slack-Request-Timestamp``); (status, body) back."""
        app = self.apps[client_id]
        if not app.event_url or not app.signing_secret:
            raise ValueError(f"app {client_id} has no event_url/signing_secret")
        body = json.dumps(payload)
        headers = {"Content-Type": "application/json", **signed_headers(app.signing_secret, body)}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "timeout"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(app.event_url, data=body.encode(), headers=headers) as resp,
        ):
            result = resp.status, await resp.text()
        self.events_sent.append((payload, *result))
        return result

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of ``channel``, oldest first."""
        return list(self.channels[channel].messages)

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Replies (without the parent) of a thread, oldest first."""
        return list(self.channels[channel].replies.get(thread_ts, []))

    def ephemerals(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self._ephemerals if channel is None or e["channel"] == channel]

    def new_response_url(
        self, *, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        """A fresh ``response_url``. With ``channel`` its responses also act on the workspace
        (the one current when it was made: ``in_workspace``)."""
        rid = secrets.token_hex(8)
        self._response_urls[rid] = dict(
            channel=channel,
            user=user,
            message_ts=message_ts,
            uses=0,
            created=self.clock(),
            team=self.team_id,
        )
        return f"{self.base_url}/response/{rid}"

    def new_trigger_id(self) -> str:
        """A single-use ``trigger_id`` for views.open (interaction payloads carry one)."""
        trigger = f"{self._next_id()}.{self.team_id}.{secrets.token_hex(16)}"
        self._triggers[trigger] = False
        return trigger

    def post_user_message(
        self,
        channel: str,
        user: str,
        text: str = "",
        files: list[tuple[str, bytes, str]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Post as a person would, uploading ``files`` as ``(name, bytes, mimetype)``.

        The person joins a channel they post in; a DM they are not part of is refused.
        """
        if user not in self.users:
            raise KeyError(f"unknown user {user!r}")
        chan = self._channel(channel)
        if chan.is_im and user not in chan.members:
            raise ValueError(f"{user} is not in the DM {chan.id}")
        chan.members.add(user)
        self._thread_parent(chan, thread_ts)  # validate before any file is created
        made = [
            self._create_file(name, data, user=user, mimetype=mime)
            for name, data, mime in files or []
        ]
        extra: dict[str, Any] = {"client_msg_id": str(uuid.uuid4())}
        if made:
            extra |= {"subtype": "file_share", "upload": True, "display_as_bot": False}
        return self._post(chan, user, text, thread_ts=thread_ts, files=made, extra=extra)

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public API
    ) -> None:
        """Poll ``predicate`` every 10 ms; AssertionError naming it and recent calls on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                try:
                    what = inspect.getsource(predicate).strip()
                except (OSError, TypeError):
                    what = repr(predicate)
                recent = [
                    f"{c.method} -> {(c.response or {}).get('error', 'ok')}"
                    for c in self.calls[-8:]
                ]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; last calls: {recent}"
                )
            await asyncio.sleep(0.01)

    # ----- internals: ids, lookup, posting ---------------------------------------------

    def _next_ts(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _channel(self, value: Any, *, allow_user: bool = False) -> Channel:
        """Resolve a channel ID or ``#name`` (or a user ID to its DM when ``allow_user``)."""
        if not value:
            raise SlackError("channel_not_found")
        value = str(value)
        if value in self.channels:
            return self.channels[value]
        if allow_user and value in self.users and not self.users[value]["is_bot"]:
            return self._bot_im(value)
        for channel in self.channels.values():
            if value.lstrip("#") == channel.name and not channel.is_im:
                return channel
        raise SlackError("channel_not_found")

    def _bot_im(self, user: str) -> Channel:
        """The bot's DM with ``user`` (``D`` + the user id without its ``U``), opened if new."""
        dm = f"D{user[1:]}"
        return self.channels.get(dm) or self.add_channel(dm, user, members=(user,))

    def _require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))

    def _visible(self, value: Any, *, allow_user: bool = False) -> Channel:
        """Resolve ``value`` as the bot sees it: a private channel, DM or group DM the bot
        is not in does not exist for it (``channel_not_found``), as in Slack."""
        channel = self._channel(value, allow_user=allow_user)
        if not channel.is_public and self.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def _writable(self, channel: Channel, *, public_post: bool = False) -> None:
        """Refuse a write Slack refuses: archived, or a public channel the bot is not in
        (allowed for ``public_post`` with ``chat:write.public``, i.e. chat.postMessage)."""
        if channel.is_archived:
            raise SlackError("is_archived")
        self._require_member(channel, public_post=public_post)

    def _require_member(self, channel: Channel, *, public_post: bool = False) -> None:
        if self.bot_user_id in channel.members:
            return
        if public_post and channel.is_public and "chat:write.public" in self.scopes:
            return
        raise SlackError("not_in_channel")

    @staticmethod
    def _find(channel: Channel, ts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The message with ``ts`` and the list holding it (top level or a thread)."""
        for container in (channel.messages, *channel.replies.values()):
            for message in container:
                if message["ts"] == ts:
                    return message, container
        return None

    @classmethod
    def _get(cls, channel: Channel, ts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``_find`` for a message known to be there (a thread's parent, one just found)."""
        found = cls._find(channel, ts)
        if found is None:
            raise LookupError(f"no message {ts} in {channel.id}")
        return found

    def _thread_parent(self, channel: Channel, thread_ts: Any) -> str | None:
        """Validate ``thread_ts`` as Slack does; a reply's ts resolves to its parent."""
        if not thread_ts:
            return None
        if not _TS_RE.match(str(thread_ts)):
            raise SlackError("invalid_thread_ts")
        found = self._find(channel, thread_ts)
        if found is None:
            raise SlackError("thread_not_found")
        return found[0].get("thread_ts", found[0]["ts"])

    def _post(
        self,
        channel: Channel,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[Any] | None = None,
        attachments: list[Any] | None = None,
        files: list[File] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        parent_ts = self._thread_parent(channel, thread_ts)
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "user": user,
            "text": text,
            "team": self.team_id,
            **(extra or {}),
        }
        if blocks:
            message["blocks"] = blocks
        if attachments:
            message["attachments"] = attachments
        for f in files or []:
            share = dict(channel=channel.id, channel_name=channel.name, ts=ts, thread_ts=parent_ts)
            share["kind"] = "public" if channel.is_public else "im" if channel.is_im else "group"
            f.shares.append(share)
            if f.channel is None:
                f.channel, f.thread_ts = channel.id, parent_ts
        if files:
            message["files"] = [f.to_api() for f in files]
        if parent_ts is None:
            channel.messages.append(message)
            return message
        parent = self._get(channel, parent_ts)[0]
        message |= {"thread_ts": parent_ts, "parent_user_id": parent["user"]}
        replies = channel.replies.setdefault(parent_ts, [])
        replies.append(message)
        users = list(dict.fromkeys(r["user"] for r in replies))
        parent |= {
            "thread_ts": parent_ts,
            "reply_count": len(replies),
            "reply_users": users,
            "reply_users_count": len(users),
            "latest_reply": ts,
        }
        return message

    def _bot_extra(self) -> dict[str, Any]:
        return {"bot_id": self.bot_id, "app_id": self.app_id}

    def _create_file(
        self,
        name: str,
        data: bytes,
        *,
        user: str,
        mimetype: str | None = None,
        title: str | None = None,
        alt_txt: str | None = None,
        file_id: str | None = None,
    ) -> File:
        file_id = file_id or f"F0EMU{self._next_id():06d}"
        safe = pathlib.PurePath(name).name or "file"
        url = f"{self.base_url}/files-pri/{file_id}"
        f = File(
            id=file_id,
            name=name,
            title=title or name,
            size=len(data),
            content=data,
            mimetype=mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream",
            filetype=_filetype(name),
            user=user,
            url_private=f"{url}/{safe}",
            url_private_download=f"{url}/download/{safe}",
            permalink=f"{self.base_url}/files/{user}/{file_id}/{safe}",
            alt_txt=alt_txt,
            team=self.team_id,
        )
        if self.files_dir is not None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            f.path = self.files_dir / f"{file_id}-{safe}"
            f.path.write_bytes(data)
        self.files[file_id] = f
        return f

    # ----- HTTP endpoints ----------------------------------------------------------------

    async def _read_args(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        """Merge query, form and JSON arguments; return them with the presented token."""
        args: dict[str, Any] = dict(request.query)
        form_token = args.pop("token", None)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise SlackError("invalid_json")
                body.pop("token", None)  # Slack ignores tokens inside JSON bodies
                args.update(body)
            else:
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
                form_token = args.pop("token", form_token)
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else form_token
        for key in _JSON_ARGS:
            if isinstance(args.get(key), str) and args[key]:
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    raise SlackError(
                        f"invalid_{key}_format" if key == "blocks" else "invalid_arguments"
                    ) from None
        return args, token

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(method, {}, dict(request.headers), time.time())
        self.calls.append(call)
        if delay := self.latency.get(method):
            await asyncio.sleep(delay)
        if (fault := self.faults.take(method)) and not fault.after:
            call.faulted = True
            return self.faults.response(fault)
        status = 200
        try:
            call.args, token = await self._read_args(request)
            handler = HANDLERS.get(method)
            if handler is None:
                status = 404
                raise SlackError("unknown_method")
            if method in _NO_TOKEN_METHODS:  # client credentials, form or HTTP Basic
                args = {**_basic_credentials(request), **call.args}
                body = {"ok": True, **handler(self, args)}
            else:
                if not token:
                    raise SlackError("not_authed")
                with self._acting_for(token):
                    if scope := _METHOD_SCOPES.get(method):
                        self._require_scope(scope)
                    body = {"ok": True, **handler(self, call.args)}
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
        call.response = body
        if fault:  # it took effect; the answer is lost
            call.faulted = True
            return self.faults.response(fault)
        return web.json_response(body, status=status)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = form.get("file") or next((v for v in form.values() if hasattr(v, "file")), None)
            data = part.file.read() if isinstance(part, web.FileField) else b""
        else:
            data = await request.read()
        call = Call(
            "upload", {"file_id": file_id, "length": len(data)}, dict(request.headers), time.time()
        )
        self.calls.append(call)
        if delay := self.latency.get("upload"):
            await asyncio.sleep(delay)
        if (fault := self.faults.take("upload")) and not fault.after:
            call.faulted = True
            return self.faults.response(fault)
        pending = self._pending.get(file_id)
        if pending is None:
            return web.Response(status=404, text="invalid upload url")
        if len(data) != pending.length:
            return web.Response(
                status=400, text=f"length mismatch: declared {pending.length}, received {len(data)}"
            )
        pending.content = data
        if fault:  # the bytes arrived; the answer is lost
            call.faulted = True
            return self.faults.response(fault)
        return web.Response(text=f"OK - {len(data)}")

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        """A ``url_private`` download, recorded as a :class:`Call` ``"download"`` (args:
        ``file_id``, ``path``, ``status``). A file the bot cannot see (``files.info``'s
        rule) is not served to its token: a redirect to the sign-in page, as for no token."""
        file_id = request.match_info["file_id"]
        call = Call(
            "download",
            {"file_id": file_id, "path": request.path},
            dict(request.headers),
            time.time(),
        )
        self.calls.append(call)
        f = self.files.get(file_id)
        call.args["status"] = 404
        if f is None or request.match_info["name"] != pathlib.PurePath(f.name).name:
            return web.Response(status=404, text="file not found")
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        issued = self.tokens.get(token)
        # a token is good for files of its own workspace only: the default bot token for
        # the emulator's own, one from oauth.v2.access for the workspace it was issued in
        team = issued.team_id if issued is not None else self.team_id
        call.args["status"] = 302
        with self.in_workspace(team):
            sees = f.team in (team, "") and self._bot_sees_file(f)
        if not auth or not sees:  # like Slack: a redirect to sign in
            raise web.HTTPFound(f"/signin?redir={request.path}")
        call.args["status"] = 403
        good = (token == self.bot_token and not self.bot_token_revoked) or (
            issued is not None and issued.state == "active"
        )
        if not good:
            return web.Response(status=403, text="invalid_auth")
        call.args["status"] = 200
        headers = {}
        if "/download/" in request.path:
            headers["Content-Disposition"] = f'attachment; filename="{request.match_info["name"]}"'
        return web.Response(body=f.content, content_type=f.mimetype, headers=headers)

    async def _handle_signin(self, request: web.Request) -> web.Response:
        html = (
            "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """A ``response_url`` post: 5 uses within 30 minutes (by ``clock``), as in Slack.

        Answers are Slack's plain-text ones: 404 ``expired_url``/``used_url``, 400
        ``invalid_payload``/``no_text``/``invalid_blocks``/``msg_too_long``. Each post is
        recorded as a :class:`Call` with method ``"response_url"``.
        """
        call = Call("response_url", {}, dict(request.headers), time.time())
        self.calls.append(call)

        def answer(status: int, text: str, **extra: Any) -> web.Response:
            call.response = {"ok": status == 200, **({} if status == 200 else {"error": text})}
            call.response.update(extra)
            return web.Response(status=status, text=text)

        if delay := self.latency.get("response_url"):
            await asyncio.sleep(delay)
        if (fault := self.faults.take("response_url")) and not fault.after:
            call.faulted = True
            return self.faults.response(fault)
        slot = self._response_urls.get(request.match_info["rid"])
        if slot is None or self.clock() - slot["created"] > _RESPONSE_URL_TTL:
            return answer(404, "expired_url")
        try:
            body = await request.json()
        except ValueError:
            return answer(400, "invalid_payload")
        if not isinstance(body, dict):
            return answer(400, "invalid_payload")
        call.args = body
        slot["uses"] += 1
        if slot["uses"] > _RESPONSE_URL_USES:
            return answer(404, "used_url")
        if not (body.get("text") or body.get("blocks") or _truthy(body.get("delete_original"))):
            return answer(400, "no_text")
        if len(str(body.get("text") or "")) > _MAX_TEXT:
            return answer(400, "msg_too_long")
        blocks = body.get("blocks")
        if blocks is not None:
            errors = (
                validate_blocks(blocks)
                if isinstance(blocks, list)
                else ["must be an array [json-pointer:/blocks]"]
            )
            if errors:
                return answer(400, "invalid_blocks", errors=errors)
        record = {
            "url": str(request.url),
            "channel": slot["channel"],
            "user": slot["user"],
            "response_type": body.get("response_type", "ephemeral"),
            "text": body.get("text"),
            "blocks": body.get("blocks"),
            "replace_original": _truthy(body.get("replace_original")),
            "delete_original": _truthy(body.get("delete_original")),
            "thread_ts": body.get("thread_ts"),
            "body": body,
            "at": time.time(),
        }
        try:
            with self.in_workspace(slot.get("team") or self.team_id):
                self._apply_response(slot, record)
        except SlackError as exc:  # e.g. a thread_ts that names no message
            return answer(400, exc.error)
        self.responses.append(record)
        response = answer(200, "ok")
        if fault:  # it took effect; the answer is lost
            call.faulted = True
            return self.faults.response(fault)
        return response

    def _apply_response(self, slot: dict[str, Any], record: dict[str, Any]) -> None:
        """Make a response_url post visible in the workspace when its channel is known.

        ``in_channel`` posts land even where the bot is not a member (a slash command's
        response_url works in any conversation); ``record["ts"]`` is the new message's.
        """
        if slot["channel"] not in self.channels:
            return
        channel = self.channels[slot["channel"]]
        original = self._find(channel, slot["message_ts"]) if slot["message_ts"] else None
        text, blocks = record["text"] or "", record["blocks"]
        if original and record["delete_original"]:
            original[1].remove(original[0])
        elif original and record["replace_original"]:
            original[0].update({"text": text, "blocks": blocks or []})
        elif record["response_type"] == "in_channel":
            message = self._post(
                channel,
                self.bot_user_id,
                text,
                thread_ts=record["thread_ts"],
                blocks=blocks,
                extra=self._bot_extra(),
            )
            record["ts"] = message["ts"]
        else:
            ts = self._next_ts()
            self._ephemerals.append(
                dict(
                    channel=channel.id,
                    user=slot["user"],
                    text=text,
                    blocks=blocks or [],
                    ts=ts,
                    thread_ts=record["thread_ts"],
                )
            )

    # ----- tokens and OAuth -------------------------------------------------------------

    @contextlib.contextmanager
    def _acting_for(self, token: str) -> Iterator[None]:
        """Serve a call made with ``token``: in its workspace, with its scopes. Unknown
        is ``invalid_auth``, revoked (auth.revoke, uninstall) ``token_revoked``, replaced
        by a refresh or past its ``expires_in`` ``token_expired``."""
        if token == self.bot_token:
            if self.bot_token_revoked:
                raise SlackError("token_revoked")
            self._current_token = token
            yield
            return
        issued = self.tokens.get(token)
        if issued is None:
            raise SlackError("invalid_auth")
        if issued.state == "revoked":
            raise SlackError("token_revoked")
        if issued.state == "expired" or (
            issued.expires_at is not None and self.clock() >= issued.expires_at
        ):
            raise SlackError("token_expired")
        saved = (self.scopes, self.app_id)
        self.scopes, self.app_id = issued.scopes, self.apps[issued.client_id].app_id
        self._current_token = token
        try:
            with self.in_workspace(issued.team_id):
                yield
        finally:
            self.scopes, self.app_id = saved
            self._current_token = self.bot_token

    def _issue(self, app: App, team_id: str, user_id: str, scopes: frozenset[str]) -> Token:
        suffix = f"{self._next_id()}-{secrets.token_hex(12)}"
        token = Token(f"xoxb-{team_id}-{suffix}", app.client_id, team_id, user_id, scopes)
        if app.token_rotation:
            token.token = f"xoxe.xoxb-1-{team_id}-{suffix}"
            token.expires_at = self.clock() + _TOKEN_TTL
            token.refresh_token = f"xoxe-1-{secrets.token_hex(24)}"
            self._refresh_tokens[token.refresh_token] = token.token
        self.tokens[token.token] = token
        return token

    def _oauth_v2_access(self, a: dict[str, Any]) -> dict[str, Any]:
        """The code (or refresh token) exchange. Slack's answers: ``invalid_client_id``,
        ``bad_client_secret``, ``invalid_code`` (unknown, used, expired or another
        app's), ``bad_redirect_uri`` (not the one given to authorize),
        ``invalid_grant_type``, ``invalid_refresh_token``."""
        grant_type = a.get("grant_type") or "authorization_code"
        if grant_type not in ("authorization_code", "refresh_token"):
            raise SlackError("invalid_grant_type")
        app = self.apps.get(str(a.get("client_id") or ""))
        if app is None:
            raise SlackError("invalid_client_id")
        if a.get("client_secret") != app.client_secret:
            raise SlackError("bad_client_secret")
        if grant_type == "refresh_token":
            return self._refresh(app, str(a.get("refresh_token") or ""))
        grant = self.grants.get(str(a.get("code") or ""))
        if (
            grant is None
            or grant.used
            or grant.client_id != app.client_id
            or self.clock() - grant.created > _CODE_TTL
        ):
            raise SlackError("invalid_code")
        if grant.redirect_uri is not None and a.get("redirect_uri") != grant.redirect_uri:
            raise SlackError("bad_redirect_uri")
        grant.used = True
        token = self._issue(app, grant.team_id, grant.user_id, grant.scopes)
        return self._access_answer(app, token)

    def _refresh(self, app: App, refresh_token: str) -> dict[str, Any]:
        """Token rotation: a refresh token is good once; the access token it came with
        stops working (``token_expired``) and a new pair is issued."""
        old_access = self._refresh_tokens.get(refresh_token)
        old = self.tokens.get(old_access or "")
        if old is None or old.client_id != app.client_id or old.state == "revoked":
            raise SlackError("invalid_refresh_token")
        del self._refresh_tokens[refresh_token]
        old.state = "expired"
        token = self._issue(app, old.team_id, old.user_id, old.scopes)
        return self._access_answer(app, token)

    def _access_answer(self, app: App, token: Token) -> dict[str, Any]:
        name, enterprise_id, enterprise_name = self._team(token.team_id)
        with self.in_workspace(token.team_id):
            bot_user_id = self.bot_user_id
        body: dict[str, Any] = {
            "access_token": token.token,
            "token_type": "bot",
            "scope": ",".join(sorted(token.scopes)),
            "bot_user_id": bot_user_id,
            "app_id": app.app_id,
            "team": {"id": token.team_id, "name": name},
            "enterprise": enterprise_id and {"id": enterprise_id, "name": enterprise_name},
            "is_enterprise_install": False,
            "authed_user": {"id": token.user_id},
        }
        if token.refresh_token:
            body["refresh_token"] = token.refresh_token
            body["expires_in"] = int((token.expires_at or 0) - self.clock())
        return body

    def _auth_revoke(self, a: dict[str, Any]) -> dict[str, Any]:
        """Revokes the calling token (with ``test=true``, only says it would not)."""
        if _truthy(a.get("test")):
            return {"revoked": False}
        if self._current_token == self.bot_token:
            self.bot_token_revoked = True
        else:
            issued = self.tokens[self._current_token]
            issued.state = "revoked"
            if issued.refresh_token:
                self._refresh_tokens.pop(issued.refresh_token, None)
        return {"revoked": True}

    # ----- Web API methods -------------------------------------------------------------

    def _auth_test(self, a: dict[str, Any]) -> dict[str, Any]:
        """Slack's answers to a token that cannot work (a wrong one is ``invalid_auth``
        before this): an app-level token (``xapp-…``) is ``not_allowed_token_type``, and
        a token named as revoked (``xoxb-revoked-…``) is ``token_revoked``."""
        if self._current_token == self.bot_token:
            if self.bot_token.startswith("xapp-"):
                raise SlackError("not_allowed_token_type")
            if self.bot_token.startswith("xoxb-revoked"):
                raise SlackError("token_revoked")
        bot = self.users.get(self.bot_user_id, {})
        body = {
            "url": f"{self.base_url}/",
            "team": self.team_name,
            "user": bot.get("name", "tolk"),
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }
        if self.enterprise_id:
            body["enterprise_id"] = self.enterprise_id
        return body

    def _message_content(self, a: dict[str, Any]) -> tuple[str, list[Any], list[Any]]:
        text, blocks, attachments = a.get("text") or "", a.get("blocks"), a.get("attachments")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if not (text or blocks or attachments):
            raise SlackError("no_text")
        if len(str(text)) > _MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks and (errors := validate_blocks(blocks)):
            raise _invalid_blocks(errors)
        return str(text), blocks or [], attachments or []

    def _chat_post_message(self, a: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(a.get("channel"), allow_user=True)
        self._writable(channel, public_post=True)
        text, blocks, attachments = self._message_content(a)
        message = self._post(
            channel,
            self.bot_user_id,
            text,
            thread_ts=a.get("thread_ts"),
            blocks=blocks,
            attachments=attachments,
            extra=self._bot_extra(),
        )
        if a.get("metadata") is not None:
            message["metadata"] = self._metadata(a["metadata"])
        return {"channel": channel.id, "ts": message["ts"], "message": _shown(message, a)}

    @staticmethod
    def _metadata(raw: Any) -> dict[str, Any]:
        """Message metadata: ``{"event_type": str, "event_payload": object}`` (JSON or dict)."""
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise SlackError("invalid_metadata_format") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("event_type"), str):
            raise SlackError("invalid_metadata_schema")
        if not isinstance(raw.get("event_payload", {}), dict):
            raise SlackError("invalid_metadata_schema")
        return {"event_type": raw["event_type"], "event_payload": raw.get("event_payload", {})}

    def _chat_post_ephemeral(self, a: dict[str, Any]) -> dict[str, Any]:
        """Unlike chat.postMessage, chat:write.public does not reach a public channel the
        bot is not in: ``not_in_channel``. The person must be in the conversation."""
        channel = self._visible(a.get("channel"))
        self._writable(channel)
        if not a.get("user"):
            raise _missing("user")
        if a["user"] not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks, _ = self._message_content(a)
        ts = self._next_ts()
        thread_ts = a.get("thread_ts")
        record = dict(channel=channel.id, user=a["user"], text=text, blocks=blocks, ts=ts)
        self._ephemerals.append({**record, "thread_ts": thread_ts})
        return {"message_ts": ts}

    def _own_message(self, a: dict[str, Any], refusal: str) -> tuple[Channel, dict[str, Any]]:
        channel = self._visible(a.get("channel"))
        self._require_member(channel, public_post=True)
        found = self._find(channel, a.get("ts"))
        if found is None:
            raise SlackError("message_not_found")
        if found[0]["user"] != self.bot_user_id:
            raise SlackError(refusal)
        return channel, found[0]

    def _chat_update(self, a: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(a, "cant_update_message")
        if channel.is_archived:
            raise SlackError("is_archived")
        text, blocks, attachments = self._message_content(a)
        message.update({"text": text, "edited": {"user": self.bot_user_id, "ts": self._next_ts()}})
        for key, value in (("blocks", blocks), ("attachments", attachments)):
            if key in a:
                message[key] = value
        return {"channel": channel.id, "ts": message["ts"], "text": text, "message": dict(message)}

    def _chat_delete(self, a: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._own_message(a, "cant_delete_message")
        if channel.replies.get(message["ts"]):  # a parent with replies leaves a tombstone
            message.update(subtype="tombstone", text="This message was deleted.", files=[])
        else:
            self._get(channel, message["ts"])[1].remove(message)
        return {"channel": channel.id, "ts": message["ts"]}

    @staticmethod
    def _page(items: list[dict[str, Any]], a: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """Slice ``items`` by ``limit``/``cursor``; returns the page and the next cursor."""
        try:
            limit = int(a.get("limit") or 100)
            offset = (
                int(base64.b64decode(a["cursor"]).decode().split(":")[1]) if a.get("cursor") else 0
            )
        except (ValueError, IndexError, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
        limit = max(1, min(limit, 999))
        page, end = items[offset : offset + limit], offset + limit
        cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
        return page, cursor

    def _readable(self, value: Any) -> Channel:
        """A conversation whose messages the bot may read: visible, its kind's history scope
        (``missing_scope``), and the bot a member (``not_in_channel``)."""
        channel = self._visible(value)
        kind = "im" if channel.is_im else "mpim" if channel.is_mpim else None
        kind = kind or ("groups" if channel.is_private else "channels")
        self._require_scope(f"{kind}:history")
        self._require_member(channel)
        return channel

    def _conversations_history(self, a: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(a.get("channel"))
        try:
            oldest = float(a.get("oldest") or 0)
            latest = float(a.get("latest") or "inf")
        except ValueError:
            raise SlackError("invalid_ts_oldest") from None
        shown = [m for m in reversed(channel.messages) if oldest < float(m["ts"]) <= latest]
        page, cursor = self._page(shown, a)
        return {
            "messages": [_shown(m, a) for m in page],
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, a: dict[str, Any]) -> dict[str, Any]:
        """Parent first, then replies oldest first; every page starts with the parent."""
        channel = self._readable(a.get("channel"))
        if not a.get("ts"):
            raise _missing("ts")
        found = self._find(channel, a["ts"])
        if found is None:
            raise SlackError("thread_not_found")
        parent_ts = found[0].get("thread_ts", found[0]["ts"])
        parent = self._get(channel, parent_ts)[0]
        items = [parent, *channel.replies.get(parent_ts, [])]
        page, cursor = self._page(items, a)
        if page and page[0] is not parent:
            page = [parent, *page]
        return {
            "messages": [_shown(m, a) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_info(self, a: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._visible(a.get("channel")).info(self.bot_user_id)}

    def _conversations_open(self, a: dict[str, Any]) -> dict[str, Any]:
        """The bot's DM with one person (``users=U…``), opened if new; needs ``im:write``.

        Several users would open a group DM (``mpim:write``), which Tolk does not use.
        """
        if a.get("channel"):
            channel = self._visible(a["channel"])
            return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
        users = [u.strip() for u in str(a.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            self._require_scope("mpim:write")
            raise SlackError("not_implemented")
        user = self.users.get(users[0])
        if user is None:
            raise SlackError("user_not_found")
        if user["is_bot"]:
            raise SlackError("cannot_dm_bot")
        existed = f"D{users[0][1:]}" in self.channels
        channel = self._bot_im(users[0])
        extra = {"no_op": True, "already_open": True} if existed else {}
        return {"channel": {"id": channel.id}, **extra}

    def _users_info(self, a: dict[str, Any]) -> dict[str, Any]:
        """Like Slack, ``locale`` is only included when ``include_locale`` is true."""
        user = self.users.get(a.get("user") or "")
        if user is None:
            raise SlackError("user_not_found")
        user = dict(user)
        if not _truthy(a.get("include_locale")):
            user.pop("locale", None)
        return {"user": user}

    def _files_get_upload_url(self, a: dict[str, Any]) -> dict[str, Any]:
        if not a.get("filename"):
            raise _missing("filename")
        try:
            length = int(a.get("length") or 0)
        except (TypeError, ValueError):
            raise _missing("length") from None
        if length <= 0:  # Slack answers missing_argument for a zero length
            raise SlackError("missing_argument")
        file_id = f"F0EMU{self._next_id():06d}"
        self._pending[file_id] = _Pending(file_id, str(a["filename"]), length, a.get("alt_txt"))
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, a: dict[str, Any]) -> dict[str, Any]:
        entries = a.get("files")
        if not entries:
            raise _missing("files")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise SlackError("invalid_arguments")
        for entry in entries:
            pending = self._pending.get(str(entry.get("id")))
            if pending is None or pending.content is None:
                raise SlackError("file_not_found")
        targets = [c for c in str(a.get("channels") or "").split(",") if c]
        if a.get("channel_id"):
            targets.insert(0, str(a["channel_id"]))
        channels = [self._visible(c, allow_user=True) for c in dict.fromkeys(targets)]
        if a.get("thread_ts") and len(channels) > 1:
            raise SlackError("invalid_arguments")
        for channel in channels:
            self._writable(channel)  # chat:write.public does not cover uploads
            self._thread_parent(channel, a.get("thread_ts"))
        comment = a.get("initial_comment") or ""
        if len(str(comment)) > _MAX_TEXT:
            raise SlackError("msg_too_long")
        blocks = None if comment else a.get("blocks")  # Slack ignores blocks with a comment
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        if blocks and (errors := validate_blocks(blocks)):
            raise _invalid_blocks(errors)
        made = []
        for entry in entries:
            p = self._pending.pop(entry["id"])
            made.append(
                self._create_file(
                    p.filename,
                    p.content or b"",
                    user=self.bot_user_id,
                    title=entry.get("title"),
                    alt_txt=p.alt_txt,
                    file_id=p.id,
                )
            )
        for channel in channels:
            self._post(
                channel,
                self.bot_user_id,
                comment,
                thread_ts=a.get("thread_ts"),
                blocks=blocks,
                files=made,
                extra={**self._bot_extra(), "upload": True},
            )
        return {"files": [f.to_api() for f in made]}

    def _files_info(self, a: dict[str, Any]) -> dict[str, Any]:
        """As the bot sees the file: ``file_not_found`` when it is shared only where the
        bot cannot see (a private channel or DM it is not in) and is not the bot's own;
        otherwise only the shares the bot can see."""
        f = self.files.get(a.get("file") or "")
        if f is None:
            gone = a.get("file") in self.deleted_files
            raise SlackError("file_deleted" if gone else "file_not_found")
        if not self._bot_sees_file(f):
            raise SlackError("file_not_found")
        shown = f.to_api(seen=self._bot_sees_conversation)
        return {"file": shown, "comments": [], "response_metadata": {"next_cursor": ""}}

    def _bot_sees_conversation(self, channel_id: str) -> bool:
        channel = self.channels.get(channel_id)
        return channel is not None and (channel.is_public or self.bot_user_id in channel.members)

    def _bot_sees_file(self, f: File) -> bool:
        """The bot's own file, or one shared in a conversation the bot can see."""
        return f.user == self.bot_user_id or any(
            self._bot_sees_conversation(share["channel"]) for share in f.shares
        )

    def _files_delete(self, a: dict[str, Any]) -> dict[str, Any]:
        """A bot token deletes only the bot's own files; messages that shared the file keep
        a tombstone in its place (``{"id": ..., "mode": "tombstone"}``), as in Slack."""
        file_id = a.get("file")
        if not file_id:
            raise _missing("file")
        if file_id in self.deleted_files:
            raise SlackError("file_deleted")
        f = self.files.get(file_id)
        if f is None:
            raise SlackError("file_not_found")
        if f.user != self.bot_user_id:
            raise SlackError("cant_delete_file")
        del self.files[file_id]
        self.deleted_files.add(file_id)
        if f.path is not None:
            f.path.unlink(missing_ok=True)
        tombstone = {"id": file_id, "mode": "tombstone"}
        for channel in self.channels.values():
            for container in (channel.messages, *channel.replies.values()):
                for message in container:
                    if any(e.get("id") == file_id for e in message.get("files", ())):
                        message["files"] = [
                            tombstone if e.get("id") == file_id else e for e in message["files"]
                        ]
        return {}

    def _store_view(self, view: Any, view_id: str | None = None) -> dict[str, Any]:
        """Validate ``view`` as Slack does (``invalid_arguments``, with messages); store it."""
        if errors := validate_view(view):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
        view_id = view_id or f"V0EMU{self._next_id():06d}"
        defaults: dict[str, Any] = {
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "previous_view_id": None,
        }
        stored = {
            **defaults,
            **view,
            "id": view_id,
            "root_view_id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "hash": f"{time.time():.6f}.{secrets.token_hex(4)}",
        }
        self.views[view_id] = stored
        return stored

    def _check_hash(self, a: dict[str, Any], current: dict[str, Any] | None) -> None:
        if a.get("hash") and current is not None and a["hash"] != current["hash"]:
            raise SlackError("hash_conflict")

    def _views_open(self, a: dict[str, Any]) -> dict[str, Any]:
        trigger = a.get("trigger_id")
        if not trigger:
            raise _missing("trigger_id")
        if trigger not in self._triggers:
            raise SlackError("invalid_trigger_id")
        if self._triggers[trigger]:
            raise SlackError("expired_trigger_id")
        if "view" not in a:
            raise _missing("view")
        view = self._store_view(a["view"])
        self._triggers[trigger] = True
        return {"view": view}

    def _views_update(self, a: dict[str, Any]) -> dict[str, Any]:
        if not (a.get("view_id") or a.get("external_id")):
            raise _missing("view_id")
        current = self.views.get(a.get("view_id") or "") or next(
            (v for v in self.views.values() if a.get("external_id") == v["external_id"]), None
        )
        if current is None:
            raise SlackError("not_found")
        self._check_hash(a, current)
        return {"view": self._store_view(a.get("view"), current["id"])}

    def _views_publish(self, a: dict[str, Any]) -> dict[str, Any]:
        user = a.get("user_id")
        if not user:
            raise _missing("user_id")
        if user not in self.users:
            raise SlackError("user_not_found")
        current = self.home_views.get(user)
        self._check_hash(a, current)
        view = a.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] must be home [json-pointer:/view/type]"]},
            )
        stored = self._store_view(view, current["id"] if current else None)
        self.home_views[user] = stored
        return {"view": stored}

    def _reaction_target(self, a: dict[str, Any]) -> tuple[Channel, dict[str, Any]]:
        if not (a.get("channel") and a.get("timestamp")):
            raise SlackError("no_item_specified")
        channel = self._visible(a["channel"])
        found = self._find(channel, a["timestamp"])
        if found is None:
            raise SlackError("message_not_found")
        return channel, found[0]

    def _reactions_add(self, a: dict[str, Any]) -> dict[str, Any]:
        name = str(a.get("name") or "")
        if not re.fullmatch(r"[a-z0-9_+\-']+(::skin-tone-\d)?", name):
            raise SlackError("invalid_name")
        _, message = self._reaction_target(a)
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise SlackError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] += 1
        return {}

    def _reactions_get(self, a: dict[str, Any]) -> dict[str, Any]:
        channel, message = self._reaction_target(a)
        return {"type": "message", "channel": channel.id, "message": dict(message)}


# Dispatch table: Web API method name -> handler returning the ``ok`` response body.
HANDLERS: dict[str, Handler] = {
    "auth.test": SlackEmulator._auth_test,
    "auth.revoke": SlackEmulator._auth_revoke,
    "oauth.v2.access": SlackEmulator._oauth_v2_access,
    "chat.postMessage": SlackEmulator._chat_post_message,
    "chat.postEphemeral": SlackEmulator._chat_post_ephemeral,
    "chat.update": SlackEmulator._chat_update,
    "chat.delete": SlackEmulator._chat_delete,
    "conversations.history": SlackEmulator._conversations_history,
    "conversations.replies": SlackEmulator._conversations_replies,
    "conversations.info": SlackEmulator._conversations_info,
    "conversations.open": SlackEmulator._conversations_open,
    "users.info": SlackEmulator._users_info,
    "files.getUploadURLExternal": SlackEmulator._files_get_upload_url,
    "files.completeUploadExternal": SlackEmulator._files_complete_upload,
    "files.info": SlackEmulator._files_info,
    "files.delete": SlackEmulator._files_delete,
    "views.open": SlackEmulator._views_open,
    "views.update": SlackEmulator._views_update,
    "views.publish": SlackEmulator._views_publish,
    "reactions.add": SlackEmulator._reactions_add,
    "reactions.get": SlackEmulator._reactions_get,
}


def _basic_credentials(request: web.Request) -> dict[str, str]:
    """``client_id``/``client_secret`` from an HTTP Basic ``Authorization`` header."""
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Basic "):
        return {}
    try:
        client_id, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return {}
    return {"client_id": client_id, "client_secret": secret}


def _shown(message: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """A message as the API returns it: metadata only when asked for, as Slack does."""
    shown = dict(message)
    if not _truthy(args.get("include_all_metadata")):
        shown.pop("metadata", None)
    return shown

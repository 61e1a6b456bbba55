"""The token service: every Slack call for a workspace gets that workspace's bot client
here (``Workspaces.client``), and Bolt asks here who a request's workspace is
(``Workspaces.authorize``).

A workspace is served by its own installation (``T:<team>``) or, failing that, by its
organisation's org-wide one (``E:<enterprise>``); see ``bot.core.installations``.

Token rotation. An installation with a refresh token (the app has token rotation on)
has a bot token that expires (Slack: after 12 hours). A client is never handed out for a
token that expires within ``REFRESH_MARGIN`` (10 minutes): it is refreshed first with
``oauth.v2.access`` (``grant_type=refresh_token``). A refresh token is good once and the
old access token stops working at once, so only one refresh may run per installation,
across replicas too: under ``store.exclusive("rotate:<key>")`` (and an asyncio lock for
the callers in this process) the installation is read again — another replica may have
refreshed it — and refreshed only if it still expires soon. A caller that does not get
the lock waits (``LOCK_WAIT`` between tries, ``LOCK_ROUNDS`` tries) and then reads what
the holder saved. A refresh that fails leaves the token as it is while it still works
(logged), and raises once it no longer does.

Clients are cached per token (the few last ones). No token is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.core.installations import TolkInstallationStore, installation_key
from bot.core.sealed import Sealer
from bot.core.slack_client import TolkWebClient, slack_client, slack_error_code
from bot.core.storage import TaskStore

log = logging.getLogger(__name__)

REFRESH_MARGIN = 10 * 60  # seconds: a token expiring sooner is refreshed before use
LOCK_WAIT = 0.05  # seconds between tries for the rotation lock another replica holds
LOCK_ROUNDS = 200  # tries (10 s in all) before going on without it
OAUTH_TIMEOUT = 15  # seconds for an oauth.v2.access call
_CACHED_CLIENTS = 64

Authorize = Callable[..., Awaitable[AuthorizeResult | None]]

# One lock per installation for everyone in this process using one store (two
# ``Workspaces`` on one store are two replicas in one process: SQLite's ``exclusive`` is
# always True, so only these locks keep them apart).
_LOCKS: weakref.WeakKeyDictionary[Any, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _locks(store: TaskStore) -> dict[str, asyncio.Lock]:
    try:
        return _LOCKS.setdefault(store, {})
    except TypeError:  # a store that cannot be weakly referenced: locks of its own
        return {}


class TokenRefreshError(Exception):
    """A rotating bot token expired and could not be refreshed. The message names the
    installation and Slack's error, never a token."""


class Workspaces:
    """Bot clients for the installed workspaces (module docstring)."""

    installations: TolkInstallationStore
    authorize: Authorize

    def __init__(
        self,
        store: TaskStore,
        sealer: Sealer,
        *,
        slack_api_url: str,
        session: aiohttp.ClientSession,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.clock = clock
        self.installations = TolkInstallationStore(store, sealer)
        self._api_url = slack_api_url
        self._session = session
        self._client_id = client_id
        self._client_secret = client_secret
        # oauth.v2.access: no token (the app's credentials go in the form); the install
        # flow uses it too.
        self.oauth_client = slack_client(None, slack_api_url, session)
        self.oauth_client.timeout = OAUTH_TIMEOUT
        self._clients: OrderedDict[str, TolkWebClient] = OrderedDict()
        self._locks = _locks(store)
        self.authorize = self._authorizer()
        self.refreshes = 0  # refreshes this instance made (metrics, tests)

    # --- the service ----------------------------------------------------------------------

    async def client(self, team: str, enterprise: str | None = None) -> TolkWebClient | None:
        """The bot client of workspace ``team`` (in organisation ``enterprise``); ``None``
        when Tolk is not installed there. A rotating token is refreshed first when it
        expires within ``REFRESH_MARGIN``."""
        found = await self._installation(team, enterprise)
        if found is None:
            return None
        key, installation = found
        fresh = await self._fresh(key, installation)
        if fresh is None or not fresh.bot_token:
            return None
        return self._client_for(fresh.bot_token)

    def _authorizer(self) -> Authorize:
        """``authorize`` for ``AsyncApp(authorize=...)``: a plain function, because Bolt
        reads the names of its parameters with ``inspect.getfullargspec`` (a bound
        method's would be ``self``) and passes only those."""

        async def authorize(
            enterprise_id: str | None = None,
            team_id: str | None = None,
            user_id: str | None = None,
            **_: Any,
        ) -> AuthorizeResult | None:
            """Who the request's workspace is to Tolk: its bot token and ids; ``None``
            when Tolk is not installed there (Bolt then answers and does nothing)."""
            found = await self._installation(team_id, enterprise_id)
            if found is None:
                return None
            fresh = await self._fresh(*found)
            if fresh is None or not fresh.bot_token:
                return None
            own = fresh.team_id is not None and fresh.team_id == team_id
            return AuthorizeResult(
                enterprise_id=fresh.enterprise_id or enterprise_id,
                team_id=team_id or fresh.team_id,
                team=fresh.team_name if own else None,
                url=fresh.enterprise_url,
                bot_user_id=fresh.bot_user_id,
                bot_id=fresh.bot_id,
                bot_token=fresh.bot_token,
                bot_scopes=fresh.bot_scopes,
                user_id=user_id,
            )

        return authorize

    async def forget(self, team: str, enterprise: str | None = None) -> bool:
        """Delete the installation that serves workspace ``team`` (its own, else its
        organisation's org-wide one; after ``app_uninstalled`` / ``tokens_revoked``);
        True if there was one. Its cached clients go too."""
        keys = self._keys(team, enterprise)
        for key in keys:
            async with self._rotation_lock(key):  # not while a refresh saves it again
                gone = await self.installations.take(key)
            if gone is not None:
                for token in (gone.bot_token, gone.user_token):
                    if token:
                        self._clients.pop(token, None)
                log.info("Slack installation %s deleted", key)
                return True
        return False

    async def teams(self) -> list[str]:
        """The ids of the workspaces with an installation of their own (an org-wide
        installation has no team: it serves any workspace of its organisation)."""
        return [key[2:] for key in await self.installations.keys() if key.startswith("T:")]

    # --- inside -----------------------------------------------------------------------

    @staticmethod
    def _keys(team: str | None, enterprise: str | None) -> list[str]:
        keys = [installation_key(None, team)] if team else []
        if enterprise:
            keys.append(installation_key(enterprise, None, True))
        return keys

    async def _installation(
        self, team: str | None, enterprise: str | None
    ) -> tuple[str, Installation] | None:
        for key in self._keys(team, enterprise):
            installation = await self.installations.load(key)
            if installation is not None:
                return key, installation
        return None

    def _expiring(self, installation: Installation) -> bool:
        expires_at = installation.bot_token_expires_at
        return (
            installation.bot_refresh_token is not None
            and expires_at is not None
            and expires_at - self.clock() < REFRESH_MARGIN
        )

    @asynccontextmanager
    async def _rotation_lock(self, key: str) -> AsyncIterator[bool]:
        """Hold installation ``key``'s rotation lock, in this process and across
        replicas; yields False when another replica kept it for all of
        ``LOCK_ROUNDS``."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            for _ in range(LOCK_ROUNDS):
                async with self.store.exclusive(f"rotate:{key}") as mine:
                    if mine:
                        yield True
                        return
                await asyncio.sleep(LOCK_WAIT)  # another replica refreshes: then read it
            yield False

    async def _fresh(self, key: str, installation: Installation) -> Installation | None:
        """``installation`` with a bot token that does not expire within the margin."""
        if not self._expiring(installation):
            return installation
        async with self._rotation_lock(key) as mine:
            current = await self.installations.load(key)  # another replica may have done it
            if current is None or not self._expiring(current):
                return current
            if not mine:
                log.warning(
                    "Slack installation %s: another replica held its rotation lock for over "
                    "%.0f s; its token is used as it is",
                    key,
                    LOCK_WAIT * LOCK_ROUNDS,
                )
                return self._usable(key, current, "lock not had")
            return await self._refresh(key, current)

    async def _refresh(self, key: str, installation: Installation) -> Installation:
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "grant_type": "refresh_token",
            "refresh_token": installation.bot_refresh_token,
        }
        try:
            answer = await self.oauth_client.api_call("oauth.v2.access", data=form)
        except SlackApiError as exc:
            return self._usable(key, installation, slack_error_code(exc))
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            return self._usable(key, installation, type(exc).__name__)
        token, refresh_token = answer.get("access_token"), answer.get("refresh_token")
        expires_in = answer.get("expires_in")
        if not token or not refresh_token or expires_in is None:
            return self._usable(key, installation, "no token in Slack's answer")
        fields = installation.to_dict_for_copying()
        fields.update(
            bot_token=token,
            bot_refresh_token=refresh_token,
            bot_token_expires_at=int(self.clock() + float(expires_in)),
        )
        if answer.get("scope"):
            fields["bot_scopes"] = answer["scope"]
        refreshed = Installation(**fields)
        await self.installations.put(key, refreshed)
        self.refreshes += 1
        if installation.bot_token:
            self._clients.pop(installation.bot_token, None)  # it stopped working
        log.info("Slack installation %s: bot token refreshed", key)
        return refreshed

    def _usable(self, key: str, installation: Installation, why: str) -> Installation:
        """After a refresh that did not happen: the token as it is while it works."""
        expires_at = installation.bot_token_expires_at
        if expires_at is not None and self.clock() >= expires_at:
            raise TokenRefreshError(
                f"Slack installation {key}: the bot token expired and could not be "
                f"refreshed ({why})"
            )
        log.warning(
            "Slack installation %s: the bot token could not be refreshed (%s); it is used "
            "until it expires",
            key,
            why,
        )
        return installation

    def _client_for(self, token: str) -> TolkWebClient:
        client = self._clients.get(token)
        if client is None:
            client = self._clients[token] = slack_client(token, self._api_url, self._session)
            while len(self._clients) > _CACHED_CLIENTS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(token)
        return client

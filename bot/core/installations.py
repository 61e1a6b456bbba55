"""Slack installations and OAuth states, kept in Tolk's store (Slack's OAuth v2: Tolk in
many workspaces).

``TolkInstallationStore`` is slack_sdk's ``AsyncInstallationStore`` over the store's
settings, namespace ``installation``: one record per installation, keyed ``E:<enterprise
id>`` for an organisation-wide install (``is_enterprise_install``) and ``T:<team id>``
for a workspace's own (also one in an Enterprise Grid organisation). Installing again
replaces the record. Tokens and the incoming-webhook URL are sealed with
``TOLK_SECRET_KEY`` (``bot.core.sealed``); nothing that can act for a workspace is stored
in clear. Tolk asks for bot scopes only, so a record is the bot's installation; the
installer's user token, when Slack gives one, is kept sealed beside it.

``TolkStateStore`` is slack_sdk's ``AsyncOAuthStateStore`` over namespace
``oauth-state``: a state is random (256 bits), lives ten minutes, and is good once
(``take_setting``: of two replicas answering the same redirect, one gets it). A used
state is kept as used until it would have expired, so that using it again is told
apart from a state Tolk never issued (``StateCheck``).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.core.sealed import Sealer, SealError
from bot.core.storage import TaskStore

log = logging.getLogger(__name__)

INSTALLATIONS = "installation"  # settings namespace of installations
STATES = "oauth-state"  # settings namespace of OAuth states
STATE_SECONDS = 10 * 60  # how long an install link (its state) is good for
FORGET_AFTER = 60 * 60  # an expired or used state is deleted this long after it expired

# Fields that can act for a workspace: stored sealed, never in clear.
SEALED = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
_SEALED_ALSO = ("incoming_webhook_url",)  # a credential too (Tolk does not ask for one)
# The rest of an installation, stored as they are.
_PLAIN = (
    "app_id",
    "enterprise_id",
    "enterprise_name",
    "enterprise_url",
    "team_id",
    "team_name",
    "bot_id",
    "bot_user_id",
    "bot_token_expires_at",
    "user_id",
    "user_token_expires_at",
    "incoming_webhook_channel",
    "incoming_webhook_channel_id",
    "incoming_webhook_configuration_url",
    "is_enterprise_install",
    "token_type",
    "installed_at",
)
_RECORD_VERSION = 1


def installation_key(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
) -> str:
    """The record's key: ``E:<enterprise>`` for an organisation-wide install (or when
    there is no team), else ``T:<team>``."""
    if is_enterprise_install or not team_id:
        if not enterprise_id:
            raise ValueError("an installation needs a team id or an enterprise id")
        return f"E:{enterprise_id}"
    return f"T:{team_id}"


class TolkInstallationStore(AsyncInstallationStore):
    """Installations on the store's settings (module docstring)."""

    def __init__(self, store: TaskStore, sealer: Sealer) -> None:
        self._store = store
        self._sealer = sealer

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- by key (the token service uses these) -----------------------------------------

    async def load(self, key: str) -> Installation | None:
        """The installation stored under ``key``; ``None`` when there is none, or when
        it cannot be opened with ``TOLK_SECRET_KEY`` (logged: that workspace is then
        treated as not installed until it installs again or the key is restored)."""
        record = await self._store.get_setting(INSTALLATIONS, key)
        return None if record is None else self._installation(key, record)

    async def put(self, key: str, installation: Installation) -> None:
        await self._store.put_setting(INSTALLATIONS, key, self._record(installation))

    async def take(self, key: str) -> Installation | None:
        """Delete the installation under ``key``; what it was (``None``: there was none
        here, or another replica took it first)."""
        record = await self._store.take_setting(INSTALLATIONS, key)
        return None if record is None else self._installation(key, record, opened=False)

    async def keys(self) -> list[str]:
        return sorted(await self._store.list_settings(INSTALLATIONS))

    # --- slack_sdk's AsyncInstallationStore --------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        key = installation_key(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        await self.put(key, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        """A bot's tokens (after a rotation): onto its installation's record."""
        key = installation_key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        current = await self.load(key)
        fields: dict[str, Any] = current.to_dict_for_copying() if current else {"user_id": ""}
        fields.update(
            {
                "app_id": bot.app_id,
                "enterprise_id": bot.enterprise_id,
                "enterprise_name": bot.enterprise_name,
                "team_id": bot.team_id,
                "team_name": bot.team_name,
                "bot_token": bot.bot_token,
                "bot_id": bot.bot_id,
                "bot_user_id": bot.bot_user_id,
                "bot_scopes": list(bot.bot_scopes),
                "bot_refresh_token": bot.bot_refresh_token,
                "bot_token_expires_at": bot.bot_token_expires_at,
                "is_enterprise_install": bot.is_enterprise_install,
                "installed_at": bot.installed_at,
            }
        )
        await self.put(key, Installation(**fields))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self._find(enterprise_id, team_id, is_enterprise_install)
        if installation is None or not installation.bot_token:
            return None
        return installation.to_bot()

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The installation of the workspace (or organisation); with ``user_id``, only
        when that person installed it (Tolk keeps no other person's tokens)."""
        installation = await self._find(enterprise_id, team_id, is_enterprise_install)
        if installation is None or (user_id is not None and installation.user_id != user_id):
            return None
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """The bot's installation goes, whole (a record is the bot's installation)."""
        await self._delete(enterprise_id, team_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        """Without ``user_id``: the installation goes. With it (that person's token was
        revoked): only their user token goes from the record; the bot stays."""
        if user_id is None:
            await self._delete(enterprise_id, team_id)
            return
        key = self._key(enterprise_id, team_id)
        if key is None:
            return
        installation = await self.load(key)
        if installation is None or installation.user_id != user_id:
            return
        if installation.user_token is None and installation.user_refresh_token is None:
            return
        fields = installation.to_dict_for_copying()
        fields.update(user_token=None, user_refresh_token=None, user_token_expires_at=None)
        await self.put(key, Installation(**fields))

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._delete(enterprise_id, team_id)

    # --- inside -------------------------------------------------------------------------

    @staticmethod
    def _key(
        enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> str | None:
        try:
            return installation_key(enterprise_id, team_id, is_enterprise_install)
        except ValueError:
            return None

    async def _find(
        self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
    ) -> Installation | None:
        key = self._key(enterprise_id, team_id, is_enterprise_install)
        return None if key is None else await self.load(key)

    async def _delete(self, enterprise_id: str | None, team_id: str | None) -> None:
        key = self._key(enterprise_id, team_id)
        if key is not None:
            await self._store.delete_setting(INSTALLATIONS, key)

    def _record(self, installation: Installation) -> dict[str, Any]:
        record: dict[str, Any] = {"v": _RECORD_VERSION}
        for name in _PLAIN:
            record[name] = getattr(installation, name)
        record["bot_scopes"] = list(installation.bot_scopes or [])
        record["user_scopes"] = list(installation.user_scopes or [])
        record["custom_values"] = dict(installation.custom_values)
        for name in (*SEALED, *_SEALED_ALSO):
            value = getattr(installation, name)
            record[name] = self._sealer.seal(value) if value else None
        return record

    def _installation(
        self, key: str, record: dict[str, Any], *, opened: bool = True
    ) -> Installation | None:
        """The installation a record holds. When its secrets cannot be opened: ``None``
        (logged), or with ``opened=False`` the installation without them."""
        fields: dict[str, Any] = {name: record.get(name) for name in _PLAIN}
        fields["user_id"] = fields["user_id"] or ""
        fields["bot_scopes"] = record.get("bot_scopes") or []
        fields["user_scopes"] = record.get("user_scopes") or []
        fields["custom_values"] = record.get("custom_values") or {}
        try:
            for name in (*SEALED, *_SEALED_ALSO):
                sealed = record.get(name)
                fields[name] = self._sealer.open(sealed) if sealed else None
        except SealError:
            if not opened:
                fields.update(dict.fromkeys((*SEALED, *_SEALED_ALSO)))
                return Installation(**fields)
            log.error(
                "The Slack installation %s cannot be opened with TOLK_SECRET_KEY (another "
                "key sealed it): Tolk does not act there until it is installed again or "
                "the key that sealed it is put back",
                key,
            )
            return None
        return Installation(**fields)


class StateCheck(StrEnum):
    """What a state given back on the OAuth redirect is."""

    VALID = "valid"  # issued here, in time, first use: now used
    EXPIRED = "expired"  # issued here, more than ``STATE_SECONDS`` ago
    USED = "used"  # issued here and used already
    UNKNOWN = "unknown"  # never issued here (or expired over ``FORGET_AFTER`` ago)


class TolkStateStore(AsyncOAuthStateStore):
    """OAuth states on the store's settings (module docstring)."""

    def __init__(
        self,
        store: TaskStore,
        *,
        clock: Callable[[], float] = time.time,
        expiration_seconds: float = STATE_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self.expiration_seconds = expiration_seconds
        self._purged_at = float("-inf")

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        now = self._clock()
        if now - self._purged_at >= 60:  # states nobody came back with: at most once a minute
            self._purged_at = now
            await self.purge()
        state = secrets.token_urlsafe(32)
        await self._store.put_setting(STATES, state, {"expires_at": now + self.expiration_seconds})
        return state

    async def async_consume(self, state: str) -> bool:
        return await self.check(state) is StateCheck.VALID

    async def check(self, state: str | None) -> StateCheck:
        """Use ``state``: ``VALID`` once, for the first caller in time; what it is
        otherwise."""
        if not state or len(state) > 100:
            return StateCheck.UNKNOWN
        value = await self._store.take_setting(STATES, state)
        if not isinstance(value, dict):
            return StateCheck.UNKNOWN
        now, expires_at = self._clock(), float(value.get("expires_at", 0))
        if value.get("used_at") is not None or now >= expires_at:
            await self._store.put_setting(STATES, state, value)  # say so again (until purged)
            return StateCheck.USED if value.get("used_at") is not None else StateCheck.EXPIRED
        await self._store.put_setting(STATES, state, {"expires_at": expires_at, "used_at": now})
        return StateCheck.VALID

    async def purge(self) -> int:
        """Delete the states expired for more than ``FORGET_AFTER`` seconds (used or
        not; till then, coming back with one is told as expired or used); how many."""
        now, gone = self._clock(), 0
        for state, value in (await self._store.list_settings(STATES)).items():
            expires_at = float(value.get("expires_at", 0)) if isinstance(value, dict) else 0.0
            if now >= expires_at + FORGET_AFTER:
                await self._store.delete_setting(STATES, state)
                gone += 1
        return gone

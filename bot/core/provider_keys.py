"""A workspace's own provider keys (issue 19): set by its admins in the Home tab, kept
sealed with ``TOLK_SECRET_KEY`` (``bot.core.sealed``), one settings record per workspace.

The record ``provider_keys:<team id>``::

    {"rev": "<hex, new on every change>",
     "providers": {"xiangji": {"sealed": "<Fernet token of {field: value} as JSON>",
                               "set_at": 1796000000.0, "by": "U0ALICE"},
                   ...}}

Only when and by whom a provider's keys were set are in clear; every value (Rozetta's
contract id too) is inside ``sealed``. Saving a provider replaces its keys whole. Nothing
here ever puts a value in a log line, an exception or a repr: ``KeysRefused`` names the
fields and what is wrong with them (a code from ``PROBLEMS``), the words are
``bot.core.messages``'s (``provider_key_problem``).

``version(team)`` changes whenever the workspace's keys do (set, remove, forget), so whoever
builds clients from ``keys(team)`` can keep them until it changes; it costs one read of
the record and opens nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.sealed import Sealer

log = logging.getLogger(__name__)

NAMESPACE = "provider_keys"
MAX_LENGTH = 200  # characters in one key (provider keys are 16–64)


@dataclass(frozen=True)
class KeyFields:
    """A provider's key fields (names of ``bot.config``'s ``<Provider>Settings``), in the
    order the form shows them: ``required`` must all be given, and at least one of
    ``one_of`` when it is not empty."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    one_of: tuple[str, ...] = ()


PROVIDERS: dict[str, KeyFields] = {
    "xiangji": KeyFields(
        fields=(
            "user_key",
            "img_trans_key",
            "text_trans_key",
            "matting_key",
            "img_trans_google_key",
            "img_trans_papago_key",
            "img_trans_baidu_key",
            "img_trans_deepl_key",
        ),
        required=("user_key",),
        one_of=(
            "img_trans_key",
            "text_trans_key",
            "matting_key",
            "img_trans_google_key",
            "img_trans_papago_key",
            "img_trans_baidu_key",
            "img_trans_deepl_key",
        ),
    ),
    "alibaba": KeyFields(
        fields=("access_key_id", "access_key_secret"),
        required=("access_key_id", "access_key_secret"),
    ),
    "rozetta": KeyFields(
        fields=("access_key", "secret_key", "contract_id"),
        required=("access_key", "secret_key"),
    ),
}

#: What can be wrong with a field (``KeysRefused.errors`` values).
PROBLEMS = (
    "missing",  # a required field is blank
    "needs_service",  # Xiangji: the user key alone, no service key
    "space",  # whitespace inside: two things pasted, or a line break
    "quotes",  # quotes, backticks or angle brackets: copied with its markup
    "env_line",  # ``XIANGJI_USER_KEY=…``: a whole line of a .env file
    "characters",  # a character no key has (non-ASCII, a control character)
    "too_long",  # over MAX_LENGTH
)

_ENV_LINE = re.compile(r"(?:export\s+)?[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*\s*[:=]\s*\S.*", re.S)
_QUOTES = frozenset("\"'`<>“”‘’")


class KeysRefused(ValueError):
    """A provider's keys as given cannot be stored. ``errors``: field → a ``PROBLEMS``
    code. The message names the fields only, never a value."""

    def __init__(self, provider: str, errors: Mapping[str, str]) -> None:
        self.provider = provider
        self.errors = dict(errors)
        listed = ", ".join(f"{field} ({problem})" for field, problem in self.errors.items())
        super().__init__(f"{provider} keys refused: {listed}")


def check_keys(provider: str, values: Mapping[str, str | None]) -> dict[str, str]:
    """``values`` (field → what was typed, blanks allowed) as they would be stored: each
    stripped, the blank ones left out. ``KeysRefused`` with every problem found when
    they cannot be stored; ``ValueError`` for a provider or field that does not exist
    (a caller's mistake, not the person's)."""
    spec = PROVIDERS.get(provider)
    if spec is None:
        raise ValueError(f"no provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    unknown = sorted(set(values) - set(spec.fields))
    if unknown:
        raise ValueError(f"{provider} has no key field {', '.join(unknown)}")
    given = {f: v.strip() for f in spec.fields if (v := values.get(f)) and v.strip()}
    errors = {f: problem for f, v in given.items() if (problem := _problem(v))}
    for field in spec.required:
        if field not in given:
            errors[field] = "missing"
    if spec.one_of and not any(f in given for f in spec.one_of):
        errors.setdefault(spec.one_of[0], "needs_service")
    if errors:
        raise KeysRefused(provider, {f: errors[f] for f in spec.fields if f in errors})
    return given


def _problem(value: str) -> str | None:
    if len(value) > MAX_LENGTH:
        return "too_long"
    if _ENV_LINE.fullmatch(value):
        return "env_line"
    if any(c in _QUOTES for c in value):
        return "quotes"
    if any(c.isspace() for c in value):
        return "space"
    if not all("!" <= c <= "~" for c in value):
        return "characters"
    return None


class SettingsStore(Protocol):
    """The part of ``bot.core.storage.TaskStore`` the keyring uses."""

    async def get_setting(self, namespace: str, key: str) -> Any | None: ...

    async def put_setting(self, namespace: str, key: str, value: Any) -> None: ...

    async def delete_setting(self, namespace: str, key: str) -> None: ...


class ProviderKeyring:
    """Workspaces' provider keys over the store's settings, sealed with ``sealer``."""

    def __init__(self, store: SettingsStore, sealer: Sealer) -> None:
        self._store = store
        self._sealer = sealer
        self._writing = asyncio.Lock()  # one read-change-write of a record at a time

    async def keys(self, team: str) -> dict[str, dict[str, str]]:
        """Provider → field → value: the workspace's keys, opened; only providers set.
        ``bot.core.sealed.SealError`` when a record was sealed with a key no longer in
        ``TOLK_SECRET_KEY`` (the message names neither)."""
        providers = (await self._record(team))["providers"]
        opened: dict[str, dict[str, str]] = {}
        for provider, entry in providers.items():
            values = json.loads(self._sealer.open(entry["sealed"]))
            opened[provider] = {str(k): str(v) for k, v in values.items()}
        return opened

    async def set(
        self, team: str, provider: str, values: Mapping[str, str], *, by: str, at: float
    ) -> None:
        """Replace ``provider``'s keys for ``team`` with ``values`` (checked with
        ``check_keys``: ``KeysRefused`` and nothing stored when they cannot be)."""
        checked = check_keys(provider, values)
        sealed = self._sealer.seal(json.dumps(checked, sort_keys=True))
        async with self._writing:
            record = await self._record(team)
            record["providers"][provider] = {"sealed": sealed, "set_at": at, "by": by}
            await self._save(team, record)
        log.info(
            "provider keys: %s set for workspace %s by %s (%s)",
            provider,
            team,
            by,
            ", ".join(sorted(checked)),
        )

    async def remove(self, team: str, provider: str) -> bool:
        """Forget ``provider``'s keys for ``team``; False when none were set."""
        async with self._writing:
            record = await self._record(team)
            if record["providers"].pop(provider, None) is None:
                return False
            await self._save(team, record)
        log.info("provider keys: %s removed for workspace %s", provider, team)
        return True

    async def forget(self, team: str) -> None:
        """Every key of the workspace (it uninstalled Tolk, or revoked its tokens)."""
        async with self._writing:
            await self._drop(team)
        log.info("provider keys: every key of workspace %s forgotten", team)

    async def summary(self, team: str) -> dict[str, tuple[float, str]]:
        """Provider → (when it was set, who set it): what may be shown. Opens nothing."""
        providers = (await self._record(team))["providers"]
        return {p: (float(e["set_at"]), str(e["by"])) for p, e in providers.items()}

    async def version(self, team: str) -> str:
        """Changes whenever the workspace's keys do; "" when it has none."""
        return str((await self._record(team)).get("rev") or "")

    async def _record(self, team: str) -> dict[str, Any]:
        raw = await self._store.get_setting(NAMESPACE, team)
        if not isinstance(raw, dict) or not isinstance(raw.get("providers"), dict):
            return {"rev": "", "providers": {}}
        return {"rev": raw.get("rev", ""), "providers": dict(raw["providers"])}

    async def _save(self, team: str, record: dict[str, Any]) -> None:
        if not record["providers"]:
            await self._drop(team)
            return
        record["rev"] = secrets.token_hex(8)
        await self._store.put_setting(NAMESPACE, team, record)

    async def _drop(self, team: str) -> None:
        await self._store.delete_setting(NAMESPACE, team)

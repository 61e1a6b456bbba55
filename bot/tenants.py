"""Many workspaces: what each installed workspace's work runs with.

A workspace's tasks speak to Slack with its own bot token (``bot.core.workspaces``) and
reach providers with its own keys (``bot.core.provider_keys``, set by its admins in the
Home tab) — or, when it has set none and the operator allows it
(``TOLK_SHARED_PROVIDER_KEYS=on``), the operator's keys from the environment. Quota
readings, spend and alerts are kept per workspace. A workspace without an installation
is ``gone``: its tasks end without a word.

Looked up per task and per request, so each answer is kept ``TTL`` seconds: a change of
keys, or a removal seen by another replica, takes effect within that time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import AlibabaSettings, RozettaSettings, Settings, XiangjiSettings
from bot.core.desk import GLOSSARY, GLOSSARY_IMPORT, LANGUAGE_SETS
from bot.core.provider_keys import PROVIDERS, ProviderKeyring
from bot.core.sealed import SealError
from bot.core.spend import NAMESPACE as SPEND
from bot.core.storage import TaskStore
from bot.core.tasks import State
from bot.core.workspaces import Workspaces
from bot.engine.operation import Operation
from bot.engine.quota import NAMESPACE as QUOTA
from bot.engine.quota import QuotaWatcher
from bot.engine.tenant import Tenant
from providers.xiangji import XiangjiClient

log = logging.getLogger(__name__)

TTL = 10.0

#: Builds a workspace's operations and its Xiangji client from its settings (and whether
#: they are the operator's keys, whose work may be offered Refine).
Build = Callable[[Settings, bool], tuple[Mapping[str, Operation], XiangjiClient | None]]
#: A workspace's quota watcher, from its settings, Xiangji client and team id.
Watch = Callable[[Settings, XiangjiClient | None, str], QuotaWatcher]


@dataclass(frozen=True)
class Workspace:
    """One workspace as Tolk serves it now."""

    team: str
    settings: Settings  # the operator's, with this workspace's provider keys
    tenant: Tenant
    quota: QuotaWatcher | None
    xiangji: XiangjiClient | None


class WorkspaceTenants:
    def __init__(
        self,
        settings: Settings,
        workspaces: Workspaces,
        keyring: ProviderKeyring,
        build: Build,
        watch: Watch,
        *,
        store: TaskStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._workspaces = workspaces
        self._keyring = keyring
        self._build = build
        self._watch = watch
        self._clock = clock
        self._seen: dict[str, tuple[float, Workspace]] = {}
        # built registries: by the keys' fingerprint (the operator's: ""), built once
        self._registries: dict[str, tuple[Mapping[str, Operation], XiangjiClient | None]] = {}

    async def tenant(self, team: str) -> Tenant:
        return (await self.workspace(team)).tenant

    async def recheck(self, team: str) -> Tenant:
        self.forget(team)
        return await self.tenant(team)

    async def workspace(self, team: str) -> Workspace:
        seen = self._seen.get(team)
        if seen is not None and seen[0] > time.monotonic():
            return seen[1]
        workspace = await self._look_up(team)
        self._seen[team] = (time.monotonic() + TTL, workspace)
        return workspace

    def forget(self, team: str) -> None:
        """Drop what is kept of ``team`` (it changed its keys, or left)."""
        self._seen.pop(team, None)

    # --- the Provider keys form (``handlers.ports.ProviderKeys``): a change applies at once

    async def summary(self, team: str) -> dict[str, tuple[float, str]]:
        return await self._keyring.summary(team)

    async def set(
        self, team: str, provider: str, values: Mapping[str, str], *, by: str, at: float
    ) -> None:
        await self._keyring.set(team, provider, dict(values), by=by, at=at)
        self.forget(team)

    async def remove(self, team: str, provider: str) -> bool:
        removed = await self._keyring.remove(team, provider)
        self.forget(team)
        return removed

    async def leave(self, team: str) -> int:
        """``team`` removed Tolk (``app_uninstalled``, ``tokens_revoked``): its
        installation and provider keys are deleted, and its unsettled tasks end now
        without a message. Returns how many tasks ended. Safe to repeat."""
        await self._workspaces.forget(team)
        await self._keyring.forget(team)
        self.forget(team)
        for namespace in (QUOTA, SPEND, GLOSSARY_IMPORT):  # readings, spend, counters, imports
            for key in await self._store.list_settings(namespace):
                if key.startswith(f"{team}:"):
                    await self._store.delete_setting(namespace, key)
        await self._store.delete_setting(LANGUAGE_SETS, team)
        await self._store.delete_setting(GLOSSARY, team)
        now = self._clock()
        ended = [
            (task if task.final else task.to(State.CANCELLED, now)).but(settled=True)
            for task in await self._store.list_unsettled(team)
        ]
        if ended:
            await self._store.save(*ended)
        log.info("workspace %s removed Tolk: %d unsettled tasks ended", team, len(ended))
        return len(ended)

    async def check_quota(self) -> None:
        """The scheduled quota reading, for every installed workspace in turn."""
        for team in await self._workspaces.teams():
            workspace = await self.workspace(team)
            if workspace.quota is not None and workspace.xiangji is not None:
                await workspace.quota.check()

    async def _look_up(self, team: str) -> Workspace:
        slack = await self._workspaces.client(team)
        if slack is None:
            settings = without_providers(self._settings)
            return Workspace(team, settings, Tenant(team, {}, gone=True), None, None)
        keys = await self._own_keys(team)
        shared = self._settings.shared_provider_keys
        if keys:
            settings, key = with_keys(self._settings, keys, shared), fingerprint(team, keys)
        elif shared:  # the operator's keys; the operator's alert channel stays theirs
            settings, key = replace(self._settings, quota_alert_channel=None), ""
        else:
            settings, key = without_providers(self._settings), f"{team}:none"
        if key not in self._registries:
            self._registries = {
                k: v for k, v in self._registries.items() if not k.startswith(f"{team}:")
            } | {key: self._build(settings, key == "")}
        operations, xiangji = self._registries[key]
        quota = self._watch(settings, xiangji, team)
        # Refine opens Xiangji's editor with the operator's keys: only for work on them
        tenant = Tenant(
            key, operations, slack=slack, on_settled=quota.on_task_settled, refine=key == ""
        )
        return Workspace(team, settings, tenant, quota, xiangji)

    async def _own_keys(self, team: str) -> dict[str, dict[str, str]]:
        """The workspace's provider keys; none when they cannot be opened (sealed with a
        ``TOLK_SECRET_KEY`` no longer in the list): logged, and its admins set them again."""
        try:
            return await self._keyring.keys(team)
        except SealError:
            log.error(
                "workspace %s: its provider keys cannot be opened with TOLK_SECRET_KEY "
                "(sealed with a key no longer listed); treated as not set",
                team,
            )
            return {}

    async def client(self, team: str) -> AsyncWebClient | None:
        return (await self.workspace(team)).tenant.slack


def fingerprint(team: str, keys: Mapping[str, Mapping[str, str]]) -> str:
    """Names a workspace's key set without holding it (a hash, kept in memory only)."""
    digest = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]
    return f"{team}:{digest}"


def without_providers(settings: Settings) -> Settings:
    return replace(settings, xiangji=None, alibaba=None, rozetta=None, quota_alert_channel=None)


def with_keys(
    settings: Settings, keys: Mapping[str, Mapping[str, str]], shared: bool = False
) -> Settings:
    """The operator's settings with a workspace's own keys for each provider it set
    (endpoints stay the operator's); a provider it did not set runs on the operator's
    keys when ``shared``, else is off. Media jobs write into the operator's bucket, so a
    workspace's own Alibaba keys do not run them."""
    base = settings if shared else without_providers(settings)
    base = replace(base, quota_alert_channel=None)
    xiangji, alibaba, rozetta = base.xiangji, base.alibaba, base.rozetta
    if x := keys.get("xiangji"):
        ours = settings.xiangji or XiangjiSettings(user_key="")
        xiangji = replace(
            ours,
            aigc_key=None,
            video_trans_key=None,
            **{f: x.get(f) for f in XIANGJI_FIELDS},  # type: ignore[arg-type]
        )
    if a := keys.get("alibaba"):
        ours_a = settings.alibaba or AlibabaSettings("", "")
        alibaba = replace(
            ours_a,
            access_key_id=a["access_key_id"],
            access_key_secret=a["access_key_secret"],
            mts_output=None,
            mts_pipeline_id=None,
        )
    if r := keys.get("rozetta"):
        ours_r = settings.rozetta or RozettaSettings("", "")
        rozetta = replace(
            ours_r,
            access_key=r["access_key"],
            secret_key=r["secret_key"],
            contract_id=r.get("contract_id") or None,
        )
    return replace(base, xiangji=xiangji, alibaba=alibaba, rozetta=rozetta)


XIANGJI_FIELDS = PROVIDERS["xiangji"].fields  # what the Provider keys form takes

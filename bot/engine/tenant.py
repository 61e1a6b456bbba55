"""A workspace's share of the engine: the Slack token its answers go out with, and the
provider clients (its own keys, or the operator's) its work runs on.

With one workspace (``SLACK_BOT_TOKEN``) there is one tenant and nothing changes. With
many (Slack's OAuth), the work engine asks ``Tenants`` for each task's workspace and
runs the step with that workspace's Slack client in ``slack_context``, which
``Delivery`` reads for every call — so a task can only ever speak as its own workspace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.tasks import Task

if TYPE_CHECKING:  # operations use Delivery, which reads ``slack_context`` from here
    from bot.engine.operation import Operation

#: The Slack client of the workspace the current step works for (None: Delivery's own).
slack_context: ContextVar[AsyncWebClient | None] = ContextVar("tolk_slack", default=None)


@dataclass(frozen=True)
class Tenant:
    """``key`` names the provider accounts the workspace's work runs on: tasks with the
    same key may share a batched status call ("" — the operator's keys). ``gone``: Tolk
    was removed from the workspace; its tasks end without a word. ``refine``: its
    results may offer Refine (whose editor runs on the operator's Xiangji keys)."""

    key: str
    operations: Mapping[str, Operation]
    slack: AsyncWebClient | None = None
    on_settled: Callable[[Task], Awaitable[None]] | None = None
    gone: bool = False
    refine: bool = True  # Refine buttons (when Tolk offers Refine at all)


class Tenants(Protocol):
    async def tenant(self, team: str) -> Tenant:
        """``team``'s tenant (may be a lookup kept a few seconds)."""
        ...

    async def recheck(self, team: str) -> Tenant:
        """``team``'s tenant looked up afresh (Slack refused its token)."""
        ...


class OneTenant:
    """One workspace: every task's tenant is the same."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant

    async def tenant(self, team: str) -> Tenant:
        return self._tenant

    async def recheck(self, team: str) -> Tenant:
        return self._tenant

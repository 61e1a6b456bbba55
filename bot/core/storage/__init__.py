"""Task storage: a protocol of domain verbs, implemented on SQLite (one process) and
PostgreSQL (several replicas). One contract suite in tests runs on every implementation."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.core.tasks import State, Task

# Tasks in these states wait on a provider: the poller polls them together, in batches.
WAITING = frozenset({State.SUBMITTED, State.RUNNING})


class TaskStore(Protocol):
    async def create_if_absent(self, task: Task) -> tuple[Task, bool]:
        """Store ``task`` unless one with its dedupe key exists; return (task, created)."""
        ...

    async def get(self, task_id: str) -> Task | None: ...

    async def save(self, *tasks: Task) -> None:
        """Persist tasks in one commit, leases as given (the poller releases its own)."""
        ...

    async def reschedule(self, *tasks: Task) -> None:
        """Save tasks whose poll changed nothing but when they are next due (and their
        lease, released): as ``save``, but a store may keep the change lighter — SQLite
        in memory only (after a restart they are polled sooner, which is harmless)."""
        ...

    async def claim_due(
        self, now: float, *, limit: int, lease_seconds: float, step_limit: int | None = None
    ) -> list[Task]:
        """Unsettled tasks due by ``now`` and not leased, leased to the caller, oldest first.

        With ``step_limit``, at most that many of them are tasks not waiting on a provider
        (``WAITING`` states): work a replica does one task at a time, so it takes only as
        much as it has room for and leaves the rest to replicas that have room."""
        ...

    async def wake(self, task_id: str, now: float) -> bool:
        """Make an unsettled task due at ``now`` (a provider callback said it finished).

        A task leased to a running step is not touched; the wake applies when that
        step saves it with the lease released. False when the task is unknown or
        settled."""
        ...

    async def request_cancel(self, task_id: str, by: str, at: float) -> bool:
        """Record, in one atomic write on the task's own record, that ``by`` asked at
        ``at`` to cancel the unsettled task ``task_id``. The first request stands: a
        second one (by anyone) changes nothing, and no request is lost to another. The
        engine obeys it at the task's next step (``cancel_requests``); the request goes
        with the task when it settles. False when the task is unknown or settled.

        It does not make the task due: ``wake`` does that."""
        ...

    async def cancel_requests(self, task_ids: Collection[str]) -> dict[str, str]:
        """Task id → who asked to cancel it, for the unsettled tasks of ``task_ids`` that
        someone asked to cancel (one read for a whole status round)."""
        ...

    async def count_unsettled(self) -> dict[str, int]:
        """Unsettled tasks by state (metrics)."""
        ...

    async def next_due_at(self) -> float | None:
        """When the earliest unsettled task falls due (``None`` when there is none)."""
        ...

    async def list_for_channel(self, channel: str, *, active_only: bool = True) -> list[Task]: ...

    async def list_for_user(self, user: str, *, limit: int = 20) -> list[Task]: ...

    async def get_setting(self, namespace: str, key: str) -> Any | None: ...

    async def put_setting(self, namespace: str, key: str, value: Any) -> None: ...

    async def take_setting(self, namespace: str, key: str) -> Any | None:
        """Delete the setting and return its value, atomically: of several callers (in
        this process or on other replicas) at most one gets the value, the others
        ``None`` (a single-use OAuth state)."""
        ...

    async def delete_setting(self, namespace: str, key: str) -> None:
        """Delete the setting; nothing happens when there is none."""
        ...

    async def list_settings(self, namespace: str) -> dict[str, Any]:
        """Every setting of ``namespace``: key → value."""
        ...

    async def list_unsettled(self, team: str) -> list[Task]:
        """Every unsettled task of workspace ``team`` (``Task.place.team``), oldest
        first (a workspace uninstalled: its pending work is cancelled)."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """``async with store.exclusive("quota") as mine:`` — ``mine`` is True for exactly
        one replica at a time (the one to run the periodic job ``name``); the others get
        False and skip it. SQLite serves one process: always True. Optional for other
        stores: use ``bot.core.storage.leader.run_once_across_replicas``, which runs the job
        when a store has no ``exclusive``."""
        ...

    async def close(self) -> None: ...


async def open_store(database_url: str) -> TaskStore:
    if database_url.startswith("sqlite:///"):
        from bot.core.storage.sqlite import SqliteTaskStore

        return await SqliteTaskStore.open(database_url.removeprefix("sqlite:///"))
    if database_url.startswith(("postgresql://", "postgres://")):
        try:
            from bot.core.storage.postgres import PostgresTaskStore
        except ImportError as exc:  # asyncpg is the optional "postgres" extra
            raise ValueError(
                f"DATABASE_URL is a PostgreSQL URL but {exc.name} is not installed; "
                "install Tolk with the postgres extra (pip install 'tolk[postgres]')"
            ) from exc
        return await PostgresTaskStore.open(database_url)
    raise ValueError(
        f"DATABASE_URL {database_url.split(':', 1)[0]}:… is not supported; "
        "use sqlite:///path/to/tolk.sqlite or postgresql://user:password@host/database"
    )

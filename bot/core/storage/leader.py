"""Periodic work (quota checks, cleanup) that must run once across replicas.

``run_once_across_replicas(store, "quota-check", job)`` runs ``job`` when this replica
is the one to run it now: on PostgreSQL the replica that takes a session advisory lock
named after the job (the others skip this round); on SQLite, which serves one process,
always. Each replica's scheduler fires the job as usual; the lock decides who does it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


async def run_once_across_replicas(
    store: Any, name: str, job: Callable[[], Awaitable[object]]
) -> bool:
    """Run ``job`` unless another replica is running ``name``; True when it ran here.

    A store without ``exclusive`` (a test double, say) runs the job. Exceptions from
    the job propagate, after the lock is released."""
    exclusive = getattr(store, "exclusive", None)
    if exclusive is None:
        await job()
        return True
    async with exclusive(name) as mine:
        if not mine:
            log.debug("%s: another replica is running it; skipped here", name)
            return False
        await job()
        return True


async def run_due_across_replicas(
    store: Any,
    name: str,
    every: float,
    job: Callable[[], Awaitable[object]],
    clock: Callable[[], float],
) -> bool:
    """Run ``job`` if no replica ran it in the last ``every`` seconds.

    Every replica's scheduler fires at its own moment; under the lock, the last run's
    time (a store setting) decides, so the work happens once per interval in all."""

    async def if_due() -> None:
        last = await store.get_setting("periodic", name)
        now = clock()
        if last is not None and now - float(last) < every * 0.9:
            return
        await store.put_setting("periodic", name, now)
        await job()

    return await run_once_across_replicas(store, name, if_due)

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

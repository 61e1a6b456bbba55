"""The periodic trigger: an APScheduler 3 job that fires the poller's tick.

The job holds no state: the truth about every task is in the store. ``coalesce`` and
``max_instances=1`` keep a slow tick from piling up runs behind it.
"""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.engine.poller import Poller


def build_scheduler(poller: Poller, *, interval: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        poller.tick,
        "interval",
        seconds=interval,
        id="poll",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler

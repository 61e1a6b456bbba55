"""The poller: claim due tasks from the store and move each one step.

One ``tick`` claims every due task, groups the ones waiting on a provider by operation
so each group costs one batched status round, and runs the rest one step each. Steps
run concurrently under a bound and outlive the tick (a synchronous provider call may
take a minute); the store's lease keeps a task from being claimed twice meanwhile.
The APScheduler job in ``bot/engine/scheduler.py`` only fires ``tick``; handlers ``nudge`` so
new work starts at once.

A tick claims only as many tasks to step as it has free slots (``step_limit``); tasks
waiting on a provider are claimed whatever their number, as one status round serves
them all. A step waits on provider rate limits (Xiangji: 10 submissions a second per
process by default, ``TOLK_XIANGJI_SUBMIT_PER_SECOND``), so a replica that claimed a
backlog would sit on leases the other replicas could use, and a task still waiting for a
slot when its lease ran out would be claimed again and run twice. Poll rounds have
slots of their own, so results that are ready are polled and delivered while
submissions wait.

Shutting down (SIGTERM, ``bot/runtime.py``): ``stop`` ends claiming — later ticks and
nudges claim nothing — and waits a bounded time for the steps under way, which the
engine ends at their next saved point (``Work.stopping``); ``close`` cuts off whatever
is still running. Those tasks keep their lease, and a lease lives no longer than the
process that holds it (``bot/core/storage``): another replica, or the next start, takes
them from what they last saved.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from bot.core.storage import TaskStore
from bot.core.tasks import Task
from bot.engine.work import Work

log = logging.getLogger(__name__)

NUDGE_GAP = 0.02  # seconds: the least time between ticks that nudges start


class Poller:
    def __init__(
        self,
        store: TaskStore,
        work: Work,
        *,
        clock: Callable[[], float],
        concurrency: int = 32,
        claim_limit: int = 2000,
        lease_seconds: float = 300.0,
    ) -> None:
        self.store = store
        self.work = work
        self.clock = clock
        self.claim_limit = claim_limit
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)  # steps
        self._poll_slots = asyncio.Semaphore(concurrency)  # batched status rounds
        self._steps = 0  # steps started and not finished
        self._running: set[asyncio.Task[None]] = set()
        self._tick_lock = asyncio.Lock()
        self._nudged = False
        self._stopping = False
        self._ticked_at = float("-inf")  # the event loop's time of the last tick
        self.ticks = 0

    async def tick(self) -> int:
        """Claim what is due now and start moving it; return how many were claimed."""
        async with self._tick_lock:
            self._nudged = False
            if self._stopping:
                return 0
            self.ticks += 1
            self._ticked_at = asyncio.get_running_loop().time()
            try:
                claimed = await self.store.claim_due(
                    self.clock(),
                    limit=self.claim_limit,
                    lease_seconds=self.lease_seconds,
                    step_limit=max(0, self.concurrency - self._steps),
                )
            except Exception as exc:  # the store hiccupped; nothing was claimed
                log.warning("could not claim due tasks (%r); trying again next tick", exc)
                return 0
            try:
                await self.work.prepare(claimed)  # their workspaces, for grouping
            except Exception as exc:  # a workspace could not be looked up: steps will again
                log.warning("could not look up the workspaces of due tasks (%r)", exc)
            groups: dict[str, list[Task]] = defaultdict(list)
            for task in claimed:
                if key := self.work.poll_key(task):
                    groups[key].append(task)
                else:
                    self._start_step(task)
            for tasks in groups.values():
                self._start(self.work.poll_group(tasks), slots=self._poll_slots)
            return len(claimed)

    def nudge(self) -> None:
        """Run a tick soon (new work arrived); many nudges before it runs make one tick,
        and a flood of them (200 commands at once) a tick every ``NUDGE_GAP`` at most:
        a claim reads every unsettled task, too much to do for each command."""
        if not self._nudged and not self._stopping:
            self._nudged = True
            wait = self._ticked_at + NUDGE_GAP - asyncio.get_running_loop().time()
            self._start(self._tick_after(wait) if wait > 0 else self.tick())

    async def _tick_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.tick()

    def _start_step(self, task: Task) -> None:
        self._steps += 1

        async def step() -> None:
            try:
                await self.work.step(task)
            finally:
                self._steps -= 1

        self._start(step(), slots=self._slots)

    def _start(self, job: Awaitable[object], *, slots: asyncio.Semaphore | None = None) -> None:
        async def run() -> None:
            try:
                if slots is not None:
                    async with slots:
                        await job
                else:
                    await job
            except Exception:
                log.exception("poller job failed")

        task = asyncio.get_running_loop().create_task(run())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    @property
    def busy(self) -> bool:
        """A tick or a step is running."""
        return bool(self._running)

    async def drain(self) -> None:
        """Wait until every started step has finished (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def stop(self, grace: float) -> bool:
        """Claim nothing more, and give the steps under way up to ``grace`` seconds to
        finish (a claim in progress completes, and its steps start). True when none is
        left running; else ``close`` cuts them off, their tasks still leased."""
        self._stopping = True
        self.work.stopping = True  # a step ends at its next saved point
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        try:
            async with asyncio.timeout_at(deadline), self._tick_lock:
                pass  # a tick under way (the scheduler's own call) has claimed and started
        except TimeoutError:
            return False
        while self._running:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._running), timeout=left)  # never cancels them
        return True

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)

"""Poller rounds: what a tick claims, how tasks waiting on one provider share one status
round, how many steps a replica takes on, and shutting down (claim nothing more, give
the steps under way a bounded time, leave the rest to whoever runs next)."""

from __future__ import annotations

import asyncio

from bot.core.tasks import State, Task
from bot.engine.poller import Poller
from providers.errors import ErrorKind, ProviderError
from tests.bot.engine.support import LEASE, POLL_MIN, Engine, FakeProvider


class GatedProvider(FakeProvider):
    """Submissions wait at a gate the test opens: a provider call under way."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def submit(self, task: Task, now: float) -> Task:
        self.waiting.set()
        await self.gate.wait()
        return await super().submit(task, now)


async def test_tasks_waiting_on_a_provider_share_one_status_round(engine: Engine) -> None:
    tasks = [await engine.record(source) for source in ("a", "b", "c")]
    assert await engine.round() == 3  # three steps: a parent and a submission each
    assert engine.provider.rounds == []

    engine.provider.finish("a", "b", "c")
    assert await engine.later(POLL_MIN) == 3
    assert engine.provider.rounds == [[t.id for t in tasks]]  # one call for all three
    for task in tasks:
        task = await engine.get(task.id)
        assert task.settled and engine.files(task) == [f"{task.items[0].source}.png"]


async def test_a_status_round_that_fails_retries_every_task_in_it(engine: Engine) -> None:
    tasks = [await engine.record(source) for source in ("a", "b")]
    await engine.round()
    engine.provider.fail_poll = [
        ProviderError("fake", "Status", "busy", "try later", ErrorKind.RETRYABLE)
    ]
    await engine.later(POLL_MIN)
    for task in tasks:
        task = await engine.get(task.id)
        assert task.attempts == 1 and task.lease_until == 0 and not task.settled
    engine.provider.finish("a", "b")
    await engine.later(60)
    assert [(await engine.get(t.id)).state for t in tasks] == [State.DELIVERED] * 2


async def test_nudges_before_a_tick_make_one_tick(engine: Engine) -> None:
    await engine.record("a")
    for _ in range(5):
        engine.poller.nudge()
    await engine.poller.drain()
    assert engine.poller.ticks == 1 and engine.provider.submitted == ["a"]


async def test_a_replica_takes_no_more_steps_than_it_has_room_for(engine: Engine) -> None:
    provider = GatedProvider()
    engine.work.operations = {op: provider for op in engine.work.operations}
    poller = Poller(engine.store, engine.work, clock=engine.clock, concurrency=1)
    first, second = await engine.record("a"), await engine.record("b")

    assert await poller.tick() == 1  # one slot: one step, and the other task left free
    await provider.waiting.wait()
    (other,) = await engine.store.claim_due(engine.clock(), limit=10, lease_seconds=LEASE)
    assert other.id == second.id  # another replica may take it at once
    provider.gate.set()
    await poller.drain()
    assert (await engine.get(first.id)).state is State.SUBMITTED


async def test_stop_claims_nothing_more_and_lets_the_step_under_way_finish(
    engine: Engine,
) -> None:
    provider = GatedProvider()
    engine.work.operations = {op: provider for op in engine.work.operations}
    task = await engine.record("a")
    engine.poller.nudge()
    await provider.waiting.wait()  # the provider call is under way

    stopping = asyncio.create_task(engine.poller.stop(grace=30))
    await asyncio.sleep(0)
    later = await engine.record("b")
    engine.poller.nudge()
    assert await engine.poller.tick() == 0  # claims nothing after the stop
    assert not stopping.done()

    provider.gate.set()
    assert await stopping  # the step finished within the grace
    task = await engine.get(task.id)
    assert task.state is State.SUBMITTED and task.lease_until == 0  # saved, released
    assert (await engine.get(later.id)).state is State.QUEUED
    assert provider.submitted == ["a"]


async def test_a_step_longer_than_the_grace_is_left_leased_as_last_saved(engine: Engine) -> None:
    provider = GatedProvider()  # the gate never opens
    engine.work.operations = {op: provider for op in engine.work.operations}
    task = await engine.record("a")
    engine.poller.nudge()
    await provider.waiting.wait()

    assert not await engine.poller.stop(grace=0.05)
    await engine.poller.close()  # the step is cut off
    task = await engine.get(task.id)
    assert task.state is State.QUEUED and task.place.thread_ts  # the parent, saved before
    # nobody else takes it while this process lives; SQLite's leases end with the process
    assert await engine.store.claim_due(engine.clock(), limit=10, lease_seconds=LEASE) == []
    assert not provider.submitted


async def test_stop_with_nothing_under_way_returns_at_once(engine: Engine) -> None:
    await engine.record("a")
    assert await engine.poller.stop(grace=0)
    assert await engine.round() == 0 and engine.provider.submitted == []

"""The TaskStore contract, one suite for every implementation.

Each backend is a factory in ``FACTORIES``: given the test's ``tmp_path`` it returns an
``open()`` coroutine function that opens the *same* store every time it is called (so a
test can close it and open it again, as a restarted process would). The opener may
carry an async ``cleanup`` run after the test. SQLite gets a file in ``tmp_path``;
PostgreSQL a fresh database per test on the server ``tests/postgres_server.py`` finds or
starts (skipped, saying why, when there is none). Tests of what only PostgreSQL does
(several replicas on one database) are at the end.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.storage import TaskStore
from bot.core.storage.sqlite import SqliteTaskStore
from bot.core.tasks import Item, Place, State, Task
from tests import postgres_server

Opener = Callable[[], Awaitable[TaskStore]]


def sqlite_factory(tmp_path: Path) -> Opener:
    path = tmp_path / "data" / "tolk.sqlite"

    async def open_() -> TaskStore:
        return await SqliteTaskStore.open(path)

    return open_


def postgres_factory(tmp_path: Path) -> Opener:
    postgres_server.server()  # skips the test when there is no server
    url: str | None = None

    async def open_() -> TaskStore:
        nonlocal url
        from bot.core.storage.postgres import PostgresTaskStore

        if url is None:
            url = await postgres_server.fresh_database()
        return await PostgresTaskStore.open(url)

    async def cleanup() -> None:
        if url is not None:
            await postgres_server.release_database(url)

    open_.cleanup = cleanup  # type: ignore[attr-defined]
    return open_


FACTORIES: dict[str, Callable[[Path], Opener]] = {
    "sqlite": sqlite_factory,
    "postgres": postgres_factory,
}


class Backend:
    """Opens the store under test; ``reopen`` closes it and opens it again."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self.current: TaskStore | None = None

    async def open(self) -> TaskStore:
        assert self.current is None
        self.current = await self._opener()
        return self.current

    async def reopen(self) -> TaskStore:
        if self.current is not None:
            await self.current.close()
            self.current = None
        return await self.open()


@pytest.fixture(params=sorted(FACTORIES))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    opener = FACTORIES[request.param](tmp_path)
    b = Backend(opener)
    yield b
    if b.current is not None:
        await b.current.close()
    if cleanup := getattr(opener, "cleanup", None):
        await cleanup()


@pytest.fixture
async def store(backend: Backend) -> TaskStore:
    return await backend.open()


def make(
    id: str,
    *,
    key: str | None = None,
    channel: str = "C1",
    user: str = "U1",
    created: float = 10.0,
    due: float | None = None,
    **changes: Any,
) -> Task:
    return Task(
        id=id,
        dedupe_key=key or f"command:T1:{id}",
        place=Place(team="T1", channel=channel, user=user),
        provider="xiangji",
        operation="xiangji.translate_image",
        request={"source": "zh", "target": "en", "urls": ["https://x.example/a.jpg"]},
        items=(
            Item(
                source="https://x.example/a.jpg",
                outputs=({"kind": "image", "url": "https://i.tosoiot.com/r.jpg", "name": "r"},),
            ),
        ),
        created_at=created,
        updated_at=created,
        next_poll_at=created if due is None else due,
        deadline=created + 3600,
        **changes,
    )


def settle(task: Task, now: float = 50.0) -> Task:
    """Final and its final message posted."""
    return task.to(State.CANCELLED, now).but(settled=True)


def ids(tasks: list[Task]) -> list[str]:
    return [t.id for t in tasks]


# --- create_if_absent and get ------------------------------------------------------------


async def test_create_then_get(store: TaskStore) -> None:
    task = make("TAAAA")
    created, is_new = await store.create_if_absent(task)
    assert is_new is True
    assert created == task
    assert await store.get("TAAAA") == task


async def test_get_unknown_is_none(store: TaskStore) -> None:
    assert await store.get("TZZZZ") is None


async def test_create_dedupes_on_dedupe_key(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="command:T1:trigger-1"))
    again, is_new = await store.create_if_absent(
        make("TBBBB", key="command:T1:trigger-1", created=20.0)
    )
    assert is_new is False
    assert again == first
    assert again.id == "TAAAA"
    assert await store.get("TBBBB") is None
    assert ids(await store.claim_due(100.0, limit=10, lease_seconds=30)) == ["TAAAA"]


async def test_dedupe_returns_the_latest_saved_version(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k"))
    moved = first.to(State.SUBMITTED, 15.0, polls=1)
    await store.save(moved)
    again, is_new = await store.create_if_absent(make("TBBBB", key="k"))
    assert is_new is False
    assert again.state is State.SUBMITTED
    assert again.polls == 1


async def test_dedupe_holds_for_a_settled_task(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k"))
    done = settle(first)
    await store.save(done)
    again, is_new = await store.create_if_absent(make("TBBBB", key="k"))
    assert is_new is False
    assert again == done


async def test_same_id_different_key_gets_a_new_id(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k1"))
    second, is_new = await store.create_if_absent(make("TAAAA", key="k2", created=11.0))
    assert is_new is True
    assert second.id != "TAAAA"
    assert re.fullmatch(r"T[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}", second.id)
    assert second.dedupe_key == "k2"
    assert second.created_at == 11.0
    assert await store.get("TAAAA") == first
    assert await store.get(second.id) == second
    claimed = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert sorted(ids(claimed)) == sorted(["TAAAA", second.id])


async def test_same_id_as_a_settled_task_gets_a_new_id(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k1"))
    done = settle(first)
    await store.save(done)
    second, is_new = await store.create_if_absent(make("TAAAA", key="k2"))
    assert is_new is True
    assert second.id != "TAAAA"
    assert await store.get("TAAAA") == done


async def test_concurrent_creates_with_one_key_make_one_task(store: TaskStore) -> None:
    results = await asyncio.gather(
        *(store.create_if_absent(make(f"T{c}AAA", key="command:T1:retry")) for c in "ABCDE")
    )
    created = [task for task, is_new in results if is_new]
    assert len(created) == 1
    assert {task.id for task, _ in results} == {created[0].id}
    assert len(await store.claim_due(100.0, limit=10, lease_seconds=30)) == 1


# --- claim_due ---------------------------------------------------------------------------


async def test_claim_due_returns_due_tasks_oldest_first(store: TaskStore) -> None:
    for id_, t in [("TCCCC", 30.0), ("TAAAA", 10.0), ("TBBBB", 20.0)]:
        await store.create_if_absent(make(id_, created=t))
    claimed = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert ids(claimed) == ["TAAAA", "TBBBB", "TCCCC"]
    assert all(t.lease_until == 130.0 for t in claimed)


async def test_claim_due_orders_by_due_time(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA", created=10.0, due=60.0))
    await store.create_if_absent(make("TBBBB", created=20.0, due=40.0))
    await store.create_if_absent(make("TCCCC", created=30.0, due=50.0))
    claimed = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert ids(claimed) == ["TBBBB", "TCCCC", "TAAAA"]


async def test_claim_due_skips_tasks_not_yet_due(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA", due=90.0))
    await store.create_if_absent(make("TBBBB", due=110.0))
    assert ids(await store.claim_due(100.0, limit=10, lease_seconds=60)) == ["TAAAA"]
    assert ids(await store.claim_due(111.0, limit=10, lease_seconds=60)) == ["TBBBB"]


async def test_claim_due_respects_limit(store: TaskStore) -> None:
    for i, id_ in enumerate(["TAAAA", "TBBBB", "TCCCC", "TDDDD", "TEEEE"]):
        await store.create_if_absent(make(id_, created=10.0 + i))
    assert ids(await store.claim_due(100.0, limit=2, lease_seconds=30)) == ["TAAAA", "TBBBB"]
    assert ids(await store.claim_due(101.0, limit=10, lease_seconds=30)) == [
        "TCCCC",
        "TDDDD",
        "TEEEE",
    ]
    assert await store.claim_due(102.0, limit=10, lease_seconds=30) == []


async def test_a_leased_task_is_not_claimed_until_the_lease_expires(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    assert ids(await store.claim_due(100.0, limit=10, lease_seconds=30)) == ["TAAAA"]
    assert await store.claim_due(100.0, limit=10, lease_seconds=30) == []
    assert await store.claim_due(129.0, limit=10, lease_seconds=30) == []
    again = await store.claim_due(131.0, limit=10, lease_seconds=30)
    assert ids(again) == ["TAAAA"]
    assert again[0].lease_until == 161.0


async def test_concurrent_claims_never_share_a_task(store: TaskStore) -> None:
    for i in range(6):
        await store.create_if_absent(make(f"T{'ABCDEF'[i]}AAA", created=10.0 + i))
    batches = await asyncio.gather(
        *(store.claim_due(100.0, limit=2, lease_seconds=30) for _ in range(4))
    )
    claimed = [t.id for batch in batches for t in batch]
    assert len(claimed) == 6
    assert len(set(claimed)) == 6


async def test_saving_with_the_lease_released_makes_it_claimable(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=30)
    await store.save(claimed.but(lease_until=0.0, next_poll_at=105.0, polls=1))
    assert await store.claim_due(104.0, limit=10, lease_seconds=30) == []
    [again] = await store.claim_due(105.0, limit=10, lease_seconds=30)
    assert again.polls == 1


async def test_a_task_ended_during_a_step_is_not_revived_by_that_step(store: TaskStore) -> None:
    """Tolk removed from a workspace ends its tasks while a step holds one: the step's
    later save (unsettled, stale) must not bring the task back."""
    await store.create_if_absent(make("TAAAA"))
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=30)
    ended = await store.get("TAAAA")
    assert ended is not None
    await store.save(settle(ended))  # ``WorkspaceTenants.leave``: no lease of its own
    await store.save(claimed.but(lease_until=0.0, polls=1))  # the step, finishing late
    kept = await store.get("TAAAA")
    assert kept is not None and kept.settled and kept.state is State.CANCELLED
    assert await store.claim_due(200.0, limit=10, lease_seconds=30) == []


async def test_wake_makes_a_waiting_task_due_now(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA", due=500.0))
    assert await store.claim_due(100.0, limit=10, lease_seconds=30) == []
    assert await store.wake("TAAAA", 100.0)
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert claimed.id == "TAAAA" and claimed.polls == 0  # nothing else changed


async def test_a_wake_during_a_lease_applies_when_the_lease_is_released(
    store: TaskStore,
) -> None:
    await store.create_if_absent(make("TAAAA"))
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert await store.wake("TAAAA", 101.0)
    assert await store.get("TAAAA") == claimed  # the running step's copy is untouched
    await store.save(claimed.but(polls=1))  # a save inside the step keeps its lease
    await store.save(claimed.but(lease_until=0.0, next_poll_at=160.0, polls=1))
    [again] = await store.claim_due(102.0, limit=10, lease_seconds=30)
    assert again.polls == 1 and again.next_poll_at == 101.0


async def test_waking_an_unknown_or_settled_task_does_nothing(store: TaskStore) -> None:
    task, _ = await store.create_if_absent(make("TAAAA"))
    await store.save(settle(task))
    assert not await store.wake("TAAAA", 100.0)
    assert not await store.wake("TZZZZ", 100.0)
    assert await store.claim_due(100.0, limit=10, lease_seconds=30) == []


async def test_settled_tasks_are_never_claimed(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA"))
    await store.create_if_absent(make("TBBBB", created=11.0))
    await store.save(settle(first))
    assert ids(await store.claim_due(1000.0, limit=10, lease_seconds=30)) == ["TBBBB"]


async def test_a_final_but_unsettled_task_is_still_claimed(store: TaskStore) -> None:
    # final state, but its final message is not in Slack yet: the poller must come back
    first, _ = await store.create_if_absent(make("TAAAA"))
    await store.save(first.to(State.FAILED, 20.0))
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert claimed.state is State.FAILED
    assert claimed.settled is False


# --- save and reopen ---------------------------------------------------------------------


async def test_save_persists_changes(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA"))
    changed = first.to(State.SUBMITTED, 20.0, polls=4, notes={"progress_ts": "1.2"})
    await store.save(changed)
    assert await store.get("TAAAA") == changed


async def test_save_several_at_once(backend: Backend, store: TaskStore) -> None:
    a, _ = await store.create_if_absent(make("TAAAA"))
    b, _ = await store.create_if_absent(make("TBBBB", created=11.0))
    await store.save(a.but(polls=1), settle(b))
    reopened = await backend.reopen()
    assert (await reopened.get("TAAAA")).polls == 1  # type: ignore[union-attr]
    assert (await reopened.get("TBBBB")).settled is True  # type: ignore[union-attr]


async def test_reopen_restores_unsettled_tasks_exactly(backend: Backend, store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k-a"))
    running = first.to(State.SUBMITTED, 15.0).to(
        State.RUNNING,
        20.0,
        items=(
            Item(
                source="https://x.example/a.jpg",
                provider_id="req-1",
                status="done",
                outputs=({"kind": "image", "url": "https://i.tosoiot.com/1.jpg", "name": "1"},),
                delivered=1,
            ),
        ),
        polls=3,
        next_poll_at=25.0,
    )
    await store.save(running)
    reopened = await backend.reopen()
    assert await reopened.get("TAAAA") == running
    [claimed] = await reopened.claim_due(100.0, limit=10, lease_seconds=30)
    assert claimed.but(lease_until=0.0) == running
    assert isinstance(claimed.items[0].outputs, tuple)


async def test_reopen_clears_leases(backend: Backend, store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=600)
    await store.save(claimed.but(polls=1))  # saved while still leased until 700
    reopened = await backend.reopen()
    [again] = await reopened.claim_due(101.0, limit=10, lease_seconds=30)
    assert again.id == "TAAAA"
    assert again.polls == 1
    assert again.lease_until == 131.0


async def test_reopen_keeps_settled_tasks_out_of_the_work(
    backend: Backend, store: TaskStore
) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k-a"))
    await store.create_if_absent(make("TBBBB", key="k-b", created=11.0))
    done = settle(first)
    await store.save(done)
    reopened = await backend.reopen()
    assert ids(await reopened.claim_due(1000.0, limit=10, lease_seconds=30)) == ["TBBBB"]
    assert await reopened.get("TAAAA") == done


async def test_dedupe_survives_reopen(backend: Backend, store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k-a"))
    second, _ = await store.create_if_absent(make("TBBBB", key="k-b", created=11.0))
    done = settle(first)
    await store.save(done)
    reopened = await backend.reopen()
    again_a, new_a = await reopened.create_if_absent(make("TCCCC", key="k-a"))
    again_b, new_b = await reopened.create_if_absent(make("TDDDD", key="k-b"))
    assert (again_a, new_a) == (done, False)
    assert (again_b, new_b) == (second, False)
    assert await reopened.get("TCCCC") is None
    assert await reopened.get("TDDDD") is None


async def test_id_collision_detected_after_reopen(backend: Backend, store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", key="k-a"))
    reopened = await backend.reopen()
    second, is_new = await reopened.create_if_absent(make("TAAAA", key="k-z"))
    assert is_new is True
    assert second.id != "TAAAA"
    assert await reopened.get("TAAAA") == first


# --- next_due_at -------------------------------------------------------------------------


async def test_next_due_at_of_an_empty_store_is_none(store: TaskStore) -> None:
    assert await store.next_due_at() is None


async def test_next_due_at_is_the_earliest_due_time(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA", due=70.0))
    await store.create_if_absent(make("TBBBB", due=40.0))
    await store.create_if_absent(make("TCCCC", due=55.0))
    assert await store.next_due_at() == 40.0


async def test_next_due_at_waits_for_a_lease(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA", due=40.0))
    await store.claim_due(50.0, limit=10, lease_seconds=30)
    assert await store.next_due_at() == 80.0


async def test_next_due_at_ignores_settled_tasks(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", due=40.0))
    await store.create_if_absent(make("TBBBB", due=90.0))
    await store.save(settle(first))
    assert await store.next_due_at() == 90.0


async def test_next_due_at_none_once_everything_is_settled(
    backend: Backend, store: TaskStore
) -> None:
    first, _ = await store.create_if_absent(make("TAAAA", due=40.0))
    await store.save(settle(first))
    assert await store.next_due_at() is None
    assert await (await backend.reopen()).next_due_at() is None


# --- listings ----------------------------------------------------------------------------


async def fill_channels(store: TaskStore) -> None:
    a, _ = await store.create_if_absent(make("TAAAA", channel="C1", created=10.0))
    await store.create_if_absent(make("TBBBB", channel="C1", created=20.0))
    await store.create_if_absent(make("TCCCC", channel="C2", created=30.0))
    d, _ = await store.create_if_absent(make("TDDDD", channel="C1", created=40.0))
    await store.save(settle(a), settle(d))


async def test_list_for_channel_active_only(store: TaskStore) -> None:
    await fill_channels(store)
    tasks = await store.list_for_channel("C1")
    assert ids(tasks) == ["TBBBB"]
    assert await store.list_for_channel("C1", active_only=True) == tasks
    assert ids(await store.list_for_channel("C2")) == ["TCCCC"]
    assert await store.list_for_channel("C9") == []


async def test_list_for_channel_with_history(store: TaskStore) -> None:
    await fill_channels(store)
    tasks = await store.list_for_channel("C1", active_only=False)
    assert sorted(ids(tasks)) == ["TAAAA", "TBBBB", "TDDDD"]
    assert len(tasks) == 3
    assert {t.id: t.settled for t in tasks} == {"TAAAA": True, "TBBBB": False, "TDDDD": True}


async def test_list_for_channel_after_reopen(backend: Backend, store: TaskStore) -> None:
    await fill_channels(store)
    reopened = await backend.reopen()
    assert ids(await reopened.list_for_channel("C1")) == ["TBBBB"]
    assert sorted(ids(await reopened.list_for_channel("C1", active_only=False))) == [
        "TAAAA",
        "TBBBB",
        "TDDDD",
    ]


async def fill_users(store: TaskStore) -> None:
    for i, id_ in enumerate(["TAAAA", "TBBBB", "TCCCC", "TDDDD", "TEEEE"]):
        task, _ = await store.create_if_absent(make(id_, user="U1", created=10.0 * (i + 1)))
        if id_ in ("TBBBB", "TEEEE"):
            await store.save(settle(task))
    await store.create_if_absent(make("TFFFF", user="U2", created=100.0))


async def test_list_for_user_newest_first(store: TaskStore) -> None:
    await fill_users(store)
    assert ids(await store.list_for_user("U1")) == ["TEEEE", "TDDDD", "TCCCC", "TBBBB", "TAAAA"]
    assert ids(await store.list_for_user("U2")) == ["TFFFF"]
    assert await store.list_for_user("U9") == []


async def test_list_for_user_limit(store: TaskStore) -> None:
    await fill_users(store)
    assert ids(await store.list_for_user("U1", limit=2)) == ["TEEEE", "TDDDD"]
    assert ids(await store.list_for_user("U1", limit=3)) == ["TEEEE", "TDDDD", "TCCCC"]


async def test_list_for_user_after_reopen(backend: Backend, store: TaskStore) -> None:
    await fill_users(store)
    reopened = await backend.reopen()
    assert ids(await reopened.list_for_user("U1", limit=4)) == [
        "TEEEE",
        "TDDDD",
        "TCCCC",
        "TBBBB",
    ]


# --- cancellation ------------------------------------------------------------------------


async def test_a_request_to_cancel_is_what_cancel_requests_reports(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    await store.create_if_absent(make("TBBBB", created=11.0))
    assert await store.cancel_requests(["TAAAA", "TBBBB"]) == {}
    assert await store.request_cancel("TAAAA", "U1", 100.0)
    assert await store.cancel_requests(["TAAAA", "TBBBB", "TZZZZ"]) == {"TAAAA": "U1"}
    assert await store.cancel_requests([]) == {}


async def test_the_first_request_to_cancel_stands(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    assert await store.request_cancel("TAAAA", "U1", 100.0)
    assert await store.request_cancel("TAAAA", "U2", 101.0)  # asked already: still true
    assert await store.cancel_requests(["TAAAA"]) == {"TAAAA": "U1"}


async def test_concurrent_requests_to_cancel_lose_none(store: TaskStore) -> None:
    """The setting it replaces was read, changed and written back: two cancels at once
    could lose one. Each request is now a write on its own task."""
    names = [f"T{n:04d}" for n in range(30)]
    for n, name in enumerate(names):
        await store.create_if_absent(make(name, created=10.0 + n))
    results = await asyncio.gather(
        *(store.request_cancel(name, f"U{n}", 100.0) for n, name in enumerate(names))
    )
    assert all(results)
    assert await store.cancel_requests(names) == {name: f"U{n}" for n, name in enumerate(names)}


async def test_cancelling_an_unknown_or_settled_task_is_refused(store: TaskStore) -> None:
    task, _ = await store.create_if_absent(make("TAAAA"))
    await store.save(settle(task))
    assert not await store.request_cancel("TAAAA", "U1", 100.0)
    assert not await store.request_cancel("TZZZZ", "U1", 100.0)
    assert await store.cancel_requests(["TAAAA", "TZZZZ"]) == {}


async def test_a_running_steps_save_keeps_a_request_made_during_it(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    [claimed] = await store.claim_due(100.0, limit=10, lease_seconds=30)
    assert await store.request_cancel("TAAAA", "U1", 101.0)  # while the step runs
    await store.save(claimed.but(polls=1))  # the step saves its own copy, twice
    await store.save(claimed.but(lease_until=0.0, polls=1))
    assert await store.cancel_requests(["TAAAA"]) == {"TAAAA": "U1"}


async def test_a_request_to_cancel_does_not_make_the_task_due(store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA", due=500.0))
    assert await store.request_cancel("TAAAA", "U1", 100.0)
    assert await store.claim_due(100.0, limit=10, lease_seconds=30) == []
    assert await store.next_due_at() == 500.0


async def test_a_request_to_cancel_survives_reopen(backend: Backend, store: TaskStore) -> None:
    await store.create_if_absent(make("TAAAA"))
    await store.create_if_absent(make("TBBBB", created=11.0))
    assert await store.request_cancel("TBBBB", "U2", 100.0)
    reopened = await backend.reopen()
    assert await reopened.cancel_requests(["TAAAA", "TBBBB"]) == {"TBBBB": "U2"}


async def test_a_request_to_cancel_goes_when_its_task_settles(
    backend: Backend, store: TaskStore
) -> None:
    task, _ = await store.create_if_absent(make("TAAAA"))
    assert await store.request_cancel("TAAAA", "U1", 100.0)
    await store.save(settle(task))
    assert await store.cancel_requests(["TAAAA"]) == {}
    reopened = await backend.reopen()
    assert await reopened.cancel_requests(["TAAAA"]) == {}
    assert (await reopened.get("TAAAA")).settled  # the task itself stays


async def test_sqlite_adopts_requests_to_cancel_kept_as_settings(tmp_path: Path) -> None:
    """Before, a request to cancel was a setting (``cancel``, task id) → user, with an
    index ``cancel``/``_recent``: a store opened on such a file moves them onto their
    tasks and drops the settings."""
    path = tmp_path / "tolk.sqlite"
    old = await SqliteTaskStore.open(path)
    await old.create_if_absent(make("TAAAA"))
    done, _ = await old.create_if_absent(make("TBBBB", created=11.0))
    await old.save(settle(done))
    await old.put_setting("cancel", "TAAAA", "U1")
    await old.put_setting("cancel", "TBBBB", "U2")
    await old.put_setting("cancel", "_recent", {"TAAAA": "U1", "TBBBB": "U2"})
    await old.close()
    store = await SqliteTaskStore.open(path)
    try:
        assert await store.cancel_requests(["TAAAA", "TBBBB"]) == {"TAAAA": "U1"}
        for key in ("TAAAA", "TBBBB", "_recent"):
            assert await store.get_setting("cancel", key) is None
    finally:
        await store.close()


# --- settings ----------------------------------------------------------------------------


async def test_missing_setting_is_none(store: TaskStore) -> None:
    assert await store.get_setting("channel", "C1") is None


async def test_put_then_get_setting(store: TaskStore) -> None:
    value = {"auto_images": {"source": "zh", "target": "en"}, "threshold": 50, "on": True}
    await store.put_setting("channel", "C1", value)
    assert await store.get_setting("channel", "C1") == value


async def test_setting_overwrite_and_namespaces(store: TaskStore) -> None:
    await store.put_setting("channel", "C1", {"threshold": 50})
    await store.put_setting("channel", "C1", {"threshold": 75})
    await store.put_setting("quota", "C1", 3)
    await store.put_setting("channel", "C2", ["a", "b"])
    assert await store.get_setting("channel", "C1") == {"threshold": 75}
    assert await store.get_setting("quota", "C1") == 3
    assert await store.get_setting("channel", "C2") == ["a", "b"]


async def test_settings_survive_reopen(backend: Backend, store: TaskStore) -> None:
    await store.put_setting("channel", "C1", {"defaults": "zh>en", "threshold": 20})
    await store.put_setting("alerts", "xiangji", "below")
    await store.create_if_absent(make("TAAAA"))  # task writes do not lose settings
    reopened = await backend.reopen()
    assert await reopened.get_setting("channel", "C1") == {"defaults": "zh>en", "threshold": 20}
    assert await reopened.get_setting("alerts", "xiangji") == "below"
    assert await reopened.get("TAAAA") is not None


# --- PostgreSQL: several replicas on one database ----------------------------------------


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    postgres_server.server()  # skips when there is no server
    url = await postgres_server.fresh_database()
    yield url
    await postgres_server.release_database(url)


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[list[Any]]:
    """Two stores on one database, each with its own pool and session: two replicas."""
    from bot.core.storage.postgres import PostgresTaskStore

    stores = [await PostgresTaskStore.open(pg_url), await PostgresTaskStore.open(pg_url)]
    yield stores
    for s in stores:
        await s.close()


async def test_pg_concurrent_claims_from_two_replicas_never_share_a_task(
    replicas: list[Any],
) -> None:
    a, b = replicas
    for i in range(120):
        await a.create_if_absent(make(f"T{i:04d}", created=10.0 + i))

    async def drain(store: Any) -> list[str]:
        got: list[str] = []
        while batch := await store.claim_due(1000.0, limit=7, lease_seconds=300):
            got += ids(batch)
            await asyncio.sleep(0)
        return got

    from_a, from_b = await asyncio.gather(drain(a), drain(b))
    assert not set(from_a) & set(from_b)
    assert sorted(from_a + from_b) == sorted(f"T{i:04d}" for i in range(120))
    assert len(from_a + from_b) == 120
    assert from_a and from_b  # both took part


async def test_pg_an_expired_lease_is_claimed_by_another_replica(replicas: list[Any]) -> None:
    a, b = replicas
    await a.create_if_absent(make("TAAAA"))
    [held] = await a.claim_due(100.0, limit=10, lease_seconds=30)
    assert await b.claim_due(110.0, limit=10, lease_seconds=30) == []  # a's lease holds
    [taken] = await b.claim_due(131.0, limit=10, lease_seconds=30)  # a hung: it expired
    assert taken.id == "TAAAA" and taken.lease_until == 161.0
    assert await a.claim_due(140.0, limit=10, lease_seconds=30) == []
    assert (await a.get("TAAAA")).lease_until == 161.0  # type: ignore[union-attr]
    assert held.lease_until == 130.0


async def test_pg_a_dead_replicas_leases_are_free_at_once(pg_url: str) -> None:
    from bot.core.storage.postgres import PostgresTaskStore

    a = await PostgresTaskStore.open(pg_url)
    b = await PostgresTaskStore.open(pg_url)
    try:
        await a.create_if_absent(make("TAAAA"))
        await a.claim_due(100.0, limit=10, lease_seconds=600)
        assert await b.claim_due(101.0, limit=10, lease_seconds=30) == []
        assert await b.next_due_at() == 700.0
        # a's process dies: its connections drop (the server ends its session)
        assert a._session is not None
        await b._pool.execute("SELECT pg_terminate_backend($1)", a._session.get_server_pid())
        for _ in range(100):  # the backend exits a moment after it is told to
            if await b.next_due_at() == 10.0:
                break
            await asyncio.sleep(0.02)
        [taken] = await b.claim_due(101.0, limit=10, lease_seconds=30)
        assert taken.id == "TAAAA" and taken.lease_until == 131.0
    finally:
        await b.close()
        await a._pool.close()


async def test_pg_a_stale_replicas_save_is_not_applied(
    replicas: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = replicas
    await a.create_if_absent(make("TAAAA"))
    [stale] = await a.claim_due(100.0, limit=10, lease_seconds=30)
    [fresh] = await b.claim_due(131.0, limit=10, lease_seconds=30)  # a's lease expired
    await b.save(fresh.to(State.SUBMITTED, 132.0, notes={"sent": {"TAAAA:parent": "1.1"}}))

    with caplog.at_level("WARNING", logger="bot.core.storage.postgres"):
        await a.save(stale.to(State.FAILED, 133.0, polls=9))  # a still thinks it holds it
    assert a.skipped_saves == 1
    assert "task TAAAA: save skipped: its lease (until 130.0) was taken" in caplog.text
    now = await b.get("TAAAA")
    assert now is not None
    assert now.state is State.SUBMITTED and now.polls == 0 and now.lease_until == 161.0
    assert now.notes == {"sent": {"TAAAA:parent": "1.1"}}

    # the new owner's release applies; a's stale release stays out even once it is free
    await b.save(now.but(lease_until=0.0, next_poll_at=170.0, polls=1))
    await a.save(stale.to(State.FAILED, 134.0, polls=9).but(lease_until=0.0))
    assert a.skipped_saves == 2
    after = await a.get("TAAAA")
    assert after is not None
    assert (after.state, after.polls, after.lease_until, after.next_poll_at) == (
        State.SUBMITTED,
        1,
        0.0,
        170.0,
    )
    assert after.notes == {"sent": {"TAAAA:parent": "1.1"}}
    assert b.skipped_saves == 0


async def test_pg_a_save_by_a_non_holder_leaves_the_lease_alone(replicas: list[Any]) -> None:
    a, b = replicas
    await a.create_if_absent(make("TAAAA"))
    before = await b.get("TAAAA")  # read while no step held it
    [held] = await a.claim_due(100.0, limit=10, lease_seconds=30)
    assert before is not None
    await b.save(before.but(polls=5))  # a step holds it now: this copy may be behind
    assert b.skipped_saves == 1
    assert (await b.get("TAAAA")).polls == 0  # type: ignore[union-attr]
    seen = await b.get("TAAAA")  # e.g. a handler on replica b adds a note
    assert seen is not None and seen.lease_until == 130.0
    await b.save(seen.but(notes={"deleted_by": "U2"}))
    assert (await a.get("TAAAA")).notes == {"deleted_by": "U2"}  # type: ignore[union-attr]
    assert await b.claim_due(110.0, limit=10, lease_seconds=30) == []  # still a's
    await a.save(held.but(lease_until=0.0, next_poll_at=150.0, notes={"deleted_by": "U2"}))
    [again] = await b.claim_due(150.0, limit=10, lease_seconds=30)
    assert again.notes == {"deleted_by": "U2"}


async def test_pg_a_wake_on_one_replica_waits_for_the_holder_on_another(
    replicas: list[Any],
) -> None:
    a, b = replicas
    await a.create_if_absent(make("TAAAA"))
    [held] = await a.claim_due(100.0, limit=10, lease_seconds=30)
    assert await b.wake("TAAAA", 101.0)  # the provider's callback reached replica b
    assert await b.claim_due(102.0, limit=10, lease_seconds=30) == []
    await a.save(held.but(lease_until=0.0, next_poll_at=400.0, polls=1))
    [again] = await b.claim_due(102.0, limit=10, lease_seconds=30)
    assert again.polls == 1 and again.next_poll_at == 101.0


async def test_pg_migrations_are_idempotent_and_run_once(pg_url: str) -> None:
    import asyncpg

    from bot.core.storage.postgres import MIGRATIONS, PostgresTaskStore, migrate

    # four replicas start at once on an empty database
    stores = await asyncio.gather(*(PostgresTaskStore.open(pg_url) for _ in range(4)))
    try:
        await stores[0].create_if_absent(make("TAAAA"))
        assert await stores[3].get("TAAAA") is not None
    finally:
        for s in stores:
            await s.close()
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"]) for r in rows] == [(v, n) for v, n, _ in MIGRATIONS]
        assert await migrate(conn) == []  # and again: nothing to do
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)
        assert await conn.fetchval("SELECT count(*) FROM tasks") == 1  # nothing recreated
    finally:
        await conn.close()
    reopened = await PostgresTaskStore.open(pg_url)
    try:
        assert await reopened.get("TAAAA") is not None
    finally:
        await reopened.close()


async def test_pg_requests_to_cancel_kept_as_settings_move_onto_their_tasks(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 2 on a database of version 1, whose requests to cancel were settings."""
    from bot.core.storage import postgres

    monkeypatch.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:1])
    old = await postgres.PostgresTaskStore.open(pg_url)
    try:
        await old.create_if_absent(make("TAAAA"))
        await old.create_if_absent(make("TBBBB", created=11.0))
        await old.put_setting("cancel", "TAAAA", "U1")
        await old.put_setting("cancel", "_recent", {"TAAAA": "U1"})
    finally:
        await old.close()
    monkeypatch.undo()
    store = await postgres.PostgresTaskStore.open(pg_url)
    try:
        assert await store.cancel_requests(["TAAAA", "TBBBB"]) == {"TAAAA": "U1"}
        assert await store.get_setting("cancel", "TAAAA") is None
        assert await store.get_setting("cancel", "_recent") is None
    finally:
        await store.close()


async def test_pg_a_request_on_one_replica_is_seen_by_another(replicas: list[Any]) -> None:
    a, b = replicas
    await a.create_if_absent(make("TAAAA"))
    [held] = await a.claim_due(100.0, limit=10, lease_seconds=30)
    assert await b.request_cancel("TAAAA", "U1", 101.0)  # the command reached replica b
    assert await a.cancel_requests(["TAAAA"]) == {"TAAAA": "U1"}
    await a.save(held.but(lease_until=0.0, polls=1))  # the holder's save keeps it
    assert await b.cancel_requests(["TAAAA"]) == {"TAAAA": "U1"}


async def test_pg_exclusive_is_true_for_one_replica_at_a_time(replicas: list[Any]) -> None:
    from bot.core.storage.leader import run_once_across_replicas

    a, b = replicas
    async with a.exclusive("quota-check") as mine_a:
        async with b.exclusive("quota-check") as mine_b:
            assert (mine_a, mine_b) == (True, False)
        async with a.exclusive("quota-check") as again_a:  # not twice in one replica either
            assert again_a is False
        async with b.exclusive("cleanup") as other_job:  # another job is another lock
            assert other_job is True
        ran: list[str] = []

        async def job() -> None:
            ran.append("b")

        assert await run_once_across_replicas(b, "quota-check", job) is False
        assert ran == []
    async with b.exclusive("quota-check") as mine_b:  # a let go
        assert mine_b is True
    assert await run_once_across_replicas(b, "quota-check", job) is True
    assert ran == ["b"]

    # both fire together: exactly one runs it
    started = asyncio.Event()
    runs: list[str] = []

    def slow(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            runs.append(name)
            started.set()
            await asyncio.sleep(0.2)

        return run

    results = await asyncio.gather(
        run_once_across_replicas(a, "hourly", slow("a")),
        run_once_across_replicas(b, "hourly", slow("b")),
    )
    assert sorted(results) == [False, True] and len(runs) == 1


async def test_sqlite_exclusive_always_runs(tmp_path: Path) -> None:
    from bot.core.storage.leader import run_once_across_replicas

    store = await SqliteTaskStore.open(tmp_path / "tolk.sqlite")
    try:
        async with store.exclusive("quota-check") as mine:
            assert mine is True
        ran: list[int] = []

        async def job() -> None:
            ran.append(1)

        assert await run_once_across_replicas(store, "quota-check", job) is True
        assert await run_once_across_replicas(object(), "quota-check", job) is True
        assert ran == [1, 1]
    finally:
        await store.close()


def test_fast_task_json_is_what_asdict_makes() -> None:
    """``Task.to_json`` skips ``dataclasses.asdict``'s deep copies; it must agree with it
    for every field, nested ones included, and round-trip."""
    import dataclasses
    import json

    task = make("TAAAA").but(
        state=State.RUNNING,
        items=(
            Item(source="a", provider_id="r1", status="done", delivered=1, meta={"n": [1, 2]}),
            Item(source="b", error={"code": "E", "message": "m"}, outputs=({"kind": "text"},)),
        ),
        error={"code": "X", "message": "y", "kind": "retry"},
        notes={"sent": {"TAAAA:parent": "1.2"}, "intents": ["TAAAA:parent"], "n": None},
        settled=False,
        lease_until=12.5,
    )
    assert json.dumps(task.to_json()) == json.dumps(dataclasses.asdict(task))
    assert Task.from_json(json.loads(json.dumps(task.to_json()))) == task
    with pytest.raises(TypeError, match="no field 'colour'"):
        task.but(colour="red")


async def test_count_unsettled_by_state(store: TaskStore) -> None:
    first, _ = await store.create_if_absent(make("TAAAA"))
    await store.create_if_absent(make("TBBBB"))
    await store.save(first.to(State.SUBMITTED, 20.0))
    done, _ = await store.create_if_absent(make("TCCCC"))
    await store.save(settle(done))
    assert await store.count_unsettled() == {"queued": 1, "submitted": 1}


async def test_step_limit_caps_only_tasks_not_waiting_on_a_provider(store: TaskStore) -> None:
    """A replica takes as many queued tasks as it has room for; every task waiting on a
    provider comes along (one status round serves them all)."""
    for n in range(4):
        await store.create_if_absent(make(f"TQ{n:03d}", created=10.0 + n))
    for n in range(3):
        waiting, _ = await store.create_if_absent(make(f"TW{n:03d}", created=20.0 + n))
        await store.save(waiting.to(State.SUBMITTED, 30.0))
    claimed = await store.claim_due(100.0, limit=100, lease_seconds=30, step_limit=1)
    assert sorted(ids(claimed)) == ["TQ000", "TW000", "TW001", "TW002"]  # the oldest queued
    rest = await store.claim_due(100.0, limit=100, lease_seconds=30, step_limit=0)
    assert rest == []
    assert ids(await store.claim_due(100.0, limit=100, lease_seconds=30)) == [
        "TQ001",
        "TQ002",
        "TQ003",
    ]

"""The TaskStore contract, one suite for every implementation.

Each backend is a factory in ``FACTORIES``: given the test's ``tmp_path`` it returns an
``open()`` coroutine function that opens the *same* store every time it is called (so a
test can close it and open it again, as a restarted process would). Today that is
SQLite; a PostgreSQL factory (a fresh schema per test, skipped when no database URL is
configured) only has to be added to ``FACTORIES`` to run the whole suite.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.storage import TaskStore
from bot.storage.sqlite import SqliteTaskStore
from bot.tasks import Item, Place, State, Task

Opener = Callable[[], Awaitable[TaskStore]]


def sqlite_factory(tmp_path: Path) -> Opener:
    path = tmp_path / "data" / "tolk.sqlite"

    async def open_() -> TaskStore:
        return await SqliteTaskStore.open(path)

    return open_


FACTORIES: dict[str, Callable[[Path], Opener]] = {"sqlite": sqlite_factory}


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
    b = Backend(FACTORIES[request.param](tmp_path))
    yield b
    if b.current is not None:
        await b.current.close()


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

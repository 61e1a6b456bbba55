"""The TaskStore contract for many workspaces: single-use settings (``take_setting``),
``delete_setting``, ``list_settings`` and a workspace's unsettled tasks
(``list_unsettled``). Run on every backend of ``test_store_contract`` (its fixtures),
SQLite and PostgreSQL; the replica races at the end need PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.core.storage import TaskStore
from bot.core.tasks import Place, State
from tests.bot.core.test_store_contract import (  # the fixtures, for every backend
    Backend,
    backend,
    make,
    pg_url,
    replicas,
    settle,
    store,
)

__all__ = ["backend", "pg_url", "replicas", "store"]  # fixtures pytest finds by name


# --- take_setting ------------------------------------------------------------------------


async def test_take_setting_returns_the_value_once(store: TaskStore) -> None:
    await store.put_setting("oauth-state", "s1", {"expires_at": 100.0})
    assert await store.take_setting("oauth-state", "s1") == {"expires_at": 100.0}
    assert await store.take_setting("oauth-state", "s1") is None
    assert await store.get_setting("oauth-state", "s1") is None


async def test_take_setting_of_a_missing_one_is_none(store: TaskStore) -> None:
    assert await store.take_setting("oauth-state", "nothing") is None


async def test_take_setting_leaves_other_keys_and_namespaces(store: TaskStore) -> None:
    await store.put_setting("oauth-state", "s1", 1)
    await store.put_setting("oauth-state", "s2", 2)
    await store.put_setting("other", "s1", 3)
    assert await store.take_setting("oauth-state", "s1") == 1
    assert await store.get_setting("oauth-state", "s2") == 2
    assert await store.get_setting("other", "s1") == 3


async def test_concurrent_takes_give_the_value_to_one(store: TaskStore) -> None:
    for n in range(5):
        await store.put_setting("oauth-state", f"s{n}", {"n": n})
    results = await asyncio.gather(
        *(store.take_setting("oauth-state", f"s{n % 5}") for n in range(40))
    )
    got = [r for r in results if r is not None]
    assert sorted(r["n"] for r in got) == [0, 1, 2, 3, 4]


async def test_a_taken_setting_stays_gone_after_reopen(backend: Backend, store: TaskStore) -> None:
    await store.put_setting("oauth-state", "s1", "x")
    await store.put_setting("oauth-state", "s2", "y")
    assert await store.take_setting("oauth-state", "s1") == "x"
    reopened = await backend.reopen()
    assert await reopened.get_setting("oauth-state", "s1") is None
    assert await reopened.take_setting("oauth-state", "s2") == "y"


# --- delete_setting and list_settings ----------------------------------------------------


async def test_delete_setting(backend: Backend, store: TaskStore) -> None:
    await store.put_setting("installation", "T:T1", {"team_id": "T1"})
    await store.put_setting("installation", "T:T2", {"team_id": "T2"})
    await store.delete_setting("installation", "T:T1")
    await store.delete_setting("installation", "T:T1")  # again: nothing happens
    await store.delete_setting("installation", "T:NONE")
    assert await store.get_setting("installation", "T:T1") is None
    reopened = await backend.reopen()
    assert await reopened.get_setting("installation", "T:T1") is None
    assert await reopened.get_setting("installation", "T:T2") == {"team_id": "T2"}


async def test_list_settings_is_one_namespace(backend: Backend, store: TaskStore) -> None:
    assert await store.list_settings("installation") == {}
    await store.put_setting("installation", "T:T1", {"team_id": "T1"})
    await store.put_setting("installation", "E:E1", {"enterprise_id": "E1"})
    await store.put_setting("installations", "T:T9", "a longer namespace")
    await store.put_setting("install", "T:T8", "a shorter one")
    await store.put_setting("channel", "C1", {"threshold": 5})
    expected = {"T:T1": {"team_id": "T1"}, "E:E1": {"enterprise_id": "E1"}}
    assert await store.list_settings("installation") == expected
    await store.delete_setting("installation", "E:E1")
    reopened = await backend.reopen()
    assert await reopened.list_settings("installation") == {"T:T1": {"team_id": "T1"}}
    assert await reopened.list_settings("channel") == {"C1": {"threshold": 5}}


# --- list_unsettled ------------------------------------------------------------------------


def in_team(id: str, team: str, **changes: Any) -> Any:
    task = make(id, **changes)
    return task.but(place=Place(team=team, channel=task.place.channel, user=task.place.user))


async def test_list_unsettled_is_one_workspaces_pending_work(store: TaskStore) -> None:
    await store.create_if_absent(in_team("TB002", "T0BETA", created=12.0))
    await store.create_if_absent(in_team("TB001", "T0BETA", created=11.0))
    await store.create_if_absent(in_team("TA001", "T0ALPHA", created=10.0))
    done, _ = await store.create_if_absent(in_team("TB003", "T0BETA", created=13.0))
    await store.save(settle(done))
    waiting, _ = await store.create_if_absent(in_team("TB004", "T0BETA", created=14.0))
    await store.save(waiting.to(State.SUBMITTED, 20.0))
    beta = await store.list_unsettled("T0BETA")
    assert [t.id for t in beta] == ["TB001", "TB002", "TB004"]
    assert beta[2].state is State.SUBMITTED
    assert [t.id for t in await store.list_unsettled("T0ALPHA")] == ["TA001"]
    assert await store.list_unsettled("T0NOBODY") == []


async def test_list_unsettled_includes_leased_and_final_unsettled_tasks(
    store: TaskStore,
) -> None:
    await store.create_if_absent(in_team("TB001", "T0BETA", created=10.0))
    final, _ = await store.create_if_absent(in_team("TB002", "T0BETA", created=11.0))
    await store.save(final.to(State.CANCELLED, 20.0))  # final, its message not yet posted
    await store.claim_due(100.0, limit=1, lease_seconds=60)  # TB001 leased
    assert [t.id for t in await store.list_unsettled("T0BETA")] == ["TB001", "TB002"]


async def test_list_unsettled_after_reopen(backend: Backend, store: TaskStore) -> None:
    await store.create_if_absent(in_team("TB001", "T0BETA"))
    done, _ = await store.create_if_absent(in_team("TB002", "T0BETA"))
    await store.save(settle(done))
    reopened = await backend.reopen()
    assert [t.id for t in await reopened.list_unsettled("T0BETA")] == ["TB001"]


# --- PostgreSQL: replicas ------------------------------------------------------------------


async def test_pg_two_replicas_taking_one_setting_get_it_once(replicas: list[Any]) -> None:
    a, b = replicas
    for round_ in range(20):
        await a.put_setting("oauth-state", f"s{round_}", {"round": round_})
        results = await asyncio.gather(
            a.take_setting("oauth-state", f"s{round_}"),
            b.take_setting("oauth-state", f"s{round_}"),
            b.take_setting("oauth-state", f"s{round_}"),
        )
        assert sorted(results, key=lambda r: r is None) == [{"round": round_}, None, None]


async def test_pg_a_setting_one_replica_deletes_is_gone_for_the_other(
    replicas: list[Any],
) -> None:
    a, b = replicas
    await a.put_setting("installation", "T:T1", {"team_id": "T1"})
    assert await b.list_settings("installation") == {"T:T1": {"team_id": "T1"}}
    await b.delete_setting("installation", "T:T1")
    assert await a.get_setting("installation", "T:T1") is None
    assert await a.list_settings("installation") == {}

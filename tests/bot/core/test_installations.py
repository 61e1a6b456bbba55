"""Installations and OAuth states on Tolk's store (``bot.core.installations``), on every
store backend (SQLite and PostgreSQL, the contract suite's fixtures): slack_sdk's
installation-store interface, records keyed by workspace or organisation, tokens
sealed, and states that expire and work once."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.core.installations import (
    FORGET_AFTER,
    INSTALLATIONS,
    STATES,
    StateCheck,
    TolkInstallationStore,
    TolkStateStore,
    installation_key,
)
from bot.core.sealed import Sealer
from bot.core.storage import TaskStore
from tests.bot.core.test_store_contract import backend, pg_url, replicas, store

__all__ = ["backend", "pg_url", "replicas", "store"]  # fixtures pytest finds by name

BOT_TOKEN = "xoxe.xoxb-1-T0BETA-bot-secret"
REFRESH_TOKEN = "xoxe-1-refresh-secret"
USER_TOKEN = "xoxp-user-secret"
USER_REFRESH = "xoxe-1-user-refresh-secret"
WEBHOOK = "https://hooks.slack.com/services/T0BETA/B1/webhook-secret"
SECRETS = (BOT_TOKEN, REFRESH_TOKEN, USER_TOKEN, USER_REFRESH, WEBHOOK)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(Fernet.generate_key().decode())


@pytest.fixture
def installations(store: TaskStore, sealer: Sealer) -> TolkInstallationStore:
    return TolkInstallationStore(store, sealer)


def installation(**changes: Any) -> Installation:
    fields: dict[str, Any] = {
        "app_id": "A0TOLK",
        "enterprise_id": "E0GRID",
        "enterprise_name": "Beta Corp Grid",
        "team_id": "T0BETA",
        "team_name": "Beta Corp",
        "bot_token": BOT_TOKEN,
        "bot_id": "B0BETABOT",
        "bot_user_id": "U0BETABOT",
        "bot_scopes": "commands,chat:write",
        "bot_refresh_token": REFRESH_TOKEN,
        "bot_token_expires_at": 1_700_043_200,
        "user_id": "U0CAROL",
        "user_token": USER_TOKEN,
        "user_scopes": "search:read",
        "user_refresh_token": USER_REFRESH,
        "user_token_expires_at": 1_700_043_000,
        "incoming_webhook_url": WEBHOOK,
        "incoming_webhook_channel": "#general",
        "incoming_webhook_channel_id": "C0BETAGEN",
        "incoming_webhook_configuration_url": "https://beta.slack.com/services/B1",
        "is_enterprise_install": False,
        "token_type": "bot",
        "installed_at": 1_700_000_000.5,
        "custom_values": {"note": "kept"},
    }
    return Installation(**(fields | changes))


def same(a: Installation | None, b: Installation) -> bool:
    return a is not None and a.to_dict() == b.to_dict()


# --- installations -----------------------------------------------------------------------


def test_installation_keys() -> None:
    assert installation_key("E0GRID", "T0BETA") == "T:T0BETA"
    assert installation_key(None, "T0BETA") == "T:T0BETA"
    assert installation_key("E0GRID", "T0BETA", True) == "E:E0GRID"
    assert installation_key("E0GRID", None) == "E:E0GRID"
    with pytest.raises(ValueError, match="team id or an enterprise id"):
        installation_key(None, None)


async def test_save_then_find_gives_the_installation_back(
    installations: TolkInstallationStore,
) -> None:
    saved = installation()
    await installations.async_save(saved)
    found = await installations.async_find_installation(enterprise_id="E0GRID", team_id="T0BETA")
    assert same(found, saved)
    assert found is not None and found.bot_token_expires_at == 1_700_043_200
    assert found.custom_values == {"note": "kept"}
    assert await installations.keys() == ["T:T0BETA"]
    assert same(await installations.load("T:T0BETA"), saved)


async def test_nothing_secret_is_stored_in_clear(
    installations: TolkInstallationStore, store: TaskStore, sealer: Sealer
) -> None:
    await installations.async_save(installation())
    record = await store.get_setting(INSTALLATIONS, "T:T0BETA")
    raw = json.dumps(record)
    for secret in SECRETS:
        assert secret not in raw
    assert sealer.open(record["bot_token"]) == BOT_TOKEN
    assert sealer.open(record["bot_refresh_token"]) == REFRESH_TOKEN
    assert sealer.open(record["user_token"]) == USER_TOKEN
    assert sealer.open(record["incoming_webhook_url"]) == WEBHOOK
    assert record["team_id"] == "T0BETA" and record["bot_user_id"] == "U0BETABOT"


async def test_a_missing_installation_is_none(installations: TolkInstallationStore) -> None:
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0NONE") is None
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0NONE") is None
    assert await installations.load("T:T0NONE") is None
    assert await installations.take("T:T0NONE") is None


async def test_a_grid_workspaces_own_install_is_kept_by_its_team(
    installations: TolkInstallationStore,
) -> None:
    await installations.async_save(installation())  # enterprise E0GRID, not org-wide
    assert await installations.keys() == ["T:T0BETA"]
    assert await installations.async_find_bot(enterprise_id="E0GRID", team_id="T0BETA")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0BETA")
    org = await installations.async_find_bot(
        enterprise_id="E0GRID", team_id=None, is_enterprise_install=True
    )
    assert org is None


async def test_an_org_wide_install_is_kept_by_its_enterprise(
    installations: TolkInstallationStore,
) -> None:
    org = installation(team_id=None, team_name=None, is_enterprise_install=True)
    await installations.async_save(org)
    assert await installations.keys() == ["E:E0GRID"]
    found = await installations.async_find_installation(
        enterprise_id="E0GRID", team_id="T0ANY", is_enterprise_install=True
    )
    assert same(found, org)
    bot = await installations.async_find_bot(
        enterprise_id="E0GRID", team_id=None, is_enterprise_install=True
    )
    assert bot is not None and bot.bot_token == BOT_TOKEN and bot.is_enterprise_install


async def test_installing_again_replaces_the_installation(
    installations: TolkInstallationStore,
) -> None:
    await installations.async_save(installation())
    again = installation(bot_token="xoxb-new", bot_refresh_token=None, bot_token_expires_at=None)
    await installations.async_save(again)
    found = await installations.load("T:T0BETA")
    assert same(found, again)
    assert found is not None and found.bot_refresh_token is None
    assert await installations.keys() == ["T:T0BETA"]


async def test_find_installation_for_a_person(installations: TolkInstallationStore) -> None:
    await installations.async_save(installation())
    mine = await installations.async_find_installation(
        enterprise_id="E0GRID", team_id="T0BETA", user_id="U0CAROL"
    )
    assert mine is not None and mine.user_token == USER_TOKEN
    other = await installations.async_find_installation(
        enterprise_id="E0GRID", team_id="T0BETA", user_id="U0DAVE"
    )
    assert other is None


async def test_find_bot(installations: TolkInstallationStore) -> None:
    await installations.async_save(installation())
    bot = await installations.async_find_bot(enterprise_id="E0GRID", team_id="T0BETA")
    assert bot is not None
    assert (bot.bot_token, bot.bot_id, bot.bot_user_id) == (BOT_TOKEN, "B0BETABOT", "U0BETABOT")
    assert (bot.bot_refresh_token, bot.bot_token_expires_at) == (REFRESH_TOKEN, 1_700_043_200)
    assert list(bot.bot_scopes) == ["commands", "chat:write"]


async def test_save_bot_keeps_the_rest_of_the_installation(
    installations: TolkInstallationStore,
) -> None:
    await installations.async_save(installation())
    bot = Bot(
        app_id="A0TOLK",
        enterprise_id="E0GRID",
        team_id="T0BETA",
        team_name="Beta Corp",
        bot_token="xoxe.xoxb-rotated",
        bot_id="B0BETABOT",
        bot_user_id="U0BETABOT",
        bot_scopes="commands,chat:write",
        bot_refresh_token="xoxe-1-rotated",
        bot_token_expires_at=1_700_050_000,
        installed_at=1_700_000_000.5,
    )
    await installations.async_save_bot(bot)
    found = await installations.load("T:T0BETA")
    assert found is not None
    assert (found.bot_token, found.bot_refresh_token) == ("xoxe.xoxb-rotated", "xoxe-1-rotated")
    assert found.bot_token_expires_at == 1_700_050_000
    assert (found.user_id, found.user_token) == ("U0CAROL", USER_TOKEN)


async def test_deleting(installations: TolkInstallationStore) -> None:
    await installations.async_save(installation())
    await installations.async_save(installation(team_id="T0GAMMA", enterprise_id=None))
    await installations.async_delete_installation(
        enterprise_id="E0GRID", team_id="T0BETA", user_id="U0DAVE"
    )  # not the installer: nothing
    assert same(await installations.load("T:T0BETA"), installation())
    await installations.async_delete_installation(
        enterprise_id="E0GRID", team_id="T0BETA", user_id="U0CAROL"
    )  # the installer's token was revoked: the bot stays
    kept = await installations.load("T:T0BETA")
    assert kept is not None and kept.bot_token == BOT_TOKEN
    assert kept.user_token is None and kept.user_refresh_token is None
    await installations.async_delete_all(enterprise_id="E0GRID", team_id="T0BETA")
    assert await installations.keys() == ["T:T0GAMMA"]
    await installations.async_delete_bot(enterprise_id=None, team_id="T0GAMMA")
    assert await installations.keys() == []
    await installations.async_delete_installation(enterprise_id=None, team_id="T0GAMMA")


async def test_take_deletes_and_returns(installations: TolkInstallationStore) -> None:
    await installations.async_save(installation())
    taken = await installations.take("T:T0BETA")
    assert same(taken, installation())
    assert await installations.take("T:T0BETA") is None
    assert await installations.keys() == []


async def test_a_record_sealed_with_another_key_is_not_used(
    installations: TolkInstallationStore,
    store: TaskStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = TolkInstallationStore(store, Sealer(Fernet.generate_key().decode()))
    await other.async_save(installation())
    with caplog.at_level(logging.ERROR, logger="bot.core.installations"):
        assert await installations.load("T:T0BETA") is None
        assert await installations.async_find_bot(enterprise_id=None, team_id="T0BETA") is None
    assert "T:T0BETA" in caplog.text and "TOLK_SECRET_KEY" in caplog.text
    taken = await installations.take("T:T0BETA")  # it can still be deleted (uninstalled)
    assert taken is not None and taken.team_id == "T0BETA" and taken.bot_token is None
    assert await installations.keys() == []


async def test_installations_survive_reopen(backend: Any, store: TaskStore, sealer: Sealer) -> None:
    await TolkInstallationStore(store, sealer).async_save(installation())
    reopened = await backend.reopen()
    assert same(await TolkInstallationStore(reopened, sealer).load("T:T0BETA"), installation())


# --- OAuth states ------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def states(store: TaskStore, clock: Clock) -> TolkStateStore:
    return TolkStateStore(store, clock=clock)


async def test_a_state_is_good_once(states: TolkStateStore) -> None:
    state = await states.async_issue()
    assert await states.check(state) is StateCheck.VALID
    assert await states.check(state) is StateCheck.USED
    assert await states.check(state) is StateCheck.USED
    assert await states.async_consume(state) is False


async def test_a_state_is_random_and_url_safe(states: TolkStateStore) -> None:
    issued = {await states.async_issue() for _ in range(20)}
    assert len(issued) == 20
    for state in issued:
        assert len(state) >= 43 and state.replace("-", "").replace("_", "").isalnum()


async def test_a_state_expires_after_ten_minutes(states: TolkStateStore, clock: Clock) -> None:
    early, late = await states.async_issue(), await states.async_issue()
    clock.now += 599
    assert await states.async_consume(early) is True
    clock.now += 1
    assert await states.check(late) is StateCheck.EXPIRED
    assert await states.check(late) is StateCheck.EXPIRED  # and stays so


async def test_a_state_never_issued_is_unknown(states: TolkStateStore) -> None:
    assert await states.check("x" * 43) is StateCheck.UNKNOWN
    assert await states.check("") is StateCheck.UNKNOWN
    assert await states.check(None) is StateCheck.UNKNOWN
    assert await states.check("y" * 5000) is StateCheck.UNKNOWN
    assert await states.async_consume("nope") is False


async def test_concurrent_uses_of_one_state_let_one_through(states: TolkStateStore) -> None:
    state = await states.async_issue()
    results = await asyncio.gather(*(states.check(state) for _ in range(10)))
    assert results.count(StateCheck.VALID) == 1


async def test_old_states_are_purged_when_states_are_issued(
    states: TolkStateStore, store: TaskStore, clock: Clock
) -> None:
    abandoned = await states.async_issue()
    used = await states.async_issue()
    assert await states.async_consume(used)
    clock.now += 600 + FORGET_AFTER - 1
    fresh = await states.async_issue()  # a minute since the last purge: purges, none old
    assert set(await store.list_settings(STATES)) == {abandoned, used, fresh}
    assert await states.check(abandoned) is StateCheck.EXPIRED
    clock.now += 1
    assert await states.async_issue() not in (abandoned, used)  # under a minute: no purge
    clock.now += 60
    newest = await states.async_issue()
    assert set(await store.list_settings(STATES)) >= {fresh, newest}
    assert abandoned not in await store.list_settings(STATES)
    assert used not in await store.list_settings(STATES)
    assert await states.check(abandoned) is StateCheck.UNKNOWN


async def test_pg_two_replicas_answering_one_redirect_let_one_through(
    replicas: list[Any],
) -> None:
    clock = Clock()
    a, b = (TolkStateStore(s, clock=clock) for s in replicas)
    for _ in range(10):
        state = await a.async_issue()
        results = await asyncio.gather(a.async_consume(state), b.async_consume(state))
        assert sorted(results) == [False, True]

"""The token service (``bot.core.workspaces.Workspaces``) against the Slack emulator, on
every store backend: each workspace gets its own bot client, Bolt's ``authorize`` finds
the installation, rotating tokens are refreshed before they expire — once, however many
callers and replicas ask at the same time — and a forgotten workspace has no client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.core.installations import INSTALLATIONS
from bot.core.sealed import Sealer
from bot.core.slack_client import TolkWebClient, slack_client
from bot.core.storage import TaskStore
from bot.core.workspaces import REFRESH_MARGIN, TokenRefreshError, Workspaces
from emulators.slack import SlackEmulator
from tests.bot.core.test_store_contract import backend, pg_url, replicas, store
from tests.conftest import FakeClock

__all__ = ["backend", "pg_url", "replicas", "store"]  # fixtures pytest finds by name

CLIENT_ID = "1111.2222"
SECRET = "s3cret"
BETA, GAMMA, DELTA = "T0BETA", "T0GAMMA", "T0DELTA"
GRID = "E0GRID"
TTL = 43_200  # the emulator's expires_in of a rotating token


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(clock=clock) as emulator:
        emulator.register_app(CLIENT_ID, SECRET)
        emulator.add_workspace(BETA, "Beta Corp", enterprise_id=GRID)
        emulator.add_workspace(GAMMA, "Gamma Ltd")
        emulator.add_workspace(DELTA, "Delta Inc", enterprise_id=GRID)
        for team, user in ((BETA, "U0CAROL"), (GAMMA, "U0GINA"), (DELTA, "U0DORA")):
            with emulator.in_workspace(team):
                emulator.add_user(user, user[2:].lower())
        yield emulator


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(Fernet.generate_key().decode())


def workspaces(
    store: TaskStore,
    sealer: Sealer,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> Workspaces:
    return Workspaces(
        store,
        sealer,
        slack_api_url=emu.api_url,
        session=session,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        clock=clock,
    )


@pytest.fixture
def ws(
    store: TaskStore,
    sealer: Sealer,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> Workspaces:
    return workspaces(store, sealer, emu, session, clock)


async def install(
    emu: SlackEmulator,
    ws: Workspaces,
    session: aiohttp.ClientSession,
    team: str = BETA,
    *,
    rotation: bool = False,
    org_wide: bool = False,
) -> Installation:
    """Install the app in ``team`` as Slack would (consent, then oauth.v2.access) and
    store the installation, as the install flow does."""
    emu.apps[CLIENT_ID].token_rotation = rotation
    user = {BETA: "U0CAROL", GAMMA: "U0GINA", DELTA: "U0DORA"}[team]
    code = emu.authorize(CLIENT_ID, team, user)
    form = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": code}
    async with session.post(emu.api_url + "oauth.v2.access", data=form) as resp:
        answer = await resp.json()
    assert answer["ok"], answer
    now = ws.clock()
    installation = Installation(
        app_id=answer["app_id"],
        enterprise_id=(answer["enterprise"] or {}).get("id"),
        team_id=None if org_wide else answer["team"]["id"],
        team_name=None if org_wide else answer["team"]["name"],
        bot_token=answer["access_token"],
        bot_id=f"B{team[1:]}BOT",
        bot_user_id=answer["bot_user_id"],
        bot_scopes=answer["scope"],
        bot_refresh_token=answer.get("refresh_token"),
        bot_token_expires_at=int(now + answer["expires_in"]) if rotation else None,
        user_id=user,
        is_enterprise_install=org_wide,
        installed_at=now,
    )
    await ws.installations.async_save(installation)
    return installation


def refreshes(emu: SlackEmulator) -> list[Any]:
    return [c for c in emu.calls_to("oauth.v2.access") if c.args.get("grant_type")]


async def team_of(client: TolkWebClient) -> str:
    return str((await client.auth_test())["team_id"])


# --- a client per workspace ----------------------------------------------------------------


async def test_a_workspace_not_installed_has_no_client(ws: Workspaces) -> None:
    assert await ws.client(BETA) is None
    assert await ws.client(BETA, GRID) is None
    assert await ws.teams() == []


async def test_each_workspace_gets_its_own_bot(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    beta = await install(emu, ws, session, BETA)
    gamma = await install(emu, ws, session, GAMMA)
    beta_client, gamma_client = await ws.client(BETA), await ws.client(GAMMA)
    assert beta_client is not None and gamma_client is not None
    assert beta_client.token == beta.bot_token and gamma_client.token == gamma.bot_token
    assert (await team_of(beta_client), await team_of(gamma_client)) == (BETA, GAMMA)
    await beta_client.chat_postMessage(channel="C0BETAGEN", text="hallo Beta")
    with pytest.raises(SlackApiError) as refused:
        await gamma_client.chat_postMessage(channel="C0BETAGEN", text="wrong workspace")
    assert refused.value.response["error"] == "channel_not_found"
    with emu.in_workspace(BETA):
        assert [m["text"] for m in emu.messages("C0BETAGEN")] == ["hallo Beta"]
    assert sorted(await ws.teams()) == [BETA, GAMMA]


async def test_clients_are_cached_per_token(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    await install(emu, ws, session, BETA)
    first, again = await ws.client(BETA), await ws.client(BETA, GRID)
    assert first is again
    assert isinstance(first, TolkWebClient)


async def test_an_org_wide_install_serves_the_organisations_workspaces(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    org = await install(emu, ws, session, BETA, org_wide=True)
    assert await ws.installations.keys() == [f"E:{GRID}"]
    client = await ws.client(DELTA, GRID)  # a workspace of the organisation
    assert client is not None and client.token == org.bot_token
    assert await ws.client(DELTA) is None  # without its enterprise: not known
    assert await ws.client(GAMMA, "E0OTHER") is None
    assert await ws.teams() == []  # an org-wide install has no team of its own


async def test_a_workspaces_own_install_comes_before_its_organisations(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    await install(emu, ws, session, BETA, org_wide=True)
    own = await install(emu, ws, session, DELTA)
    client = await ws.client(DELTA, GRID)
    assert client is not None and client.token == own.bot_token


# --- Bolt's authorize ----------------------------------------------------------------------


async def test_authorize_gives_bolt_the_workspaces_bot(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    beta = await install(emu, ws, session, BETA)
    result = await ws.authorize(enterprise_id=GRID, team_id=BETA, user_id="U0CAROL")
    assert result is not None
    assert (result.bot_token, result.bot_user_id, result.bot_id) == (
        beta.bot_token,
        "U0BETABOT",
        "B0BETABOT",
    )
    assert (result.team_id, result.enterprise_id, result.user_id) == (BETA, GRID, "U0CAROL")
    assert result.team == "Beta Corp"
    assert "chat:write" in (result.bot_scopes or [])
    assert await ws.authorize(enterprise_id=None, team_id=GAMMA, user_id="U0GINA") is None
    assert await ws.authorize(enterprise_id=None, team_id=None, user_id=None) is None


async def test_authorize_works_as_bolts_authorize(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """``AsyncApp(authorize=workspaces.authorize)``: an event from an installed workspace
    reaches the listener with that workspace's bot; one from elsewhere does not."""
    await install(emu, ws, session, BETA)
    app = AsyncApp(
        signing_secret="not-checked-here",
        authorize=ws.authorize,
        client=slack_client(None, emu.api_url, session),
        request_verification_enabled=False,
        process_before_response=True,
    )
    seen: list[tuple[str | None, str | None]] = []

    @app.event("app_mention")
    async def mentioned(event: dict[str, Any], context: Any, client: Any) -> None:
        seen.append((context.team_id, context.bot_user_id))
        await client.chat_postMessage(channel=event["channel"], text="at your service")

    async def dispatch(team: str, channel: str, user: str) -> int:
        event = {"type": "app_mention", "user": user, "text": "hi", "channel": channel}
        body = json.dumps(emu.event_payload(CLIENT_ID, team, {**event, "ts": "1.000001"}))
        request = AsyncBoltRequest(body=body, headers={"content-type": ["application/json"]})
        return (await app.async_dispatch(request)).status

    assert await dispatch(BETA, "C0BETAGEN", "U0CAROL") == 200
    assert seen == [(BETA, "U0BETABOT")]
    with emu.in_workspace(BETA):
        assert [m["text"] for m in emu.messages("C0BETAGEN")] == ["at your service"]
    await dispatch(GAMMA, "C0GAMMAGEN", "U0GINA")  # not installed there: nothing done
    assert seen == [(BETA, "U0BETABOT")]
    with emu.in_workspace(GAMMA):
        assert emu.messages("C0GAMMAGEN") == []


# --- forget --------------------------------------------------------------------------------


async def test_forget_deletes_the_installation(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession, store: TaskStore
) -> None:
    await install(emu, ws, session, BETA)
    await install(emu, ws, session, GAMMA)
    assert await ws.client(BETA) is not None
    assert await ws.forget(BETA, GRID) is True
    assert await ws.client(BETA) is None
    assert await ws.authorize(enterprise_id=GRID, team_id=BETA, user_id="U0CAROL") is None
    assert await ws.forget(BETA) is False
    assert await store.get_setting(INSTALLATIONS, f"T:{BETA}") is None
    assert await ws.teams() == [GAMMA]
    assert await ws.client(GAMMA) is not None


async def test_forget_an_org_wide_install(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    await install(emu, ws, session, BETA, org_wide=True)
    assert await ws.forget(DELTA) is False  # no enterprise given: not this one
    assert await ws.forget(DELTA, GRID) is True
    assert await ws.client(DELTA, GRID) is None
    assert await ws.installations.keys() == []


async def test_another_replica_forgetting_is_seen_at_once(
    store: TaskStore,
    sealer: Sealer,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    a = workspaces(store, sealer, emu, session, clock)
    b = workspaces(store, sealer, emu, session, clock)
    await install(emu, a, session, BETA)
    assert await a.client(BETA) is not None and await b.client(BETA) is not None
    assert await b.forget(BETA) is True
    assert await a.client(BETA) is None


# --- token rotation ------------------------------------------------------------------------


async def test_a_rotating_token_is_used_as_it_is_until_ten_minutes_before_expiry(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    first = await install(emu, ws, session, BETA, rotation=True)
    assert first.bot_token is not None and first.bot_token.startswith("xoxe.xoxb-")
    clock.advance(TTL - REFRESH_MARGIN - 1)
    client = await ws.client(BETA)
    assert client is not None and client.token == first.bot_token
    assert refreshes(emu) == []
    assert await team_of(client) == BETA


async def test_a_rotating_token_is_refreshed_before_it_expires(
    ws: Workspaces,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    store: TaskStore,
    sealer: Sealer,
) -> None:
    first = await install(emu, ws, session, BETA, rotation=True)
    old_client = await ws.client(BETA)
    clock.advance(TTL - REFRESH_MARGIN + 1)
    client = await ws.client(BETA)
    assert client is not None and client.token != first.bot_token
    [call] = refreshes(emu)
    assert call.args == {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "refresh_token",
        "refresh_token": first.bot_refresh_token,
    }
    assert not call.headers.get("Authorization")  # the credentials went in the form
    assert await team_of(client) == BETA
    with pytest.raises(SlackApiError) as old:
        await old_client.auth_test()  # type: ignore[union-attr]
    assert old.value.response["error"] == "token_expired"
    stored = await ws.installations.load(f"T:{BETA}")
    assert stored is not None and stored.bot_token == client.token
    assert stored.bot_refresh_token not in (None, first.bot_refresh_token)
    assert stored.bot_token_expires_at == int(clock() + TTL)
    assert (stored.bot_user_id, stored.bot_id, stored.user_id) == (
        "U0BETABOT",
        "B0BETABOT",
        "U0CAROL",
    )
    raw = json.dumps(await store.get_setting(INSTALLATIONS, f"T:{BETA}"))
    assert client.token not in raw and stored.bot_refresh_token not in raw
    again = await ws.client(BETA)  # fresh now: no second refresh
    assert again is client and len(refreshes(emu)) == 1


async def test_many_callers_at_once_refresh_once(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    await install(emu, ws, session, BETA, rotation=True)
    clock.advance(TTL - 60)
    emu.latency["oauth.v2.access"] = 0.1
    clients = await asyncio.gather(*(ws.client(BETA) for _ in range(10)))
    assert len(refreshes(emu)) == 1
    assert len({c.token for c in clients if c is not None}) == 1
    assert await team_of(clients[0]) == BETA  # type: ignore[arg-type]


async def race_of_two_replicas(
    a: Workspaces, b: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession
) -> None:
    """Both replicas ask for an expiring token at the same time: one refresh, and both
    get the new token, which works."""
    first = await install(emu, a, session, BETA, rotation=True)
    a.clock.advance(TTL - 120)  # type: ignore[attr-defined]
    emu.latency["oauth.v2.access"] = 0.2  # the refresh takes a while: the race is real
    from_a, from_b, again_a, again_b = await asyncio.gather(
        a.client(BETA), b.client(BETA), a.client(BETA), b.client(BETA)
    )
    assert len(refreshes(emu)) == 1
    tokens = {c.token for c in (from_a, from_b, again_a, again_b) if c is not None}
    assert len(tokens) == 1 and first.bot_token not in tokens
    assert a.refreshes + b.refreshes == 1
    for client in (from_a, from_b):
        assert client is not None and await team_of(client) == BETA


async def test_pg_two_replicas_asking_for_an_expiring_token_refresh_it_once(
    replicas: list[Any],
    sealer: Sealer,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    a, b = (workspaces(s, sealer, emu, session, clock) for s in replicas)
    await race_of_two_replicas(a, b, emu, session)


async def test_two_token_services_on_one_store_refresh_once(
    store: TaskStore,
    sealer: Sealer,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """On one store (SQLite serves one process; PostgreSQL through one pool)."""
    a = workspaces(store, sealer, emu, session, clock)
    b = workspaces(store, sealer, emu, session, clock)
    await race_of_two_replicas(a, b, emu, session)


async def test_a_failed_refresh_keeps_the_token_while_it_works(
    ws: Workspaces,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = await install(emu, ws, session, BETA, rotation=True)
    clock.advance(TTL - 300)
    emu.faults.add("oauth.v2.access", status=200, error="service_unavailable", times=1)
    with caplog.at_level(logging.WARNING, logger="bot.core.workspaces"):
        client = await ws.client(BETA)
    assert client is not None and client.token == first.bot_token
    assert await team_of(client) == BETA
    assert "could not be refreshed (service_unavailable)" in caplog.text
    refreshed = await ws.client(BETA)  # the next call tries again, and succeeds
    assert refreshed is not None and refreshed.token != first.bot_token
    assert await team_of(refreshed) == BETA


async def test_an_expired_token_that_cannot_be_refreshed_raises(
    ws: Workspaces, emu: SlackEmulator, session: aiohttp.ClientSession, clock: FakeClock
) -> None:
    await install(emu, ws, session, BETA, rotation=True)
    emu.revoke_tokens(BETA)  # uninstalled: the refresh token is dead too
    clock.advance(TTL + 1)
    with pytest.raises(TokenRefreshError, match=r"T:T0BETA.*invalid_refresh_token") as info:
        await ws.client(BETA)
    assert "xox" not in str(info.value)


async def test_no_token_is_logged(
    ws: Workspaces,
    emu: SlackEmulator,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="bot"):
        first = await install(emu, ws, session, BETA, rotation=True)
        clock.advance(TTL - 60)
        client = await ws.client(BETA)
        clock.advance(TTL - 60)
        emu.faults.add("oauth.v2.access", status=200, error="service_unavailable")
        await ws.client(BETA)
        await ws.forget(BETA)
    assert client is not None and "refreshed" in caplog.text
    stored = [first.bot_token, first.bot_refresh_token, client.token]
    for secret in stored:
        assert secret and secret not in caplog.text
    assert "xoxe" not in caplog.text and "xoxb" not in caplog.text

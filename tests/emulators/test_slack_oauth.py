"""The Slack emulator's OAuth and many workspaces, driven by the real slack_sdk client:
``oauth.v2.access`` (codes, client credentials, token rotation), per-token workspaces,
``auth.revoke`` and the ``tokens_revoked`` / ``app_uninstalled`` events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from emulators.slack import SlackEmulator

# slack_sdk sends client credentials with aiohttp.BasicAuth, which aiohttp 3.12 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

CLIENT_ID = "1111.2222"
SECRET = "s3cret"
REDIRECT = "https://tolk.example/slack/oauth_redirect"
BETA = "T0BETA"
BETA_GENERAL = "C0BETAGEN"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emulator(clock: Clock) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(clock=clock) as emu:
        emu.register_app(CLIENT_ID, SECRET, [REDIRECT])
        emu.add_workspace(BETA, "Beta Corp", enterprise_id="E0GRID")
        with emu.in_workspace(BETA):
            emu.add_user("U0CAROL", "carol", is_admin=True)
        yield emu


def client(emu: SlackEmulator, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=emu.api_url)


async def install(emu: SlackEmulator, team: str = BETA, user: str = "U0CAROL") -> dict[str, Any]:
    code = emu.authorize(CLIENT_ID, team, user, redirect_uri=REDIRECT)
    resp = await client(emu).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=SECRET, code=code, redirect_uri=REDIRECT
    )
    return dict(resp.data)  # type: ignore[arg-type]


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


async def test_install_answers_slacks_shape_and_the_token_acts_in_its_workspace(
    emulator: SlackEmulator,
) -> None:
    body = await install(emulator)
    token = body.pop("access_token")
    assert token.startswith("xoxb-")
    assert body.pop("scope").split(",") == sorted(emulator.apps[CLIENT_ID].scopes)
    assert body == {
        "ok": True,
        "token_type": "bot",
        "bot_user_id": "U0BETABOT",
        "app_id": "A0TOLK",
        "team": {"id": BETA, "name": "Beta Corp"},
        "enterprise": {"id": "E0GRID", "name": "Beta Corp Grid"},
        "is_enterprise_install": False,
        "authed_user": {"id": "U0CAROL"},
    }
    beta = client(emulator, token)
    who = await beta.auth_test()
    assert (who["team_id"], who["team"], who["user_id"], who["bot_id"]) == (
        BETA,
        "Beta Corp",
        "U0BETABOT",
        "B0BETABOT",
    )
    assert who["enterprise_id"] == "E0GRID"
    posted = await beta.chat_postMessage(channel=BETA_GENERAL, text="hallo")
    with emulator.in_workspace(BETA):
        assert [m["text"] for m in emulator.messages(BETA_GENERAL)] == ["hallo"]
        assert emulator.messages(BETA_GENERAL)[0]["user"] == "U0BETABOT"
    assert posted["channel"] == BETA_GENERAL
    assert "C0BETAGEN" not in emulator.channels  # the first workspace's view is unchanged
    # The installed workspace without enterprise answers enterprise: null.
    body = await install(emulator, team="T0TOLK", user="U0ALICE")
    assert body["enterprise"] is None and body["team"] == {"id": "T0TOLK", "name": "Tolk Sandbox"}


async def test_client_credentials_may_come_in_the_form(emulator: SlackEmulator) -> None:
    code = emulator.authorize(CLIENT_ID, BETA, "U0CAROL")
    form = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": code}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.api_url}oauth.v2.access", data=form) as resp,
    ):
        body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True and body["team"]["id"] == BETA


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "9999.9999"}, "invalid_client_id"),
        ({"client_secret": "wrong"}, "bad_client_secret"),
        ({"code": "123.nonsense"}, "invalid_code"),
        ({"redirect_uri": "https://evil.example/cb"}, "bad_redirect_uri"),
    ],
)
async def test_install_refusals(
    emulator: SlackEmulator, change: dict[str, str], error: str
) -> None:
    code = emulator.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri=REDIRECT)
    args = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": code, "redirect_uri": REDIRECT}
    assert await error_of(client(emulator).oauth_v2_access(**(args | change))) == error
    assert emulator.installed_tokens(BETA) == []


async def test_a_code_is_good_once_and_for_ten_minutes(
    emulator: SlackEmulator, clock: Clock
) -> None:
    code = emulator.authorize(CLIENT_ID, BETA, "U0CAROL")
    args = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": code}
    await client(emulator).oauth_v2_access(**args)
    assert await error_of(client(emulator).oauth_v2_access(**args)) == "invalid_code"
    late = emulator.authorize(CLIENT_ID, BETA, "U0CAROL")
    clock.now += 601
    late_args = args | {"code": late}
    assert await error_of(client(emulator).oauth_v2_access(**late_args)) == "invalid_code"
    other = emulator.register_app("3333.4444", "other", [REDIRECT], app_id="A0OTHER")
    theirs = emulator.authorize(other.client_id, BETA, "U0CAROL")
    stolen = args | {"code": theirs}
    assert await error_of(client(emulator).oauth_v2_access(**stolen)) == "invalid_code"
    with pytest.raises(ValueError, match="not registered"):
        emulator.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri="https://evil.example/")
    with pytest.raises(ValueError, match="not a person"):
        emulator.authorize(CLIENT_ID, BETA, "U0ALICE")  # Alice is in the other workspace


async def test_a_token_cannot_reach_another_workspace(emulator: SlackEmulator) -> None:
    beta = client(emulator, (await install(emulator))["access_token"])
    home = client(emulator, emulator.bot_token)
    assert await error_of(beta.chat_postMessage(channel="C0GENERAL", text="x")) == (
        "channel_not_found"
    )
    assert await error_of(beta.conversations_info(channel="C0GENERAL")) == "channel_not_found"
    assert await error_of(beta.users_info(user="U0ALICE")) == "user_not_found"
    assert await error_of(home.chat_postMessage(channel=BETA_GENERAL, text="x")) == (
        "channel_not_found"
    )
    assert await error_of(home.users_info(user="U0CAROL")) == "user_not_found"
    assert emulator.messages("C0GENERAL") == []
    assert (await beta.users_info(user="U0CAROL"))["user"]["team_id"] == BETA


async def test_granted_scopes_bound_the_token(emulator: SlackEmulator) -> None:
    code = emulator.authorize(CLIENT_ID, BETA, "U0CAROL", scopes=["commands", "users:read"])
    body = await client(emulator).oauth_v2_access(
        client_id=CLIENT_ID, client_secret=SECRET, code=code
    )
    assert body["scope"] == "commands,users:read"
    beta = client(emulator, body["access_token"])
    with pytest.raises(SlackApiError) as info:
        await beta.chat_postMessage(channel=BETA_GENERAL, text="x")
    assert info.value.response["error"] == "missing_scope"
    assert info.value.response["needed"] == "chat:write"


async def test_token_rotation(emulator: SlackEmulator, clock: Clock) -> None:
    emulator.apps[CLIENT_ID].token_rotation = True
    first = await install(emulator)
    assert first["access_token"].startswith("xoxe.xoxb-")
    assert first["refresh_token"].startswith("xoxe-") and first["expires_in"] == 43_200
    await client(emulator, first["access_token"]).auth_test()
    refresh = {"client_id": CLIENT_ID, "client_secret": SECRET, "grant_type": "refresh_token"}
    second = await client(emulator).oauth_v2_access(**refresh, refresh_token=first["refresh_token"])
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["team"]["id"] == BETA and second["token_type"] == "bot"
    assert (await client(emulator, second["access_token"]).auth_test())["team_id"] == BETA
    assert await error_of(client(emulator, first["access_token"]).auth_test()) == "token_expired"
    again = client(emulator).oauth_v2_access(**refresh, refresh_token=first["refresh_token"])
    assert await error_of(again) == "invalid_refresh_token"
    wrong = refresh | {"grant_type": "password"}
    bad_grant = client(emulator).oauth_v2_access(**wrong, refresh_token=second["refresh_token"])
    assert await error_of(bad_grant) == "invalid_grant_type"
    clock.now += 43_200
    assert await error_of(client(emulator, second["access_token"]).auth_test()) == "token_expired"
    # An expired access token can still be refreshed with its unused refresh token.
    third = await client(emulator).oauth_v2_access(**refresh, refresh_token=second["refresh_token"])
    assert (await client(emulator, third["access_token"]).auth_test())["ok"] is True


async def test_auth_revoke(emulator: SlackEmulator) -> None:
    beta = client(emulator, (await install(emulator))["access_token"])
    assert (await beta.auth_revoke(test=True)).data == {"ok": True, "revoked": False}
    assert (await beta.auth_test())["ok"] is True
    assert (await beta.auth_revoke()).data == {"ok": True, "revoked": True}
    assert await error_of(beta.auth_test()) == "token_revoked"
    assert await error_of(beta.chat_postMessage(channel=BETA_GENERAL, text="x")) == (
        "token_revoked"
    )
    home = client(emulator, emulator.bot_token)
    assert (await home.auth_revoke())["revoked"] is True
    assert await error_of(home.auth_test()) == "token_revoked"
    assert await error_of(client(emulator, "xoxb-never-issued").auth_test()) == "invalid_auth"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An app's Events API Request URL that checks Slack's signature as Bolt does."""
    got: list[dict[str, Any]] = []
    verifier = SignatureVerifier("signing-secret")

    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        got.append(json.loads(body))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/slack/events", got
    await runner.cleanup()


async def test_uninstall_revokes_and_sends_signed_events(
    emulator: SlackEmulator, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    app = emulator.apps[CLIENT_ID]
    app.event_url, app.signing_secret = url, "signing-secret"
    beta = client(emulator, (await install(emulator))["access_token"])
    home = client(
        emulator, (await install(emulator, team="T0TOLK", user="U0ALICE"))["access_token"]
    )
    payloads = emulator.uninstall(CLIENT_ID, BETA)
    for payload in payloads:
        assert await emulator.send_event(CLIENT_ID, payload) == (200, "")
    assert await error_of(beta.auth_test()) == "token_revoked"
    assert (await home.auth_test())["team_id"] == "T0TOLK"  # other workspaces untouched
    revoked, uninstalled = got
    assert revoked["type"] == uninstalled["type"] == "event_callback"
    assert revoked["event"]["type"] == "tokens_revoked"
    assert revoked["event"]["tokens"] == {"oauth": [], "bot": ["U0BETABOT"]}
    assert uninstalled["event"]["type"] == "app_uninstalled"
    for payload in got:
        assert (payload["team_id"], payload["api_app_id"]) == (BETA, "A0TOLK")
        assert payload["enterprise_id"] == "E0GRID"
        assert payload["authorizations"][0]["team_id"] == BETA
    assert revoked["event_id"] != uninstalled["event_id"]
    # A forged request (wrong secret) is refused by the app's verifier.
    app.signing_secret = "not-the-secret"
    status, _ = await emulator.send_event(CLIENT_ID, payloads[1])
    assert status == 401 and len(got) == 2


async def test_a_workspace_token_downloads_files_of_its_own_workspace_only(
    emulator: SlackEmulator,
) -> None:
    token = (await install(emulator))["access_token"]
    with emulator.in_workspace(BETA):
        beta = emulator.post_user_message(
            BETA_GENERAL, "U0CAROL", files=[("b.png", b"beta", "image/png")]
        )["files"][0]
    emulator.add_user("U0DAVE", "dave")
    home = emulator.post_user_message(
        "C0GENERAL", "U0DAVE", files=[("a.png", b"home", "image/png")]
    )["files"][0]

    async def fetch(url: str, bearer: str) -> int:
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {bearer}"}
            async with session.get(url, headers=headers, allow_redirects=False) as resp:
                return resp.status

    assert await fetch(beta["url_private"], token) == 200
    assert await fetch(home["url_private"], token) == 302  # another workspace's: sign in
    assert await fetch(beta["url_private"], emulator.bot_token) == 302
    assert await fetch(home["url_private"], emulator.bot_token) == 200
    emulator.revoke_tokens(BETA)
    assert await fetch(beta["url_private"], token) == 403


async def test_a_response_url_answers_in_the_workspace_it_was_made_in(
    emulator: SlackEmulator,
) -> None:
    with emulator.in_workspace(BETA):
        url = emulator.new_response_url(channel=BETA_GENERAL, user="U0CAROL")
    async with aiohttp.ClientSession() as session:
        body = {"response_type": "in_channel", "text": "done in beta"}
        async with session.post(url, json=body) as resp:
            assert resp.status == 200
    with emulator.in_workspace(BETA):
        assert [m["text"] for m in emulator.messages(BETA_GENERAL)] == ["done in beta"]

"""Installing Tolk through the wire: the install routes served on loopback by a real
aiohttp server, the Slack emulator answering ``oauth.v2.access`` and playing Slack's
consent page (``emu.authorize``), a browser played by the test (it keeps the state's
cookie). Every backend: the installation lands sealed in the store, and the token
service acts with it; every failure answers a page that says why and stores nothing."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import yaml
from aiohttp import web
from cryptography.fernet import Fernet

from bot.config import Settings
from bot.core.sealed import Sealer
from bot.core.storage import TaskStore
from bot.core.workspaces import REFRESH_MARGIN, Workspaces
from bot.install import (
    BOT_SCOPES,
    INSTALL_PATH,
    REDIRECT_PATH,
    SLACK_AUTHORIZE_URL,
    authorization_url,
    oauth_flow,
)
from emulators.slack import SlackEmulator
from handlers.web.install import add_install_routes
from tests.bot.core.test_store_contract import backend, store
from tests.conftest import FakeClock

__all__ = ["backend", "store"]  # fixtures pytest finds by name

ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "1111.2222"
SECRET = "s3cret"
PUBLIC_URL = "https://tolk.example.com"
REDIRECT_URI = PUBLIC_URL + REDIRECT_PATH
BETA, GAMMA, GRID = "T0BETA", "T0GAMMA", "E0GRID"
COOKIE = "slack-app-oauth-state"


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator(clock=clock) as emulator:
        emulator.register_app(CLIENT_ID, SECRET, [REDIRECT_URI])
        emulator.add_workspace(BETA, "Beta Corp", enterprise_id=GRID)
        emulator.add_workspace(GAMMA, "Gamma Ltd")
        with emulator.in_workspace(BETA):
            emulator.add_user("U0CAROL", "carol")
        with emulator.in_workspace(GAMMA):
            emulator.add_user("U0GINA", "gina")
        yield emulator


@dataclass
class Site:
    """Tolk's install routes on loopback, and what they store into."""

    url: str
    workspaces: Workspaces
    store: TaskStore
    emu: SlackEmulator
    http: aiohttp.ClientSession
    clock: FakeClock

    async def start(self) -> tuple[str, str]:
        """GET /slack/install: the state in Slack's URL, and the browser's cookie."""
        async with self.http.get(self.url + INSTALL_PATH, allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            location = resp.headers["Location"]
            cookie = resp.cookies[COOKIE].value
        query = parse_qs(urlsplit(location).query)
        return query["state"][0], cookie

    async def back(
        self, cookie: str | None = None, **query: str
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        """The browser comes back from Slack to /slack/oauth_redirect."""
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        async with self.http.get(
            self.url + REDIRECT_PATH, params=query, headers=headers, allow_redirects=False
        ) as resp:
            return resp.status, await resp.text(), resp

    async def install(self, team: str = BETA, user: str = "U0CAROL") -> tuple[int, str]:
        state, cookie = await self.start()
        code = self.emu.authorize(CLIENT_ID, team, user, redirect_uri=REDIRECT_URI)
        status, page, _ = await self.back(cookie, code=code, state=state)
        return status, page


def settings(emu: SlackEmulator, secret: str = SECRET, **changes: Any) -> Settings:
    fields: dict[str, Any] = {
        "slack_client_id": CLIENT_ID,
        "slack_client_secret": secret,
        "secret_key": KEY,
        "slack_api_url": emu.api_url,
        "public_url": PUBLIC_URL,
    }
    return Settings(**(fields | changes))


KEY = Fernet.generate_key().decode()

SiteMaker = Callable[..., Any]


@pytest.fixture
async def make_site(
    store: TaskStore, emu: SlackEmulator, clock: FakeClock
) -> AsyncIterator[SiteMaker]:
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession() as http:

        async def make(secret: str = SECRET) -> Site:
            config = settings(emu, secret)
            workspaces = Workspaces(
                store,
                Sealer(KEY),
                slack_api_url=emu.api_url,
                session=http,
                client_id=CLIENT_ID,
                client_secret=secret,
                clock=clock,
            )
            app = web.Application()
            add_install_routes(app, oauth_flow(config, workspaces))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return Site(f"http://{host}:{port}", workspaces, store, emu, http, clock)

        yield make
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def site(make_site: SiteMaker) -> Site:
    return await make_site()  # type: ignore[no-any-return]


async def raw_settings(store: TaskStore, backend: Any) -> str:
    """Every stored setting as the database holds it, read past the store."""
    pool = getattr(store, "_pool", None)
    if pool is not None:  # PostgreSQL
        rows = await pool.fetch("SELECT namespace, key, value::text AS value FROM settings")
        return "\n".join(f"{r['namespace']} {r['key']} {r['value']}" for r in rows)
    files = sorted(Path(backend.tmp_path).rglob("*.settings.sqlite"))
    assert files, "no settings file"
    with sqlite3.connect(files[0]) as db:
        rows = db.execute("SELECT key, value FROM settings").fetchall()
    return "\n".join(f"{k} {v}" for k, v in rows)


@pytest.fixture
def backend_path(backend: Any, tmp_path: Path) -> Any:
    backend.tmp_path = tmp_path
    return backend


def failed(page: str) -> str:
    """The reason a failure page gives."""
    assert "Tolk was not installed" in page
    match = re.search(r'<p id="tolk-install-failed">(.*?)</p>', page, re.S)
    assert match, page
    assert f'href="{INSTALL_PATH}"' in page  # a way to start again
    return match.group(1)


async def nothing_installed(site: Site) -> None:
    assert await site.workspaces.installations.keys() == []
    assert await site.workspaces.client(BETA) is None


# --- the install ---------------------------------------------------------------------------


async def test_install_redirects_to_slacks_consent_page_with_a_state(
    site: Site, emu: SlackEmulator
) -> None:
    async with site.http.get(site.url + INSTALL_PATH, allow_redirects=False) as resp:
        assert resp.status == 302
        location = urlsplit(resp.headers["Location"])
        set_cookie = resp.headers["Set-Cookie"]
        assert resp.headers["Cache-Control"] == "no-store"
    assert f"{location.scheme}://{location.netloc}" == emu.base_url
    assert location.path == "/oauth/v2/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"] == [",".join(BOT_SCOPES)]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert len(query["state"][0]) >= 43
    assert f"{COOKIE}={query['state'][0]}" in set_cookie
    assert "HttpOnly" in set_cookie and "Secure" in set_cookie
    again, _ = await site.start()
    assert again != query["state"][0]  # a new state every time
    async with site.http.head(site.url + INSTALL_PATH, allow_redirects=False) as head:
        assert head.status == 405  # no state issued for a HEAD


@pytest.mark.parametrize(
    ("team", "passed"),
    [("T0BETA", "T0BETA"), ("E0GRID", "E0GRID"), ("T0BETA&scope=admin", None), ("x", None)],
)
async def test_the_install_link_may_pick_a_workspace(
    site: Site, team: str, passed: str | None
) -> None:
    async with site.http.get(
        site.url + INSTALL_PATH, params={"team": team}, allow_redirects=False
    ) as resp:
        query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query.get("team") == ([passed] if passed else None)
    assert query["scope"] == [",".join(BOT_SCOPES)]


async def test_an_install_is_stored_sealed_and_its_bot_acts_in_its_workspace(
    site: Site, emu: SlackEmulator, backend_path: Any
) -> None:
    status, page = await site.install()
    assert status == 200, page
    assert "Tolk is installed in Beta Corp" in page
    assert "slack://app?team=T0BETA&amp;id=A0TOLK" in page
    [token] = emu.installed_tokens(BETA)
    [exchange] = emu.calls_to("oauth.v2.access")
    assert exchange.args["client_id"] == CLIENT_ID and exchange.args["client_secret"] == SECRET
    assert exchange.args["redirect_uri"] == REDIRECT_URI
    installation = await site.workspaces.installations.load(f"T:{BETA}")
    assert installation is not None
    assert installation.bot_token == token.token
    assert (installation.team_id, installation.team_name) == (BETA, "Beta Corp")
    assert (installation.enterprise_id, installation.is_enterprise_install) == (GRID, False)
    assert (installation.bot_user_id, installation.bot_id) == ("U0BETABOT", "B0BETABOT")
    assert installation.user_id == "U0CAROL" and installation.app_id == "A0TOLK"
    assert installation.bot_refresh_token is None and installation.bot_token_expires_at is None
    raw = await raw_settings(site.store, backend_path)
    assert "T:T0BETA" in raw and "U0BETABOT" in raw  # the reader sees the record
    assert token.token not in raw and "xoxb" not in raw
    client = await site.workspaces.client(BETA)
    assert client is not None
    assert (await client.auth_test())["team_id"] == BETA
    await client.chat_postMessage(channel="C0BETAGEN", text="installed")
    with emu.in_workspace(BETA):
        assert emu.messages("C0BETAGEN")[0]["user"] == "U0BETABOT"


async def test_two_workspaces_install(site: Site, emu: SlackEmulator) -> None:
    assert (await site.install(BETA, "U0CAROL"))[0] == 200
    status, page = await site.install(GAMMA, "U0GINA")
    assert status == 200 and "Tolk is installed in Gamma Ltd" in page
    assert sorted(await site.workspaces.teams()) == [BETA, GAMMA]
    gamma = await site.workspaces.client(GAMMA)
    assert gamma is not None and (await gamma.auth_test())["team_id"] == GAMMA
    installation = await site.workspaces.installations.load(f"T:{GAMMA}")
    assert installation is not None and installation.enterprise_id is None


async def test_a_grid_workspace_installs_with_its_enterprise(
    site: Site, emu: SlackEmulator
) -> None:
    assert (await site.install(BETA))[0] == 200
    assert await site.workspaces.installations.keys() == [f"T:{BETA}"]
    result = await site.workspaces.authorize(enterprise_id=GRID, team_id=BETA, user_id="U0CAROL")
    assert result is not None and (result.enterprise_id, result.team_id) == (GRID, BETA)
    client = await site.workspaces.client(BETA, GRID)
    assert client is not None
    who = await client.auth_test()
    assert (who["team_id"], who["enterprise_id"]) == (BETA, GRID)


async def test_installing_again_replaces_the_installation(site: Site, emu: SlackEmulator) -> None:
    await site.install()
    first = await site.workspaces.client(BETA)
    await site.install()
    second = await site.workspaces.client(BETA)
    assert first is not None and second is not None and first.token != second.token
    assert await site.workspaces.installations.keys() == [f"T:{BETA}"]
    assert (await second.auth_test())["team_id"] == BETA


async def test_a_rotating_install_keeps_its_refresh_token_and_is_refreshed_in_time(
    site: Site, emu: SlackEmulator, clock: FakeClock
) -> None:
    emu.apps[CLIENT_ID].token_rotation = True
    assert (await site.install())[0] == 200
    installation = await site.workspaces.installations.load(f"T:{BETA}")
    assert installation is not None and installation.bot_refresh_token
    assert installation.bot_token_expires_at == int(clock() + 43_200)
    clock.advance(43_200 - REFRESH_MARGIN + 30)
    client = await site.workspaces.client(BETA)
    assert client is not None and client.token != installation.bot_token
    refreshes = [c for c in emu.calls_to("oauth.v2.access") if c.args.get("grant_type")]
    assert len(refreshes) == 1
    assert refreshes[0].args["refresh_token"] == installation.bot_refresh_token
    assert (await client.auth_test())["team_id"] == BETA


async def test_an_uninstalled_workspace_is_forgotten(site: Site, emu: SlackEmulator) -> None:
    await site.install()
    emu.uninstall(CLIENT_ID, BETA)
    assert await site.workspaces.forget(BETA, GRID) is True
    assert await site.workspaces.client(BETA) is None
    await nothing_installed(site)


# --- failures ------------------------------------------------------------------------------


async def test_a_used_state_fails(site: Site, emu: SlackEmulator) -> None:
    state, cookie = await site.start()
    code = emu.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri=REDIRECT_URI)
    assert (await site.back(cookie, code=code, state=state))[0] == 200
    await site.workspaces.forget(BETA)
    calls = len(emu.calls_to("oauth.v2.access"))
    other = emu.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri=REDIRECT_URI)
    status, page, _ = await site.back(cookie, code=other, state=state)
    assert status == 400
    assert "used already" in failed(page)
    assert len(emu.calls_to("oauth.v2.access")) == calls  # Slack was not asked
    await nothing_installed(site)


async def test_an_expired_state_fails(site: Site, emu: SlackEmulator, clock: FakeClock) -> None:
    state, cookie = await site.start()
    clock.advance(601)
    code = emu.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri=REDIRECT_URI)
    status, page, _ = await site.back(cookie, code=code, state=state)
    assert status == 400 and "expired" in failed(page) and "10 minutes" in failed(page)
    assert emu.calls_to("oauth.v2.access") == []
    await nothing_installed(site)


async def test_a_state_tolk_never_issued_fails(site: Site, emu: SlackEmulator) -> None:
    forged = "f" * 43
    code = emu.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri=REDIRECT_URI)
    status, page, _ = await site.back(forged, code=code, state=forged)
    assert status == 400 and "did not come from Tolk" in failed(page)
    assert emu.calls_to("oauth.v2.access") == []
    await nothing_installed(site)


async def test_another_browser_fails(site: Site, emu: SlackEmulator) -> None:
    state, cookie = await site.start()
    code = emu.authorize(CLIENT_ID, BETA, "U0CAROL", redirect_uri=REDIRECT_URI)
    for jar in (None, "someone-elses-state"):
        status, page, _ = await site.back(jar, code=code, state=state)
        assert status == 400 and "another browser" in failed(page)
    await nothing_installed(site)
    status, _, _ = await site.back(cookie, code=code, state=state)  # the state still works
    assert status == 200


async def test_slacks_invalid_code_fails(site: Site, emu: SlackEmulator) -> None:
    state, cookie = await site.start()
    status, page, _ = await site.back(cookie, code="123.not-a-code", state=state)
    assert status == 400
    assert "invalid_code" in failed(page)
    [call] = emu.calls_to("oauth.v2.access")
    assert call.response == {"ok": False, "error": "invalid_code"}
    await nothing_installed(site)


async def test_slacks_bad_client_secret_fails(make_site: SiteMaker, emu: SlackEmulator) -> None:
    site = await make_site(secret="wrong-secret")
    status, page = await site.install()
    assert status == 502
    reason = failed(page)
    assert "bad_client_secret" in reason and "SLACK_CLIENT_SECRET" in reason
    assert "wrong-secret" not in page
    await nothing_installed(site)
    assert emu.installed_tokens(BETA) == []


async def test_cancelled_on_slacks_page(site: Site) -> None:
    state, cookie = await site.start()
    status, page, _ = await site.back(cookie, error="access_denied", state=state)
    assert status == 200 and "cancelled" in failed(page)
    await nothing_installed(site)


async def test_another_error_from_slack_is_named(site: Site) -> None:
    state, cookie = await site.start()
    status, page, _ = await site.back(cookie, error="<script>x</script>", state=state)
    assert status == 502
    assert "&lt;script&gt;" in failed(page) and "<script>" not in page
    await nothing_installed(site)


async def test_a_missing_code_fails(site: Site) -> None:
    state, cookie = await site.start()
    status, page, _ = await site.back(cookie, state=state)
    assert status == 400 and "no install code" in failed(page)
    await nothing_installed(site)


async def test_pages_are_not_cached_nor_referred(site: Site) -> None:
    state, cookie = await site.start()
    _, _, resp = await site.back(cookie, state=state)
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'"
    assert resp.headers["Content-Type"].startswith("text/html")
    assert resp.cookies[COOKIE].value == "deleted"  # the state's cookie goes


# --- configuration -------------------------------------------------------------------------


def test_the_scopes_asked_for_are_the_manifests() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("https://slack.com/api/", SLACK_AUTHORIZE_URL),
        ("https://slack.com/api", SLACK_AUTHORIZE_URL),
        ("http://127.0.0.1:8123/api/", "http://127.0.0.1:8123/oauth/v2/authorize"),
        ("https://slack.corp.example/api/", "https://slack.corp.example/oauth/v2/authorize"),
    ],
)
def test_authorization_url(api_url: str, expected: str) -> None:
    assert authorization_url(api_url) == expected


async def test_without_a_public_url_slack_uses_the_apps_redirect_url(
    emu: SlackEmulator, store: TaskStore, clock: FakeClock
) -> None:
    async with aiohttp.ClientSession() as http:
        workspaces = Workspaces(
            store,
            Sealer(KEY),
            slack_api_url=emu.api_url,
            session=http,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            clock=clock,
        )
        flow = oauth_flow(settings(emu, public_url=None), workspaces)
        assert flow.redirect_uri is None
        assert (flow.install_path, flow.redirect_uri_path) == (INSTALL_PATH, REDIRECT_PATH)
        with pytest.raises(ValueError, match="SLACK_CLIENT_SECRET"):
            oauth_flow(settings(emu, slack_client_secret=None), workspaces)

"""Many workspaces end to end: Tolk installed in two emulated workspaces through Slack's
OAuth flow, commands in both, every Slack call made with the token of the workspace it
acts in, nothing crossing between them, and a removal that leaves nothing of a
workspace behind or acting for it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from bot.config import load_settings
from bot.core.tasks import State
from bot.runtime import serving
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.install import install_in
from sandbox.wiring import emulator_env, free_port
from tests import postgres_server
from tests.conftest import SIGNING_SECRET, Tolk

CLIENT_ID, CLIENT_SECRET = "1111.2222", "client-secret-1"
A, B = "T0ACME", "T0BETA"
PEOPLE = {A: "U0ANNA", B: "U0BORIS"}
GENERAL = {A: "C0ACMEGEN", B: "C0BETAGEN"}


@dataclass
class Many:
    """Tolk's replicas (one on SQLite; two on one PostgreSQL database), and the emulator.
    Commands go to the replicas in turn; the first one's address is the app's."""

    replicas: list[Tolk]
    slack: SlackEmulator
    url: str
    sent: int = 0

    @property
    def tolk(self) -> Tolk:
        return self.replicas[0]

    def next(self) -> Tolk:
        self.sent += 1
        return self.replicas[self.sent % len(self.replicas)]

    async def settle(self) -> None:
        for _ in range(3):  # a replica may leave work another one picks up
            for replica in self.replicas:
                await replica.settle(within=20.0)

    async def command(self, team: str, command: str, text: str) -> tuple[int, str]:
        channel = GENERAL[team]
        with self.slack.in_workspace(team):
            response_url = self.slack.new_response_url(channel=channel, user=PEOPLE[team])
        body = command_body(
            command,
            text,
            team=team,
            user=PEOPLE[team],
            channel=channel,
            response_url=response_url,
        )
        tolk = self.next()
        return await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)

    def in_channel(self, team: str) -> list[dict[str, Any]]:
        """Every message and reply in the workspace's #general."""
        with self.slack.in_workspace(team):
            found = []
            for message in self.slack.messages(GENERAL[team]):
                found.append(message)
                found += self.slack.thread(GENERAL[team], message["ts"])
            return found


def token_team(call: Any) -> str | None:
    auth = call.headers.get("Authorization", "")
    match = re.search(r"xox[a-z.-]*?-(T[0-9A-Z]+)-", auth)
    return match.group(1) if match else None


@pytest.fixture
def shared() -> str:
    """TOLK_SHARED_PROVIDER_KEYS: the operator's keys for workspaces without their own."""
    return "on"


@pytest.fixture(params=["sqlite", "postgresql-2-replicas"])
async def many(
    request: pytest.FixtureRequest,
    slack: SlackEmulator,
    xiangji: XiangjiEmulator,
    tmp_path: Any,
    shared: str,
) -> AsyncIterator[Many]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path}/tolk.sqlite"
    if request.param != "sqlite":
        postgres_server.server()  # skips, saying why, when there is no PostgreSQL
        database = await postgres_server.fresh_database()
    env = emulator_env(slack, xiangji, signing_secret=SIGNING_SECRET, database_url=database)
    del env["SLACK_BOT_TOKEN"]
    env |= {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "TOLK_SECRET_KEY": Fernet.generate_key().decode(),
        "TOLK_SHARED_PROVIDER_KEYS": shared,
        "TOLK_POLL_MIN_SECONDS": "0.05",
        "TOLK_POLL_MAX_SECONDS": "0.2",
    }
    slack.register_app(
        CLIENT_ID,
        CLIENT_SECRET,
        [f"{url}/slack/oauth_redirect"],
        event_url=f"{url}/slack/events",
        signing_secret=SIGNING_SECRET,
    )
    for team, name in ((A, "Acme"), (B, "Beta")):
        slack.add_workspace(team, name, general=GENERAL[team])
        with slack.in_workspace(team):
            slack.add_user(PEOPLE[team], PEOPLE[team].lower(), is_admin=True)
            slack.channels[GENERAL[team]].members.add(PEOPLE[team])
    replicas = 1 if request.param == "sqlite" else 2
    try:
        async with AsyncExitStack() as stack:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            tolks = []
            for n in range(replicas):
                own = {**env, "TOLK_PUBLIC_URL": url, "PORT": str(port if n == 0 else 0)}
                services, bound = await stack.enter_async_context(
                    serving(load_settings(own), host="127.0.0.1")
                )
                tolks.append(Tolk(services, bound, session))
            yield Many(tolks, slack, url)
    finally:
        if request.param != "sqlite":
            await postgres_server.release_database(database)


async def install(many: Many, team: str) -> None:
    status, page = await install_in(
        many.slack, many.url, client_id=CLIENT_ID, team=team, user=PEOPLE[team]
    )
    assert status == 200, page


async def test_two_workspaces_each_work_with_their_own_token_and_see_only_their_own(
    many: Many, xiangji: XiangjiEmulator
) -> None:
    await install(many, A)
    await install(many, B)
    tokens = {team: [t.token for t in many.slack.installed_tokens(team)] for team in (A, B)}
    assert all(len(found) == 1 for found in tokens.values())

    for team in (A, B):
        status, _ = await many.command(
            team, "/translate-image", f"zh>ko {xiangji.sample_url('shoe')}"
        )
        assert status == 200
    await many.settle()

    for team in (A, B):
        said = many.in_channel(team)
        files = [f["name"] for m in said for f in m.get("files", ())]
        assert len(files) == 1 and files[0].endswith(".png")  # each got its own result
        assert all(PEOPLE[other] not in json.dumps(said) for other in (A, B) if other != team)
        assert "tolk_refine_1" in json.dumps(said)  # on the operator's keys: Refine offered

    # every call that named a workspace's channel carried that workspace's token
    acting = [c for c in many.slack.calls if c.args.get("channel") in GENERAL.values()]
    assert acting
    for call in acting:
        team = A if call.args["channel"] == GENERAL[A] else B
        assert token_team(call) == team, call.method

    # one workspace cannot see the other's tasks
    (a_task,) = [
        t for t in await many.tolk.services.store.list_for_channel(GENERAL[A], active_only=False)
    ]
    status, body = await many.command(B, "/tolk", f"status {a_task.id}")
    assert status == 200
    assert GENERAL[A] not in body and "shoe" not in body
    assert a_task.place.team == A


async def test_a_removed_workspace_leaves_nothing_behind_and_nothing_acts_for_it(
    many: Many, xiangji: XiangjiEmulator
) -> None:
    await install(many, A)
    await install(many, B)
    services = many.tolk.services
    assert services.tenants is not None
    await services.tenants.set(
        A, "rozetta", {"access_key": "rk-1", "secret_key": "rs-1"}, by=PEOPLE[A], at=1.0
    )
    await many.command(A, "/tolk", "config set sea th,vi")  # A's language set
    await many.command(A, "/translate", "zh>en 你好")  # spends A's (counted) quota
    await many.settle()
    quota = await services.store.list_settings("quota")
    assert any(key.startswith(f"{A}:") for key in quota)
    assert any(key.startswith(f"{A}:") for key in await services.store.list_settings("spend"))
    assert await services.store.get_setting("language-sets", A) is not None
    xiangji.pending_polls = 1_000  # A's batch is still at the provider when A leaves
    images = f"{xiangji.sample_url('shoe')} {xiangji.sample_url('bag')}"
    status, _ = await many.command(A, "/translate-image", f"zh>ko {images}")
    assert status == 200
    await services.poller.drain()
    (pending,) = await services.store.list_unsettled(A)

    before, said_in_a = len(many.slack.calls), len(many.in_channel(A))
    for payload in many.slack.uninstall(CLIENT_ID, A):
        status, _ = await many.slack.send_event(CLIENT_ID, payload)
        assert status == 200

    assert await services.workspaces.client(A) is None  # type: ignore[union-attr]
    assert await services.tenants.summary(A) == {}
    assert await services.store.list_unsettled(A) == []
    ended = await services.store.get(pending.id)
    assert ended is not None and ended.state is State.CANCELLED and ended.settled
    for namespace in ("quota", "spend"):  # readings and spend, monthly counters
        kept = await services.store.list_settings(namespace)
        assert not any(key.startswith(f"{A}:") for key in kept), namespace
    assert await services.store.get_setting("language-sets", A) is None
    installs = await services.store.list_settings("installation")
    assert not any(A in key for key in installs)

    xiangji.pending_polls = 1
    await many.settle()
    after = many.slack.calls[before:]
    # nothing acted for A again: a step under way at the removal was refused by Slack
    assert not any(token_team(c) == A and (c.response or {}).get("ok") for c in after)
    assert len(many.in_channel(A)) == said_in_a
    assert not any(m.get("text", "").startswith(":x:") for m in many.in_channel(A))

    # a command from the removed workspace is answered, and nothing is done
    tasks_before = await services.store.count_unsettled()
    status, _ = await many.command(A, "/translate-image", f"zh>ko {xiangji.sample_url('shoe')}")
    assert status == 200
    assert await services.store.count_unsettled() == tasks_before
    # B carries on
    status, _ = await many.command(B, "/translate-image", f"zh>ko {xiangji.sample_url('shoe')}")
    await many.settle()
    assert any(m.get("files") for m in many.in_channel(B))


@pytest.mark.parametrize("shared", ["off"])
async def test_without_shared_keys_a_workspace_works_only_once_its_admin_set_its_own(
    many: Many, xiangji: XiangjiEmulator
) -> None:
    await install(many, A)
    image = xiangji.sample_url("shoe")
    status, said = await many.command(A, "/translate-image", f"zh>ko {image}")
    assert status == 200 and "XIANGJI_" in said  # says what is missing; nothing recorded
    assert xiangji.requests_for("GetImageTranslate") == []
    assert await many.tolk.services.store.list_for_channel(GENERAL[A], active_only=False) == []

    tenants = many.tolk.services.tenants
    assert tenants is not None
    keys = {"user_key": xiangji.user_key, "img_trans_key": xiangji.keys[1]}
    await tenants.set(A, "xiangji", keys, by=PEOPLE[A], at=1.0)  # what the form saves
    for replica in many.replicas:  # another replica sees it within its lookup's life
        assert replica.services.tenants is not None
        replica.services.tenants.forget(A)
    status, _ = await many.command(A, "/translate-image", f"zh>ko {image}")
    await many.settle()
    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.params["ImgTransKey"] == xiangji.keys[1]
    assert any(m.get("files") for m in many.in_channel(A))
    # Xiangji's editor would open with the operator's keys, not A's: no Refine
    assert "tolk_refine" not in json.dumps(many.in_channel(A))

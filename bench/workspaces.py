"""Many workspaces: the install round trip and commands across 50 installed workspaces.

- install round trip: ``/slack/install`` → the emulator's consent → ``/slack/oauth_redirect``
  (state written and taken, ``oauth.v2.access``, installation sealed and stored), per
  install; the floor is the bare ``oauth.v2.access`` call the round trip contains,
  measured in the same run;
- commands per second: ``/translate`` sent by 50 concurrent clients round-robin over 50
  installed workspaces, until every one is acknowledged (and so recorded); the floor is
  the same load on Tolk with one workspace (``SLACK_BOT_TOKEN``).

Tolk and the emulators share this process, so the figures are ratios more than rates.
Run alone with ``python -m bench.workspaces``; ``make bench`` includes it.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from bench.harness import BOT_TOKEN, SIGNING_SECRET, percentile
from bot.config import load_settings
from bot.runtime import serving
from emulators.signed import command_body, post_signed
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from sandbox.install import install_in
from sandbox.wiring import emulator_env, free_port

CLIENT_ID, CLIENT_SECRET = "9999.1111", "bench-client-secret"
WORKSPACES = 50
COMMANDS = 1000
CONCURRENCY = 50
FAST_POLLS = {"TOLK_POLL_MIN_SECONDS": "0.05", "TOLK_POLL_MAX_SECONDS": "0.2"}


def _teams() -> list[str]:
    return [f"T0W{n:03d}" for n in range(WORKSPACES)]


async def _commands(slack: SlackEmulator, url: str, teams: list[str], session: Any) -> float:
    """Seconds for ``COMMANDS`` /translate commands to be acknowledged, each recorded
    before its ack. (Their answers follow at Xiangji's submission limit, 10/s a process:
    that, not the workspaces, would be measured by waiting for them.)"""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(COMMANDS):
        queue.put_nowait(n)

    async def client() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            team = teams[n % len(teams)]
            own = team == slack.team_id  # the emulator's own workspace: #general, Alice
            channel = "C0GENERAL" if own else f"C{team[1:]}GEN"
            user = "U0ALICE" if own else f"U{team[1:]}P"
            body = command_body(
                "/translate", f"zh>en 你好 {n}", team=team, user=user, channel=channel
            )
            status, _ = await post_signed(session, url, SIGNING_SECRET, body)
            assert status == 200

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def many_workspaces() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackEmulator(bot_token=BOT_TOKEN) as slack, XiangjiEmulator() as xiangji:
            port = free_port()
            public = f"http://127.0.0.1:{port}"
            env = emulator_env(
                slack,
                xiangji,
                signing_secret=SIGNING_SECRET,
                database_url=f"sqlite:///{tmp}/tolk.sqlite",
                port=port,
            )
            del env["SLACK_BOT_TOKEN"]
            env |= {
                "SLACK_CLIENT_ID": CLIENT_ID,
                "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "TOLK_SECRET_KEY": Fernet.generate_key().decode(),
                "TOLK_SHARED_PROVIDER_KEYS": "on",
                **FAST_POLLS,
            }
            slack.register_app(CLIENT_ID, CLIENT_SECRET, [f"{public}/slack/oauth_redirect"])
            teams = _teams()
            for team in teams:
                slack.add_workspace(team, team.lower())
                with slack.in_workspace(team):
                    person = slack.add_user(f"U{team[1:]}P", "person")
                    slack.channels[f"C{team[1:]}GEN"].members.add(person["id"])
            async with (
                serving(load_settings(env), host="127.0.0.1") as (_, bound),
                aiohttp.ClientSession() as session,
            ):
                installs = []
                for team in teams:
                    started = time.perf_counter()
                    status, _ = await install_in(
                        slack, public, client_id=CLIENT_ID, team=team, user=f"U{team[1:]}P"
                    )
                    installs.append(time.perf_counter() - started)
                    assert status == 200
                floor = await _bare_exchange(slack, session)
                acked = await _commands(
                    slack, f"http://127.0.0.1:{bound}/slack/events", teams, session
                )
    return {
        "install_p50": percentile(installs, 50),
        "install_p95": percentile(installs, 95),
        "exchange_floor": floor,
        "many_acked": acked,
    }


async def _bare_exchange(slack: SlackEmulator, session: aiohttp.ClientSession) -> float:
    """The median of 20 bare ``oauth.v2.access`` code exchanges (the floor of an install)."""
    spent = []
    for _ in range(20):
        code = slack.authorize(CLIENT_ID, slack.team_id, "U0ALICE")
        started = time.perf_counter()
        async with session.post(
            f"{slack.api_url}oauth.v2.access",
            data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code},
        ) as resp:
            assert (await resp.json())["ok"]
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


async def one_workspace() -> float:
    """The same commands on Tolk with one workspace (``SLACK_BOT_TOKEN``): the floor."""
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackEmulator(bot_token=BOT_TOKEN) as slack, XiangjiEmulator() as xiangji:
            env = emulator_env(
                slack,
                xiangji,
                signing_secret=SIGNING_SECRET,
                database_url=f"sqlite:///{tmp}/tolk.sqlite",
            )
            async with (
                serving(load_settings({**env, **FAST_POLLS}), host="127.0.0.1") as (_, bound),
                aiohttp.ClientSession() as session,
            ):
                url = f"http://127.0.0.1:{bound}/slack/events"
                return await _commands(slack, url, [slack.team_id], session)


async def rows() -> list[tuple[str, str, str]]:
    """(measure, result, target) for ``make bench``'s table."""
    many = await many_workspaces()
    one_acked = await one_workspace()
    acked = many["many_acked"]
    return [
        (
            f"install round trip p50/p95 ({WORKSPACES} workspaces)",
            f"{many['install_p50'] * 1000:.1f} / {many['install_p95'] * 1000:.1f} ms"
            f" = {many['install_p50'] / many['exchange_floor']:.1f}× the bare exchange"
            f" ({many['exchange_floor'] * 1000:.1f} ms)",
            "(figure)",
        ),
        (
            f"/translate acked across {WORKSPACES} workspaces, {CONCURRENCY} concurrent",
            f"{COMMANDS / acked:.0f}/s = {one_acked / acked:.2f}× one workspace"
            f" ({COMMANDS / one_acked:.0f}/s)",
            "(figure)",
        ),
    ]


async def main() -> None:
    for measure, value, _ in await rows():
        print(f"{measure:<55} {value}")


if __name__ == "__main__":
    asyncio.run(main())

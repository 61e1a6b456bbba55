"""The sandbox shows Tolk installed in many workspaces (issue 19): the console's
``install``, ``workspaces``, ``use`` and ``uninstall``, fed line by line as a script is,
with the emulated Slack and Tolk's store looked at between the lines."""

from __future__ import annotations

import inspect
import io
import os
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from cryptography.fernet import Fernet

from bot.core.tasks import State
from emulators.slack import Call, SlackEmulator
from sandbox.console import Console
from sandbox.run import kept_secret_key, running_sandbox

ROOT = Path(__file__).resolve().parents[2]
HOME, BETA = "T0TOLK", "T0BETA"
GENERAL = {HOME: "C0GENERAL", BETA: "C0BETAGEN"}
Step = str | Callable[[], object]
A_AND_A2 = "/translate-image zh>ko https://example.com/a.jpg https://example.com/a2.jpg"
B_AND_B2 = "/translate-image zh>ko https://example.com/b.jpg https://example.com/b2.jpg"


async def script(*steps: Step) -> AsyncIterator[str]:
    """Console lines; a callable among them runs (awaited if need be) once every line
    before it has run and shown what it printed."""
    for step in steps:
        if isinstance(step, str):
            yield step
            continue
        result = step()
        if inspect.isawaitable(result):
            await result


def after(transcript: str, line: str) -> str:
    """What the console printed for ``line`` (up to the next line it ran)."""
    rest = transcript[transcript.index(f"> {line}\n") + len(f"> {line}\n") :]
    following = re.search(r"^> ", rest, re.M)
    return rest[: following.start() if following else len(rest)]


def token_team(slack: SlackEmulator, call: Call) -> str | None:
    auth = call.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    issued = slack.tokens.get(auth)
    return issued.team_id if issued else None


def everything_in(slack: SlackEmulator, team: str) -> list[dict]:
    """Every message and thread reply in ``team``'s #general."""
    with slack.in_workspace(team):
        channel = GENERAL[team]
        return [
            said
            for message in slack.messages(channel)
            for said in [message, *slack.thread(channel, message["ts"])]
        ]


async def test_install_use_and_uninstall_a_second_workspace_from_the_console(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    seen: dict[str, object] = {}
    # started with one workspace (a bot token): the first install switches to OAuth
    async with running_sandbox(data=tmp_path / "sandbox", out=out, many=False) as sandbox:
        slack, xiangji = sandbox.slack, sandbox.xiangji

        def installed() -> None:
            assert sandbox.many
            tokens = {team: slack.installed_tokens(team) for team in (HOME, BETA)}
            assert [len(found) for found in tokens.values()] == [1, 1]
            key = (tmp_path / "sandbox" / "secret.key").read_text().strip()
            assert sandbox.services.settings.secret_key == key
            assert sandbox.services.settings.shared_provider_keys

        def hold_results() -> None:
            xiangji.pending_polls = 1_000

        def let_results_come() -> None:
            xiangji.pending_polls = 1
            for job in xiangji.jobs.values():
                job.polls_left = min(job.polls_left, 1)

        async def beta_result_is_in_beta() -> None:
            said = everything_in(slack, BETA)
            files = [f["name"] for m in said for f in m.get("files", ())]
            assert sorted(name.split("-ko-")[0] for name in files) == ["a", "a2"], said
            assert not [f for m in everything_in(slack, HOME) for f in m.get("files", ())]
            acting = [c for c in slack.calls if c.args.get("channel") == GENERAL[BETA]]
            assert acting and {token_team(slack, c) for c in acting} == {BETA}

        def mark() -> None:
            seen["calls"] = len(slack.calls)
            seen["messages"] = len(everything_in(slack, BETA))

        async def nothing_more_for_beta() -> None:
            (ended,) = re.findall(
                r"its 1 pending task \((T\w+)\) ended without a message", out.getvalue()
            )
            task = await sandbox.services.store.get(ended)
            assert task is not None and task.state is State.CANCELLED and task.settled
            assert task.place.team == BETA
            assert await sandbox.pending(BETA) == []
            later = slack.calls[int(str(seen["calls"])) :]
            assert not any(token_team(slack, c) == BETA for c in later)
            assert len(everything_in(slack, BETA)) == seen["messages"]  # nothing posted

        await sandbox.console.run(
            script(
                "/translate zh>en 你好",  # one workspace, with the bot token
                "install beta",
                installed,
                "workspaces",
                "use beta",
                hold_results,
                A_AND_A2,
                "use sandbox",  # beta's results land while the console is here
                let_results_come,
                "wait",
                beta_result_is_in_beta,
                "use beta",
                hold_results,
                B_AND_B2,  # still at Xiangji …
                mark,
                "uninstall beta",  # … when an admin removes Tolk from beta
                let_results_come,
                "wait",
                nothing_more_for_beta,
                "/translate-image zh>ko https://example.com/c.jpg",
                "wait",
                nothing_more_for_beta,
                "workspaces",
                "use sandbox",
                "/translate zh>en 你好",
            )
        )
        assert await sandbox.idle()

    transcript = out.getvalue()
    switched = after(transcript, "install beta")
    assert "restarts as an app installed with Slack's OAuth" in switched
    assert "Installed Tolk in sandbox (team T0TOLK) through Slack's OAuth flow" in switched
    assert "Slack: a workspace beta (team T0BETA) with #general and one person" in switched
    assert "Installed Tolk in beta (team T0BETA) through Slack's OAuth flow" in switched
    assert "Tolk's page: Tolk is installed in beta." in switched

    listed = after(transcript, "workspaces").splitlines()
    assert listed[0].startswith("  * sandbox  T0TOLK") and "installed" in listed[0]
    assert listed[1].startswith("    beta     T0BETA") and "  installed" in listed[1]

    # in beta: the command's answers; its results landed while the console was in
    # sandbox, so they show when it comes back, not in sandbox's transcript
    in_beta = after(transcript, A_AND_A2)
    assert "<@U0BETAADMIN> asked to translate 2 images" in in_beta
    assert "a-ko-" not in after(transcript, "wait")
    back = after(transcript[transcript.index("> wait\n") :], "use beta")
    assert "What landed in beta meanwhile:" in back
    assert re.search(r"↳ file: a-ko-T\w+-1\.png", back) and "↳ file: a2-ko-" in back
    assert "Done — all 2 images translated" in back

    gone = after(transcript, "uninstall beta")
    assert "Slack sent Tolk tokens_revoked (HTTP 200) and app_uninstalled (HTTP 200)" in gone
    assert "Tolk forgot beta: its installation and keys are deleted, its 1 pending task" in gone
    assert "Tolk is not installed in this workspace (or was removed)" in gone
    assert "Tolk did nothing for it." in gone
    refused = after(transcript, "/translate-image zh>ko https://example.com/c.jpg")
    assert "(only you) Tolk: :warning: Tolk is not installed in this workspace" in refused
    assert "b-ko-" not in transcript and "c-ko-" not in transcript

    listed = [line for line in transcript.splitlines() if re.match(r"  [* ] beta +T0BETA", line)]
    assert "not installed" in listed[-1] and listed[-1].startswith("  * ")
    assert after(transcript, "/translate zh>en 你好").count("Tolk: Hello") == 1  # sandbox too


async def test_started_with_many_workspaces_uploads_and_reactions_come_from_the_current_one(
    tmp_path: Path,
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    out = io.StringIO()
    async with running_sandbox(data=tmp_path / "sandbox", out=out, many=True) as sandbox:
        assert sandbox.many and len(sandbox.slack.installed_tokens(HOME)) == 1
        await sandbox.console.run(
            script("install beta", "use beta", f"upload {photo}", "react :flag-kr: LAST")
        )
        said = everything_in(sandbox.slack, BETA)
        assert any(f["name"].startswith("photo-ko-") for m in said for f in m.get("files", ()))
        assert all(m.get("user") != "U0ALICE" for m in said)
        assert not sandbox.slack.messages(GENERAL[HOME])
    transcript = out.getvalue()
    assert "Installed Tolk in sandbox (team T0TOLK)" in transcript.split("> install beta")[0]
    assert "restarts" not in transcript  # OAuth from the start: nothing to switch
    assert re.search(r"↳ file: photo-ko-T\w+-1\.png", after(transcript, "react :flag-kr: LAST"))


def test_the_key_that_seals_tokens_is_kept_for_the_next_run(tmp_path: Path) -> None:
    key = kept_secret_key(tmp_path)
    Fernet(key.encode())  # a Fernet key
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert kept_secret_key(tmp_path) == key


async def test_the_console_says_what_each_workspace_command_needs() -> None:
    async def idle() -> bool:
        return True

    out = io.StringIO()
    async with SlackEmulator() as slack:
        console = Console(slack, "http://127.0.0.1:9/slack/events", "s", idle=idle, out=out)
        await console.run(
            script(
                "workspaces",
                "install beta",
                "uninstall sandbox",
                "use nowhere",
                "use",
                "install 9lives",
                "use sandbox",
            )
        )
    said = out.getvalue()
    assert "* sandbox  T0TOLK        bot token" in said
    assert "Tolk serves one workspace here; it cannot be installed in more" in said
    assert "nothing to uninstall until `install NAME`" in said
    assert "there is no workspace nowhere; try one of sandbox" in said
    assert "write: use NAME" in said and "write: install NAME" in said
    assert "Now in sandbox (team T0TOLK)" in said


def test_a_piped_session_installs_a_second_workspace_and_removes_it(tmp_path: Path) -> None:
    """``python -m bot`` with no credentials, fed from a pipe, as a newcomer would."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    lines = [
        "install beta",
        "use beta",
        "/translate-image zh>ko https://example.com/a.jpg",
        "wait",
        "uninstall beta",
        "/translate zh>en 你好",
        "quit",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Installed Tolk in beta (team T0BETA)" in out
    assert re.search(r"↳ file: a-ko-T\w+-1\.png \([\d.]+ KB\) → saved to data/sandbox/files/", out)
    assert "Tolk is not installed in this workspace" in after(out, "/translate zh>en 你好")
    assert (tmp_path / "data" / "sandbox" / "secret.key").is_file()
    assert "Traceback" not in result.stderr and "ERROR" not in result.stderr

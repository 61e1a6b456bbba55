"""``/tolk``: help, tasks, cancel, retry, quota and channel settings — what the person is
told, and what changes in the store (nothing, for anything refused)."""

from __future__ import annotations

from typing import Any

from bot.core import messages
from bot.core.channels import ChannelConfig, Route
from bot.core.tasks import Place, State
from emulators.slack import SlackEmulator
from handlers.slack.tolk import on_tolk
from tests.handlers.support import Ack, Ports, command, failed


async def send(ports: Ports, text: str, user: str = "U0ALICE", **kwargs: str) -> Ack:
    ack = Ack()
    await on_tolk(ack, command("/tolk", text, user=user, **kwargs), ports.context())
    return ack


async def test_help(ports: Ports) -> None:
    assert (await send(ports, "help")).text == messages.HELP


async def test_tasks_lists_the_channels_pending_work_only(ports: Ports) -> None:
    pending = await ports.add_task("TPEND")
    await ports.add_task("TOVER", dedupe_key="x", settled=True, state=State.DELIVERED)
    await ports.add_task("TELSE", dedupe_key="y", place=Place("T0TOLK", "C0LOCALE", "U0BOB"))
    await ports.desk.remove_results(pending, by="U0ALICE", thread_ts=None)  # housekeeping

    text = (await send(ports, "tasks")).text
    assert "TPEND" in text and "(1)" in text
    assert "TOVER" not in text and "TELSE" not in text and "remove results" not in text


async def test_the_requester_cancels_and_the_engine_is_told_at_once(ports: Ports) -> None:
    task = await ports.add_task("TPEND")
    ack = await send(ports, "cancel TPEND")
    assert ack.text == messages.cancelling(task.id)
    assert await ports.store.cancel_requests(["TPEND"]) == {"TPEND": "U0ALICE"}
    assert (await ports.store.get("TPEND")).next_poll_at == ports.clock()  # due now
    assert ports.nudges


async def test_a_finished_task_cannot_be_cancelled(ports: Ports) -> None:
    task = await ports.add_task("TOVER")
    await ports.store.save(failed(task, ports.clock()))
    ack = await send(ports, "cancel TOVER")
    assert ack.text == messages.cannot_cancel("TOVER", State.FAILED)
    assert await ports.store.cancel_requests(["TOVER"]) == {}


async def test_someone_elses_task_is_theirs_or_an_admins(
    ports: Ports, slack: SlackEmulator
) -> None:
    await ports.add_task("TPEND")
    ack = await send(ports, "cancel TPEND", user="U0BOB")
    assert ack.text == messages.not_yours_to_change("TPEND", "cancel", "U0ALICE", [])
    assert await ports.store.cancel_requests(["TPEND"]) == {}

    slack.add_user("U0BOSS", "boss", is_admin=True)  # a workspace admin may
    assert (await send(ports, "cancel TPEND", user="U0BOSS")).text == messages.cancelling("TPEND")

    ports.configure(admins=frozenset({"U0CAROL"}))  # with TOLK_ADMINS, only those listed
    ack = await send(ports, "retry TPEND", user="U0BOSS")
    assert ack.text == messages.not_yours_to_change("TPEND", "retry", "U0ALICE", ["U0CAROL"])


async def test_a_task_of_another_channel_is_not_found_here(ports: Ports) -> None:
    await ports.add_task("TPEND")
    ack = await send(ports, "cancel TPEND", channel="C0LOCALE")
    assert ack.text == messages.no_such_task("TPEND")
    assert await ports.store.cancel_requests(["TPEND"]) == {}


async def test_retry_makes_a_new_task_of_a_failed_one_once(ports: Ports) -> None:
    task = await ports.add_task("TOVER")
    await ports.store.save(failed(task, ports.clock()))
    cmd = command("/tolk", "retry TOVER")
    ack = Ack()
    await on_tolk(ack, cmd, ports.context())
    new = next(t for t in await ports.tasks() if t.id != "TOVER")
    assert ack.text == messages.retrying("TOVER", new.id)
    assert new.request["retry_of"] == "TOVER" and new.state is State.QUEUED
    assert [i.source for i in new.items] == [i.source for i in task.items]
    await on_tolk(Ack(), cmd, ports.context())  # Slack sends it again
    assert len(await ports.tasks()) == 2


async def test_a_task_still_running_is_not_retried(ports: Ports) -> None:
    await ports.add_task("TPEND")
    ack = await send(ports, "retry TPEND")
    assert ack.text == messages.cannot_retry("TPEND", State.QUEUED)
    assert len(await ports.tasks()) == 1


async def test_quota(ports: Ports) -> None:
    assert (await send(ports, "quota")).text == messages.quota_unavailable()

    class Quota:
        async def report(self, *, within: float = 2.0) -> str:
            return f"plenty (read within {within} s)"

        async def read_all(self) -> dict[str, int | None]:
            return {}

        async def last_reading(self) -> dict[str, dict[str, float]]:
            return {}

    ports.quota = Quota()
    assert (await send(ports, "quota")).text == "plenty (read within 1.5 s)"


async def test_config_is_shown_changed_and_kept(ports: Ports) -> None:
    ack = await send(ports, "config")
    assert ack.text.startswith(messages.config_show(ChannelConfig(), ports.config.quota_threshold))

    ack = await send(ports, "config defaults zh>en")
    (call,) = ack.calls
    assert call["response_type"] == "in_channel"  # the channel sees who changed what
    assert call["text"] == messages.config_changed("U0ALICE", "defaults", "zh→en")
    saved = await ports.desk.channel_config("C0GENERAL")
    assert saved.defaults == Route("en", "zh") and saved.changed_by == {"defaults": "U0ALICE"}


async def test_config_refusals_change_nothing(ports: Ports) -> None:
    before: Any = await ports.desk.channel_config("C0GENERAL")
    ack = await send(ports, "config auto-images on zh>ko --engine google")
    assert "XIANGJI_IMG_TRANS_GOOGLE_KEY" in ack.text
    ack = await send(ports, "config auto-docs on ko")
    assert ack.text.startswith(messages.auto_docs_needs_source("ko"))
    ports.configure(admins=frozenset({"U0BOB"}))
    ack = await send(ports, "config defaults zh>en")
    assert ack.text == messages.admins_only(["U0BOB"])
    assert await ports.desk.channel_config("C0GENERAL") == before


async def test_a_mistyped_command_says_how(ports: Ports) -> None:
    for text in ("cancle T7Q2K", "cancel", "config colour blue"):
        ack = await send(ports, text)
        assert "/tolk" in ack.text, (text, ack.text)
    assert await ports.tasks() == []

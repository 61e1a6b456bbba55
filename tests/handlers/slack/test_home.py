"""App Home through the wire: a signed ``app_home_opened`` event into the running app;
assertions on the view the Slack emulator received for that user."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from bot.core import messages
from bot.core.channels import ChannelConfig, Route, save_channel
from bot.core.tasks import Place, State, Task
from emulators.signed import event_body, post_signed
from handlers.slack import home
from handlers.slack.home import thread_link
from providers.xiangji.wire import QUOTA_SERVICES
from tests.conftest import SIGNING_SECRET


def task_id_in(text: str) -> str:
    match = re.search(r"task `(T[0-9A-Z]{4})`", text)
    assert match, f"no task id in {text!r}"
    return match.group(1)


async def open_home(tolk, user: str = "U0ALICE", *, tab: str = "home", **headers: str):
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": f"D{user[1:]}",
        "tab": tab,
        "event_ts": "1700000000.000100",
    }
    return await post_signed(
        tolk.session,
        tolk.events_url,
        SIGNING_SECRET,
        event_body(event),
        content_type="application/json",
        headers=headers,
    )


def home_text(slack, user: str = "U0ALICE") -> str:
    """Every text of the user's published Home view, joined."""
    return "\n".join(_texts(slack.home_views[user]["blocks"]))


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [t for v in node.values() if not isinstance(v, str) for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


async def pending_task(tolk, user: str = "U0ALICE", channel: str = "C0LOCALE") -> Task:
    """A queued task the poller will not reach during the test (due in an hour)."""
    now = tolk.services.clock()
    task = Task(
        id="TPEND",
        dedupe_key=f"test:{user}:{channel}",
        place=Place(team="T0TOLK", channel=channel, user=user),
        provider="xiangji",
        operation="xiangji.translate_image",
        request={"source": "zh", "target": "ja"},
        created_at=now - 300,
        updated_at=now - 300,
        next_poll_at=now + 3600,
        deadline=now + 7200,
    )
    stored, created = await tolk.services.store.create_if_absent(task)
    assert created
    return stored


class FakeQuota:
    def __init__(self, left: dict[str, int | None]) -> None:
        self.left = left

    async def read_all(self) -> dict[str, int | None]:
        return self.left

    async def report(self, *, within: float = 2.0) -> str:
        return ""

    async def last_reading(self) -> dict[str, dict[str, float]]:
        return {}


async def test_home_lists_the_users_tasks_states_and_links(tolk, slack, xiangji):
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    done_id = task_id_in(body)
    _, other = await tolk.command("/translate", "zh>en 你好", user="U0BOB")
    await tolk.settle()
    pending = await pending_task(tolk)  # after settle(), which waits for every task

    status, _ = await open_home(tolk)
    assert status == 200

    (call,) = slack.calls_to("views.publish")
    assert call.args["user_id"] == "U0ALICE" and call.response["ok"] is True
    view = slack.home_views["U0ALICE"]
    assert view["type"] == "home"
    text = home_text(slack)
    assert f"`{done_id}` translate image — delivered" in text
    assert f"`{pending.id}` translate image — queued, 5 min ago" in text
    assert text.index("Pending (1)") < text.index(pending.id) < text.index("Recent (1)")
    assert text.index("Recent (1)") < text.index(done_id)
    assert task_id_in(other) not in text  # Bob's task is not on Alice's Home
    (parent,) = [m for m in slack.messages("C0GENERAL") if done_id in m["text"]]
    link = f"{slack.base_url}/archives/C0GENERAL/p{parent['ts'].replace('.', '')}"
    assert f"<{link}|open thread>" in text  # the workspace URL from Bolt's auth.test
    # the real quota watcher, reading the Xiangji emulator's amount-query
    assert f"• image translation (Aliyun): {xiangji.quota[1]:,} left" in text
    for quota_type in (3, 4, 5, 7, 9):  # every key the emulator has, each with its count
        name = QUOTA_SERVICES[quota_type]
        assert f"• {name}: {xiangji.quota[quota_type]:,} left" in text
    assert "<#C0GENERAL>: no default languages" in text and "<#C0LOCALE>" in text
    _assert_valid_home(view)


async def test_home_shows_quota_left_and_channel_settings(tolk, slack, xiangji):
    await pending_task(tolk, channel="C0LOCALE")
    config = ChannelConfig(
        auto_images=Route(target="ko", source="zh", provider="xiangji"),
        defaults=Route(target="en", source="ja"),
        quota_threshold=50,
    )
    await save_channel(tolk.services.store, "C0LOCALE", config)
    tolk.services.quota = FakeQuota({"xiangji-img": 1234, "xiangji-text": None})

    await open_home(tolk)

    text = home_text(slack)
    assert "• xiangji-img: 1,234 left" in text
    assert "• xiangji-text: unknown right now" in text
    assert (
        "<#C0LOCALE>: defaults ja→en · auto-translate images zh→ko via xiangji · "
        "auto-translate documents off · alert below 50"
    ) in text


async def test_home_for_a_newcomer_and_a_failing_quota_read(tolk, slack):
    class Broken:
        async def read_all(self) -> dict[str, int | None]:
            raise TimeoutError

        async def last_reading(self) -> dict[str, dict[str, float]]:
            raise TimeoutError

    tolk.services.quota = None  # no quota service configured
    status, _ = await open_home(tolk, "U0BOB")
    assert status == 200
    assert "Quota not available" in home_text(slack, "U0BOB")
    tolk.services.quota = Broken()
    status, _ = await open_home(tolk, "U0BOB")
    assert status == 200
    text = home_text(slack, "U0BOB")
    assert "Pending (0)" in text and "Nothing pending" in text
    assert "No finished tasks yet" in text and "Quota not available" in text
    _assert_valid_home(slack.home_views["U0BOB"])


async def test_a_slow_quota_read_falls_back_to_the_last_reading(tolk, slack, monkeypatch):
    class Slow:
        async def read_all(self) -> dict[str, int | None]:
            await asyncio.Event().wait()  # the provider never answers
            return {}

        async def last_reading(self) -> dict[str, dict[str, float]]:
            return {"image translation": {"left": 42, "at": 1.0}}

    monkeypatch.setattr(home, "QUOTA_SECONDS", 0.05)
    tolk.services.quota = Slow()
    status, _ = await open_home(tolk)
    assert status == 200
    assert "• image translation: 42 left" in home_text(slack)


async def test_redelivered_event_publishes_the_same_view_again(tolk, slack, xiangji):
    await pending_task(tolk)
    body = event_body(
        {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0ALICE", "tab": "home"},
        event_id="Ev0HOME00001",
    )
    for retry in ("", "1"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        status, _ = await post_signed(
            tolk.session,
            tolk.events_url,
            SIGNING_SECRET,
            body,
            content_type="application/json",
            headers=headers if retry else None,
        )
        assert status == 200
        if not retry:
            auth_tests = len(slack.calls_to("auth.test"))
    assert len(slack.calls_to("auth.test")) == auth_tests  # the workspace URL is kept
    first, second = slack.calls_to("views.publish")
    assert first.response["ok"] and second.response["ok"]
    assert [b for b in first.args["view"]["blocks"] if b["type"] == "section"] == [
        b for b in second.args["view"]["blocks"] if b["type"] == "section"
    ]
    assert list(slack.home_views) == ["U0ALICE"]


async def test_messages_tab_publishes_nothing(tolk, slack):
    status, _ = await open_home(tolk, tab="messages")
    assert status == 200
    assert slack.calls_to("views.publish") == []


async def test_a_long_history_stays_within_block_kit_limits(tolk, slack):
    now = tolk.services.clock()
    for n in range(60):
        state = State.QUEUED if n % 2 else State.DELIVERED
        task = Task(
            id=f"TL{n:03d}",
            dedupe_key=f"long:{n}",
            place=Place(
                team="T0TOLK",
                channel=f"C0CH{n:02d}",
                user="U0ALICE",
                thread_ts=f"{1700000000 + n}.000100",
            ),
            provider="xiangji",
            operation="xiangji.translate_image_" + "x" * 200,
            request={},
            state=state,
            settled=state is State.DELIVERED,
            created_at=now - n,
            next_poll_at=now + 3600,
            deadline=now + 7200,
        )
        await tolk.services.store.create_if_absent(task)
        if task.settled:
            await tolk.services.store.save(task)
    await open_home(tolk)
    view = slack.home_views["U0ALICE"]
    _assert_valid_home(view)
    text = home_text(slack)
    assert "Pending (20)" in text and "Recent (10)" in text


def test_links_fall_back_to_app_redirect_without_a_workspace_url():
    task = Task(
        id="T2345",
        dedupe_key="k",
        place=Place(
            team="T0TOLK", channel="C0GENERAL", user="U0ALICE", thread_ts="1700000000.000200"
        ),
        provider="xiangji",
        operation="xiangji.translate_image",
        request={},
    )
    assert thread_link(task, "https://tolk.slack.com/") == (
        "https://tolk.slack.com/archives/C0GENERAL/p1700000000000200"
    )
    assert thread_link(task, None) == (
        "https://slack.com/app_redirect?channel=C0GENERAL&team=T0TOLK"
    )
    answer = task.but(place=Place("T0TOLK", "C0GENERAL", "U0ALICE"), notes={})
    assert thread_link(answer, None) is None
    sent = answer.but(notes={"sent": {"T2345:message": "1700000000.000300"}})
    assert thread_link(sent, "https://tolk.slack.com").endswith("/p1700000000000300")


def test_home_view_splits_long_sections():
    lines = [f"• `T{n:04d}` " + "y" * 280 for n in range(40)]
    view = messages.home_view(
        pending=lines, recent=lines, quota="Quota not available.", channels=lines, updated_at=0
    )
    _assert_valid_home(view)


def _assert_valid_home(view: dict[str, Any]) -> None:
    blocks = view["blocks"]
    assert view["type"] == "home" and 0 < len(blocks) <= 100
    for block in blocks:
        assert block["type"] in ("header", "section", "context", "divider"), block
        if block["type"] == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    assert len(json.dumps(view)) < 250_000


# --- the view on its ports ------------------------------------------------------------------


async def test_the_view_leaves_out_tolks_own_housekeeping(ports) -> None:
    done = await ports.add_task("TDONE", settled=True, state=State.DELIVERED)
    await ports.desk.remove_results(done, by="U0ALICE", thread_ts=None)  # Alice's own click
    view = await home.home_view(
        ports.desk, ports.desk, ports.config, None, "U0ALICE", workspace_url=None
    )
    text = "\n".join(_texts(view["blocks"]))
    assert "`TDONE` translate image — delivered" in text and "Recent (1)" in text
    assert "Pending (0)" in text and "remove results" not in text
    assert "Quota not available" in text

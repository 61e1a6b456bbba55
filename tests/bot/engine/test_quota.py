"""The quota watcher against the real Xiangji and Slack emulators and a real SQLite
store: hysteresis (one alert per crossing, also across restarts), per-channel
thresholds, failed reads, the alert channel, quota-error alerts and spend accounting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings, XiangjiSettings
from bot.core import messages
from bot.core.channels import ChannelConfig, save_channel
from bot.core.storage.sqlite import SqliteTaskStore
from bot.core.tasks import Item, Place, State, Task
from bot.engine.delivery import Delivery
from bot.engine.quota import QuotaWatcher, text_units
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from providers.xiangji import XiangjiClient, XiangjiKeys
from tests.conftest import BOT_TOKEN, FakeClock

GENERAL, LOCALE = "C0GENERAL", "C0LOCALE"


def make_settings(xiangji: XiangjiEmulator, **changes: Any) -> Settings:
    keys = XiangjiSettings(
        user_key="xj-user",
        img_trans_key="xj-img",
        text_trans_key="xj-text",
        matting_key="xj-matting",
        api_url=xiangji.api_url,
        upload_url=xiangji.upload_url,
        account_url=xiangji.account_url,
    )
    return replace(Settings(xiangji=keys, quota_threshold=100), **changes)


@dataclass
class Rig:
    store: SqliteTaskStore
    client: XiangjiClient
    delivery: Delivery
    settings: Settings
    clock: FakeClock
    slack: SlackEmulator

    def watcher(self, **changes: Any) -> QuotaWatcher:
        """A fresh watcher on the same store: what a restarted process would build."""
        settings = replace(self.settings, **changes)
        return QuotaWatcher(self.store, self.client, self.delivery, settings, clock=self.clock)

    async def thread(self, channel: str = GENERAL, user: str = "U0ALICE") -> Place:
        ts = await self.delivery.post(channel, "parent of some work", marker="test:parent")
        return Place("T0TOLK", channel, user, thread_ts=ts)

    def replies(self, place: Place) -> list[str]:
        assert place.thread_ts
        return [m["text"] for m in self.slack.thread(place.channel, place.thread_ts)]

    def top_level(self, channel: str) -> list[str]:
        return [
            m["text"] for m in self.slack.messages(channel) if m["text"] != "parent of some work"
        ]


@pytest.fixture
async def rig(slack, xiangji, tmp_path) -> AsyncIterator[Rig]:
    store = await SqliteTaskStore.open(tmp_path / "tolk.sqlite")
    async with aiohttp.ClientSession() as session:
        keys = XiangjiKeys("xj-user", "xj-img", "xj-text", "xj-matting")
        client = XiangjiClient(
            session,
            keys,
            api_url=xiangji.api_url,
            upload_url=xiangji.upload_url,
            account_url=xiangji.account_url,
        )
        web = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
        delivery = Delivery(web, session, ())
        yield Rig(store, client, delivery, make_settings(xiangji), FakeClock(), slack)
    await store.close()


def quota_texts(texts: list[str]) -> list[str]:
    return [t for t in texts if "quota" in t.lower()]


def settled_task(
    task_id: str,
    place: Place,
    operation: str,
    items: list[Item],
    *,
    notes: dict[str, Any] | None = None,
    state: State = State.DELIVERED,
) -> Task:
    return Task(
        id=task_id,
        dedupe_key=f"key-{task_id}",
        place=place,
        provider="xiangji",
        operation=operation,
        request={},
        state=state,
        items=tuple(items),
        settled=True,
        notes=notes or {},
    )


async def test_reads_every_configured_service_with_its_own_key(rig, xiangji):
    xiangji.quota.update({1: 1500, 2: 250_000, 8: 42})
    watcher = rig.watcher()
    assert watcher.services() == {
        1: "image translation (Aliyun)",
        2: "text translation",
        8: "background removal",
    }
    assert await watcher.read_all() == {
        "image translation (Aliyun)": 1500,
        "text translation": 250_000,
        "background removal": 42,
    }
    sent = {r.params["Type"]: r.params for r in xiangji.requests_for("AmountQuery")}
    assert sent["1"]["ImgTransKey"] == "xj-img" and sent["2"]["TextTransKey"] == "xj-text"
    assert sent["8"]["ImgMattingKey"] == "xj-matting"
    assert (await watcher.last_reading())["background removal"]["left"] == 42


async def test_only_services_with_a_key_are_read(rig, xiangji):
    keys = replace(rig.settings.xiangji, text_trans_key=None, matting_key=None)
    watcher = rig.watcher(xiangji=keys)
    assert watcher.services() == {1: "image translation (Aliyun)"}
    assert await watcher.read_all() == {"image translation (Aliyun)": 80828}
    assert [r.params["Type"] for r in xiangji.requests_for("AmountQuery")] == ["1"]
    assert rig.watcher(xiangji=None).services() == {}


async def test_one_alert_per_crossing_also_across_restarts(rig, xiangji):
    place = await rig.thread()
    steps = [(150, 0), (90, 1), (80, 0), ("restart", 0), (80, 0), (120, 0), (95, 1), (70, 0)]
    watcher = rig.watcher()
    for left, expected in steps:
        if left == "restart":
            watcher = rig.watcher()
            continue
        xiangji.quota[1] = left
        posted = await watcher.check(place, reason="work")
        assert len(posted) == expected, (left, posted)
    alerts = rig.replies(place)
    assert len(alerts) == 2
    assert (
        "quota" in alerts[0].lower()
        and "image translation (Aliyun)" in alerts[0]
        and "90" in alerts[0]
    )
    assert (
        "quota" in alerts[1].lower()
        and "image translation (Aliyun)" in alerts[1]
        and "95" in alerts[1]
    )
    assert alerts == [messages.quota_alert("image translation (Aliyun)", n, 100) for n in (90, 95)]
    assert rig.top_level(GENERAL) == []  # in the thread, never the channel


async def test_a_restart_right_after_the_alert_does_not_alert_again(rig, xiangji):
    place = await rig.thread()
    xiangji.quota[8] = 10
    assert len(await rig.watcher().check(place)) == 1
    for _ in range(3):  # three restarts, the count still low
        assert await rig.watcher().check(place) == []
    (alert,) = rig.replies(place)
    assert "background removal" in alert and "10 left" in alert


async def test_the_channel_threshold_overrides_the_default(rig, xiangji):
    await save_channel(rig.store, LOCALE, ChannelConfig(quota_threshold=500))
    general, locale = await rig.thread(GENERAL), await rig.thread(LOCALE)
    xiangji.quota[1] = 400
    watcher = rig.watcher()
    assert await watcher.check(general) == []  # 400 is above the default 100
    (text,) = await watcher.check(locale)
    assert rig.replies(locale) == [text]
    assert "image translation (Aliyun) has 400 left" in text and "threshold 500" in text
    assert rig.replies(general) == []
    xiangji.quota[1] = 60  # now below the default too: the default scope crosses once
    (text,) = await watcher.check(general)
    assert "60 left" in text and "threshold 100" in text
    assert await watcher.check(locale) == []  # the channel scope is still low


@pytest.mark.parametrize("fault", ["code-109", "http-502", "code-113"])
async def test_a_failed_read_posts_nothing_and_raises_nothing(rig, xiangji, fault):
    place = await rig.thread()
    xiangji.quota[1] = 5  # would alert if it were read
    kind, _, value = fault.partition("-")
    if kind == "code":
        xiangji.faults.code("AmountQuery", int(value), times=6)
    else:
        xiangji.faults.http("AmountQuery", int(value), times=6)
    watcher = rig.watcher(quota_alert_channel=LOCALE)
    assert await watcher.read_all() == dict.fromkeys(watcher.services().values())
    assert await watcher.check(place) == []
    assert len(xiangji.requests_for("AmountQuery")) == 6
    assert rig.replies(place) == [] and rig.top_level(LOCALE) == []
    # Once reads work again, the crossing is still there to report.
    (text,) = await watcher.check(place)
    assert "image translation (Aliyun) has 5 left" in text


async def test_the_alert_channel_gets_its_copy(rig, xiangji):
    place = await rig.thread()
    xiangji.quota[2] = 99
    watcher = rig.watcher(quota_alert_channel=LOCALE)
    (text,) = await watcher.check(place, reason="work")
    assert rig.replies(place) == [text]
    assert rig.top_level(LOCALE) == [text]
    assert "text translation has 99 left" in text


async def test_scheduled_checks_go_to_the_alert_channel_or_wait_for_work(rig, xiangji):
    xiangji.quota[1] = 50
    assert await rig.watcher().check() == []  # no alert channel, no thread: stays armed
    place = await rig.thread()
    (text,) = await rig.watcher().check(place, reason="work")
    assert rig.replies(place) == [text] and "50 left" in text

    xiangji.quota[1] = 150
    await rig.watcher().check()  # re-armed by the scheduled read
    xiangji.quota[1] = 40
    (text,) = await rig.watcher(quota_alert_channel=LOCALE).check()
    assert rig.top_level(LOCALE) == [text] and "40 left" in text
    assert await rig.watcher(quota_alert_channel=LOCALE).check(place) == []
    assert len(rig.replies(place)) == 1


async def test_tasks_settling_together_alert_once(rig, xiangji):
    xiangji.quota[1] = 30
    watcher = rig.watcher()
    places = [await rig.thread() for _ in range(4)]
    tasks = [
        settled_task(f"TC00{i}", p, "xiangji.translate_image", [Item("a.png", status="done")])
        for i, p in enumerate(places)
    ]
    await asyncio.gather(*(watcher.on_task_settled(t) for t in tasks))
    alerts = [text for p in places for text in rig.replies(p)]
    assert len(alerts) == 1 and "30 left" in alerts[0]


async def test_a_lost_slack_answer_does_not_post_the_alert_twice(rig, xiangji):
    place = await rig.thread()

    class LosesOneAnswer(Delivery):
        lost = False

        async def post(self, channel: str, text: str, **kwargs: Any) -> str:
            ts = await super().post(channel, text, **kwargs)
            if not self.lost:
                self.lost = True
                raise aiohttp.ClientConnectionError("connection reset after the post")
            return ts

    flaky = LosesOneAnswer(rig.delivery.slack, rig.delivery._session, ())
    watcher = QuotaWatcher(rig.store, rig.client, flaky, rig.settings, clock=rig.clock)
    xiangji.quota[1] = 20
    assert await watcher.check(place) == []  # posted, but Tolk never heard back
    assert len(rig.replies(place)) == 1
    (found,) = await watcher.check(place)  # found in Slack by its marker, not posted again
    assert "20 left" in found and len(rig.replies(place)) == 1
    assert await watcher.check(place) == []
    (alert,) = rig.replies(place)
    assert "20 left" in alert


async def test_a_slack_failure_keeps_the_alert_for_the_next_check(rig, xiangji, slack):
    place = await rig.thread()
    xiangji.quota[1] = 20
    slack.faults.add("chat.postMessage", status=500, times=1)
    watcher = rig.watcher()
    assert await watcher.check(place) == []
    assert rig.replies(place) == []
    (text,) = await watcher.check(place)
    assert rig.replies(place) == [text]


async def test_a_quota_error_gives_one_alert_with_code_service_and_count(rig, xiangji):
    place = await rig.thread()
    xiangji.quota[1] = 0  # exhausted: also below the threshold, still only one alert
    error = {"code": "113", "message": "service not activated or account in arrears"}
    task = settled_task(
        "TQE01",
        place,
        "xiangji.translate_image",
        [Item("a.png", status="pending")],
        notes={"quota_error": {**error, "kind": "quota"}},
        state=State.FAILED,
    )
    watcher = rig.watcher(quota_alert_channel=LOCALE)
    await watcher.on_task_settled(task)
    await watcher.on_task_settled(task)  # a second call changes nothing
    (alert,) = rig.replies(place)
    assert "quota" in alert.lower() and "image translation (Aliyun)" in alert
    assert "113" in alert and "arrears" in alert and "0 left" in alert
    assert rig.top_level(LOCALE) == [alert]
    assert await watcher.check(place) == []  # the same crossing: no second alert


async def test_a_quota_code_on_a_batch_item_alerts_too(rig, xiangji):
    place = await rig.thread()
    items = [
        Item("a.png", status="done"),
        Item("b.png", status="failed", error={"code": "120", "message": "insufficient balance"}),
    ]
    await rig.watcher().on_task_settled(settled_task("TQE02", place, "xiangji.cutout", items))
    (alert,) = rig.replies(place)
    assert "background removal" in alert and "120" in alert and "quota" in alert.lower()


async def test_an_ordinary_failure_does_not_alert(rig, xiangji):
    place = await rig.thread()
    items = [Item("a.png", status="failed", error={"code": "104", "message": "parameter error"})]
    task = settled_task("TPE01", place, "xiangji.translate_image", items, state=State.FAILED)
    await rig.watcher().on_task_settled(task)
    assert rig.replies(place) == []


async def test_spend_is_counted_per_channel_and_user_once_per_task(rig, xiangji):
    general = await rig.thread(GENERAL, "U0ALICE")
    locale = await rig.thread(LOCALE, "U0BOB")
    bob_general = replace(general, user="U0BOB")
    images = [Item("a.png", status="done"), Item("b.png", status="done")]
    images.append(Item("c.png", status="failed", error={"code": "105", "message": "x"}))
    tasks = [
        settled_task("TS001", general, "xiangji.translate_image", images),
        settled_task("TS002", locale, "xiangji.translate_text", [Item("你好😀", status="done")]),
        settled_task("TS003", bob_general, "xiangji.cutout", [Item("d.png", status="done")]),
        settled_task("TS004", locale, "xiangji.translate_image", [Item("e.png", status="done")]),
    ]
    watcher = rig.watcher()
    for task in [*tasks, tasks[0]]:  # the first one twice: counted once
        await watcher.on_task_settled(task)
    assert text_units("你好😀") == 4  # UTF-16 units, as Xiangji counts
    assert await watcher.usage() == {
        "channels": {
            GENERAL: {"image translation (Aliyun)": 2, "background removal": 1},
            LOCALE: {"text translation": 4, "image translation (Aliyun)": 1},
        },
        "users": {
            "U0ALICE": {"image translation (Aliyun)": 2},
            "U0BOB": {
                "text translation": 4,
                "background removal": 1,
                "image translation (Aliyun)": 1,
            },
        },
    }
    assert (await rig.watcher().usage())["channels"][GENERAL]["image translation (Aliyun)"] == 2


async def test_a_message_translation_spends_by_item_kind(rig, xiangji):
    place = await rig.thread(LOCALE, "U0BOB")
    items = [
        Item("Hello there", status="done", meta={"kind": "text"}),
        Item("https://files.slack.com/a.png", status="done", meta={"kind": "file"}),
        Item("https://files.slack.com/b.png", status="done", meta={"kind": "file"}),
        Item("https://files.slack.com/c.txt", status="failed", meta={"kind": "file"}),
    ]
    task = settled_task("TM001", place, "xiangji.translate_message", items)
    await rig.watcher().on_task_settled(task)
    assert (await rig.watcher().usage())["users"] == {
        "U0BOB": {"text translation": 11, "image translation (Aliyun)": 2}
    }


async def test_a_quota_error_on_a_message_names_the_service_in_flight(rig, xiangji):
    place = await rig.thread()
    items = [
        Item("Hello", status="done", meta={"kind": "text"}),
        Item("https://files.slack.com/a.png", status="pending", meta={"kind": "file"}),
    ]
    error = {"code": "113", "message": "service not activated or account in arrears"}
    task = settled_task(
        "TM002",
        place,
        "xiangji.translate_message",
        items,
        notes={"quota_error": {**error, "kind": "quota"}},
        state=State.FAILED,
    )
    await rig.watcher().on_task_settled(task)
    (alert,) = rig.replies(place)
    assert "image translation (Aliyun)" in alert and "113" in alert and "80828 left" in alert


async def test_report_lists_every_service_then_spend(rig, xiangji):
    xiangji.quota.update({1: 1234, 2: 56789, 8: 7})
    place = await rig.thread(GENERAL, "U0ALICE")
    watcher = rig.watcher()
    task = settled_task("TR001", place, "xiangji.translate_image", [Item("a.png", status="done")])
    await watcher.on_task_settled(task)
    report = await watcher.report()
    assert report.lower().startswith("*xiangji quota*")
    for line in (
        "image translation (Aliyun): 1234 left",
        "text translation: 56789 left",
        "background removal: 7 left",
        f"<#{GENERAL}>: image translation (Aliyun) 1 images",
        "<@U0ALICE>: image translation (Aliyun) 1 images",
    ):
        assert line in report, (line, report)

    rig.clock.advance(300)
    xiangji.faults.http("AmountQuery", 502, times=3)
    stale = await watcher.report()
    assert "image translation (Aliyun): could not be read just now; 1234 left 5 min ago" in stale


async def test_report_does_not_wait_for_a_hanging_endpoint(rig, xiangji):
    watcher = rig.watcher()
    await watcher.read_all()  # a count to fall back on
    xiangji.faults.delay("AmountQuery", 5.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    report = await watcher.report(within=0.3)
    assert loop.time() - started < 2.0
    assert "image translation (Aliyun): could not be read just now; 80828 left" in report
    xiangji.faults.delay("AmountQuery", 0)


async def test_report_without_spend_or_services(rig, xiangji):
    report = await rig.watcher().report()
    assert "Nothing spent through Tolk yet." in report and "80828 left" in report
    assert len(xiangji.requests_for("AmountQuery")) == 3
    empty = await rig.watcher(xiangji=None).report()
    assert "no Xiangji service is configured" in empty
    assert len(xiangji.requests_for("AmountQuery")) == 3  # nothing to read


def test_only_quota_messages_say_quota():
    ordinary = [
        messages.failure("T2345", "Xiangji", "113", "service not activated or account in arrears"),
        messages.done("T2345", 2, 2),
        messages.item_failure("a.png", "120", "insufficient balance"),
    ]
    assert not any("quota" in text.lower() for text in ordinary)
    assert "quota" in messages.quota_alert("image translation (Aliyun)", 99, 100).lower()
    assert (
        "quota"
        in messages.quota_error_alert("image translation (Aliyun)", "113", "arrears").lower()
    )

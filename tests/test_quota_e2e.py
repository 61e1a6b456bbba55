"""Quota alerts through the running app: signed slash commands, real provider work on
the Xiangji emulator, and the watcher on the work engine's after-settle hook."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.tasks import State
from bot.engine.quota import QuotaWatcher
from tests.test_commands_e2e import task_id_in

GENERAL, LOCALE = "C0GENERAL", "C0LOCALE"


@pytest.fixture
def watch(tolk):
    """The app's own watcher, or, with settings changes, one like it in its place."""

    def attach(**settings_changes) -> QuotaWatcher:
        s = tolk.services
        assert s.work.on_settled == s.quota.on_task_settled  # wired by bot/wiring.py
        if not settings_changes:
            return s.quota
        watcher = QuotaWatcher(
            s.store,
            s.xiangji,
            s.work.delivery,
            replace(s.settings, **settings_changes),
            clock=s.clock,
        )
        s.work.on_settled = watcher.on_task_settled
        return watcher

    return attach


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text", "") for m in messages]


def everything(slack, channel: str = GENERAL) -> list[str]:
    """Every message text in ``channel``, top level and threads."""
    out = []
    for message in slack.messages(channel):
        out.append(message.get("text", ""))
        out += texts(slack.thread(channel, message["ts"]))
    return out


def parent_of(slack, task_id: str, channel: str = GENERAL) -> dict:
    (parent,) = [m for m in slack.messages(channel) if task_id in m.get("text", "")]
    return parent


async def test_work_that_crosses_the_threshold_alerts_once_in_its_thread(
    tolk, slack, xiangji, watch
):
    watcher = watch(quota_alert_channel=LOCALE)
    xiangji.quota[1] = 101
    urls = " ".join(xiangji.sample_url(f"q{i}") for i in range(2))
    status, body = await tolk.command("/translate-image", f"zh>ko {urls}")
    assert status == 200
    task_id = task_id_in(body)
    await tolk.settle()

    task = await tolk.services.store.get(task_id)
    assert task.state is State.DELIVERED and xiangji.quota[1] == 99
    thread = texts(slack.thread(GENERAL, parent_of(slack, task_id)["ts"]))
    alerts = [t for t in thread if "quota" in t.lower()]
    assert len(alerts) == 1, thread
    assert "image translation" in alerts[0] and "99" in alerts[0]
    assert texts(slack.messages(LOCALE)) == alerts  # the alert channel's copy

    # More work below the threshold: no second alert for the same crossing.
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('q9')}")
    second = task_id_in(body)
    await tolk.settle()
    assert xiangji.quota[1] == 98
    thread = texts(slack.thread(GENERAL, parent_of(slack, second)["ts"]))
    assert not any("quota" in t.lower() for t in thread) and thread
    assert len(slack.messages(LOCALE)) == 1

    usage = await watcher.usage()
    assert usage["channels"][GENERAL] == {"image translation (Aliyun)": 3}
    assert usage["users"]["U0ALICE"] == {"image translation (Aliyun)": 3}
    report = await watcher.report()
    assert "image translation (Aliyun): 98 left" in report
    assert "image translation (Aliyun) 3 images" in report


async def test_a_quota_error_gives_a_failure_and_a_separate_alert(tolk, slack, xiangji, watch):
    watch()
    xiangji.faults.code("GetImageTranslate", 113)
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    task_id = task_id_in(body)
    await tolk.settle()

    task = await tolk.services.store.get(task_id)
    assert task.state is State.FAILED and task.notes["quota_error"]["code"] == "113"
    failure, alert = texts(slack.thread(GENERAL, parent_of(slack, task_id)["ts"]))
    assert "113" in failure and task_id in failure and "quota" not in failure.lower()
    assert "quota" in alert.lower() and "image translation" in alert and "113" in alert
    assert "80828 left" in alert  # the count read right after, named in the alert


async def test_an_exhausted_service_fails_the_task_and_alerts_once(tolk, slack, xiangji, watch):
    watch()
    xiangji.quota[8] = 0
    _, body = await tolk.command("/cutout", xiangji.sample_url("shoe"))
    task_id = task_id_in(body)
    await tolk.settle()
    failure, alert = texts(slack.thread(GENERAL, parent_of(slack, task_id)["ts"]))
    assert "113" in failure and "quota" not in failure.lower()
    assert "quota" in alert.lower() and "background removal" in alert and "0 left" in alert


async def test_a_text_translation_alerts_in_the_thread_of_its_answer(tolk, slack, xiangji, watch):
    watcher = watch()
    xiangji.quota[2] = 103
    await tolk.command("/translate", "zh>en 我是中国人")
    await tolk.settle()
    assert xiangji.quota[2] == 98
    (answer,) = slack.messages(GENERAL)
    assert "I am Chinese" in answer["text"] and "quota" not in answer["text"].lower()
    (alert,) = texts(slack.thread(GENERAL, answer["ts"]))
    assert "quota" in alert.lower() and "text translation has 98 left" in alert
    assert (await watcher.usage())["users"]["U0ALICE"] == {"text translation": 5}


async def test_result_and_failure_messages_never_say_quota(tolk, slack, xiangji, watch):
    watch()
    xiangji.quota[1] = 101
    xiangji.faults.item(1, code=104)  # the second image of the batch fails
    urls = " ".join(xiangji.sample_url(f"m{i}") for i in range(3))
    await tolk.command("/translate-image", f"zh>ko {urls}")
    await tolk.settle()
    xiangji.faults.code("GetImageTranslate", 104)
    await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url('bad')}")
    await tolk.settle()

    said = everything(slack)
    alerts = [t for t in said if "quota" in t.lower()]
    assert (
        len(alerts) == 1 and "image translation (Aliyun) has 99 left" in alerts[0]
    )  # 101 - 2 done
    others = [t for t in said if t not in alerts]
    assert any("104" in t for t in others) and any("2 of 3" in t for t in others)
    assert not any("quota" in t.lower() for t in others)

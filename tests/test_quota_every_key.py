"""The quota of every Xiangji key (issue 17, items 3 and 4) through the running app:
`/tolk quota` and the Home tab read each configured key with its own parameter and
``Sign = md5(Type_UserKey_Key)``; an image task spends and alerts on its engine's key;
text through Google, Papago or DeepL is counted as the estimate range Xiangji bills."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from bot.engine.quota import QuotaWatcher
from providers.xiangji.wire import QUOTA_KEY_PARAMS, QUOTA_SERVICES
from tests.handlers.slack.test_home import home_text, open_home
from tests.test_commands_e2e import task_id_in
from tests.test_engines import parent_and_thread, tolk_without

GENERAL, LOCALE = "C0GENERAL", "C0LOCALE"
EVERY_TYPE = (1, 2, 3, 4, 5, 7, 8, 9)
ESTIMATE = "(an estimate: Xiangji bills Google, Papago and DeepL text at 3–4.5× the characters)"


def watcher_with(tolk, **settings_changes) -> QuotaWatcher:
    """The app's watcher, or one like it with other settings, on the after-work hook."""
    s = tolk.services
    watcher = QuotaWatcher(
        s.store, s.xiangji, s.work.delivery, replace(s.settings, **settings_changes), clock=s.clock
    )
    s.quota = watcher
    s.work.on_settled = watcher.on_task_settled
    return watcher


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def test_tolk_quota_lists_every_configured_key_with_its_count(tolk, xiangji):
    xiangji.quota.update({1: 1111, 2: 222_222, 3: 3333, 4: 4444, 5: 5555, 7: 7777, 8: 888, 9: 99})
    status, body = await tolk.command("/tolk", "quota")
    assert status == 200
    for quota_type in EVERY_TYPE:
        assert f"• {QUOTA_SERVICES[quota_type]}: {xiangji.quota[quota_type]} left" in body
    assert "video translation: 99 left (not used by Tolk; no alerts)" in body

    sent = {r.params["Type"]: r for r in xiangji.requests_for("AmountQuery")}
    assert sorted(sent, key=int) == [str(t) for t in EVERY_TYPE]
    for quota_type in EVERY_TYPE:
        params = sent[str(quota_type)].params
        key = xiangji.keys[quota_type]
        param = QUOTA_KEY_PARAMS[quota_type]
        assert params == {
            "Type": str(quota_type),
            param: key,
            "Sign": md5(f"{quota_type}_xj-user_{key}"),
        }
        assert sent[str(quota_type)].method == "POST"


async def test_only_configured_keys_are_read_and_shown(env, xiangji):
    unset = ("XIANGJI_IMG_TRANS_PAPAGO_KEY", "XIANGJI_VIDEO_TRANS_KEY", "XIANGJI_MATTING_KEY")
    async with tolk_without(env, *unset) as tolk:
        _, body = await tolk.command("/tolk", "quota")
    assert sorted(int(r.params["Type"]) for r in xiangji.requests_for("AmountQuery")) == [
        1, 2, 3, 5, 7
    ]  # fmt: skip
    for quota_type in (4, 8, 9):
        assert QUOTA_SERVICES[quota_type] not in body
    assert f"{QUOTA_SERVICES[3]}: {xiangji.quota[3]} left" in body


async def test_the_home_tab_shows_every_key(tolk, slack, xiangji):
    xiangji.quota.update({3: 12_345, 9: 42})
    status, _ = await open_home(tolk)
    assert status == 200
    text = home_text(slack)
    for quota_type in EVERY_TYPE:
        assert f"• {QUOTA_SERVICES[quota_type]}: {xiangji.quota[quota_type]:,} left" in text


async def test_a_low_google_key_alerts_in_the_thread_of_google_work(tolk, slack, xiangji):
    watcher_with(tolk, quota_alert_channel=LOCALE)
    xiangji.quota.update({3: 101, 1: 50})  # Aliyun is low too, but this work did not spend it
    urls = " ".join(xiangji.sample_url(f"g{i}") for i in range(2))
    _, body = await tolk.command("/translate-image", f"zh>ko {urls} --engine google")
    task_id = task_id_in(body)
    await tolk.settle()

    assert xiangji.quota[3] == 99 and xiangji.quota[1] == 50
    _, thread = parent_and_thread(slack, task_id)
    alerts = [m["text"] for m in thread if "quota" in m["text"].lower()]
    assert alerts == [
        ":warning: Xiangji quota low: image translation (Google) has 99 left (threshold 100). "
        "Top up the Xiangji account before it runs out."
    ]
    assert [m["text"] for m in slack.messages(LOCALE)] == alerts
    read = {r.params["Type"] for r in xiangji.requests_for("AmountQuery")}
    assert read == {"3"}  # after Google work, only Google's key is read

    usage = await tolk.services.quota.usage()
    assert usage["users"]["U0ALICE"] == {"image translation (Google)": 2}


async def test_an_exhausted_engine_key_fails_the_task_and_names_that_key(tolk, slack, xiangji):
    watcher_with(tolk)
    xiangji.quota[7] = 0
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()} --engine deepl")
    task_id = task_id_in(body)
    await tolk.settle()
    _, thread = parent_and_thread(slack, task_id)
    failure, alert = (m["text"] for m in thread)
    assert "113" in failure and "quota" not in failure.lower()
    assert "image translation (DeepL)" in alert and "0 left" in alert and "113" in alert


async def test_video_is_shown_and_never_alerted(tolk, slack, xiangji):
    watcher = watcher_with(tolk, quota_alert_channel=LOCALE)
    xiangji.quota.update({9: 1, 5: 3})
    posted = await watcher.check(reason="schedule")
    assert len(posted) == 1 and "image translation (Baidu) has 3 left" in posted[0]
    assert not any("video" in m["text"] for m in slack.messages(LOCALE))
    assert (await watcher.read_all())["video translation"] == 1
    assert not any(c.type == 9 for c in xiangji.charges)


async def test_text_spend_is_an_estimate_for_deepl_and_exact_for_aliyun(tolk, xiangji):
    watcher_with(tolk)
    text = "我是中国人" * 200  # 1,000 characters
    await tolk.command("/translate", f"zh>en {text} --engine deepl", channel=GENERAL)
    await tolk.command("/translate", f"zh>en {text}", user="U0BOB", channel=LOCALE)
    await tolk.settle()
    assert [r.params.get("Type") for r in xiangji.requests_for("GetTextTranslate")] == ["4", None]

    usage = await tolk.services.quota.usage()
    assert usage["users"]["U0ALICE"] == {"text translation": [3000, 4500]}
    assert usage["users"]["U0BOB"] == {"text translation": 1000}
    _, report = await tolk.command("/tolk", "quota")
    estimate = f"text translation ~3,000–4,500 characters of quota {ESTIMATE}"
    assert f"• <@U0ALICE>: {estimate}" in report and f"• <#{GENERAL}>: {estimate}" in report
    assert "• <@U0BOB>: text translation 1,000 characters" in report
    assert f"• <#{LOCALE}>: text translation 1,000 characters" in report
    # Xiangji's own count lies inside the estimate (the emulator charges the high end).
    (deepl_charge, aliyun_charge) = [c.amount for c in xiangji.charges if c.type == 2]
    assert 3000 <= deepl_charge <= 4500 and aliyun_charge == 1000


async def test_exact_and_estimated_spend_add_up_to_a_range(tolk, xiangji):
    watcher_with(tolk)
    await tolk.command("/translate", "zh>en 你好 --engine google")  # 2 characters: 6–9
    await tolk.command("/translate", "zh>en 谢谢")  # 2 characters, exact
    await tolk.settle()
    usage = await tolk.services.quota.usage()
    assert usage["users"]["U0ALICE"] == {"text translation": [8, 11]}
    assert usage["channels"][GENERAL] == {"text translation": [8, 11]}

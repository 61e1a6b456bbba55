"""Spend before it goes (issue 20 item 4), monthly limits: ``/tolk config limit images
2000/month`` per channel; work that would go past a limit is refused before any task and
any provider call, saying what is left and who can raise it. Through the wire: signed
commands and events into the running app; assertions on the answers, the Slack and
Xiangji emulators and the store."""

from __future__ import annotations

import calendar
import time
from dataclasses import replace

import pytest

from bot.core import messages
from bot.core.spend import cost_of, text_cost, text_units
from bot.core.tasks import Item
from tests.conftest import poll_round
from tests.handlers.slack.test_spend_confirm import (
    ADMIN,
    GENERAL,
    LOCALE,
    admin,  # noqa: F401  (a fixture)
    configure,
    ephemeral_texts,
    estimates,
    image_calls,
    press,
    tasks,
    urls,
)
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import png, send_event

pytestmark = pytest.mark.usefixtures("admin")  # a workspace admin sets the limits


def month() -> str:
    return time.strftime("%B %Y", time.gmtime())


async def test_a_limit_refuses_what_would_go_past_it_and_counts_accumulate(tolk, slack, xiangji):
    body = await configure(tolk, "limit images 5/month")
    assert "5 images a month" in body
    _, first = await tolk.command("/translate-image", f"zh>ko {urls(xiangji, 3)}")
    task_id_in(first)
    _, refused = await tolk.command("/translate-image", f"zh>ko {urls(xiangji, 3)}")
    assert "monthly limit" in refused and "needs 3 images" in refused
    assert f"2 of 5 are left in {month()}" in refused
    assert "Workspace admins and owners can raise it" in refused
    assert "/tolk config limit images N/month" in refused
    await tolk.settle()
    assert len(await tasks(tolk)) == 1 and len(image_calls(xiangji)) == 1  # the first only

    _, second = await tolk.command("/cutout", urls(xiangji, 2))  # cutouts are images too
    task_id_in(second)
    _, third = await tolk.command("/translate-image", f"ko {xiangji.sample_url()}")
    assert f"0 of 5 are left in {month()}" in third
    assert len(await tasks(tolk)) == 2

    _, shown = await tolk.command("/tolk", "config show")
    assert f"limit images: 5/month — 5 used in {month()}" in shown
    assert f"limit characters: off — 0 used in {month()}" in shown


async def test_limits_are_per_channel(tolk, slack, xiangji):
    await configure(tolk, "limit images 1/month")
    _, refused = await tolk.command("/translate-image", f"ko {urls(xiangji, 2)}")
    assert "monthly limit" in refused
    _, elsewhere = await tolk.command("/translate-image", f"ko {urls(xiangji, 2)}", channel=LOCALE)
    task_id_in(elsewhere)
    await tolk.settle()
    assert await tasks(tolk) == [] and len(await tasks(tolk, LOCALE)) == 1
    _, shown = await tolk.command("/tolk", "config show", channel=LOCALE)
    assert f"limit images: off — 2 used in {month()}" in shown


async def test_a_characters_limit_counts_text_into_each_language(tolk, slack, xiangji):
    await configure(tolk, "limit characters 20/month")
    _, first = await tolk.command("/translate", "zh>en,ja 你好世界")  # 4 characters × 2
    task_id_in(first)
    _, refused = await tolk.command("/translate", "zh>en 我是中国人我是中国人我是中国人")
    assert "needs 15 characters" in refused and "12 of 20 are left" in refused
    await tolk.settle()
    assert len(xiangji.requests_for("GetTextTranslate")) == 2  # en and ja of the first


async def test_limit_off_lifts_it(tolk, slack, xiangji):
    await configure(tolk, "limit images 0/month")
    _, refused = await tolk.command("/translate-image", f"ko {xiangji.sample_url()}")
    assert "0 of 0 are left" in refused
    assert "off for images" in await configure(tolk, "limit images off")
    _, body = await tolk.command("/translate-image", f"ko {xiangji.sample_url()}")
    task_id_in(body)


async def test_bad_limits_get_a_clear_usage_message(tolk, slack, xiangji):
    cases = {
        "limit images lots": "`limit images` needs a whole number per month or `off` — not `lots`",
        "limit": "`limit` needs `images` or `characters`",
        "limit pages 5/month": "not `pages`",
        "limit images -5/month": "not `-5/month`",
        "limit characters 5/week": "not `5/week`",
        "confirm-over lots": "`confirm-over` needs a whole number of images — not `lots`",
        "confirm-over 5 pages": "not `5 pages`",
    }
    for setting, expected in cases.items():
        status, body = await tolk.command("/tolk", f"config {setting}", user=ADMIN)
        assert status == 200 and expected in body, (setting, body)
        assert "Usage: `/tolk config confirm-over N`" in body, body  # and the rest
    _, shown = await tolk.command("/tolk", "config show")
    assert "limit images: off" in shown and "(default)" in shown  # nothing was saved


async def test_only_admins_set_limits(tolk, slack, xiangji):
    _, body = await tolk.command("/tolk", "config limit images 5/month")  # Alice
    assert "Only workspace admins and owners can change what this channel may spend" in body
    _, body = await tolk.command("/tolk", "config confirm-over 500")
    assert "Only workspace admins" in body
    _, shown = await tolk.command("/tolk", "config show")
    assert "limit images: off" in shown and "confirm-over: 50 images" in shown


async def test_a_flag_past_a_limit_is_told_to_the_person_alone(tolk, slack, xiangji):
    await configure(tolk, "limit images 1/month")
    files = [(f"p{i}.png", png(), "image/png") for i in range(2)]
    message = slack.post_user_message(GENERAL, "U0BOB", "", files=files)
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": GENERAL, "ts": message["ts"]},
    }
    assert await send_event(tolk, reaction) == 200
    (note,) = ephemeral_texts(slack, "U0ALICE")
    assert "monthly limit" in note and "1 of 1 are left" in note
    assert slack.thread(GENERAL, message["ts"]) == [] and await tasks(tolk) == []


async def test_go_checks_the_limit_again(tolk, slack, xiangji):
    """The month can fill up while an estimate waits: Go then refuses, on the card."""
    await configure(tolk, "limit images 6/month")
    await configure(tolk, "confirm-over 3")
    await tolk.command("/translate-image", f"ko {urls(xiangji, 4)}")
    (card,) = estimates(slack)
    assert "This channel in " in card["text"] and "6 of 6 images left" in card["text"]
    _, body = await tolk.command("/translate-image", f"ko {urls(xiangji, 3)}", user="U0BOB")
    task_id_in(body)
    await press(tolk, slack, card, messages.SPEND_GO, "U0ALICE")
    assert len(await tasks(tolk)) == 1  # Bob's only
    updated = next(m for m in slack.messages(GENERAL) if m["ts"] == card["ts"])
    assert "monthly limit" in updated["text"] and "3 of 6 are left" in updated["text"]


async def test_a_new_month_starts_afresh(timed_tolk, slack, xiangji, clock):
    tolk = timed_tolk
    await configure(tolk, "limit images 2/month")
    clock.now = calendar.timegm((2025, 5, 31, 23, 0, 0))
    _, body = await tolk.command("/translate-image", f"ko {urls(xiangji, 2)}")
    task_id_in(body)
    _, refused = await tolk.command("/translate-image", f"ko {xiangji.sample_url()}")
    assert "0 of 2 are left in May 2025" in refused
    clock.advance(2 * 3600)  # 1 June, UTC
    _, body = await tolk.command("/translate-image", f"ko {xiangji.sample_url()}")
    task_id_in(body)
    await poll_round(tolk)
    _, shown = await tolk.command("/tolk", "config show")
    assert "limit images: 2/month — 1 used in June 2025" in shown


def test_what_work_costs() -> None:
    """Counted as recorded: images are items of image work (one per image and language),
    characters the UTF-16 length of each text item; what failed before it started, and
    documents (their length is unknown until read), cost nothing."""
    text = Item("你好😀", meta={"kind": "text"})  # 4 characters as Xiangji counts them
    image = Item("https://files.example/a.png", meta={"kind": "file"})
    skipped = Item("https://files.example/b.png", meta={"kind": "file"}, status="failed")
    per_language = tuple(
        replace(i, meta={**i.meta, "target": t})
        for i in (text, image, skipped)
        for t in ("ko", "ja")
    )
    cost = cost_of("xiangji.translate_message", {"engine": "google"}, per_language)
    assert (cost.images, cost.characters) == (2, 8)
    assert cost.credits == (("image translation (Google)", 2, 2), ("text translation", 8, 8))
    google_text = cost_of("xiangji.translate_text", {"engine": "google"}, (text,))
    assert google_text.credits == (("text translation", 12, 18),) and google_text.text_engine
    assert cost_of("xiangji.cutout", {}, (image,)).credits == (("background removal", 1, 1),)
    assert cost_of("alibaba.translate_image", {}, (image,)).credits == ()
    assert not cost_of("alibaba.translate_doc", {}, (image,))
    assert text_cost(10, "deepl") == (30, 45) and text_units("😀") == 2

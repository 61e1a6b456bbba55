"""Every answer reaches the person (PRODUCT.md, second round): signed requests in, the
strict Slack emulator's calls out. Long translations are posted whole, nothing Tolk posts
pings a channel, and where Tolk cannot post the answer comes through the command's
``response_url`` or a DM."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.core.mrkdwn import SECTION
from bot.core.tasks import State
from emulators import xiangji as xiangji_emulator
from emulators.blockkit import validate_blocks
from emulators.slack import SlackEmulator
from tests.conftest import FakeClock, Tolk, poll_round
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import send_event

ALICE = "U0ALICE"


def bot_posts(slack: SlackEmulator) -> list[dict[str, Any]]:
    """Every message the bot has in the workspace, threads included."""
    found = []
    for channel in slack.channels.values():
        for message in [*channel.messages, *(m for r in channel.replies.values() for m in r)]:
            if message.get("user") == slack.bot_user_id:
                found.append(message)
    return found


def dm_with(slack: SlackEmulator, user: str) -> str:
    return next(
        c.id for c in slack.channels.values() if c.is_im and c.members == {slack.bot_user_id, user}
    )


async def react(tolk: Tolk, message: dict[str, Any], flag: str, channel: str = "C0GENERAL") -> None:
    event = {
        "type": "reaction_added",
        "user": ALICE,
        "reaction": flag,
        "item": {"type": "message", "channel": channel, "ts": message["ts"]},
    }
    assert await send_event(tolk, event) == 200


def secret_channel(slack: SlackEmulator) -> str:
    slack.add_channel("G0SECRET", "secret", is_private=True, member=False, members=[ALICE])
    return "G0SECRET"


# --- long text -------------------------------------------------------------------------


async def test_a_long_translation_is_posted_whole_within_slacks_limits(tolk: Tolk, slack):
    text = " ".join(f"Paragraph {n} tells a long story about the product." for n in range(80))
    text = "\n\n".join([text[:1200]] * 3)  # 3,600 characters in three paragraphs
    _, body = await tolk.command("/translate", f"en>ja {text}")
    await tolk.settle()
    (message,) = slack.messages("C0GENERAL")
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) >= 2 and all(len(s) <= SECTION for s in sections)
    shown = " ".join(" ".join(sections).split())
    assert " ".join(f"[JPN] {text}".split()) == shown  # every word, in order, nothing cut
    assert validate_blocks(message["blocks"]) == []
    task = await tolk.services.store.get(task_id_in(body))
    assert task is not None and task.state is State.DELIVERED and task.settled


async def test_a_flag_on_a_very_long_message_gives_a_preview_and_the_whole_text_as_a_file(
    tolk: Tolk, slack
):
    words = "The new model ships with a faster charger and a longer warranty. "
    text = "\n\n".join([words * 12] * 20)  # ~16,000 characters
    message = slack.post_user_message("C0GENERAL", ALICE, text)
    await react(tolk, message, "jp")
    await tolk.settle()
    replies = slack.thread("C0GENERAL", message["ts"])
    preview = next(m for m in replies if m.get("blocks"))
    assert "the whole translation is in the text file" in preview["text"]
    assert validate_blocks(preview["blocks"]) == []
    attached = next(f for f in slack.files.values() if f.name.startswith("translation-ja-"))
    content = attached.content.decode()
    assert content.count("faster charger") == text.count("faster charger")  # whole
    assert attached.thread_ts == message["ts"]


# --- nothing posted pings anyone --------------------------------------------------------


async def test_what_the_person_typed_is_posted_escaped(tolk: Tolk, slack):
    await tolk.command("/translate", "en>ja x &lt; 3 &amp; y")
    await tolk.settle()
    (message,) = slack.messages("C0GENERAL")
    section = message["blocks"][0]["text"]["text"]
    assert "x &lt; 3 &amp; y" in section and "<" not in section.replace("<@", "")


async def test_a_translator_that_answers_with_a_ping_or_a_link_pings_nobody(
    tolk: Tolk, slack, monkeypatch
):
    hostile = "<!channel> 今日は <https://evil.example/login|ここをクリック>"
    monkeypatch.setitem(xiangji_emulator.PHRASES, ("Good day", "JPN"), hostile)
    await tolk.command("/translate", "en>ja Good day")
    await tolk.settle()
    (message,) = slack.messages("C0GENERAL")
    everything = str(message["text"]) + str(message["blocks"])
    assert "<!channel>" not in everything and "<https://evil.example" not in everything
    assert "&lt;!channel&gt;" in message["blocks"][0]["text"]["text"]


async def test_a_quoted_original_with_channel_pings_is_shown_without_pinging(tolk: Tolk, slack):
    await tolk.command("/translate", "en>ja <!channel> <!here> sale starts now, <@U0BOB>")
    await tolk.settle()
    (message,) = slack.messages("C0GENERAL")
    context = message["blocks"][-1]["elements"][0]["text"]
    assert "@channel" in context and "<!channel>" not in context and "<!here>" not in context
    assert "<@U0BOB>" in context  # the person's own mention stays


async def test_a_file_named_like_a_ping_is_shown_as_its_name(tolk: Tolk, slack):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    message = slack.post_user_message(
        "C0GENERAL", ALICE, "", files=[("<!here> promo.png", png, "image/png")]
    )
    await react(tolk, message, "flag-kr")
    await tolk.settle()
    posted = " ".join(str(m.get("text")) + str(m.get("blocks")) for m in bot_posts(slack))
    assert "<!here>" not in posted
    assert "&lt;!here&gt; promo" in posted


# --- where Tolk cannot post -------------------------------------------------------------


async def test_translate_in_an_uninvited_private_channel_answers_through_response_url(
    tolk: Tolk, slack
):
    channel = secret_channel(slack)
    url = slack.new_response_url(channel=channel, user=ALICE)
    _, body = await tolk.command("/translate", "zh>en 你好", channel=channel, response_url=url)
    await tolk.settle()
    (answer,) = slack.responses
    assert answer["response_type"] == "in_channel" and "Hello" in str(answer["blocks"])
    assert [m["text"] for m in slack.messages(channel)] != []  # visible in the channel
    tries = [c for c in slack.calls_to("chat.postMessage") if c.args.get("channel") == channel]
    assert len(tries) == 1  # refused once, never retried
    task = await tolk.services.store.get(task_id_in(body))
    assert task is not None and task.state is State.DELIVERED and task.settled


async def test_images_from_an_uninvited_private_channel_come_to_a_dm(tolk: Tolk, slack):
    channel = secret_channel(slack)
    url = slack.new_response_url(channel=channel, user=ALICE)
    started = time.monotonic()
    _, body = await tolk.command(
        "/translate-image",
        "zh>ko https://example.com/a.jpg https://example.com/b.jpg",
        channel=channel,
        response_url=url,
    )
    await tolk.settle()
    assert time.monotonic() - started < 10
    dm = dm_with(slack, ALICE)
    (parent,) = slack.messages(dm)
    assert f"<#{channel}>" in parent["text"] and "/invite @Tolk" in parent["text"]
    replies = slack.thread(dm, parent["ts"])
    assert [f["name"] for m in replies for f in m.get("files", [])] == [
        f"a-ko-{task_id_in(body)}-1.png",
        f"b-ko-{task_id_in(body)}-2.png",
    ]
    assert "Done" in replies[-1]["text"]  # the one final message, in the DM thread
    (notice,) = slack.responses  # told where the results went, in the channel, only to Alice
    assert notice["response_type"] == "ephemeral" and "direct messages" in notice["text"]
    assert "/invite @Tolk" in notice["text"]


async def test_with_no_dm_to_be_had_the_final_word_comes_through_response_url(tolk: Tolk, slack):
    slack.scopes = slack.scopes - {"im:write"}
    channel = secret_channel(slack)
    url = slack.new_response_url(channel=channel, user=ALICE)
    _, body = await tolk.command(
        "/translate-image", "zh>ko https://example.com/a.jpg", channel=channel, response_url=url
    )
    await tolk.settle()
    (answer,) = slack.responses
    assert answer["response_type"] == "ephemeral"
    assert "/invite @Tolk" in answer["text"] and f"/tolk retry {task_id_in(body)}" in answer["text"]
    task = await tolk.services.store.get(task_id_in(body))
    assert task is not None and task.state is State.FAILED and task.settled


async def test_a_channel_archived_mid_batch_sends_the_rest_to_a_dm(
    timed_tolk: Tolk, slack, clock: FakeClock
):
    _, body = await timed_tolk.command(
        "/translate-image", "zh>ko https://example.com/a.jpg https://example.com/b.jpg"
    )
    await poll_round(timed_tolk)  # parent posted, batch submitted
    assert len(slack.messages("C0GENERAL")) == 1
    slack.archive("C0GENERAL")
    for _ in range(6):
        clock.advance(5)
        await poll_round(timed_tolk)
    task = await timed_tolk.services.store.get(task_id_in(body))
    assert task is not None and task.settled and task.state is State.DELIVERED
    dm = dm_with(slack, ALICE)
    (parent,) = slack.messages(dm)
    assert "archived" in parent["text"]
    names = [f["name"] for m in slack.thread(dm, parent["ts"]) for f in m.get("files", [])]
    assert len(names) == 2


async def test_an_answer_slack_gives_as_html_is_retried_not_a_crash(tolk: Tolk, slack):
    slack.faults.add(
        "chat.postMessage", status=502, body="<html>Bad Gateway</html>", content_type="text/html"
    )
    _, body = await tolk.command("/translate-image", "zh>ko https://example.com/a.jpg")
    await tolk.settle()
    task = await tolk.services.store.get(task_id_in(body))
    assert task is not None and task.settled and task.state is State.DELIVERED
    replies = slack.thread("C0GENERAL", slack.messages("C0GENERAL")[0]["ts"])
    assert sum("Done" in m["text"] for m in replies) == 1


@pytest.mark.parametrize("kind", ["invalid_blocks", "msg_too_long"])
async def test_a_message_slack_refuses_is_sent_again_as_plain_text(tolk: Tolk, slack, kind):
    _, body = await tolk.command("/translate-image", "zh>ko https://example.com/a.jpg")
    await tolk.settle()
    slack.faults.add("chat.postMessage", status=200, error=kind)
    _, body = await tolk.command("/translate", "zh>en 你好")
    await tolk.settle()
    task = await tolk.services.store.get(task_id_in(body))
    assert task is not None and task.settled and task.state is State.DELIVERED
    assert "Hello" in slack.messages("C0GENERAL")[-1]["text"]

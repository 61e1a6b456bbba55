"""Issue 15 §5, "what people type": each mistake seen in a trial, sent as the person typed
it (a signed slash command or event through the running app), and what came back: an
ephemeral answer that says what was wrong and how to write it, with no task recorded and
no provider called — or, for what Tolk now reads, the task it made."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest

from emulators.alibaba import AlibabaMTEmulator
from emulators.rozetta import RozettaEmulator
from tests.conftest import Tolk
from tests.test_alibaba_e2e import CREATE_DOC, alibaba_env, running, until
from tests.test_commands_e2e import task_id_in
from tests.test_rozetta_e2e import rozetta_env
from tests.test_surfaces import send_event, send_interaction, thread_files

CHANNEL = "C0GENERAL"


async def answer(tolk: Tolk, command: str, text: str, **kwargs: str) -> str:
    status, body = await tolk.command(command, text, **kwargs)
    assert status == 200, body
    return json.loads(body)["text"] if body.startswith("{") else body  # Bolt: text alone is plain


async def nothing_happened(tolk: Tolk, slack, xiangji, channel: str = CHANNEL) -> None:
    await tolk.settle()
    assert xiangji.requests == []
    assert slack.messages(channel) == []
    assert await tolk.services.store.list_for_channel(channel, active_only=False) == []


def reaction(name: str, ts: str, channel: str = CHANNEL) -> dict:
    return {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": name,
        "item": {"type": "message", "channel": channel, "ts": ts},
    }


# --- 1. two languages without ">" (or with spaces around it) --------------------------------


@pytest.mark.parametrize(
    ("command", "typed", "corrected"),
    [
        ("/translate", "en ja hello", "/translate en>ja hello"),
        ("/translate", "en-ja hello", "/translate en>ja hello"),
        ("/translate", "en &gt; ja hello", "/translate en>ja hello"),  # as Slack sends ">"
        ("/translate", "en > ja hello", "/translate en>ja hello"),
        ("/translate", "en&gt; ja hello --private", "/translate en>ja hello --private"),
        ("/translate", "ko ja hello", "/translate ko>ja hello"),
        ("/translate", "english japanese hello", "/translate en>ja hello"),
        ("/translate-image", "zh ko https://example.com/a.jpg", "zh>ko https://example.com/a.jpg"),
        ("/translate-image", "zh-ko https://example.com/a.jpg --ocr", "zh>ko https://"),
        ("/translate-doc", "en ja https://example.com/a.docx", "/translate-doc en>ja https://"),
        ("/translate-doc", "en &gt;ja https://example.com/a.docx", "/translate-doc en>ja"),
        ("/tolk", "config defaults en ja", "/tolk config defaults en>ja"),
        ("/tolk", "config auto-images on zh &gt; ko", "/tolk config auto-images on zh>ko"),
        ("/tolk", "config auto-docs on en-ja --provider rozetta", "auto-docs on en>ja --provider"),
    ],
)
async def test_two_languages_get_the_corrected_command(
    tolk, slack, xiangji, command, typed, corrected
):
    text = await answer(tolk, command, typed)
    assert "Did you mean" in text and corrected in text, text
    assert "already in" not in text
    assert "Usage:" in text
    await nothing_happened(tolk, slack, xiangji)
    shown = await answer(tolk, "/tolk", "config show")
    assert "auto-images: off" in shown and "defaults: none" in shown


async def test_a_first_word_that_is_also_a_code_stays_text(tolk, slack, xiangji):
    """ "hi", "it", "no" … are words before they are Hindi, Italian, Norwegian."""
    text = await answer(tolk, "/translate", "ja hi there")
    task_id_in(text)
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert (sent.params["Text"], sent.params["TargetLanguage"]) == ("hi there", "JPN")


@pytest.mark.parametrize(
    ("typed", "code"), [("zh-TW", "CHT"), ("zh-Hant-TW", "CHT"), ("es-MX", "ESP")]
)
async def test_real_locale_tags_keep_working(tolk, slack, xiangji, typed, code):
    text = await answer(tolk, "/translate", f"{typed} 你好")
    task_id_in(text)
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["TargetLanguage"] == code


# --- 2. unknown options are refused everywhere ------------------------------------------------


@pytest.mark.parametrize(
    ("command", "typed", "expected"),
    [
        ("/translate", "en>ja hello --engin deepl", "did you mean `--engine`"),
        ("/translate", "en&gt;ja hello --engin deepl", "did you mean `--engine`"),
        ("/translate", "en>ja --privat hello", "did you mean `--private`"),
        ("/translate", "ja run it with --verbose please", "backticks"),
        ("/translate-image", "zh>ko https://example.com/a.jpg --remove", "`--removed`"),
        ("/translate-image", "zh>ko https://example.com/a.jpg --provder alibaba", "`--provider`"),
        ("/translate-doc", "en>ja https://example.com/a.docx --scen tech", "`--scene`"),
        ("/cutout", "https://example.com/a.png --bgcolor 1,2,3", "`--bg`"),
        ("/media-job", "ImageCartoonize oss://my-bucket/a.jpg --wait", "no options"),
        ("/tolk", "tasks --all", "no options"),
        ("/tolk", "cancel T7Q2K --force", "no options"),
        ("/tolk", "config auto-docs on en>ja --provder rozetta", "`--provider`"),
        ("/tolk", "config defaults en --private", "Unknown option `--private`"),
    ],
)
async def test_unknown_options_are_refused_with_the_closest_one(
    tolk, slack, xiangji, command, typed, expected
):
    text = await answer(tolk, command, typed)
    assert expected in text, text
    assert "Usage:" in text
    await nothing_happened(tolk, slack, xiangji)


async def test_an_option_is_never_posted_as_text(tolk, slack, xiangji):
    await answer(tolk, "/translate", "en>ja hello --engin deepl")
    await tolk.settle()
    assert not [m for m in slack.messages(CHANNEL) if "--engin" in json.dumps(m)]


# --- 3. multi-word language names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "source", "target"),
    [
        ("english>traditional chinese hello", "ENG", "CHT"),
        ("traditional chinese hello", "ENG", "CHT"),
        ("English>Chinese (Traditional) hello", "ENG", "CHT"),
        ("simplified chinese hello", "ENG", "CHS"),
        ("brazilian portuguese hello", "ENG", "PTB"),
    ],
)
async def test_multi_word_names_are_read(tolk, slack, xiangji, typed, source, target):
    text = await answer(tolk, "/translate", typed)
    task_id_in(text)
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["Text"] == "hello"
    assert (sent.params["SourceLanguage"], sent.params["TargetLanguage"]) == (source, target)


async def test_multi_word_names_in_settings(tolk):
    await answer(tolk, "/tolk", "config defaults english>traditional chinese")
    shown = await answer(tolk, "/tolk", "config show")
    assert "defaults: en→zh-TW" in shown


# --- 4. auto-docs without a source, where the provider needs one ------------------------------


async def test_auto_docs_without_a_source_needs_one_for_alibaba(tolk, slack, xiangji):
    text = await answer(tolk, "/tolk", "config auto-docs on ko")
    assert "`/tolk config auto-docs on SRC>ko`" in text and "--provider rozetta" in text, text
    assert "Usage:" in text
    await nothing_happened(tolk, slack, xiangji)
    assert "auto-docs: off" in await answer(tolk, "/tolk", "config show")
    assert "set `auto-docs`" in await answer(tolk, "/tolk", "config auto-docs on en>ko")
    assert "set `auto-docs`" in await answer(
        tolk, "/tolk", "config auto-docs on ko --provider rozetta"
    )
    text = await answer(tolk, "/tolk", "config auto-docs on zh-TW>ko")  # Alibaba's own rule
    assert "Traditional Chinese" in text


# --- 5. URLs separated by commas ------------------------------------------------------------------


@pytest.mark.parametrize("sep", [",", ", ", " , "])
async def test_comma_separated_image_urls_are_several(tolk, slack, xiangji, sep):
    urls = [xiangji.sample_url("p1"), xiangji.sample_url("p2")]
    text = await answer(tolk, "/translate-image", f"zh>ko {sep.join(urls)}")
    task = await tolk.services.store.get(task_id_in(text))
    assert [i.source for i in task.items] == urls
    await tolk.settle()
    (batch,) = xiangji.requests_for("GetImageTranslateBatch")
    assert [unquote(u) for u in batch.params["Urls"].split(",")] == urls


async def test_comma_separated_urls_for_cutout_and_as_slack_links(tolk, xiangji):
    a, b = xiangji.sample_url("c1"), xiangji.sample_url("c2") + "?size=1,2"
    text = await answer(tolk, "/cutout", f"<{a}>,<{b}>")
    task = await tolk.services.store.get(task_id_in(text))
    assert [i.source for i in task.items] == [a, b]  # the comma in the query stayed


# --- 6. negative numbers ---------------------------------------------------------------------


async def test_a_negative_quota_threshold_says_zero_or_more(tolk, slack, xiangji):
    text = await answer(tolk, "/tolk", "config quota-threshold -5")
    assert "zero or more" in text and "`/tolk config quota-threshold 500`" in text, text
    await nothing_happened(tolk, slack, xiangji)
    assert "(default)" in await answer(tolk, "/tolk", "config show")


# --- 7. the text's own script beats the channel default -------------------------------------


async def test_a_flag_on_english_in_a_chinese_channel_translates_from_english(tolk, slack, xiangji):
    await answer(tolk, "/tolk", "config defaults zh>en")
    english = slack.post_user_message(CHANNEL, "U0BOB", "The new shoes arrive on Friday.")
    chinese = slack.post_user_message(CHANNEL, "U0BOB", "新鞋周五到货")
    assert await send_event(tolk, reaction("jp", english["ts"])) == 200
    assert await send_event(tolk, reaction("jp", chinese["ts"])) == 200
    await tolk.settle()
    sent = {r.params["Text"]: r.params for r in xiangji.requests_for("GetTextTranslate")}
    assert sent["The new shoes arrive on Friday."]["SourceLanguage"] == "ENG"
    assert sent["新鞋周五到货"]["SourceLanguage"] == "CHS"  # the default where it fits
    assert {p["TargetLanguage"] for p in sent.values()} == {"JPN"}
    (reply,) = slack.thread(CHANNEL, english["ts"])
    assert "en→ja" in reply["text"]


async def test_a_flag_in_the_texts_own_language_is_answered_privately(tolk, slack, xiangji):
    await answer(tolk, "/tolk", "config defaults zh>en")
    english = slack.post_user_message(CHANNEL, "U0BOB", "The new shoes arrive on Friday.")
    assert await send_event(tolk, reaction("us", english["ts"])) == 200
    await tolk.settle()
    assert xiangji.requests == [] and slack.thread(CHANNEL, english["ts"]) == []
    (note,) = slack.ephemerals(CHANNEL)
    assert note["user"] == "U0ALICE" and "already in `en`" in note["text"]


def submission(message: dict, source: str, target: str) -> dict:
    values = {
        "target": {"value": {"type": "static_select", "selected_option": {"value": target}}},
        "source": {"value": {"type": "static_select", "selected_option": {"value": source}}},
    }
    meta = {"channel": CHANNEL, "ts": message["ts"], "thread_ts": message["ts"], "team": "T0TOLK"}
    return {
        "type": "view_submission",
        "team": {"id": "T0TOLK"},
        "user": {"id": "U0ALICE"},
        "view": {
            "id": f"V{message['ts']}{source}",
            "type": "modal",
            "callback_id": "tolk_translate_modal",
            "state": {"values": values},
            "private_metadata": json.dumps(meta),
        },
    }


async def test_the_shortcut_left_at_the_default_source_reads_the_texts_script(tolk, slack, xiangji):
    """The form starts at the channel default (zh); left there, an English text is read as
    English. A source the person picked themselves is kept as they picked it."""
    await answer(tolk, "/tolk", "config defaults zh>en")
    left = slack.post_user_message(CHANNEL, "U0BOB", "The new shoes arrive on Friday.")
    picked = slack.post_user_message(CHANNEL, "U0BOB", "Shoes: see the Korean note.")
    assert (await send_interaction(tolk, submission(left, "zh", "ja")))[0] == 200
    assert (await send_interaction(tolk, submission(picked, "ko", "ja")))[0] == 200
    await tolk.settle()
    sent = {r.params["Text"]: r.params for r in xiangji.requests_for("GetTextTranslate")}
    assert sent["The new shoes arrive on Friday."]["SourceLanguage"] == "ENG"
    assert sent["Shoes: see the Korean note."]["SourceLanguage"] == "KOR"


# --- 8. a flag on a message with documents ---------------------------------------------------


async def test_a_flag_without_a_document_provider_says_so_and_translates_the_text(
    tolk, slack, xiangji
):
    message = slack.post_user_message(
        CHANNEL, "U0BOB", "说明书见附件", files=[("spec.pdf", b"%PDF-1.4 ...", "application/pdf")]
    )
    assert await send_event(tolk, reaction("flag-de", message["ts"])) == 200
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["TargetLanguage"] == "DEU"
    (note,) = slack.ephemerals(CHANNEL)
    assert "documents in that message were not translated" in note["text"]
    assert "ALIBABA_ACCESS_KEY_ID" in note["text"]
    tasks = await tolk.services.store.list_for_channel(CHANNEL, active_only=False)
    assert [t.operation for t in tasks] == ["xiangji.translate_message"]


@pytest.fixture
async def alibaba() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(doc_seconds=0.05) as emulator:
        yield emulator


@pytest.fixture
async def mt(slack, xiangji, alibaba, tmp_path) -> AsyncIterator[Tolk]:
    async for tolk in running(alibaba_env(slack, xiangji, alibaba, tmp_path)):
        yield tolk


async def test_a_flag_on_a_document_translates_it_into_the_thread(mt, slack, xiangji, alibaba):
    await answer(mt, "/tolk", "config defaults en>ja")
    message = slack.post_user_message(
        CHANNEL, "U0BOB", "", files=[("Release notes.md", b"# Hello\n", "text/markdown")]
    )
    event = reaction("flag-de", message["ts"])
    assert await send_event(mt, event) == 200
    assert await send_event(mt, {**event, "reaction": "de"}) == 200  # same language: one task
    await until(lambda: thread_files(slack, CHANNEL, message["ts"]), within=10)
    await mt.settle()
    (create,) = alibaba.requests_for(CREATE_DOC)
    assert (create.params["SourceLanguage"], create.params["TargetLanguage"]) == ("en", "de")
    (doc,) = alibaba.docs.values()
    assert doc.source_bytes == b"# Hello\n"  # fetched from Tolk's signed link to the Slack file
    assert thread_files(slack, CHANNEL, message["ts"]) == ["Release notes-de.md"]
    assert "1 document translated" in slack.thread(CHANNEL, message["ts"])[-1]["text"]
    assert xiangji.requests == []  # no text, no images
    assert slack.ephemerals(CHANNEL) == []


async def test_a_flag_on_a_document_into_english_without_a_source_asks_for_one(mt, slack, alibaba):
    message = slack.post_user_message(
        CHANNEL, "U0BOB", "", files=[("spec.pdf", b"%PDF-1.4 ...", "application/pdf")]
    )
    assert await send_event(mt, reaction("us", message["ts"])) == 200
    await mt.settle()
    assert alibaba.requests_for(CREATE_DOC) == []
    (note,) = slack.ephemerals(CHANNEL)
    assert "/tolk config defaults SRC>en" in note["text"] and "Translate…" in note["text"]


@pytest.fixture
async def rozetta() -> AsyncIterator[RozettaEmulator]:
    async with RozettaEmulator(done_after_polls=1) as emulator:
        yield emulator


@pytest.fixture
async def rz(slack, xiangji, rozetta, alibaba, tmp_path) -> AsyncIterator[Tolk]:
    """Rozetta and Alibaba keys, and no public address (Alibaba cannot fetch Slack files)."""
    async for tolk in running(rozetta_env(slack, xiangji, rozetta, alibaba, tmp_path)):
        yield tolk


async def test_a_flag_on_a_document_goes_to_rozetta_when_alibaba_cannot_fetch_it(
    rz, slack, rozetta, alibaba
):
    content = b"Release notes\nFaster uploads.\n"
    message = slack.post_user_message(
        CHANNEL, "U0BOB", "", files=[("notes.txt", content, "text/plain")]
    )
    assert await send_event(rz, reaction("jp", message["ts"])) == 200
    await until(lambda: thread_files(slack, CHANNEL, message["ts"]), within=10)
    await rz.settle()
    (sent,) = rozetta.requests_for("file-translate")
    assert sent.files == (("notes.txt", content),)
    assert sent.fields["targetLangs"] in ('["ja"]', "ja")
    assert alibaba.requests_for(CREATE_DOC) == []
    assert "1 document translated" in slack.thread(CHANNEL, message["ts"])[-1]["text"]

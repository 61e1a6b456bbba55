"""The brand guard through the wire (issue 21, items 2 and 3): a workspace glossary set
with ``/tolk glossary``, then the real commands, reactions and uploads against the Slack
and Xiangji emulators. Text keeps protected terms and uses fixed translations whatever
each text engine does; every translated image's regions are read and checked, and a
violation is said on that image's comment and in the closing message.

The Xiangji emulator translates a few brand words (``BRAND_WORDS``: "Tolk Pro" into
JPN is "トルクプロ", "象寄" into ENG "Elephant Mail") in text and in image regions, and
mangles placeholders per text engine (``PLACEHOLDER_QUIRKS``); its sample images
``brand-violation`` and ``brand-ok`` carry regions (a PNG text chunk standing in for OCR).
"""

from __future__ import annotations

import pytest

from bot.core import brand_guard
from emulators.xiangji import png_with_regions
from providers.xiangji.wire import TEXT_ENGINES
from tests.refine_support import refine_controls
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import send_event, thread_files, upload

GENERAL, LOCALE = "C0GENERAL", "C0LOCALE"
ADMIN = "U0ADMIN"
QUERY = "GetImageTranslateBatchQuery"

#: What each text engine of the emulator gives back for ``⟦0⟧ buy ⟦1⟧ today`` into JPN:
#: the placeholder form that survives it.
FORMS = {
    "aliyun": "[JPN] ⟦0⟧ buy ⟦1⟧ today",  # exact
    "google": "[JPN] ⟦ 0 ⟧ buy ⟦ 1 ⟧ today",  # inner spaces
    "papago": "[JPN] ⟦0⟧ buy ⟦1⟧ today",  # exact
    "baidu": "[JPN] ⟦0⟧ buy ⟦1⟧ today",  # exact
    "deepl": "[JPN] ⟦0⟧ buy ⟦1⟧ today",  # exact
    "chatgpt": "[JPN] buy today ⟦0⟧ ⟦1⟧",  # exact, moved to the end of the line
    "googlellm": "[JPN] ⟦ 0 ⟧ buy ⟦ 1 ⟧ today",  # inner spaces
}


async def glossary(tolk, slack, *entries: str) -> None:
    """``/tolk glossary add …`` for each entry, as a workspace admin."""
    if ADMIN not in slack.users:
        slack.add_user(ADMIN, "admin", is_admin=True)
    for entry in entries:
        status, body = await tolk.command("/tolk", f"glossary add {entry}", user=ADMIN)
        assert status == 200 and "admins" not in body, body


async def answer_to(tolk, slack, text: str, channel: str = GENERAL) -> str:
    """``/translate text`` to the end; the answer Tolk posted."""
    before = len(slack.messages(channel))
    status, body = await tolk.command("/translate", text, channel=channel)
    assert status == 200, body
    await tolk.settle()
    messages = slack.messages(channel)
    assert len(messages) == before + 1, messages
    return messages[-1]["text"]


async def images(tolk, slack, text: str) -> tuple[list[dict], str, dict]:
    """``/translate-image text`` to the end: the file messages of its thread (in order),
    its closing message's text and the closing message itself."""
    status, body = await tolk.command("/translate-image", text)
    assert status == 200, body
    await tolk.settle()
    task = await tolk.services.store.get(task_id_in(body))
    thread = slack.thread(GENERAL, task.place.thread_ts)
    files = [m for m in thread if m.get("files")]
    return files, thread[-1]["text"], thread[-1]


# --- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", list(TEXT_ENGINES))
async def test_a_protected_term_survives_every_text_engine(tolk, slack, xiangji, engine):
    text = f"en>ja <@U0BOB> buy Tolk Pro today --engine {engine}"
    unshielded = await answer_to(tolk, slack, text)
    assert "トルクプロ" in unshielded and "Tolk Pro" not in unshielded  # the engine changes it

    await glossary(tolk, slack, '"Tolk Pro"')
    shielded = await answer_to(tolk, slack, text)
    assert "Tolk Pro" in shielded and "トルクプロ" not in shielded, shielded
    assert "<@U0BOB>" in shielded and "⟦" not in shielded and "⟧" not in shielded
    sent = xiangji.requests_for("GetTextTranslate")
    assert [r.params["Text"] for r in sent] == ["⟦0⟧ buy Tolk Pro today", "⟦0⟧ buy ⟦1⟧ today"]
    assert sent[-1].params.get("Type", "0") == str(TEXT_ENGINES[engine])


@pytest.mark.parametrize("engine", list(TEXT_ENGINES))
async def test_which_placeholder_form_each_text_engine_gives_back(tolk, xiangji, engine):
    """The form each engine of the emulator returns, and that it is read back."""
    result = await tolk.services.xiangji.get_text_translate(
        "⟦0⟧ buy ⟦1⟧ today", "ENG", "JPN", engine=engine
    )
    assert result.text == FORMS[engine]
    shown = brand_guard.from_translation(result.text, ["<@U0BOB>", "Tolk Pro"])
    assert "<@U0BOB>" in shown and "Tolk Pro" in shown and "⟦" not in shown


async def test_a_fixed_translation_is_used_per_language_and_by_default(tolk, slack, xiangji):
    unshielded = await answer_to(tolk, slack, "zh>en 象寄的云朵壶")
    assert "Elephant Mail" in unshielded  # what the engine makes of it

    await glossary(tolk, slack, '"象寄" = "Xiangji"', '"象寄" = "シャンジ" --lang ja')
    english = await answer_to(tolk, slack, "zh>en 象寄的云朵壶")
    assert "Xiangji" in english and "Elephant Mail" not in english
    assert "Cloud Pot" in english  # a word not in the glossary is still translated
    japanese = await answer_to(tolk, slack, "zh>ja 象寄的云朵壶 --engine google")
    assert "シャンジ" in japanese and "象の便り" not in japanese and "Xiangji" not in japanese


async def test_several_languages_each_get_their_own_fixed_translation(tolk, slack, xiangji):
    await glossary(tolk, slack, '"象寄" = "Xiangji"', '"象寄" = "シャンジ" --lang ja')
    answer = await answer_to(tolk, slack, "zh>en,ja,ko 象寄 很好")
    english, japanese, korean = (
        answer.split("*en*")[1].split("*ja*")[0],
        answer.split("*ja*")[1].split("*ko*")[0],
        answer.split("*ko*")[1],
    )
    assert "Xiangji" in english and "シャンジ" in japanese and "Xiangji" in korean
    assert "Elephant" not in answer and "象の便り" not in answer and "코끼리" not in answer


async def test_a_flagged_message_keeps_the_protected_term(tolk, slack, xiangji):
    await glossary(tolk, slack, '"Tolk Pro"')
    message = slack.post_user_message(GENERAL, "U0BOB", "Tolk Pro 新品上市, ask <@U0ALICE>")
    event = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": GENERAL, "ts": message["ts"]},
    }
    assert await send_event(tolk, event) == 200
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert "Tolk Pro" not in sent.params["Text"] and "⟦1⟧" in sent.params["Text"]
    (answer,) = [m for m in slack.thread(GENERAL, message["ts"]) if "[JPN]" in m["text"]]
    assert "Tolk Pro" in answer["text"] and "トルクプロ" not in answer["text"]
    assert "<@U0ALICE>" in answer["text"]


async def test_without_a_glossary_text_goes_as_before(tolk, slack, xiangji):
    answer = await answer_to(tolk, slack, "en>ja <@U0BOB> buy Tolk Pro today")
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["Text"] == "⟦0⟧ buy Tolk Pro today"
    assert "[JPN] <@U0BOB> buy トルクプロ today" in answer


# --- images -------------------------------------------------------------------------------


async def test_a_brand_term_changed_in_an_image_is_marked_with_refine(public_tolk, slack, xiangji):
    await glossary(public_tolk, slack, '"Tolk Pro"')
    bad, good = xiangji.sample_url("brand-violation"), xiangji.sample_url("brand-ok")
    files, closing, final = await images(public_tolk, slack, f"zh>ja {bad} {good}")

    (query,) = xiangji.requests_for(QUERY)  # both images' regions in one call
    assert len(query.params["RequestIds"].split(",")) == 2
    bad_comment, good_comment = (m["text"] for m in files)
    assert bad_comment.startswith("1/2 · brand-violation.png\n")
    assert "⚠ brand term 'Tolk Pro' changed to '" in bad_comment
    assert "トルクプロ" in bad_comment and "— region 134,0,1066,249" in bad_comment
    assert bad_comment.count("⚠") == 1  # 象寄 is not in this glossary
    assert good_comment == "2/2 · brand-ok.png"  # no violation, no words
    assert "1 image breaks the glossary — use Refine to fix it by hand" in closing
    assert [b["text"]["text"] for b in refine_controls(final)] == ["Refine 1", "Refine 2"]

    (task,) = await public_tolk.services.store.list_for_channel(GENERAL, active_only=False)
    (violation,) = brand_guard.from_json(task.items[0].meta["violations"])  # kept, stored
    assert (violation.term, violation.kind, violation.box) == (
        "Tolk Pro",
        "brand",
        (134, 0, 1066, 249),
    )
    assert "violations" not in task.items[1].meta


async def test_without_refine_the_image_is_to_be_fixed_outside_tolk(tolk, slack, xiangji):
    await glossary(tolk, slack, '"Tolk Pro"')
    bad = xiangji.sample_url("brand-violation")
    files, closing, final = await images(tolk, slack, f"zh>ja {bad}")  # one: synchronous
    (query,) = xiangji.requests_for(QUERY)  # after the one synchronous call, by its id
    assert len(xiangji.requests_for("GetImageTranslate")) == 1
    assert query.params["RequestIds"] == next(iter(xiangji.jobs))
    (comment,) = (m["text"] for m in files)
    assert "⚠ brand term 'Tolk Pro'" in comment and "region 134,0,1066,249" in comment
    assert "1 image breaks the glossary" in closing and "outside Tolk" in closing
    assert "use Refine" not in closing and refine_controls(final) == []


async def test_a_fixed_translation_not_used_in_an_image(tolk, slack, xiangji):
    await glossary(tolk, slack, '"象寄" = "Xiangji"', '"Tolk Pro"')
    bad, good = xiangji.sample_url("brand-violation"), xiangji.sample_url("brand-ok")
    files, closing, _ = await images(tolk, slack, f"zh>en {bad} {good} --removed")
    # one synchronous call per image (--removed): each image's regions read after it
    assert len(xiangji.requests_for(QUERY)) == 2
    comments = [m["text"] for m in files]
    (bad_comment,) = [c for c in comments if c.startswith("1/2 · brand-violation.png\n")]
    assert "⚠ glossary: '象寄' should be 'Xiangji', found '" in bad_comment
    assert "Elephant Mail" in bad_comment and "region 134,300,900,160" in bad_comment
    assert "brand term" not in bad_comment  # Tolk Pro stays Tolk Pro in English
    # the text-removed variant keeps its own comment; the other image has none
    assert sorted(c for c in comments if c != bad_comment) == [
        "1/2 · brand-violation.png (removed)",
        "2/2 · brand-ok.png",
        "2/2 · brand-ok.png (removed)",
    ]
    assert "1 image breaks the glossary" in closing


async def test_an_image_without_brand_terms_gets_no_note(tolk, slack, xiangji):
    await glossary(tolk, slack, '"Tolk Pro"', '"象寄" = "Xiangji"')
    good = xiangji.sample_url("brand-ok")
    files, closing, _ = await images(tolk, slack, f"zh>ja {good}")
    assert len(xiangji.requests_for(QUERY)) == 1  # read and checked
    (comment,) = (m["text"] for m in files)
    assert comment == "brand-ok.png"
    assert "glossary" not in closing and "⚠" not in closing


async def test_ocr_and_the_glossary_share_one_region_read(tolk, slack, xiangji):
    await glossary(tolk, slack, '"Tolk Pro"')
    bad = xiangji.sample_url("brand-violation")
    _, body = await tolk.command("/translate-image", f"zh>ja {bad} --ocr")
    await tolk.settle()
    assert len(xiangji.requests_for(QUERY)) == 1  # one read: the text and the check
    task = await tolk.services.store.get(task_id_in(body))
    thread = slack.thread(GENERAL, task.place.thread_ts)
    (comment,) = (m["text"] for m in thread if m.get("files"))
    assert "⚠ brand term 'Tolk Pro'" in comment
    (ocr,) = (m["text"] for m in thread if m["text"].startswith("Text in brand-violation.png"))
    assert "Tolk Pro 新品上市 → [JPN] トルクプロ 新品上市" in ocr


async def test_no_glossary_no_region_read_and_no_words(tolk, slack, xiangji):
    bad = xiangji.sample_url("brand-violation")
    files, closing, _ = await images(tolk, slack, f"zh>ja {bad}")
    files2, closing2, _ = await images(tolk, slack, f"zh>ja {bad} {xiangji.sample_url('x')}")
    assert xiangji.requests_for(QUERY) == []  # no extra provider call at all
    assert [m["text"] for m in files + files2] == [
        "brand-violation.png",
        "1/2 · brand-violation.png",
        "2/2 · x.png",
    ]
    assert "glossary" not in closing + closing2 and "⚠" not in closing + closing2


async def test_an_image_whose_regions_cannot_be_read_still_goes_out(tolk, slack, xiangji):
    await glossary(tolk, slack, '"Tolk Pro"')
    xiangji.faults.code(QUERY, 104)  # refused for good
    bad = xiangji.sample_url("brand-violation")
    files, closing, _ = await images(tolk, slack, f"zh>ja {bad}")
    (comment,) = (m["text"] for m in files)
    assert comment.startswith("brand-violation.png\n")
    assert "glossary could not be checked" in comment
    assert "Done" in closing and "breaks the glossary" not in closing


async def test_an_uploaded_image_in_an_auto_channel_is_checked(tolk, slack, xiangji):
    await glossary(tolk, slack, '"Tolk Pro"')
    await tolk.command("/tolk", "config auto-images on zh>ja", channel=LOCALE, user=ADMIN)
    data = png_with_regions([{"source": "Tolk Pro 限时优惠", "box": "10,20,300,60"}])
    plain = png_with_regions([{"source": "限时优惠", "box": "10,20,300,60"}])
    message = await upload(
        tolk, slack, [("ad.png", data, "image/png"), ("plain.png", plain, "image/png")]
    )
    await tolk.settle()
    assert len(xiangji.requests_for(QUERY)) == 2
    thread = slack.thread(LOCALE, message["ts"])
    comments = {m["files"][0]["name"].split("-")[0]: m["text"] for m in thread if m.get("files")}
    assert "⚠ brand term 'Tolk Pro' changed to '[JPN] トルクプロ 限时优惠'" in comments["ad"]
    assert "region 10,20,300,60" in comments["ad"]
    assert "⚠" not in comments["plain"]
    closing = thread[-1]["text"]
    assert "1 image breaks the glossary" in closing
    assert len(thread_files(slack, LOCALE, message["ts"])) == 2

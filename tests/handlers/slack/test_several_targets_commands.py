"""Several target languages in one command (issue 20, item 1), through the wire: signed
commands, events and form submissions into the running app, the Slack emulator checking
what Tolk sends it (the form is refused if Block Kit would refuse it), and the task read
back from the store.

The task's shape is the contract with the engine: ``request["target"]``/``["target_code"]``
name the first target, ``request["targets"]`` every one in order; the items are
source-major, each source once per target, its meta naming the target. One target: the
task exactly as before."""

from __future__ import annotations

import json
from typing import Any

from bot.core.tasks import Task
from emulators.alibaba import AlibabaMTEmulator
from emulators.slack import SlackEmulator
from emulators.xiangji import XiangjiEmulator
from tests.conftest import Tolk
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import png, send_event, send_interaction, upload

A, B = "https://img.example.com/a.jpg", "https://img.example.com/b.jpg"


async def command(tolk: Tolk, name: str, text: str, **kwargs: Any) -> str:
    """The command's answer (Bolt sends a plain ``ack(text)`` as text, else JSON)."""
    status, body = await tolk.command(name, text, **kwargs)
    assert status == 200
    return str(json.loads(body)["text"]) if body.startswith("{") else body


async def recorded(tolk: Tolk, answer: str) -> Task:
    task = await tolk.services.store.get(task_id_in(answer))
    assert task is not None
    return task


async def everything(tolk: Tolk, channel: str = "C0GENERAL") -> list[Task]:
    return await tolk.services.store.list_for_channel(channel, active_only=False)


def work(task: Task) -> list[tuple[str, str | None, str | None]]:
    """Each item as (source, its target, the target's provider code)."""
    return [(i.source, i.meta.get("target"), i.meta.get("target_code")) for i in task.items]


def targets(pairs: str) -> list[dict[str, str]]:
    """``"ko:KOR ja:JPN"`` as the request's ``targets``."""
    return [{"lang": lang, "code": code} for lang, code in (p.split(":") for p in pairs.split())]


# --- each command into several languages: one task ---------------------------------------


async def test_translate_into_several_languages_is_one_task(wire: Tolk) -> None:
    answer = await command(wire, "/translate", "zh>ko,ja 你好")
    assert "ko, ja" in answer
    task = await recorded(wire, answer)
    assert task.operation == "xiangji.translate_text"
    assert (task.request["target"], task.request["target_code"]) == ("ko", "KOR")
    assert task.request["targets"] == targets("ko:KOR ja:JPN")
    assert work(task) == [("你好", "ko", "KOR"), ("你好", "ja", "JPN")]
    assert len(await everything(wire)) == 1


async def test_a_detected_source_is_left_out_of_several_targets(wire: Tolk) -> None:
    task = await recorded(wire, await command(wire, "/translate", "zh,ko,ja 你好"))
    assert task.request["source"] == "zh" and task.request["targets"] == targets("ko:KOR ja:JPN")


async def test_translate_image_items_are_each_url_once_per_target(wire: Tolk) -> None:
    answer = await command(wire, "/translate-image", f"zh>ko,ja,en {A} {B}")
    assert "2 images" in answer and "ko, ja, en" in answer
    task = await recorded(wire, answer)
    assert task.operation == "xiangji.translate_image"
    assert (task.request["source_code"], task.request["target_code"]) == ("CHS", "KOR")
    assert task.request["targets"] == targets("ko:KOR ja:JPN en:ENG")
    assert work(task) == [
        (A, "ko", "KOR"), (A, "ja", "JPN"), (A, "en", "ENG"),
        (B, "ko", "KOR"), (B, "ja", "JPN"), (B, "en", "ENG"),
    ]  # fmt: skip


async def test_alibaba_images_carry_alibabas_codes(wire: Tolk) -> None:
    answer = await command(wire, "/translate-image", f"--provider alibaba zh>ko,zh-TW {A}")
    task = await recorded(wire, answer)
    assert task.operation == "alibaba.translate_image"
    assert task.request["targets"] == targets("ko:ko zh-TW:zh-tw")
    assert work(task) == [(A, "ko", "ko"), (A, "zh-TW", "zh-tw")]


async def test_translate_doc_is_the_document_once_per_target(wire: Tolk) -> None:
    url = "https://docs.example.com/guide.docx"
    answer = await command(wire, "/translate-doc", f"en>ja,ko {url} --scene tech")
    assert "guide.docx" in answer and "ja, ko" in answer
    task = await recorded(wire, answer)
    assert task.operation == "alibaba.translate_doc" and task.request["scene"] == "tech"
    assert task.request["targets"] == targets("ja:ja ko:ko")
    assert work(task) == [(url, "ja", "ja"), (url, "ko", "ko")]
    assert all(i.meta["name"] == "guide.docx" and i.meta["kind"] == "url" for i in task.items)


async def test_one_target_is_recorded_exactly_as_before(wire: Tolk) -> None:
    task = await recorded(wire, await command(wire, "/translate-image", f"zh>ko {A} {B}"))
    assert "targets" not in task.request and task.request["target_code"] == "KOR"
    assert [(i.source, i.meta) for i in task.items] == [(A, {}), (B, {})]
    # a list that comes down to one language is one target too
    task = await recorded(wire, await command(wire, "/translate", "zh>ko,korean,KO 你好"))
    assert "targets" not in task.request and work(task) == [("你好", None, None)]


async def test_duplicates_go_and_the_order_stays(wire: Tolk) -> None:
    answer = await command(wire, "/translate-image", f"zh>ja,ko,japanese,en,ko {A}")
    task = await recorded(wire, answer)
    assert [t["lang"] for t in task.request["targets"]] == ["ja", "ko", "en"]


async def test_a_list_may_have_spaces_after_its_commas(wire: Tolk) -> None:
    task = await recorded(wire, await command(wire, "/translate-image", f"zh>ko, ja {A}"))
    assert work(task) == [(A, "ko", "KOR"), (A, "ja", "JPN")]


async def test_a_language_set_expands_where_a_target_goes(wire: Tolk) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms")
    task = await recorded(wire, await command(wire, "/translate-image", f"zh>sea,en {A}"))
    assert task.request["targets"] == targets("th:TH vi:VIN id:ID ms:MS en:ENG")
    assert [t for _, t, _ in work(task)] == ["th", "vi", "id", "ms", "en"]
    task = await recorded(wire, await command(wire, "/translate", "SEA 你好"))  # any case
    assert [t["lang"] for t in task.request["targets"]] == ["th", "vi", "id", "ms"]


# --- bad input: a clear message, nothing recorded, no provider called --------------------


async def test_bad_targets_are_explained_and_record_nothing(
    wire: Tolk, xiangji: XiangjiEmulator, alibaba: AlibabaMTEmulator
) -> None:
    eleven = "ko,ja,en,de,fr,es,it,ru,ar,th,vi"
    cases = {
        ("/translate-image", f"zh>ko,klingon {A}"): ["Unknown language 'klingon'", "Usage"],
        ("/translate", f"zh>{eleven} 你好"): ["11 languages", "at most 10", "Usage"],
        ("/translate-image", f"zh>{eleven} {A}"): ["at most 10"],
        ("/translate-image", f"zh>asia {A}"): ["'asia'", "language set", "/tolk config sets"],
        ("/translate-image", f"zh>ko,yue {A}"): ["Cantonese (yue)", "Usage"],
        ("/translate-doc", "en>ja,pt-BR https://d.example.com/a.docx"): ["Portuguese (Brazil)"],
        ("/translate-image", f"ko,ja>en {A}"): ["only the target", "zh>ko,ja"],
    }
    for (name, text), expected in cases.items():
        answer = await command(wire, name, text)
        for words in expected:
            assert words in answer, (text, answer)
    assert await everything(wire) == []
    assert xiangji.requests == [] and alibaba.requests == []


async def test_a_set_name_close_to_a_typo_is_suggested(wire: Tolk) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms")
    answer = await command(wire, "/translate-image", f"zh>sae {A}")
    assert "Did you mean the set 'sea'?" in answer
    assert await everything(wire) == []


# --- channel uploads: auto-images and auto-docs into several languages -------------------


async def test_auto_images_with_two_targets_is_one_task_per_upload(
    wire: Tolk, slack: SlackEmulator
) -> None:
    answer = await command(wire, "/tolk", "config auto-images on zh>ko,ja", channel="C0LOCALE")
    assert "zh→ko,ja" in answer
    assert "auto-images: zh→ko,ja" in await command(
        wire, "/tolk", "config show", channel="C0LOCALE"
    )
    message = await upload(
        wire, slack, [("shoe.png", png("red"), "image/png"), ("bag.png", png("blue"), "image/png")]
    )
    (task,) = await everything(wire, "C0LOCALE")
    assert task.operation == "xiangji.translate_message" and task.request["mode"] == "upload"
    assert task.request["targets"] == targets("ko:KOR ja:JPN")
    shoe, bag = (f["url_private"] for f in message["files"])
    assert work(task) == [
        (shoe, "ko", "KOR"), (shoe, "ja", "JPN"), (bag, "ko", "KOR"), (bag, "ja", "JPN")
    ]  # fmt: skip
    assert [i.meta["name"] for i in task.items] == ["shoe.png"] * 2 + ["bag.png"] * 2
    assert all(i.meta["kind"] == "file" and i.meta["file_id"] for i in task.items)


async def test_auto_docs_with_two_targets(wire: Tolk, slack: SlackEmulator) -> None:
    await command(wire, "/tolk", "config auto-docs on en>ja,ko", channel="C0LOCALE")
    message = await upload(wire, slack, [("plan.docx", b"doc", "application/msword")])
    (task,) = await everything(wire, "C0LOCALE")
    assert task.operation == "alibaba.translate_doc"
    assert task.request["targets"] == targets("ja:ja ko:ko")
    url = message["files"][0]["url_private"]
    assert work(task) == [(url, "ja", "ja"), (url, "ko", "ko")]
    assert all(i.meta["kind"] == "slack-file" for i in task.items)


async def test_defaults_take_one_target(wire: Tolk) -> None:
    answer = await command(wire, "/tolk", "config defaults zh>ko,ja")
    assert "one target language" in answer
    assert "defaults: none" in await command(wire, "/tolk", "config show")


# --- the Translate… form: a multi-select of languages and sets ---------------------------


async def open_form(tolk: Tolk, slack: SlackEmulator, message: dict[str, Any]) -> dict:
    status, _ = await send_interaction(
        tolk,
        {
            "type": "message_action",
            "callback_id": "tolk_translate",
            "trigger_id": slack.new_trigger_id(),
            "team": {"id": "T0TOLK"},
            "user": {"id": "U0ALICE"},
            "channel": {"id": "C0GENERAL"},
            "message_ts": message["ts"],
            "message": message,
        },
    )
    assert status == 200
    (view,) = slack.views.values()  # views.open took it: Block Kit's limits hold
    return view


async def submit(tolk: Tolk, view: dict, into: list[str]) -> tuple[int, str]:
    values = {
        "target": {
            "value": {
                "type": "multi_static_select",
                "selected_options": [{"value": v} for v in into],
            }
        },
        "source": {"value": {"type": "static_select", "selected_option": {"value": "zh"}}},
    }
    return await send_interaction(
        tolk,
        {
            "type": "view_submission",
            "team": {"id": "T0TOLK"},
            "user": {"id": "U0ALICE"},
            "view": {**view, "state": {"values": values}},
        },
    )


async def test_the_form_picks_several_languages_and_sets(wire: Tolk, slack: SlackEmulator) -> None:
    await command(wire, "/tolk", "config set sea th,vi,id,ms")
    message = slack.post_user_message(
        "C0GENERAL", "U0BOB", "新鞋到了", files=[("p.png", png(), "image/png")]
    )
    view = await open_form(wire, slack, message)
    (into,) = (b for b in view["blocks"] if b["block_id"] == "target")
    element = into["element"]
    assert element["type"] == "multi_static_select" and element["max_selected_items"] == 10
    sets, languages = element["option_groups"]
    assert [o["value"] for o in sets["options"]] == ["set:sea"]
    assert "th, vi, id, ms" in sets["options"][0]["text"]["text"]
    assert {"ko", "ja", "en"} <= {o["value"] for o in languages["options"]}

    status, body = await submit(wire, view, ["ko", "set:sea", "th"])
    assert status == 200 and body == ""  # the form closes
    (task,) = await everything(wire)
    assert task.operation == "xiangji.translate_message" and task.request["mode"] == "shortcut"
    langs = ["ko", "th", "vi", "id", "ms"]
    assert [t["lang"] for t in task.request["targets"]] == langs
    text, image = message["text"], message["files"][0]["url_private"]
    assert [(s, t) for s, t, _ in work(task)] == [(text, t) for t in langs] + [
        (image, t) for t in langs
    ]


async def test_the_form_refuses_more_than_ten(wire: Tolk, slack: SlackEmulator) -> None:
    await command(wire, "/tolk", "config set eu de,fr,es,it,nl,pl")
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    view = await open_form(wire, slack, message)
    status, body = await submit(wire, view, ["set:eu", "ko", "ja", "en", "ru", "ar"])
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and "at most 10" in answer["errors"]["target"]
    assert await everything(wire) == []


async def test_a_flag_reaction_still_translates_into_its_one_language(
    wire: Tolk, slack: SlackEmulator
) -> None:
    message = slack.post_user_message("C0GENERAL", "U0BOB", "新鞋到了")
    reaction = {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": "jp",
        "item": {"type": "message", "channel": "C0GENERAL", "ts": message["ts"]},
    }
    assert await send_event(wire, reaction) == 200
    (task,) = await everything(wire)
    assert task.request["target"] == "ja" and "targets" not in task.request
    assert work(task) == [("新鞋到了", None, None)]

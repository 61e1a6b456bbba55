"""Several target languages in one task, the engine side (issue 20 item 1): tasks
recorded in the shape the handlers record — ``request["targets"]`` in the asked order,
items source-major with ``meta["target"]``/``meta["target_code"]`` — run against the
emulators; assertions on what the providers received and what reached Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.core.languages import lookup, provider_code
from bot.core.tasks import Item, Place, State, Task
from bot.engine.operation import item_target, source_count, sources_once, task_targets
from bot.engine.operations.refine import image_label, refinable
from bot.runtime import serving
from emulators.alibaba import AlibabaMTEmulator
from emulators.rozetta import RozettaEmulator
from tests.conftest import Tolk
from tests.test_alibaba_e2e import CREATE_DOC, CREATE_IMAGE, GET_IMAGE, alibaba_env, running
from tests.test_rozetta_e2e import rozetta_env
from tests.test_surfaces import png, thread_files

GENERAL = "C0GENERAL"
PLACE = Place("T0TOLK", GENERAL, "U0ALICE")
CODES = {"ko": "KOR", "ja": "JPN", "en": "ENG"}  # Xiangji's codes


def several(
    request: dict[str, Any], sources: list[Item], langs: list[str], provider: str
) -> tuple[dict[str, Any], tuple[Item, ...]]:
    """The request and items of a task of several targets, as the handlers record it."""
    targets = [{"lang": lang, "code": provider_code(lookup(lang), provider)} for lang in langs]
    request = {
        **request,
        "target": langs[0],
        "target_code": targets[0]["code"],
        "targets": targets,
    }
    items = tuple(
        replace(item, meta={**item.meta, "target": t["lang"], "target_code": t["code"]})
        for item in sources
        for t in targets
    )
    return request, items


async def record(
    tolk: Tolk,
    operation: str,
    request: dict[str, Any],
    items: tuple[Item, ...],
    *,
    key: str = "several",
    place: Place = PLACE,
) -> Task:
    task, created = await tolk.services.desk.record(
        dedupe_key=key,
        place=place,
        provider=operation.split(".")[0],
        operation=operation,
        request=request,
        items=items,
    )
    assert created
    return task


def image_request(**options: Any) -> dict[str, Any]:
    return {
        "source": "zh",
        "source_code": "CHS",
        "removed": False,
        "ocr": False,
        "qos": None,
        "engine": "aliyun",
        **options,
    }


async def image_task(tolk, xiangji, langs, count=2, **options: Any) -> tuple[Task, list[str]]:
    urls = [xiangji.sample_url(f"p{i}") for i in range(count)]
    request, items = several(
        image_request(**options), [Item(source=u) for u in urls], langs, "xiangji"
    )
    return await record(tolk, "xiangji.translate_image", request, items), urls


def parent_and_thread(slack, channel: str = GENERAL) -> tuple[dict, list[dict]]:
    (parent,) = slack.messages(channel)
    return parent, slack.thread(channel, parent["ts"])


def closing(thread: list[dict]) -> list[str]:
    return [m["text"] for m in thread if "(task `" in m["text"] and not m.get("files")]


# --- the helpers -----------------------------------------------------------------------------


def test_each_item_says_its_target_and_older_tasks_the_requests():
    request, items = several(
        {"source": "zh"}, [Item(source="a"), Item(source="b")], ["ko", "ja"], "xiangji"
    )
    task = Task("T1", "k", PLACE, "xiangji", "xiangji.translate_image", request, items=items)
    assert [item_target(task, i) for i in task.items] == [
        ("ko", "KOR"),
        ("ja", "JPN"),
        ("ko", "KOR"),
        ("ja", "JPN"),
    ]
    assert task_targets(task) == ["ko", "ja"] and source_count(task) == 2
    single = task.but(request={"target": "en", "target_code": "ENG"}, items=(Item(source="a"),))
    assert item_target(single, single.items[0]) == ("en", "ENG")
    assert task_targets(single) == ["en"] and source_count(single) == 1


def test_inputs_are_counted_once_whatever_pairs_were_left_out():
    """The handlers leave out a text's own language: runs of one source are shorter."""
    request, items = several(
        {}, [Item(source="t"), Item(source="a")], ["ko", "ja", "en"], "xiangji"
    )
    kept = tuple(i for i in items if not (i.source == "t" and i.meta["target"] == "ko"))
    task = Task("T1", "k", PLACE, "xiangji", "xiangji.translate_message", request, items=kept)
    assert [i.source for i in sources_once(task)] == ["t", "a"]
    twice = task.but(items=items + items)  # one URL given twice: two inputs
    assert [i.source for i in sources_once(twice)] == ["t", "a", "t", "a"]


def test_refine_names_each_image_with_its_language():
    request, items = several({}, [Item(source="https://x.test/a.png")], ["ko", "ja"], "xiangji")
    done = tuple(
        replace(i, status="done", provider_id=f"r{n}", outputs=({"kind": "image", "url": "u"},))
        for n, i in enumerate(items)
    )
    task = Task("T1", "k", PLACE, "xiangji", "xiangji.translate_image", request, items=done)
    assert refinable(task) == [(0, "a.png · ko"), (1, "a.png · ja")]
    assert image_label(task, 1) == "image 2 of task `T1` (a.png · ja)"


# --- Xiangji images -------------------------------------------------------------------------


async def test_images_into_three_languages_are_one_batch_per_language(tolk, slack, xiangji):
    task, _ = await image_task(tolk, xiangji, ["ko", "ja", "en"])
    await tolk.settle()

    batches = xiangji.requests_for("GetImageTranslateBatch")
    assert [b.params["TargetLanguage"] for b in batches] == ["KOR", "JPN", "ENG"]
    assert all(b.params["SourceLanguage"] == "CHS" for b in batches)
    assert all(len(b.params["Urls"].split(",")) == 2 for b in batches)
    assert xiangji.requests_for("GetImageTranslate") == []
    done = await tolk.services.store.get(task.id)
    for item in done.items:  # each image went to the provider in its own language
        assert xiangji.jobs[item.provider_id].target == CODES[item.meta["target"]]
        assert xiangji.jobs[item.provider_id].origin_url == item.source

    parent, thread = parent_and_thread(slack)
    assert "2 images into 3 languages" in parent["text"] and "zh→ko, ja, en" in parent["text"]
    assert "6 of 6 done" in parent["text"]
    names = thread_files(slack, GENERAL, parent["ts"])
    expected = [
        f"p{i}-{lang}-{task.id}-{3 * i + n + 1}.png"
        for i in range(2)
        for n, lang in enumerate(["ko", "ja", "en"])
    ]
    assert sorted(names) == sorted(expected) and len(slack.files) == 6
    comments = [m["text"] for m in thread if m.get("files")]
    assert any("p1.png · ja" in c for c in comments)
    (final,) = closing(thread)
    assert final == (
        f":white_check_mark: Done — 2 images into 3 languages: ko 2/2 · ja 2/2 · en 2/2 "
        f"(task `{task.id}`)."
    )
    assert done.state is State.DELIVERED and done.settled


async def test_a_language_the_provider_refuses_does_not_hold_the_others(tolk, slack, xiangji):
    xiangji.faults.code("GetImageTranslateBatch", 105)  # the first batch: Korean
    task, _ = await image_task(tolk, xiangji, ["ko", "ja", "en"])
    await tolk.settle()

    batches = xiangji.requests_for("GetImageTranslateBatch")
    assert [b.params["TargetLanguage"] for b in batches] == ["KOR", "JPN", "ENG"]
    parent, thread = parent_and_thread(slack)
    names = thread_files(slack, GENERAL, parent["ts"])
    assert len(names) == 4 and not any("-ko-" in n for n in names)
    (final,) = closing(thread)
    assert "ko 0/2 · ja 2/2 · en 2/2" in final
    assert final.count("• ko · ") == 2 and "105" in final and "• ja" not in final
    done = await tolk.services.store.get(task.id)
    assert done.state is State.DELIVERED


async def test_an_image_failing_in_one_language_is_listed_with_it(tolk, slack, xiangji):
    xiangji.faults.item(1, code=107)  # the second image of the next batch: Korean
    await image_task(tolk, xiangji, ["ko", "ja"])
    await tolk.settle()
    parent, thread = parent_and_thread(slack)
    assert len(thread_files(slack, GENERAL, parent["ts"])) == 3
    (final,) = closing(thread)
    assert "3 of 4 translated — ko 1/2 · ja 2/2" in final and "• ko · p1.png: error 107" in final


async def test_one_image_with_removed_goes_one_call_per_language(tolk, slack, xiangji):
    task, urls = await image_task(tolk, xiangji, ["ko", "ja"], count=1, removed=True)
    await tolk.settle()
    assert xiangji.requests_for("GetImageTranslateBatch") == []
    sent = xiangji.requests_for("GetImageTranslate")
    assert [(r.params["Url"], r.params["TargetLanguage"]) for r in sent] == [
        (urls[0], "KOR"),
        (urls[0], "JPN"),
    ]
    parent, thread = parent_and_thread(slack)
    assert "1 image into 2 languages" in parent["text"]
    assert sorted(thread_files(slack, GENERAL, parent["ts"])) == sorted(
        [
            f"p0-ko-{task.id}-1.png",
            f"p0-ko-removed-{task.id}-1.png",
            f"p0-ja-{task.id}-2.png",
            f"p0-ja-removed-{task.id}-2.png",
        ]
    )
    assert "1 image into 2 languages: ko 1/1 · ja 1/1" in closing(thread)[0]


async def test_recognised_text_is_named_with_its_language(tolk, slack, xiangji):
    await image_task(tolk, xiangji, ["ko", "ja"], count=1, ocr=True)
    await tolk.settle()
    batches = xiangji.requests_for("GetImageTranslateBatch")
    assert [b.params["TargetLanguage"] for b in batches] == ["KOR", "JPN"]
    _, thread = parent_and_thread(slack)
    ocr = [m["text"] for m in thread if m["text"].startswith("Text in")]
    assert [line.split(":")[0] for line in ocr] == ["Text in p0.png → ko", "Text in p0.png → ja"]


async def test_each_language_is_charged_as_one_image(tolk, xiangji):
    await image_task(tolk, xiangji, ["ko", "ja", "en"])
    await tolk.settle()
    usage = await tolk.services.quota.usage()
    assert list(usage["users"]["U0ALICE"].values()) == [6]
    assert sum(c.amount for c in xiangji.charges) == 6


async def test_a_single_target_task_is_unchanged(tolk, slack, xiangji):
    urls = [xiangji.sample_url(f"p{i}") for i in range(2)]
    request = {**image_request(), "target": "ko", "target_code": "KOR"}
    task = await record(
        tolk, "xiangji.translate_image", request, tuple(Item(source=u) for u in urls)
    )
    await tolk.settle()
    (batch,) = xiangji.requests_for("GetImageTranslateBatch")
    assert batch.params["TargetLanguage"] == "KOR"
    parent, thread = parent_and_thread(slack)
    assert parent["text"] == (
        f":frame_with_picture: <@U0ALICE> asked to translate 2 images zh→ko · task `{task.id}`"
        " · 2 of 2 done"
    )
    assert sorted(thread_files(slack, GENERAL, parent["ts"])) == [
        f"p0-ko-{task.id}-1.png",
        f"p1-ko-{task.id}-2.png",
    ]
    assert next(m["text"] for m in thread if m.get("files")).startswith("1/2 · p0.png")
    assert closing(thread) == [
        f":white_check_mark: Done — all 2 images translated (task `{task.id}`)."
    ]


# --- a restart between two languages --------------------------------------------------------


@asynccontextmanager
async def tolk_on(env: dict[str, str], **kwargs: Any) -> AsyncIterator[Tolk]:
    async with (
        serving(load_settings(env), host="127.0.0.1", **kwargs) as (services, port),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, port, session)


async def test_a_restart_between_languages_sends_no_batch_twice(env, slack, xiangji):
    async with tolk_on(env, start_scheduler=False) as first:
        first.services.work.stopping = True  # the step ends at its first saved point
        task, _ = await image_task(first, xiangji, ["ko", "ja", "en"])
        await first.services.poller.drain()  # the step the recording nudged
        batches = xiangji.requests_for("GetImageTranslateBatch")
        assert [b.params["TargetLanguage"] for b in batches] == ["KOR"]
        saved = await first.services.store.get(task.id)
        assert saved.state is State.QUEUED
        assert [bool(i.provider_id) for i in saved.items] == [True, False, False] * 2

    async with tolk_on(env) as second:
        await second.settle()
    batches = xiangji.requests_for("GetImageTranslateBatch")
    assert [b.params["TargetLanguage"] for b in batches] == ["KOR", "JPN", "ENG"]
    parent, thread = parent_and_thread(slack)
    names = thread_files(slack, GENERAL, parent["ts"])
    assert len(names) == len(set(names)) == 6
    (final,) = closing(thread)
    assert "ko 2/2 · ja 2/2 · en 2/2" in final


# --- text ---------------------------------------------------------------------------------------


async def test_text_into_three_languages_is_one_answer(tolk, slack, xiangji):
    request, items = several(
        {"source": "zh", "source_code": "CHS"},
        [Item(source="我是中国人")],
        ["ko", "ja", "en"],
        "xiangji",
    )
    task = await record(tolk, "xiangji.translate_text", request, items)
    await tolk.settle()

    sent = xiangji.requests_for("GetTextTranslate")
    assert [(r.params["Text"], r.params["TargetLanguage"]) for r in sent] == [
        ("我是中国人", "KOR"),
        ("我是中国人", "JPN"),
        ("我是中国人", "ENG"),
    ]
    (answer,) = slack.messages(GENERAL)
    shown = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
    body = "\n".join(shown)
    assert [lang for lang in ("*ko*", "*ja*", "*en*") if lang in body] == ["*ko*", "*ja*", "*en*"]
    assert body.index("*ko*") < body.index("*ja*") < body.index("*en*")
    assert "I am Chinese" in body.split("*en*")[1]
    context = answer["blocks"][-1]["elements"][0]["text"]
    assert "zh→ko, ja, en" in context and task.id in context
    usage = await tolk.services.quota.usage()
    assert usage["users"]["U0ALICE"] == {"text translation": 15}  # 5 characters × 3


async def test_a_long_text_in_three_languages_comes_whole_as_one_file(tolk, slack, xiangji):
    text = "我是中国人。" * 750  # 4,500 characters: 13,500 in three languages
    request, items = several(
        {"source": "zh", "source_code": "CHS"}, [Item(source=text)], ["ko", "ja", "en"], "xiangji"
    )
    task = await record(tolk, "xiangji.translate_text", request, items)
    await tolk.settle()
    (answer,) = slack.messages(GENERAL)
    body = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    assert all(f"*{lang}*" in body for lang in ("ko", "ja", "en")) and len(body) < 10_000
    assert "text file" in body
    (attached,) = slack.files.values()
    assert attached.name == f"translation-{task.id}.txt"
    whole = attached.content.decode()
    assert whole.index("[ko]\n") < whole.index("[ja]\n") < whole.index("[en]\n")
    assert whole.count(text) == 3
    assert thread_files(slack, GENERAL, answer["ts"]) == [attached.name]


async def test_a_text_language_refused_is_said_in_the_answer(tolk, slack, xiangji):
    xiangji.faults.code("GetTextTranslate", 105)
    request, items = several(
        {"source": "zh", "source_code": "CHS"}, [Item(source="你好")], ["ko", "en"], "xiangji"
    )
    await record(tolk, "xiangji.translate_text", request, items)
    await tolk.settle()
    (answer,) = slack.messages(GENERAL)
    body = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    assert "*ko* — _not translated:" in body and "*en*" in body
    assert len(xiangji.requests_for("GetTextTranslate")) == 2


async def test_a_message_and_its_image_into_two_languages(tolk, slack, xiangji):
    message = slack.post_user_message(
        GENERAL, "U0BOB", "我是中国人", files=[("shoe.png", png(), "image/png")]
    )
    file = message["files"][0]
    origin = {"channel": GENERAL, "ts": message["ts"]}
    request, items = several(
        {
            "source": None,
            "source_code": None,
            "image_source_code": "CHS",
            "origin": origin,
        },
        [
            Item(source=message["text"], meta={"kind": "text", "name": "the text"}),
            Item(
                source=file["url_private"],
                meta={"kind": "file", "name": "shoe.png", "file_id": file["id"]},
            ),
        ],
        ["ko", "en"],
        "xiangji",
    )
    task = await record(
        tolk,
        "xiangji.translate_message",
        request,
        items,
        place=replace(PLACE, thread_ts=message["ts"]),
    )
    await tolk.settle()

    texts = xiangji.requests_for("GetTextTranslate")
    assert [r.params["TargetLanguage"] for r in texts] == ["KOR", "ENG"]
    uploads = xiangji.requests_for("GetImageTranslate")
    assert [r.params["TargetLanguage"] for r in uploads] == ["KOR", "ENG"]
    thread = slack.thread(GENERAL, message["ts"])
    answers = [m for m in thread if "*ko*" in m["text"]]
    assert len(answers) == 1 and "*en*" in answers[0]["text"]
    assert "I am Chinese" in answers[0]["text"]
    assert sorted(thread_files(slack, GENERAL, message["ts"])) == [
        f"shoe-en-{task.id}-4.png",
        f"shoe-ko-{task.id}-3.png",
    ]
    (final,) = closing([m for m in thread if m.get("user") != "U0BOB"])
    assert "ko 2/2 · en 2/2" in final


# --- Alibaba and Rozetta ---------------------------------------------------------------------


@pytest.fixture
async def alibaba() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(doc_seconds=0.05) as emulator:
        yield emulator


@pytest.fixture
async def mt(slack, xiangji, alibaba, tmp_path) -> AsyncIterator[Tolk]:
    async for tolk in running(alibaba_env(slack, xiangji, alibaba, tmp_path)):
        yield tolk


async def test_an_alibaba_document_into_two_languages(mt, slack, alibaba):
    url = alibaba.sample_doc_url("guide.txt")
    request, items = several(
        {"source": "en", "source_code": "en"},
        [Item(source=url, meta={"kind": "url", "name": "guide.txt"})],
        ["ja", "ko"],
        "alibaba",
    )
    task = await record(mt, "alibaba.translate_doc", request, items)
    await mt.settle()

    created = alibaba.requests_for(CREATE_DOC)
    assert [c.params["TargetLanguage"] for c in created] == ["ja", "ko"]
    assert [c.params["ClientToken"] for c in created] == [f"tolk-{task.id}-0", f"tolk-{task.id}-1"]
    parent, thread = parent_and_thread(slack)
    assert "guide.txt into 2 languages, en→ja, ko" in parent["text"]
    assert sorted(thread_files(slack, GENERAL, parent["ts"])) == ["guide-ja.txt", "guide-ko.txt"]
    contents = sorted(f.content[:5] for f in slack.files.values())
    assert contents == [b"[ja] ", b"[ko] "]
    (final,) = closing(thread)
    assert "1 document into 2 languages: ja 1/1 · ko 1/1" in final


async def test_alibaba_images_are_one_alibaba_task_per_language(mt, slack, xiangji, alibaba):
    urls = [xiangji.sample_url(f"p{i}") for i in range(2)]
    request, items = several(
        {"source": "zh", "source_code": "zh"},
        [Item(source=u) for u in urls],
        ["en", "ja"],
        "alibaba",
    )
    task = await record(mt, "alibaba.translate_image", request, items)
    await mt.settle()

    created = alibaba.requests_for(CREATE_IMAGE)
    assert [c.params["TargetLanguage"] for c in created] == ["en", "ja"]
    assert len({c.params["ClientToken"] for c in created}) == 2
    assert len(alibaba.requests_for(GET_IMAGE)) >= 2
    parent, thread = parent_and_thread(slack)
    assert sorted(thread_files(slack, GENERAL, parent["ts"])) == sorted(
        f"p{i}-{lang}-{task.id}-{2 * i + n + 1}.png"
        for i in range(2)
        for n, lang in enumerate(["en", "ja"])
    )
    (final,) = closing(thread)
    assert "en 2/2 · ja 2/2" in final


@pytest.fixture
async def rozetta() -> AsyncIterator[RozettaEmulator]:
    async with RozettaEmulator(done_after_polls=1) as emulator:
        yield emulator


async def test_a_rozetta_document_into_two_languages(slack, xiangji, rozetta, tmp_path):
    async with AlibabaMTEmulator() as samples:
        env = rozetta_env(slack, xiangji, rozetta, samples, tmp_path)
        async for rz in running(env):
            url = samples.sample_doc_url("guide.txt")
            request, items = several(
                {"source": "en", "source_code": "en"},
                [Item(source=url, meta={"kind": "url", "name": "guide.txt"})],
                ["ja", "ko"],
                "rozetta",
            )
            await record(rz, "rozetta.translate_doc", request, items)
            await rz.settle()
    sent = rozetta.requests_for("file-translate")
    assert [s.fields["targetLangs"] for s in sent] == ['["ja"]', '["ko"]']
    parent, thread = parent_and_thread(slack)
    assert sorted(thread_files(slack, GENERAL, parent["ts"])) == ["guide-ja.txt", "guide-ko.txt"]
    (final,) = closing(thread)
    assert "ja 1/1 · ko 1/1" in final

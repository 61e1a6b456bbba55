"""Xiangji's engines through the wire (issue 17, items 1 and 2): signed slash commands,
events and form submissions into the running app; assertions on what the Xiangji
emulator received (the key in ``ImgTransKey``, ``EngineType``, the text ``Type``), which
engine and quota Type the emulator charged, and what reached Slack."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_settings
from bot.core.tasks import Item, Place, State, Task
from bot.runtime import serving
from providers.xiangji.wire import IMAGE_ENGINES
from tests.conftest import Tolk
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import png, send_event, send_interaction, thread_files, upload

GENERAL, LOCALE = "C0GENERAL", "C0LOCALE"
VARIABLES = {
    "aliyun": "XIANGJI_IMG_TRANS_KEY",
    "google": "XIANGJI_IMG_TRANS_GOOGLE_KEY",
    "papago": "XIANGJI_IMG_TRANS_PAPAGO_KEY",
    "baidu": "XIANGJI_IMG_TRANS_BAIDU_KEY",
    "deepl": "XIANGJI_IMG_TRANS_DEEPL_KEY",
}
LABELS = {"google": "Google", "papago": "Papago", "baidu": "Baidu", "deepl": "DeepL"}
LABELS["chatgpt"] = "ChatGPT"


@asynccontextmanager
async def tolk_without(env: dict[str, str], *variables: str) -> AsyncIterator[Tolk]:
    """Tolk on the emulators with ``variables`` unset (keys an operator did not set)."""
    kept = {k: v for k, v in env.items() if k not in variables}
    async with (
        serving(load_settings(kept), host="127.0.0.1") as (services, port),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, port, session)


def parent_and_thread(slack, task_id: str, channel: str = GENERAL) -> tuple[dict, list[dict]]:
    (parent,) = [m for m in slack.messages(channel) if task_id in m.get("text", "")]
    return parent, slack.thread(channel, parent["ts"])


def reaction(message: dict, flag: str = "flag-kr", channel: str = GENERAL) -> dict:
    return {
        "type": "reaction_added",
        "user": "U0ALICE",
        "reaction": flag,
        "item": {"type": "message", "channel": channel, "ts": message["ts"]},
    }


# --- each engine reaches its key and its quota Type ---------------------------------------


@pytest.mark.parametrize("engine", list(IMAGE_ENGINES))
async def test_each_engine_sends_its_own_key_and_is_charged_to_its_type(
    tolk, slack, xiangji, engine
):
    quota_type = IMAGE_ENGINES[engine].quota_type
    before = dict(xiangji.quota)
    url = xiangji.sample_url("shoe")
    status, body = await tolk.command("/translate-image", f"zh>ko {url} --engine {engine}")
    assert status == 200
    task_id = task_id_in(body)
    await tolk.settle()

    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.params["ImgTransKey"] == xiangji.keys[quota_type]
    assert sent.params.get("EngineType") == ("5" if engine == "chatgpt" else None)
    (charge,) = xiangji.charges
    assert (charge.type, charge.engine) == (quota_type, engine)
    assert xiangji.jobs[charge.request_id].engine == engine
    assert xiangji.quota[quota_type] == before[quota_type] - 1
    assert {t: n for t, n in xiangji.quota.items() if t != quota_type} == {
        t: n for t, n in before.items() if t != quota_type
    }

    task = await tolk.services.store.get(task_id)
    assert task.state is State.DELIVERED and task.request["engine"] == engine
    parent, thread = parent_and_thread(slack, task_id)
    assert len(thread_files(slack, GENERAL, parent["ts"])) == 1
    closing = thread[-1]["text"]
    assert "Done" in closing
    if engine == "aliyun":  # the default goes without saying
        assert "engine" not in parent["text"] and "engine" not in closing and "engine" not in body
    else:
        said = f"with the {LABELS[engine]} engine"
        assert said in parent["text"] and said in closing and said in body


@pytest.mark.parametrize("engine", ["google", "chatgpt"])
async def test_a_batch_carries_the_engine(tolk, slack, xiangji, engine):
    urls = [xiangji.sample_url(f"b{i}") for i in range(3)]
    _, body = await tolk.command("/translate-image", f"zh>ja {' '.join(urls)} --engine {engine}")
    await tolk.settle()

    (batch,) = xiangji.requests_for("GetImageTranslateBatch")
    quota_type = IMAGE_ENGINES[engine].quota_type
    assert batch.method == "GET" and batch.params["ImgTransKey"] == xiangji.keys[quota_type]
    assert batch.params.get("EngineType") == ("5" if engine == "chatgpt" else None)
    assert [c.engine for c in xiangji.charges] == [engine] * 3
    assert {c.type for c in xiangji.charges} == {quota_type}
    parent, _ = parent_and_thread(slack, task_id_in(body))
    assert len(thread_files(slack, GENERAL, parent["ts"])) == 3


async def test_translate_googlellm_is_type_6(tolk, slack, xiangji):
    await tolk.command("/translate", "zh>en 我是中国人 --engine googlellm")
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["Type"] == "6" and sent.params["TextTransKey"] == xiangji.keys[2]
    (answer,) = slack.messages(GENERAL)
    assert "I am Chinese" in answer["text"]


async def test_an_old_task_with_a_numbered_engine_still_works(tolk, slack, xiangji):
    """Tasks recorded before engines were names stored the text ``Type`` as a number."""
    now = tolk.services.clock()
    task = Task(
        id="TOLD1",
        dedupe_key="test:old-engine",
        place=Place(team="T0TOLK", channel=GENERAL, user="U0ALICE"),
        provider="xiangji",
        operation="xiangji.translate_text",
        request={
            "source": "zh",
            "target": "en",
            "source_code": "CHS",
            "target_code": "ENG",
            "engine": 4,
            "private": False,
        },
        items=(Item(source="我是中国人"),),
        created_at=now,
        updated_at=now,
        next_poll_at=now,
        deadline=now + 600,
    )
    await tolk.services.store.create_if_absent(task)
    tolk.services.poller.nudge()
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["Type"] == "4"
    assert (await tolk.services.store.get("TOLD1")).state is State.DELIVERED


# --- an engine whose key is not configured ------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "unset", "variable"),
    [
        ("papago", ("XIANGJI_IMG_TRANS_PAPAGO_KEY",), "XIANGJI_IMG_TRANS_PAPAGO_KEY"),
        ("chatgpt", ("XIANGJI_IMG_TRANS_KEY",), "XIANGJI_IMG_TRANS_KEY"),
    ],
)
async def test_an_unconfigured_engine_is_refused_before_any_task(
    env, slack, xiangji, engine, unset, variable
):
    async with tolk_without(env, *unset) as tolk:
        url = xiangji.sample_url()
        status, body = await tolk.command("/translate-image", f"zh>ko {url} --engine {engine}")
        assert status == 200
        await tolk.settle()
        assert f"`{variable}`" in body and "not configured" in body
        configured = tolk.services.settings.xiangji.image_engines()
        assert engine not in configured
        assert "Configured engines: " + ", ".join(f"`{e}`" for e in configured) in body
        assert "Usage: `/translate-image" in body
        assert await tolk.services.store.list_for_channel(GENERAL, active_only=False) == []
    assert xiangji.requests == [] and slack.messages(GENERAL) == []


async def test_no_image_key_at_all_says_which_variables_turn_it_on(env, slack, xiangji):
    async with tolk_without(env, *VARIABLES.values()) as tolk:
        _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
        assert "image translation is off" in body
        for variable in VARIABLES.values():
            assert variable in body
        assert await tolk.services.store.list_for_channel(GENERAL, active_only=False) == []
    assert xiangji.requests == []


async def test_a_channel_cannot_be_set_to_an_unconfigured_engine(env, slack, xiangji):
    async with tolk_without(env, "XIANGJI_IMG_TRANS_DEEPL_KEY") as tolk:
        _, body = await tolk.command("/tolk", "config auto-images on zh>ko --engine deepl")
        assert "`XIANGJI_IMG_TRANS_DEEPL_KEY`" in body and "Usage: `/tolk config" in body
        _, shown = await tolk.command("/tolk", "config show")
        assert "auto-images: off" in shown


async def test_cutout_says_it_has_no_engine(tolk, slack, xiangji):
    _, body = await tolk.command("/cutout", f"{xiangji.sample_url()} --engine google")
    assert "`/cutout` has no `--engine`" in body and "XIANGJI_MATTING_KEY" in body
    await tolk.settle()
    assert xiangji.requests == []


# --- the default: the first configured of aliyun, google, papago, baidu, deepl -----------


@pytest.mark.parametrize("first", ["aliyun", "google", "papago", "baidu", "deepl"])
async def test_the_default_is_the_first_configured_engine(env, slack, xiangji, first):
    order = list(VARIABLES)
    unset = [VARIABLES[e] for e in order[: order.index(first)]]
    async with tolk_without(env, *unset) as tolk:
        _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
        assert task.request["engine"] == first
    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.params["ImgTransKey"] == xiangji.keys[IMAGE_ENGINES[first].quota_type]
    assert "EngineType" not in sent.params


# --- the Translate… form -----------------------------------------------------------------


async def open_form(tolk, slack, message: dict, channel: str = GENERAL) -> dict:
    status, _ = await send_interaction(
        tolk,
        {
            "type": "message_action",
            "callback_id": "tolk_translate",
            "trigger_id": slack.new_trigger_id(),
            "team": {"id": "T0TOLK"},
            "user": {"id": "U0ALICE"},
            "channel": {"id": channel},
            "message_ts": message["ts"],
            "message": message,
        },
    )
    assert status == 200
    (view,) = slack.views.values()
    return view


def engine_block(view: dict) -> dict | None:
    return next((b for b in view["blocks"] if b.get("block_id") == "engine"), None)


async def test_the_form_offers_the_configured_engines_and_uses_the_one_picked(tolk, slack, xiangji):
    message = slack.post_user_message(GENERAL, "U0BOB", "", files=[("f.png", png(), "image/png")])
    view = await open_form(tolk, slack, message)
    block = engine_block(view)
    assert block is not None
    offered = [o["value"] for o in block["element"]["options"]]
    assert offered == list(IMAGE_ENGINES)  # every key is set in the emulator environment
    assert block["element"]["initial_option"]["value"] == "aliyun"
    labels = [o["text"]["text"] for o in block["element"]["options"]]
    assert "DeepL" in labels and "ChatGPT" in labels

    values = {
        "target": {"value": {"type": "static_select", "selected_option": {"value": "ko"}}},
        "source": {"value": {"type": "static_select", "selected_option": {"value": "zh"}}},
        "engine": {"value": {"type": "static_select", "selected_option": {"value": "baidu"}}},
    }
    submission = {
        "type": "view_submission",
        "team": {"id": "T0TOLK"},
        "user": {"id": "U0ALICE"},
        "view": {**view, "state": {"values": values}},
    }
    status, body = await send_interaction(tolk, submission)
    assert status == 200 and "errors" not in body
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.path.startswith("/api2") and sent.params["ImgTransKey"] == xiangji.keys[5]
    closing = slack.thread(GENERAL, message["ts"])[-1]["text"]
    assert "with the Baidu engine" in closing


async def test_the_form_has_no_engine_select_with_one_engine(env, slack, xiangji):
    only_google = [v for e, v in VARIABLES.items() if e != "google"]
    async with tolk_without(env, *only_google) as tolk:
        message = slack.post_user_message(
            GENERAL, "U0BOB", "", files=[("g.png", png(), "image/png")]
        )
        view = await open_form(tolk, slack, message)
        assert engine_block(view) is None
        values = {
            "target": {"value": {"type": "static_select", "selected_option": {"value": "ko"}}},
            "source": {"value": {"type": "static_select", "selected_option": {"value": "zh"}}},
        }
        submission = {
            "type": "view_submission",
            "team": {"id": "T0TOLK"},
            "user": {"id": "U0ALICE"},
            "view": {**view, "state": {"values": values}},
        }
        await send_interaction(tolk, submission)
        await tolk.settle()
    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.params["ImgTransKey"] == xiangji.keys[3]


async def test_the_form_starts_at_the_channels_engine(tolk, slack, xiangji):
    await tolk.command("/tolk", "config auto-images on zh>ko --engine papago", channel=LOCALE)
    message = slack.post_user_message(LOCALE, "U0BOB", "", files=[("h.png", png(), "image/png")])
    view = await open_form(tolk, slack, message, LOCALE)
    assert engine_block(view)["element"]["initial_option"]["value"] == "papago"


# --- a channel's engine: uploads and flags -----------------------------------------------


async def test_a_channels_engine_is_used_by_its_uploads_and_flags(tolk, slack, xiangji):
    _, body = await tolk.command(
        "/tolk", "config auto-images on zh>ko --engine deepl", channel=LOCALE
    )
    assert "with the DeepL engine" in body
    _, shown = await tolk.command("/tolk", "config show", channel=LOCALE)
    assert "auto-images: zh→ko via xiangji with the DeepL engine" in shown

    uploaded = await upload(tolk, slack, [("u.png", png(), "image/png")])
    await tolk.settle()
    flagged = slack.post_user_message(LOCALE, "U0BOB", "", files=[("v.png", png(), "image/png")])
    assert await send_event(tolk, reaction(flagged, "jp", LOCALE)) == 200
    await tolk.settle()

    sent = xiangji.requests_for("GetImageTranslate")
    assert len(sent) == 2 and {r.params["ImgTransKey"] for r in sent} == {xiangji.keys[7]}
    assert [c.engine for c in xiangji.charges] == ["deepl", "deepl"]
    assert thread_files(slack, LOCALE, uploaded["ts"])[0].startswith("u-ko-")
    assert thread_files(slack, LOCALE, flagged["ts"])[0].startswith("v-ja-")
    for message in (uploaded, flagged):
        closing = slack.thread(LOCALE, message["ts"])[-1]["text"]
        assert "with the DeepL engine" in closing

    # A channel without an engine of its own: flags use the default.
    other = slack.post_user_message(GENERAL, "U0BOB", "", files=[("w.png", png(), "image/png")])
    await send_event(tolk, reaction(other))
    await tolk.settle()
    assert xiangji.requests_for("GetImageTranslate")[-1].params["ImgTransKey"] == xiangji.keys[1]


async def test_a_flag_in_a_channel_whose_engine_lost_its_key_says_so(env, slack, xiangji):
    async with tolk_without(env) as tolk:
        await tolk.command("/tolk", "config auto-images on zh>ko --engine google", channel=LOCALE)
    async with tolk_without(env, "XIANGJI_IMG_TRANS_GOOGLE_KEY") as tolk:
        message = slack.post_user_message(
            LOCALE, "U0BOB", "", files=[("x.png", png(), "image/png")]
        )
        await send_event(tolk, reaction(message, channel=LOCALE))
        await tolk.settle()
        (note,) = slack.ephemerals(LOCALE)
        assert "`XIANGJI_IMG_TRANS_GOOGLE_KEY`" in note["text"]
        assert await tolk.services.store.list_for_channel(LOCALE, active_only=False) == []
    assert xiangji.requests == []


# --- several images with options the batch does not take --------------------------------


async def test_several_images_with_removed_still_get_removed_text_images(tolk, slack, xiangji):
    urls = [xiangji.sample_url(f"r{i}") for i in range(3)]
    status, body = await tolk.command(
        "/translate-image", f"zh>ko {' '.join(urls)} --removed --best --engine google"
    )
    assert status == 200
    task_id = task_id_in(body)
    await tolk.settle()

    assert xiangji.requests_for("GetImageTranslateBatch") == []
    sent = xiangji.requests_for("GetImageTranslate")
    assert [r.params["Url"] for r in sent] == urls  # one call per image, in order
    for r in sent:
        assert r.params["NeedRmUrl"] == "1" and r.params["Qos"] == "BestQuality"
        assert r.params["ImgTransKey"] == xiangji.keys[3]
    parent, thread = parent_and_thread(slack, task_id)
    names = thread_files(slack, GENERAL, parent["ts"])
    assert sorted(names) == sorted(
        [f"r{i}-ko-{task_id}-{i + 1}.png" for i in range(3)]
        + [f"r{i}-ko-removed-{task_id}-{i + 1}.png" for i in range(3)]
    )
    assert "all 3 images translated with the Google engine" in thread[-1]["text"]
    task = await tolk.services.store.get(task_id)
    assert [i.provider_id for i in task.items] == [c.request_id for c in xiangji.charges]


async def test_one_image_refused_among_several_fails_alone(tolk, slack, xiangji):
    urls = [xiangji.sample_url(f"s{i}") for i in range(3)]
    xiangji.faults.code("GetImageTranslate", 105, times=1)  # the first call only
    _, body = await tolk.command("/translate-image", f"zh>ko {' '.join(urls)} --fast")
    await tolk.settle()
    task_id = task_id_in(body)
    assert all(r.params["Qos"] == "LowLatency" for r in xiangji.requests_for("GetImageTranslate"))
    task = await tolk.services.store.get(task_id)
    assert [i.status for i in task.items] == ["failed", "done", "done"]
    _, thread = parent_and_thread(slack, task_id)
    assert "2 of 3 translated" in thread[-1]["text"] and "s0.png" in thread[-1]["text"]


async def test_ocr_with_removed_posts_the_text_of_each_image(tolk, slack, xiangji):
    urls = [xiangji.sample_url(f"o{i}") for i in range(2)]
    _, body = await tolk.command("/translate-image", f"zh>ko {' '.join(urls)} --removed --ocr")
    await tolk.settle()
    task_id = task_id_in(body)
    assert len(xiangji.requests_for("GetImageTranslate")) == 2
    assert len(xiangji.requests_for("GetImageTranslateBatchQuery")) == 2
    parent, thread = parent_and_thread(slack, task_id)
    assert len(thread_files(slack, GENERAL, parent["ts"])) == 4
    texts = [m["text"] for m in thread if m.get("text", "").startswith("Text in")]
    assert len(texts) == 2 and all("点缀蜗居生活" in t for t in texts)


# --- the layering rule -------------------------------------------------------------------


def test_handlers_never_import_the_xiangji_provider():
    """Only its spec (the engine names); the client and wire format stay in the engine."""
    paths = list(Path("handlers").rglob("*.py"))
    assert len(paths) > 10  # every handler module, not just the package's top
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            names = [n for n in names if n != "providers.xiangji.spec"]
            assert not any(n.startswith("providers.xiangji") for n in names), (path, names)


def test_help_and_usage_mention_the_engines():
    from bot.core import messages

    assert "--engine" in messages.USAGE["translate-image"] and "googlellm" in messages.HELP
    assert "--engine google" in messages.HELP
    assert json.dumps(messages.USAGE).count("googlellm") == 1  # /translate's engines only

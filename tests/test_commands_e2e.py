"""/translate and /translate-image end to end: signed slash commands into the running
app over loopback; assertions on what reached the Slack and Xiangji emulators."""

from __future__ import annotations

import hashlib
import re
import time

import aiohttp

from emulators.signed import command_body, post_signed
from tests.conftest import SIGNING_SECRET


def task_id_in(text: str) -> str:
    match = re.search(r"task `(T[0-9A-Z]{4})`", text)
    assert match, f"no task id in {text!r}"
    return match.group(1)


async def test_translate_posts_the_translation_in_the_channel(tolk, slack, xiangji):
    status, body = await tolk.command("/translate", "zh>en 我是中国人")
    assert status == 200
    task_id = task_id_in(body)
    await tolk.settle()

    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert sent.params["Text"] == "我是中国人"
    assert (sent.params["SourceLanguage"], sent.params["TargetLanguage"]) == ("CHS", "ENG")
    expected = hashlib.md5(f"{sent.params['CommitTime']}_xj-user_xj-text".encode()).hexdigest()
    assert sent.params["Sign"] == expected

    (message,) = slack.messages("C0GENERAL")
    assert "I am Chinese" in message["text"]
    context = message["blocks"][1]["elements"][0]["text"]
    assert "<@U0ALICE>" in context and task_id in context and "我是中国人" in context


async def test_translate_detects_the_source_and_can_answer_privately(tolk, slack, xiangji):
    status, _ = await tolk.command("/translate", "ko 你好 --private")
    assert status == 200
    await tolk.settle()
    (sent,) = xiangji.requests_for("GetTextTranslate")
    assert (sent.params["SourceLanguage"], sent.params["Text"]) == ("CHS", "你好")
    assert slack.messages("C0GENERAL") == []
    (ephemeral,) = slack.ephemerals("C0GENERAL")
    assert ephemeral["user"] == "U0ALICE" and "你好" in str(ephemeral["blocks"])


async def test_translate_image_uploads_the_result_into_the_parent_thread(tolk, slack, xiangji):
    url = xiangji.sample_url("shoe")
    status, body = await tolk.command("/translate-image", f"zh>ko {url}")
    assert status == 200
    task_id = task_id_in(body)
    await tolk.settle()

    (sent,) = xiangji.requests_for("GetImageTranslate")
    assert sent.params["Url"] == url
    assert sent.params["NeedWatermark"] == "0"
    assert (sent.params["SourceLanguage"], sent.params["TargetLanguage"]) == ("CHS", "KOR")

    (parent,) = slack.messages("C0GENERAL")
    assert task_id in parent["text"] and "<@U0ALICE>" in parent["text"]
    replies = slack.thread("C0GENERAL", parent["ts"])
    uploads = [f for r in replies for f in r.get("files", [])]
    assert len(uploads) == 1
    stored = slack.files[uploads[0]["id"]]
    assert stored.name == f"shoe-ko-{task_id}-1.png"
    task = await tolk.services.store.get(task_id)
    result_url = task.items[0].outputs[0]["url"]
    async with aiohttp.ClientSession() as session, session.get(result_url) as resp:
        assert stored.content == await resp.read()  # the very bytes the provider produced
    assert stored.content.startswith(b"\x89PNG")
    assert "Done" in replies[-1]["text"] and task_id in replies[-1]["text"]


async def test_several_images_are_one_batch_and_each_lands_in_the_thread(tolk, slack, xiangji):
    urls = [xiangji.sample_url(f"p{i}") for i in range(3)]
    status, body = await tolk.command("/translate-image", "ko " + " ".join(urls))
    assert status == 200
    await tolk.settle()

    (batch,) = xiangji.requests_for("GetImageTranslateBatch")
    assert batch.method == "GET" and batch.params["Sync"] == "2"
    assert "NeedRmUrl" not in batch.params and "Qos" not in batch.params  # not the batch's
    assert xiangji.requests_for("GetImageTranslate") == []
    (parent,) = slack.messages("C0GENERAL")
    names = [f["name"] for r in slack.thread("C0GENERAL", parent["ts"]) for f in r.get("files", [])]
    task_id = task_id_in(body)
    assert sorted(names) == sorted(f"p{i}-ko-{task_id}-{i + 1}.png" for i in range(3))
    assert "3 of 3 done" in slack.messages("C0GENERAL")[0]["text"]


async def test_several_images_with_removed_go_one_call_each(tolk, slack, xiangji):
    """The batch takes no NeedRmUrl (seed 002 part 六): each image is its own call."""
    urls = [xiangji.sample_url(f"p{i}") for i in range(3)]
    status, body = await tolk.command("/translate-image", "ko " + " ".join(urls) + " --removed")
    assert status == 200
    await tolk.settle()

    assert xiangji.requests_for("GetImageTranslateBatch") == []
    sent = xiangji.requests_for("GetImageTranslate")
    assert [r.params["Url"] for r in sent] == urls
    assert all(r.params["NeedRmUrl"] == "1" for r in sent)
    (parent,) = slack.messages("C0GENERAL")
    names = [f["name"] for r in slack.thread("C0GENERAL", parent["ts"]) for f in r.get("files", [])]
    task_id = task_id_in(body)
    assert sorted(names) == sorted(
        [f"p{i}-ko-{task_id}-{i + 1}.png" for i in range(3)]
        + [f"p{i}-ko-removed-{task_id}-{i + 1}.png" for i in range(3)]
    )
    assert "3 of 3 done" in slack.messages("C0GENERAL")[0]["text"]


async def test_bad_input_is_explained_and_reaches_no_provider(tolk, slack, xiangji):
    cases = {
        ("/translate", "klingon 你好"): "Unknown language",
        ("/translate", "zh>en"): "no text",
        ("/translate-image", "zh>ko not-a-url"): "not a web address",
        ("/translate-image", "ko>zh https://example.com/a.jpg"): "image",
        ("/translate-image", "zh>ko https://example.com/a.jpg --sepia"): "Unknown option",
    }
    for (command, text), expected in cases.items():
        status, body = await tolk.command(command, text)
        assert status == 200
        assert expected.lower() in body.lower(), (text, body)
        assert "Usage" in body or "write" in body.lower() or "Try" in body, body
    await tolk.settle()
    assert xiangji.requests == []
    assert slack.messages("C0GENERAL") == []
    assert await tolk.services.store.list_for_channel("C0GENERAL") == []


async def test_provider_failure_gives_one_message_with_code_and_meaning(tolk, slack, xiangji):
    xiangji.faults.code("GetImageTranslate", 105)
    _, body = await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    await tolk.settle()
    (parent,) = slack.messages("C0GENERAL")
    (reply,) = slack.thread("C0GENERAL", parent["ts"])
    assert "105" in reply["text"] and "language pair" in reply["text"].lower()
    assert task_id_in(body) in reply["text"]


async def test_result_on_a_host_not_allowed_is_never_fetched(tolk, slack, xiangji, env):
    tolk.services.work.delivery._allowed = ("i.tosoiot.com",)
    await tolk.command("/translate-image", f"zh>ko {xiangji.sample_url()}")
    await tolk.settle()
    (parent,) = slack.messages("C0GENERAL")
    (reply,) = slack.thread("C0GENERAL", parent["ts"])
    assert "not allowed" in reply["text"]
    assert not slack.files and not [d for d in xiangji.downloads if d.startswith("/i/")]


async def test_bad_signature_and_stale_timestamp_are_refused(tolk, slack, xiangji):
    body = command_body("/translate", "zh>en 你好")
    status, _ = await post_signed(tolk.session, tolk.events_url, "wrong-secret", body)
    assert status == 401
    stale = time.time() - 10 * 60
    status, _ = await post_signed(
        tolk.session, tolk.events_url, SIGNING_SECRET, body, timestamp=stale
    )
    assert status == 401
    await tolk.settle()
    assert xiangji.requests == [] and slack.messages("C0GENERAL") == []
    assert await tolk.services.store.list_for_channel("C0GENERAL") == []


async def test_the_same_command_delivered_twice_is_one_task(tolk, slack, xiangji):
    body = command_body("/translate", "zh>en 我是中国人", trigger_id="123.456.abc")
    first = await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)
    second = await post_signed(tolk.session, tolk.events_url, SIGNING_SECRET, body)
    await tolk.settle()
    assert task_id_in(first[1]) == task_id_in(second[1])
    assert "already" in second[1]
    assert len(xiangji.requests_for("GetTextTranslate")) == 1
    assert len(slack.messages("C0GENERAL")) == 1


async def test_healthz_answers(tolk):
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["ok"] is True

"""Alibaba machine translation end to end: signed slash commands and channel uploads in,
the Alibaba MT emulator doing the work (fetching files from Tolk's signed links, posting
callbacks), and what arrived in the Slack emulator's threads out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.core.tasks import State
from bot.runtime import serving
from emulators.alibaba import AlibabaMTEmulator
from sandbox.wiring import emulator_env, free_port
from tests.conftest import SIGNING_SECRET, Tolk, poll_round
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import thread_files, upload

CREATE_DOC, GET_DOC = "CreateDocTranslateTask", "GetDocTranslateTask"
CREATE_IMAGE, GET_IMAGE = "CreateImageTranslateTask", "GetImageTranslateTask"


@pytest.fixture
async def alibaba() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(doc_seconds=None) as emulator:
        yield emulator


def alibaba_env(slack, xiangji, alibaba, tmp_path, *, public: bool = True, **extra: str):
    env = emulator_env(
        slack,
        xiangji,
        alibaba=alibaba,
        port=free_port() if public else 0,
        signing_secret=SIGNING_SECRET,
        database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
    )
    return {**env, "TOLK_POLL_MIN_SECONDS": "0.05", "TOLK_POLL_MAX_SECONDS": "0.2", **extra}


async def running(env: dict[str, str], **kwargs: Any) -> AsyncIterator[Tolk]:
    async with (
        serving(load_settings(env), host="127.0.0.1", **kwargs) as (services, port),
        aiohttp.ClientSession() as session,
    ):
        yield Tolk(services, port, session)


@pytest.fixture
async def mt(slack, xiangji, alibaba, tmp_path) -> AsyncIterator[Tolk]:
    async for tolk in running(alibaba_env(slack, xiangji, alibaba, tmp_path)):
        yield tolk


async def until(condition, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def parent_of(slack, channel: str = "C0GENERAL") -> dict:
    return slack.messages(channel)[-1]


# --- /translate-doc ------------------------------------------------------------------------


async def test_translate_doc_by_url_lands_the_translated_file_in_the_thread(mt, slack, alibaba):
    url = alibaba.sample_doc_url("guide.txt")
    status, body = await mt.command("/translate-doc", f"en>ja {url} --scene tech")
    assert status == 200 and "guide.txt" in body
    task_id = task_id_in(body)
    await until(lambda: alibaba.docs)
    (doc,) = alibaba.docs.values()
    (create,) = alibaba.requests_for(CREATE_DOC)
    assert create.params["FileUrl"] == url  # a public URL is passed as it is
    assert create.params["Scene"] == "tech" and create.params["ClientToken"] == f"tolk-{task_id}-0"
    assert create.params["SourceLanguage"] == "en" and create.params["TargetLanguage"] == "ja"
    assert create.params["CallbackUrl"].startswith(mt.services.settings.public_url)

    alibaba.finish(doc.task_id)
    await mt.settle()
    parent = parent_of(slack)
    assert task_id in parent["text"] and "guide.txt" in parent["text"]
    assert thread_files(slack, "C0GENERAL", parent["ts"]) == ["guide-ja.txt"]
    (uploaded,) = slack.files.values()
    assert uploaded.content.startswith(b"[ja] ")  # the emulator's translation, not the source
    final = slack.thread("C0GENERAL", parent["ts"])[-1]
    assert "1 document translated" in final["text"]
    task = await mt.services.store.get(task_id)
    assert task.state is State.DELIVERED and task.settled


async def test_a_callback_completes_the_task_before_its_first_poll(
    slack, xiangji, alibaba, tmp_path
):
    """Polls 30 s apart: only the callback can bring the file in within seconds, and it
    is confirmed by exactly one status query."""
    alibaba.doc_seconds = 0.2
    env = alibaba_env(
        slack, xiangji, alibaba, tmp_path, TOLK_POLL_MIN_SECONDS="30", TOLK_POLL_MAX_SECONDS="60"
    )
    async for tolk in running(env):
        _, body = await tolk.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}")
        await until(lambda: len(slack.files) == 1, within=5)
        assert len(alibaba.callbacks) == 1 and alibaba.callbacks[0].status == 200
        assert len(alibaba.requests_for(GET_DOC)) == 1
        await until(lambda: len(slack.thread("C0GENERAL", parent_of(slack)["ts"])) == 2)
        task = await tolk.services.store.get(task_id_in(body))
        assert task.state is State.DELIVERED and task.polls == 0


async def test_callbacks_with_a_wrong_or_missing_token_change_nothing(mt, alibaba):
    _, body = await mt.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}")
    task_id = task_id_in(body)
    await until(lambda: alibaba.docs)
    await mt.services.poller.drain()
    before = await mt.services.store.get(task_id)
    (alibaba_id,) = alibaba.docs
    notice = {"task_id": alibaba_id, "status": "translated", "errCode": 200, "errMsg": ""}
    base = f"http://127.0.0.1:{mt.port}/callbacks/alibaba/{task_id}"
    good = mt.services.links.callback_token(task_id)
    for url in (
        f"{base}/{good[:-2]}xx",
        f"{base}/",
        f"{base}",
        base.replace(task_id, "TZZZZ") + f"/{good}",
    ):
        async with mt.session.post(url, json=notice) as resp:
            assert resp.status in (404, 405)
    after = await mt.services.store.get(task_id)
    assert after.next_poll_at == before.next_poll_at and after.state is before.state


async def test_callbacks_from_an_unlisted_address_are_refused(slack, xiangji, alibaba, tmp_path):
    env = alibaba_env(slack, xiangji, alibaba, tmp_path, ALIBABA_CALLBACK_IPS="alibaba")
    async for tolk in running(env):
        _, body = await tolk.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}")
        task_id = task_id_in(body)
        url = tolk.services.links.callback_url("alibaba", task_id)
        async with tolk.session.post(url, json={"task_id": "x", "status": "translated"}) as resp:
            assert resp.status == 403  # loopback is not one of Alibaba's documented addresses


async def test_unsupported_pairs_are_refused_before_any_provider_call(mt, alibaba):
    cases = {
        ("/translate-doc", "zh-TW>ja https://example.com/a.docx"): "Traditional Chinese",
        ("/translate-doc", "ja https://example.com/a.docx"): "needs the source language",
        ("/translate-image", "ja>en https://example.com/a.png --provider alibaba"): "zh or en",
        ("/translate-image", "zh>en https://example.com/a.png --provider alibaba --ocr"): "--ocr",
        ("/translate-doc", "en>ja https://example.com/a.docx --scene legal"): "--scene legal",
    }
    for (command, text), expected in cases.items():
        status, body = await mt.command(command, text)
        assert status == 200 and expected in body, (text, body)
    assert alibaba.requests == [] and await mt.services.store.list_for_channel("C0GENERAL") == []


async def test_a_file_type_alibaba_refuses_fails_with_its_code(mt, slack, alibaba):
    _, body = await mt.command("/translate-doc", f"en>ja {alibaba.sample_doc_url('setup.exe')}")
    await mt.settle()
    final = slack.thread("C0GENERAL", parent_of(slack)["ts"])[-1]
    assert "10031" in final["text"] and "file type" in final["text"]
    assert (await mt.services.store.get(task_id_in(body))).state is State.FAILED


async def test_arrears_fail_the_task_and_raise_a_quota_alert(mt, slack, alibaba):
    alibaba.faults.code(CREATE_DOC, "10013", status=400)
    await mt.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}")
    await mt.settle()
    texts = [m["text"] for m in slack.thread("C0GENERAL", parent_of(slack)["ts"])]
    failure = [t for t in texts if "failed" in t]
    alert = [t for t in texts if "quota" in t]
    assert len(failure) == 1 and "10013" in failure[0] and "quota" not in failure[0]
    assert len(alert) == 1 and "Alibaba" in alert[0]


async def test_throttling_is_retried_with_the_same_client_token(mt, slack, alibaba):
    alibaba.faults.throttle(CREATE_DOC)
    task_id = task_id_in(
        (await mt.command("/translate-doc", f"en>ja {alibaba.sample_doc_url()}"))[1]
    )
    task = None
    for _ in range(3):
        await mt.services.poller.drain()
        task = await mt.services.store.get(task_id)
        if task.attempts:
            break
    assert task.attempts == 1 and task.next_poll_at - time.time() > 0.4  # waits for the minute
    await mt.services.store.save(task.but(next_poll_at=0))
    mt.services.poller.nudge()
    await until(lambda: alibaba.docs)
    tokens = {r.params["ClientToken"] for r in alibaba.requests_for(CREATE_DOC)}
    assert tokens == {f"tolk-{task_id}-0"} and len(alibaba.requests_for(CREATE_DOC)) == 2


# --- files Alibaba must fetch: uploads and signed links ---------------------------------------


async def test_a_document_uploaded_to_an_auto_docs_channel_is_translated_in_its_thread(
    mt, slack, alibaba
):
    alibaba.doc_seconds = 0.05
    await mt.command("/tolk", "config auto-docs on en>de", channel="C0LOCALE")
    message = await upload(
        mt, slack, [("Release notes.md", b"# Hello\n\nNew things.\n", "text/markdown")]
    )
    await until(lambda: any(f.name == "Release notes-de.md" for f in slack.files.values()))
    (doc,) = alibaba.docs.values()
    assert "/files/" in doc.source_url and doc.source_bytes == b"# Hello\n\nNew things.\n"
    assert alibaba.fetched == [(doc.source_url, 200)]
    await mt.settle()
    assert thread_files(slack, "C0LOCALE", message["ts"]) == ["Release notes-de.md"]
    closing = slack.thread("C0LOCALE", message["ts"])[-1]
    assert "1 document translated" in closing["text"]
    async with mt.session.get(doc.source_url) as resp:  # the task settled: the link is dead
        assert resp.status == 403


async def test_signed_links_open_one_file_until_they_expire(mt, slack, alibaba):
    alibaba.doc_seconds = None
    await mt.command("/tolk", "config auto-docs on en>de", channel="C0LOCALE")
    await upload(mt, slack, [("a.txt", b"hello", "text/plain")])
    await until(lambda: alibaba.docs)
    (doc,) = alibaba.docs.values()
    link = doc.source_url
    async with mt.session.get(link) as resp:
        assert resp.status == 200 and await resp.read() == b"hello"
    head, signature, name = link.rsplit("/", 2)
    forged = [
        f"{head}/{signature[:-3]}AAA/{name}",  # another signature
        f"{head}/{signature}/other.txt",  # another name
        link.replace("/0/", "/1/"),  # another item of the task
        f"http://127.0.0.1:{mt.port}/files/",  # no listing
    ]
    for url in forged:
        async with mt.session.get(url) as resp:
            assert resp.status in (403, 404), url
    task_id = link.split("/files/")[1].split("/")[0]
    mt.services.links.ttl = -1  # a link made now has already expired
    expired = mt.services.links.file_url(task_id, 0, "a.txt")
    async with mt.session.get(expired) as resp:
        assert resp.status == 403 and b"expired" in await resp.read()


async def test_without_a_public_url_slack_files_get_a_clear_message(
    slack, xiangji, alibaba, tmp_path
):
    env = alibaba_env(slack, xiangji, alibaba, tmp_path, public=False)
    async for tolk in running(env):
        file = slack.post_user_message(
            "C0GENERAL", "U0BOB", "", files=[("a.docx", b"x", "application/msword")]
        )
        url = file["files"][0]["url_private"]
        _, body = await tolk.command("/translate-doc", f"en>ja {url}")
        assert "TOLK_PUBLIC_URL" in body
        await tolk.command("/tolk", "config auto-docs on en>de", channel="C0LOCALE")
        message = await upload(tolk, slack, [("b.docx", b"y", "application/msword")])
        await tolk.settle()
        (reply,) = slack.thread("C0LOCALE", message["ts"])
        assert "TOLK_PUBLIC_URL" in reply["text"]
        assert alibaba.requests == []


# --- image tasks -------------------------------------------------------------------------------


async def test_translate_image_with_alibaba(mt, slack, alibaba):
    urls = [alibaba.sample_image_url(f"p{i}.png") for i in range(2)]
    _, body = await mt.command("/translate-image", f"zh>en {' '.join(urls)} --provider alibaba")
    task_id = task_id_in(body)
    await mt.settle()
    (create,) = alibaba.requests_for(CREATE_IMAGE)
    assert create.params["UrlList"] == ",".join(urls)
    assert create.params["ClientToken"] == f"tolk-{task_id}-0"
    assert len(alibaba.requests_for(GET_IMAGE)) >= 2  # pending once, then done
    parent = parent_of(slack)
    names = thread_files(slack, "C0GENERAL", parent["ts"])
    assert names == [f"p0-en-{task_id}-1.png", f"p1-en-{task_id}-2.png"]
    assert "all 2 images translated" in slack.thread("C0GENERAL", parent["ts"])[-1]["text"]


async def test_an_image_alibaba_could_not_translate_is_listed(mt, slack, alibaba):
    alibaba.faults.image_item(1, "105")
    urls = [alibaba.sample_image_url(f"q{i}.png") for i in range(2)]
    await mt.command("/translate-image", f"zh>en {' '.join(urls)} --provider alibaba")
    await mt.settle()
    final = slack.thread("C0GENERAL", parent_of(slack)["ts"])[-1]["text"]
    assert "1 of 2 translated" in final and "q1.png: error 105" in final


async def test_the_help_says_the_image_api_is_retiring(mt):
    _, body = await mt.command("/translate-image", "")
    assert "retirement" in body


async def test_doc_polling_uses_one_status_call_per_document(timed_alibaba, clock):
    alibaba = timed_alibaba.alibaba
    for n in range(3):
        await timed_alibaba.command(
            "/translate-doc", f"en>ja {alibaba.sample_doc_url(f'd{n}.txt')}"
        )
    await timed_alibaba.services.poller.drain()
    assert len(alibaba.docs) == 3
    clock.advance(2)
    await poll_round(timed_alibaba)  # Alibaba will call back: polling waits longer
    assert alibaba.requests_for(GET_DOC) == []
    clock.advance(28)
    await poll_round(timed_alibaba)
    assert len(alibaba.requests_for(GET_DOC)) == 3  # still translating: one query each


@pytest.fixture
async def timed_alibaba(slack, xiangji, tmp_path, clock) -> AsyncIterator[Tolk]:
    async with AlibabaMTEmulator(doc_seconds=None, max_skew=None) as emulator:
        env = alibaba_env(slack, xiangji, emulator, tmp_path, TOLK_POLL_MIN_SECONDS="2")
        env["TOLK_POLL_MAX_SECONDS"] = "60"
        async for tolk in running(env, clock=clock, start_scheduler=False):
            tolk.services.work.rand = lambda: 0.0
            tolk.alibaba = emulator
            yield tolk


async def test_a_burst_of_documents_stays_within_alibabas_rate_limit(mt, alibaba):
    """12 documents at once: creations are paced under 5 a second, none is throttled."""
    urls = [alibaba.sample_doc_url(f"burst{n}.txt") for n in range(12)]
    await asyncio.gather(*(mt.command("/translate-doc", f"en>ja {u}") for u in urls))
    await until(lambda: len(alibaba.docs) == 12, within=10)
    creates = alibaba.requests_for(CREATE_DOC)
    assert len(creates) == 12
    per_second: dict[int, int] = {}
    for r in creates:
        per_second[int(r.at)] = per_second.get(int(r.at), 0) + 1
    assert max(per_second.values()) <= 5

"""Providers misbehaving — answers too slow for the client, bursts of 5xx, bodies that are
not JSON — for Xiangji, Alibaba machine translation and Alibaba MTS.

Tolk runs on a fake clock with no scheduler: each test moves the clock to the task's next
poll time and runs one round, so the back-off is read off the task (attempts counted,
``next_poll_at`` growing, ``Retry-After`` honoured) and nothing sleeps. The clients' time
limit is shortened to a fraction of a second and the emulator answers later than that;
the emulators keep handling a request whose client gave up, as a real server does, so
a submission that timed out may still have been accepted.

What is asserted is what a person would notice: one final message per task, each result
uploaded once, and one clear failure message when a burst outlasts the retry budget."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.core.tasks import State
from bot.engine.work import MAX_ATTEMPTS
from emulators.alibaba import AlibabaMTEmulator
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator
from sandbox.wiring import emulator_env
from tests.conftest import SIGNING_SECRET, FakeClock, Tolk, poll_round
from tests.faults.support import (
    final_text,
    finals,
    next_round,
    no_duplicates,
    settle,
    thread_files,
    until,
)
from tests.test_alibaba_e2e import alibaba_env, running
from tests.test_commands_e2e import task_id_in

BATCH, STATUS = "GetImageTranslateBatch", "GetImageTranslateBatchResult"
CREATE_DOC, GET_DOC = "CreateDocTranslateTask", "GetDocTranslateTask"
SUBMIT, QUERY = "SubmitIProductionJob", "QueryIProductionJob"
CAT = "oss://media-in.oss-cn-hangzhou.aliyuncs.com/photos/cat.jpg"
SHORT = aiohttp.ClientTimeout(total=0.2)  # the client gives up after 0.2 s …
LATE = 0.5  # … and the emulator answers after 0.5 s


@pytest.fixture(autouse=True)
def nothing_logged_as_an_error(caplog):
    """These faults are expected: each is a warning and a retry, never an error."""
    yield
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def half_jitter(tolk: Tolk) -> None:
    """Delays 2, 3, 6, 12, 24 … s for attempts 0, 1, 2 … (min 2 s, max 60 s)."""
    tolk.services.work.rand = lambda: 0.5


EXPECTED_GAPS = [2.0, 3.0, 6.0, 12.0, 24.0]  # attempts 0–4


# --- Xiangji ---------------------------------------------------------------------------


async def xiangji_images(tolk: Tolk, xiangji, n: int, prefix: str) -> str:
    urls = " ".join(xiangji.sample_url(f"{prefix}{i}") for i in range(n))
    status, body = await tolk.command("/translate-image", f"zh>ko {urls}")
    assert status == 200
    await tolk.services.poller.drain()
    return task_id_in(body)


def status_ids(xiangji) -> list[str]:
    return [i for r in xiangji.requests_for(STATUS) for i in r.params["RequestIds"].split(",")]


async def test_xiangji_timeouts_back_off_then_succeed(timed_tolk, clock, slack, xiangji):
    half_jitter(timed_tolk)
    client = timed_tolk.services.xiangji
    client.timeout = client.query_timeout = SHORT
    xiangji.faults.delay(BATCH, LATE)
    task_id = await xiangji_images(timed_tolk, xiangji, 3, "slow")
    store = timed_tolk.services.store

    task = await store.get(task_id)
    assert task.state is State.QUEUED and task.attempts == 1
    assert task.error is None and task.next_poll_at - clock.now == 2.0
    task = await next_round(timed_tolk, clock, task_id)  # times out again
    assert task.state is State.QUEUED and task.attempts == 2
    assert task.next_poll_at - clock.now == 3.0  # the wait grows

    xiangji.faults.delay(BATCH, 0)
    xiangji.faults.delay(STATUS, LATE)  # now the status call is the slow one
    task = await next_round(timed_tolk, clock, task_id)
    assert task.state is State.SUBMITTED
    answered = [i.provider_id for i in task.items]
    task = await next_round(timed_tolk, clock, task_id)
    assert task.state is State.SUBMITTED and task.attempts == 1  # a fresh count after success

    xiangji.faults.delay(STATUS, 0)
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    assert "all 3 images translated" in final_text(slack, task_id)
    assert sorted(thread_files(slack, task_id)) == [
        f"slow{i}-ko-{task_id}-{i + 1}.png" for i in range(3)
    ]
    no_duplicates(slack)
    # Tolk sent the batch three times: twice it gave up waiting. Xiangji has no idempotency
    # token, so those two were accepted (and charged) all the same; Tolk only follows the
    # request ids of the answer it got.
    assert len(xiangji.requests_for(BATCH)) == 3
    assert set(status_ids(xiangji)) <= set(answered)


async def test_xiangji_a_burst_of_503_backs_off_then_succeeds(timed_tolk, clock, slack, xiangji):
    half_jitter(timed_tolk)
    xiangji.faults.http(BATCH, 503, times=5)
    task_id = await xiangji_images(timed_tolk, xiangji, 2, "burst")
    gaps = []
    task = await timed_tolk.services.store.get(task_id)
    while task.state is State.QUEUED:
        assert task.attempts == len(gaps) + 1
        gaps.append(task.next_poll_at - clock.now)
        task = await next_round(timed_tolk, clock, task_id)
    assert gaps == EXPECTED_GAPS[:5]
    assert len(xiangji.requests_for(BATCH)) == 6  # one call per round, never more
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    assert "all 2 images translated" in final_text(slack, task_id)
    assert len(thread_files(slack, task_id)) == 2
    no_duplicates(slack)


async def test_xiangji_retry_after_on_a_status_call_is_honoured(timed_tolk, clock, slack, xiangji):
    task_id = await xiangji_images(timed_tolk, xiangji, 2, "ra")
    xiangji.faults.http(STATUS, 503, times=2, retry_after=45)
    task = await next_round(timed_tolk, clock, task_id)
    assert task.attempts == 1 and task.next_poll_at - clock.now == 45  # not the 2 s back-off
    calls = len(xiangji.requests_for(STATUS))
    clock.advance(44)
    await poll_round(timed_tolk)
    assert len(xiangji.requests_for(STATUS)) == calls  # not due before Retry-After
    task = await next_round(timed_tolk, clock, task_id)
    assert task.attempts == 2 and task.next_poll_at - clock.now == 45
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED and len(thread_files(slack, task_id)) == 2
    assert "all 2 images translated" in final_text(slack, task_id)


async def test_xiangji_malformed_json_is_retried(timed_tolk, clock, slack, xiangji):
    xiangji.faults.malformed(BATCH, times=2)
    xiangji.faults.malformed(STATUS, times=2)
    task_id = await xiangji_images(timed_tolk, xiangji, 2, "html")
    task = await timed_tolk.services.store.get(task_id)
    assert task.attempts == 1 and task.state is State.QUEUED
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    assert len(xiangji.requests_for(BATCH)) == 3 and len(xiangji.requests_for(STATUS)) >= 3
    assert "all 2 images translated" in final_text(slack, task_id)
    no_duplicates(slack)


async def test_separate_bursts_each_get_the_whole_retry_budget(timed_tolk, clock, slack, xiangji):
    """Five failures submitting, then five polling: each burst is under the budget, so
    the task succeeds (the count starts again after every answer that worked)."""
    xiangji.faults.http(BATCH, 503, times=5)
    task_id = await xiangji_images(timed_tolk, xiangji, 2, "two")
    for _ in range(5):
        task = await next_round(timed_tolk, clock, task_id)
    assert task.state is State.SUBMITTED and task.attempts == 0
    xiangji.faults.http(STATUS, 503, times=5)
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.DELIVERED
    assert "all 2 images translated" in final_text(slack, task_id)


async def test_xiangji_a_burst_longer_than_the_budget_fails_once(timed_tolk, clock, slack, xiangji):
    xiangji.faults.http(BATCH, 503, times=100)
    task_id = await xiangji_images(timed_tolk, xiangji, 2, "down")
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.FAILED and task.attempts == MAX_ATTEMPTS
    assert len(xiangji.requests_for(BATCH)) == MAX_ATTEMPTS
    text = final_text(slack, task_id)
    assert text.startswith(f":x: Task `{task_id}` failed: Xiangji error http-503")
    assert "temporarily unavailable" in text
    clock.advance(3600)
    await poll_round(timed_tolk)
    assert len(xiangji.requests_for(BATCH)) == MAX_ATTEMPTS  # nothing more is tried
    assert len(finals(slack, task_id)) == 1 and thread_files(slack, task_id) == []


async def test_xiangji_polls_failing_past_the_budget_fail_once(timed_tolk, clock, slack, xiangji):
    task_id = await xiangji_images(timed_tolk, xiangji, 2, "gone")
    xiangji.faults.http(STATUS, 500, times=100)
    task = await settle(timed_tolk, clock, task_id)
    assert task.state is State.FAILED
    assert len(xiangji.requests_for(BATCH)) == 1
    assert "Xiangji error http-500" in final_text(slack, task_id)
    no_duplicates(slack)


# --- Alibaba machine translation (documents) -------------------------------------------


@pytest.fixture
async def timed_mt(slack, xiangji, tmp_path, clock) -> AsyncIterator[Tolk]:
    """Tolk and the Alibaba emulator on one fake clock (signatures, ClientToken window);
    no public URL, so no callback: polling alone finds the result."""
    async with AlibabaMTEmulator(doc_seconds=None, clock=clock) as emulator:
        env = alibaba_env(slack, xiangji, emulator, tmp_path, public=False)
        env |= {"TOLK_POLL_MIN_SECONDS": "2", "TOLK_POLL_MAX_SECONDS": "60"}
        async for tolk in running(env, clock=clock, start_scheduler=False):
            half_jitter(tolk)
            tolk.alibaba = emulator
            yield tolk


async def translate_doc(tolk: Tolk, name: str) -> str:
    status, body = await tolk.command(
        "/translate-doc", f"en>ja {tolk.alibaba.sample_doc_url(name)}"
    )
    assert status == 200
    await tolk.services.poller.drain()
    return task_id_in(body)


async def finish_docs(tolk: Tolk, clock: FakeClock, task_id: str):
    """Let Alibaba finish every document it has, then poll until the task settles."""
    for doc in tolk.alibaba.docs.values():
        tolk.alibaba.finish(doc.task_id)
    return await settle(tolk, clock, task_id)


async def test_alibaba_a_timed_out_create_is_the_same_task_when_retried(timed_mt, clock, slack):
    alibaba = timed_mt.alibaba
    timed_mt.services.alibaba.timeout = SHORT
    alibaba.faults.delay(CREATE_DOC, LATE)
    task_id = await translate_doc(timed_mt, "slow.txt")
    task = await timed_mt.services.store.get(task_id)
    assert task.state is State.QUEUED and task.attempts == 1
    await until(lambda: len(alibaba.docs) == 1)  # Alibaba accepted it after Tolk gave up
    alibaba.faults.delay(CREATE_DOC, 0)
    task = await next_round(timed_mt, clock, task_id)
    assert task.state is State.SUBMITTED
    (doc,) = alibaba.docs.values()  # the retry was answered with the first task's id
    assert task.items[0].provider_id == doc.task_id
    tokens = {r.params["ClientToken"] for r in alibaba.requests_for(CREATE_DOC)}
    assert tokens == {f"tolk-{task_id}-0"} and len(alibaba.requests_for(CREATE_DOC)) == 2
    task = await finish_docs(timed_mt, clock, task_id)
    assert task.state is State.DELIVERED
    assert thread_files(slack, task_id) == ["slow-ja.txt"]
    assert "1 document translated" in final_text(slack, task_id)
    no_duplicates(slack)


async def test_alibaba_a_burst_of_503_on_status_backs_off_then_succeeds(timed_mt, clock, slack):
    alibaba = timed_mt.alibaba
    task_id = await translate_doc(timed_mt, "burst.txt")
    alibaba.faults.http(GET_DOC, 503, times=5, retry_after=20)
    task = await next_round(timed_mt, clock, task_id)  # the first poll
    gaps = []
    while task.attempts and len(gaps) < 10:
        gaps.append(task.next_poll_at - clock.now)
        task = await next_round(timed_mt, clock, task_id)
    assert gaps == [20.0, 20.0, 20.0, 20.0, 24.0]  # Retry-After, unless the back-off is longer
    assert len(alibaba.requests_for(GET_DOC)) == 6
    task = await finish_docs(timed_mt, clock, task_id)
    assert task.state is State.DELIVERED and thread_files(slack, task_id) == ["burst-ja.txt"]
    assert "1 document translated" in final_text(slack, task_id)


async def test_alibaba_malformed_json_is_retried_with_the_same_token(timed_mt, clock, slack):
    alibaba = timed_mt.alibaba
    alibaba.faults.malformed(CREATE_DOC, times=2)
    alibaba.faults.malformed(GET_DOC, times=1)
    task_id = await translate_doc(timed_mt, "html.txt")
    for _ in range(2):
        task = await next_round(timed_mt, clock, task_id)
    assert task.state is State.SUBMITTED and len(alibaba.docs) == 1
    assert {r.params["ClientToken"] for r in alibaba.requests_for(CREATE_DOC)} == {
        f"tolk-{task_id}-0"
    }
    task = await finish_docs(timed_mt, clock, task_id)
    assert task.state is State.DELIVERED and thread_files(slack, task_id) == ["html-ja.txt"]
    no_duplicates(slack)


async def test_alibaba_a_burst_longer_than_the_budget_fails_once(timed_mt, clock, slack):
    alibaba = timed_mt.alibaba
    alibaba.faults.http(CREATE_DOC, 502, times=100)
    task_id = await translate_doc(timed_mt, "down.txt")
    task = await settle(timed_mt, clock, task_id)
    assert task.state is State.FAILED and alibaba.docs == {}
    assert len(alibaba.requests_for(CREATE_DOC)) == MAX_ATTEMPTS
    assert "Alibaba error http-502" in final_text(slack, task_id)
    assert thread_files(slack, task_id) == []


# --- Alibaba MTS -----------------------------------------------------------------------


@pytest.fixture
async def timed_media(slack, xiangji, tmp_path, clock) -> AsyncIterator[Tolk]:
    async with OssEmulator(clock=clock) as oss, MtsEmulator(oss, clock=clock) as mts:
        env = emulator_env(
            slack,
            xiangji,
            mts=mts,
            signing_secret=SIGNING_SECRET,
            database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
        )
        env |= {"TOLK_POLL_MIN_SECONDS": "2", "TOLK_POLL_MAX_SECONDS": "60"}
        async for tolk in running(env, clock=clock, start_scheduler=False):
            half_jitter(tolk)
            tolk.mts = mts
            yield tolk


async def media_job(tolk: Tolk) -> str:
    status, body = await tolk.command("/media-job", f'ImageCartoonize {CAT} {{"Model": "3d"}}')
    assert status == 200
    await tolk.services.poller.drain()
    return task_id_in(body)


def media_done(slack, task_id: str) -> None:
    files = thread_files(slack, task_id)
    assert len(files) == 2 and len(set(files)) == 2
    assert "ImageCartoonize finished" in final_text(slack, task_id)
    no_duplicates(slack)


async def test_mts_a_timed_out_submission_then_success(timed_media, clock, slack):
    mts = timed_media.mts
    timed_media.services.mts.timeout = SHORT
    mts.faults.delay(SUBMIT, LATE)
    task_id = await media_job(timed_media)
    task = await timed_media.services.store.get(task_id)
    assert task.state is State.QUEUED and task.attempts == 1
    await until(lambda: len(mts.jobs) == 1)  # MTS queued the job after Tolk gave up
    mts.faults.delay(SUBMIT, 0)
    task = await settle(timed_media, clock, task_id)
    assert task.state is State.DELIVERED
    media_done(slack, task_id)
    # MTS has no idempotency token: the submission Tolk gave up on is a second job (its
    # UserData names the task). Tolk follows only the job it was told about.
    assert len(mts.jobs) == 2 and {j.user_data for j in mts.jobs.values()} == {task_id}
    followed = {r.params["JobId"] for r in mts.requests_for(QUERY)}
    assert followed == {task.items[0].provider_id}


async def test_mts_a_burst_of_503_on_queries_backs_off_then_succeeds(timed_media, clock, slack):
    mts = timed_media.mts
    task_id = await media_job(timed_media)
    mts.faults.http(QUERY, 503, times=5)
    task = await next_round(timed_media, clock, task_id)
    gaps = []
    while task.attempts and len(gaps) < 10:
        gaps.append(task.next_poll_at - clock.now)
        task = await next_round(timed_media, clock, task_id)
    assert gaps == EXPECTED_GAPS[:5]
    task = await settle(timed_media, clock, task_id)
    assert task.state is State.DELIVERED
    assert len(mts.requests_for(SUBMIT)) == 1 and len(mts.jobs) == 1
    media_done(slack, task_id)


async def test_mts_malformed_json_is_retried(timed_media, clock, slack):
    mts = timed_media.mts
    mts.faults.malformed(SUBMIT, times=1)  # refused before anything was queued
    mts.faults.malformed(QUERY, times=2)
    task_id = await media_job(timed_media)
    task = await settle(timed_media, clock, task_id)
    assert task.state is State.DELIVERED and len(mts.jobs) == 1
    media_done(slack, task_id)


async def test_mts_a_burst_longer_than_the_budget_fails_once(timed_media, clock, slack):
    mts = timed_media.mts
    task_id = await media_job(timed_media)
    mts.faults.http(QUERY, 503, times=100)
    task = await settle(timed_media, clock, task_id)
    assert task.state is State.FAILED
    assert "http-503" in final_text(slack, task_id) and thread_files(slack, task_id) == []
    no_duplicates(slack)

"""Alibaba MTS intelligent-production jobs end to end: /media-job in, the MTS emulator
walking the job, results read back from the OSS emulator through presigned URLs, and
what arrived in the Slack thread out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.core.tasks import State
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator
from sandbox.wiring import emulator_env
from tests.conftest import SIGNING_SECRET, Tolk
from tests.test_alibaba_e2e import parent_of, running
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import thread_files

SUBMIT, QUERY = "SubmitIProductionJob", "QueryIProductionJob"
CAT = "oss://media-in.oss-cn-hangzhou.aliyuncs.com/photos/cat.jpg"
VIDEO = "oss://media-in.oss-cn-hangzhou.aliyuncs.com/videos/launch.mp4"


@pytest.fixture
async def mts() -> AsyncIterator[MtsEmulator]:
    async with OssEmulator() as oss, MtsEmulator(oss) as emulator:
        yield emulator


@pytest.fixture
async def media(slack, xiangji, mts, tmp_path) -> AsyncIterator[Tolk]:
    env = emulator_env(
        slack,
        xiangji,
        mts=mts,
        signing_secret=SIGNING_SECRET,
        database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
    )
    env |= {"TOLK_POLL_MIN_SECONDS": "0.05", "TOLK_POLL_MAX_SECONDS": "0.2"}
    async for tolk in running(env):
        yield tolk


def closing(slack) -> str:
    return slack.thread("C0GENERAL", parent_of(slack)["ts"])[-1]["text"]


async def test_image_cartoonize_lands_its_images_in_the_thread(media, slack, mts):
    _, body = await media.command("/media-job", f'ImageCartoonize {CAT} {{"Model": "3d"}}')
    task_id = task_id_in(body)
    await media.settle()
    (submit,) = mts.requests_for(SUBMIT)
    assert submit.params["FunctionName"] == "ImageCartoonize" and submit.params["Input"] == CAT
    assert submit.params["UserData"] == task_id and submit.params["JobParams"] == '{"Model":"3d"}'
    assert f"/tolk/{task_id}/" in submit.params["Output"]
    assert len(mts.requests_for(QUERY)) >= 3  # Queuing, Analysing, Success
    files = thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])
    (job,) = mts.jobs.values()
    assert sorted(files) == sorted(k.rsplit("/", 1)[-1] for k in job.files)
    uploaded = {f.name: f.content for f in slack.files.values()}
    stored = {k.rsplit("/", 1)[-1]: mts.oss.get("tolk-media", k) for k in job.files}
    assert all(uploaded[name] == data for name, data in stored.items())
    assert "ImageCartoonize finished" in closing(slack) and "2 files" in closing(slack)
    reads = mts.oss.requests
    assert len(reads) == 2 and all(r.status == 200 and r.code is None for r in reads)
    assert all(r.query.get("x-oss-signature-version") == "OSS4-HMAC-SHA256" for r in reads)


async def test_caption_extraction_posts_the_subtitles(media, slack, mts):
    await media.command("/media-job", f'CaptionExtraction {VIDEO} {{"fps": 5}}')
    await media.settle()
    files = thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])
    assert len(files) == 1 and files[0].endswith(".srt")
    assert b"-->" in next(iter(slack.files.values())).content


async def test_results_that_are_not_images_or_subtitles_are_summarised(media, slack, mts):
    await media.command("/media-job", f"MusicSegmentDetect {VIDEO}")
    await media.settle()
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == []
    text = closing(slack)
    assert "MusicSegmentDetect finished" in text and "oss://tolk-media/" in text


async def test_a_failed_job_reports_its_code_and_message(media, slack, mts):
    mts.faults.fail_next("InvalidInput.Corrupted", "The input file is damaged.")
    _, body = await media.command("/media-job", f"ImageCartoonize {CAT}")
    await media.settle()
    text = closing(slack)
    assert "InvalidInput.Corrupted" in text and "damaged" in text
    assert (await media.services.store.get(task_id_in(body))).state is State.FAILED


async def test_bad_commands_never_reach_mts(media, mts):
    cases = {
        f"ImageCartonize {CAT}": "did you mean ImageCartoonize",
        f"CaptionExtraction {VIDEO} {{fps: 5}}": "line 1, column 2",
        f'CaptionExtraction {VIDEO} {{"fps": 50}}': "fps must be an integer from 2 to 10",
        "ImageCartoonize https://example.com/cat.jpg": "oss://",
        "status": "JobId",
    }
    for text, expected in cases.items():
        status, body = await media.command("/media-job", text)
        assert status == 200 and expected in body, (text, body)
    assert mts.requests == []


async def test_status_follows_a_job_submitted_elsewhere(media, slack, mts):
    job_id = await submitted_elsewhere(media, mts)
    _, body = await media.command("/media-job", f"status {job_id}")
    await media.settle()
    assert len(mts.requests_for(SUBMIT)) == 1  # nothing new was submitted
    assert [r.params["JobId"] for r in mts.requests_for(QUERY)][-1] == job_id
    task = await media.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED and task.items[0].provider_id == job_id
    files = thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])
    assert sorted(files) == sorted(k.rsplit("/", 1)[-1] for k in mts.jobs[job_id].files)
    assert "ImageCartoonize finished" in closing(slack)


async def submitted_elsewhere(media, mts) -> str:
    return await media.services.mts.submit_iproduction_job(
        "ImageCartoonize", CAT, "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/other/{source}.jpg"
    )


async def test_a_hundred_concurrent_jobs_are_never_throttled(media, slack, mts):
    bodies = await asyncio.gather(
        *(media.command("/media-job", f"ImageCartoonize {CAT}") for _ in range(100))
    )
    await media.settle(within=60)
    assert len(mts.jobs) == 100
    for _, body in bodies:
        task = await media.services.store.get(task_id_in(body))
        assert task.state is State.DELIVERED and task.attempts == 0  # no throttling retry

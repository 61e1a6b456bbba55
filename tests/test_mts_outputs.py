"""A media job that succeeded but whose outputs Tolk cannot read (issue 17, item 7).

MTS writes a job's outputs into the customer's OSS bucket; Tolk reads them back through
presigned URLs. When that read is impossible — the OSS host is not one Tolk downloads from,
OSS answers 403, or no OSS endpoint is configured — the job still succeeded: the thread
says so, lists each output it could not attach as ``oss://bucket/key`` with the reason and
what an admin changes to fix it, and attaches every output that could be read. One final
message, the task DELIVERED.

Real emulators over loopback: Slack, MTS and an OSS that refuses chosen objects with 403
``AccessDenied`` after checking the signature (as a bucket policy would).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.core.tasks import State
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator, OssRefusal, StoredObject
from sandbox.wiring import emulator_env, free_port
from tests.conftest import SIGNING_SECRET, Tolk
from tests.test_alibaba_e2e import parent_of, running
from tests.test_commands_e2e import task_id_in
from tests.test_surfaces import thread_files

CAT = "oss://media-in.oss-cn-hangzhou.aliyuncs.com/photos/cat.jpg"
VIDEO = "oss://media-in.oss-cn-hangzhou.aliyuncs.com/videos/launch.mp4"
PUBLIC_OSS = "tolk-media.oss-cn-hangzhou.aliyuncs.com"  # where the output bucket really is


class GuardedOss(OssEmulator):
    """An OSS that, for a correctly signed GET, answers ``refuse(bucket, key)`` when that
    is not None — a bucket policy's 403 ``AccessDenied``, a lifecycle rule's 404."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: Callable[[str, str], OssRefusal | None] = lambda bucket, key: None

    def _authorize(
        self,
        method: str,
        bucket: str,
        key: str,
        pairs: list[tuple[str, str]],
        query: dict[str, str],
    ) -> StoredObject:
        stored = super()._authorize(method, bucket, key, pairs, query)
        refusal = self.refuse(bucket, key)
        if refusal is not None:
            raise refusal
        return stored


def second_output(refusal: OssRefusal) -> Callable[[str, str], OssRefusal | None]:
    return lambda bucket, key: refusal if key.endswith("-1.jpg") else None


@pytest.fixture
async def oss() -> AsyncIterator[GuardedOss]:
    async with GuardedOss() as server:
        yield server


@pytest.fixture
async def mts(oss) -> AsyncIterator[MtsEmulator]:
    async with MtsEmulator(oss, require_oss_host=False) as emulator:
        yield emulator


@asynccontextmanager
async def media_tolk(slack, xiangji, mts, tmp_path, **changes: str | None) -> AsyncIterator[Tolk]:
    """Tolk against the emulators, with ``changes`` to its environment (None: unset)."""
    env = emulator_env(
        slack,
        xiangji,
        mts=mts,
        signing_secret=SIGNING_SECRET,
        database_url=f"sqlite:///{tmp_path}/tolk.sqlite",
    )
    env |= {"TOLK_POLL_MIN_SECONDS": "0.05", "TOLK_POLL_MAX_SECONDS": "0.2"}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    async for tolk in running(env):
        yield tolk


def replies(slack) -> list[dict[str, Any]]:
    return slack.thread("C0GENERAL", parent_of(slack)["ts"])


def finals(slack) -> list[str]:
    """The texts of the thread's final messages (marked ``<task>:final``)."""
    return [
        m["text"]
        for m in replies(slack)
        if str(((m.get("metadata") or {}).get("event_payload") or {}).get("marker", "")).endswith(
            ":final"
        )
    ]


def one_final(slack) -> str:
    texts = finals(slack)
    assert len(texts) == 1, texts
    return texts[0]


def locations(mts: MtsEmulator) -> list[str]:
    (job,) = mts.jobs.values()
    return [f"oss://{job.output.split('/')[2].split('.')[0]}/{key}" for key in job.files]


def host_of(url: str) -> str:
    return urlsplit(url).netloc


async def test_outputs_on_a_host_tolk_does_not_read_from_are_listed_and_the_job_succeeded(
    slack, xiangji, mts, oss, tmp_path
):
    async with media_tolk(
        slack, xiangji, mts, tmp_path, TOLK_ALLOWED_FILE_HOSTS=host_of(xiangji.base_url)
    ) as tolk:
        _, body = await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED and task.settled
    assert oss.requests == []  # never fetched from a host that is not allowed
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == []
    text = one_final(slack)
    assert "ImageCartoonize succeeded" in text and "failed" not in text
    assert all(f"`{where}`" in text for where in locations(mts)), text
    assert host_of(oss.endpoint) in text and "TOLK_ALLOWED_FILE_HOSTS" in text
    assert "could not attach 2 outputs" in text


async def test_an_output_oss_refuses_is_listed_and_the_readable_one_is_attached(
    slack, xiangji, mts, oss, tmp_path
):
    oss.refuse = second_output(OssRefusal(403, "AccessDenied"))  # a bucket policy says no
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:
        _, body = await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED and task.settled
    (job,) = mts.jobs.values()
    readable, refused = job.files
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == [readable.rsplit("/")[-1]]
    assert sorted((r.key, r.status, r.code) for r in oss.requests) == [
        (readable, 200, None),
        (refused, 403, "AccessDenied"),
    ]
    text = one_final(slack)
    assert "ImageCartoonize succeeded" in text and "1 file in this thread" in text
    assert f"`oss://tolk-media/{refused}`" in text and readable not in text
    assert "403" in text and "oss:GetObject" in text and "ALIBABA_ACCESS_KEY_ID" in text
    assert "could not attach 1 output" in text
    (job_id,) = mts.jobs
    assert f"Then `/media-job status {job_id}` brings it here." in text


async def test_when_oss_refuses_the_key_every_output_is_listed(slack, xiangji, mts, oss, tmp_path):
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:
        oss.keys = {"LTAI5tSomeoneElse": "not-tolks"}  # OSS does not know Tolk's key
        _, body = await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED
    assert [r.code for r in oss.requests] == ["InvalidAccessKeyId"] * 2
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == []
    text = one_final(slack)
    assert "ImageCartoonize succeeded" in text
    assert all(f"`{where}`" in text for where in locations(mts))
    assert "Why: OSS refused to hand it over (HTTP 403)" in text  # one reason, said once
    assert "ALIBABA_ACCESS_KEY_ID" in text and "oss:GetObject" in text


async def test_without_an_oss_endpoint_the_outputs_are_listed_with_the_variable_to_set(
    slack, xiangji, mts, oss, tmp_path
):
    async with media_tolk(slack, xiangji, mts, tmp_path, ALIBABA_OSS_ENDPOINT=None) as tolk:
        _, body = await tolk.command("/media-job", f"CaptionExtraction {VIDEO}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED and task.settled
    assert oss.requests == []  # nothing went to the public OSS either (not an allowed host)
    assert thread_files(slack, "C0GENERAL", parent_of(slack)["ts"]) == []
    text = one_final(slack)
    assert "CaptionExtraction succeeded" in text
    assert all(f"`{where}`" in text for where in locations(mts))
    assert "no OSS endpoint is set (`ALIBABA_OSS_ENDPOINT`)" in text and PUBLIC_OSS in text
    assert "set `ALIBABA_OSS_ENDPOINT`" in text


async def test_an_output_naming_no_endpoint_says_which_one_tolk_guessed(
    slack, xiangji, mts, oss, tmp_path
):
    """A job submitted elsewhere, writing to ``oss://bucket/…`` with no endpoint in it."""
    async with media_tolk(slack, xiangji, mts, tmp_path, ALIBABA_OSS_ENDPOINT=None) as tolk:
        job_id = await tolk.services.mts.submit_iproduction_job(
            "ImageCartoonize", CAT, "oss://tolk-media/elsewhere/{source}-{sequenceId}.jpg"
        )
        _, body = await tolk.command("/media-job", f"status {job_id}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED
    text = one_final(slack)
    assert "ImageCartoonize succeeded" in text
    assert "`oss://tolk-media/elsewhere/cat-0.jpg`" in text
    assert "`oss://tolk-media/elsewhere/cat-1.jpg`" in text
    assert "names none, so Tolk guessed `oss-cn-hangzhou.aliyuncs.com`" in text
    assert "set `ALIBABA_OSS_ENDPOINT`" in text
    assert f"`/media-job status {job_id}`" in text  # how to have them here once fixed


async def test_readable_outputs_still_come_as_before(slack, xiangji, mts, oss, tmp_path):
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:
        _, body = await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED
    assert len(thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])) == 2
    text = one_final(slack)
    assert "ImageCartoonize finished — 2 files in this thread" in text
    assert "could not attach" not in text


async def test_an_output_gone_from_oss_is_listed_with_no_fix_to_make(
    slack, xiangji, mts, oss, tmp_path
):
    oss.refuse = second_output(OssRefusal(404, "NoSuchKey"))  # a lifecycle rule was quicker
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:
        _, body = await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED
    (job,) = mts.jobs.values()
    assert len(thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])) == 1
    text = one_final(slack)
    assert f"`oss://tolk-media/{job.files[1]}`" in text and "HTTP 404" in text
    assert "To fix it" not in text  # nothing an admin could change


async def test_once_fixed_status_brings_the_outputs(slack, xiangji, mts, oss, tmp_path):
    """The closing message's advice works: allow the host, ask for the job again."""
    async with media_tolk(
        slack, xiangji, mts, tmp_path, TOLK_ALLOWED_FILE_HOSTS=host_of(xiangji.base_url)
    ) as tolk:
        await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
    (job_id,) = mts.jobs
    assert f"`/media-job status {job_id}`" in one_final(slack) and oss.requests == []
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:  # the host now allowed
        _, body = await tolk.command("/media-job", f"status {job_id}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED and len(mts.jobs) == 1
    files = thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])
    assert sorted(files) == sorted(k.rsplit("/", 1)[-1] for k in mts.jobs[job_id].files)
    assert "ImageCartoonize finished — 2 files in this thread" in one_final(slack)


async def test_a_read_that_fails_for_now_is_tried_again_not_listed(
    slack, xiangji, mts, oss, tmp_path
):
    """A 503 from OSS is not a reason to give up on the file: the engine retries it."""
    answers = [OssRefusal(503, "ServiceUnavailable", "Please reduce your request rate.")]
    oss.refuse = lambda bucket, key: answers.pop() if answers else None
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:
        _, body = await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED
    assert [r.status for r in oss.requests].count(503) == 1
    assert len(thread_files(slack, "C0GENERAL", parent_of(slack)["ts"])) == 2
    assert "could not attach" not in one_final(slack)


async def test_an_endpoint_that_refuses_connections_is_named_with_the_variable(
    slack, xiangji, mts, oss, tmp_path
):
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with media_tolk(
        slack,
        xiangji,
        mts,
        tmp_path,
        ALIBABA_OSS_ENDPOINT=f"http://{closed}",
        TOLK_ALLOWED_FILE_HOSTS=f"{host_of(xiangji.base_url)},{closed}",
    ) as tolk:
        _, body = await tolk.command("/media-job", f"CaptionExtraction {VIDEO}")
        await tolk.settle()
        task = await tolk.services.store.get(task_id_in(body))
    assert task.state is State.DELIVERED
    text = one_final(slack)
    assert "CaptionExtraction succeeded" in text and "refused the connection" in text
    assert f"check that `ALIBABA_OSS_ENDPOINT` (`http://{closed}`)" in text


async def test_no_signed_url_reaches_slack(slack, xiangji, mts, oss, tmp_path):
    oss.refuse = second_output(OssRefusal(403, "AccessDenied"))
    async with media_tolk(slack, xiangji, mts, tmp_path) as tolk:
        await tolk.command("/media-job", f"ImageCartoonize {CAT}")
        await tolk.settle()
    sent = " ".join(str(call.args) for call in slack.calls)
    assert "x-oss-signature" not in sent and "x-oss-credential" not in sent
    assert "LTAI" not in one_final(slack)  # not even the access key id

"""MtsClient through real loopback HTTP against MtsEmulator and OssEmulator: a job from
submission to its output fetched with a presigned URL, failures, refusals before sending,
error kinds, and pacing under the 100-per-second limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yarl

from bot.engine.ratelimit import TokenBucket
from emulators.mts import MtsEmulator
from emulators.oss import OssEmulator
from providers.alibaba.rpc import AlibabaRpc
from providers.alibaba.signing import Credentials
from providers.errors import ErrorKind, ProviderError
from providers.mts import wire
from providers.mts.client import MtsClient
from providers.oss.presign import OssObject, oss_endpoint, presign_get

KEY, SECRET = "LTAI5tTolkEmulator", "emulator-secret"
CREDS = Credentials(KEY, SECRET)
HOST = "oss-cn-hangzhou.aliyuncs.com"
IN = f"oss://tolk-media.{HOST}/in/cat.png"
TEMPLATE = f"oss://tolk-media.{HOST}/out/{{task}}/{{source}}-{{timestamp}}-{{sequenceId}}.png"
OUT = f"oss://tolk-media.{HOST}/out/{{source}}-{{timestamp}}-{{sequenceId}}.png"


class Clock:
    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def oss() -> AsyncIterator[OssEmulator]:
    async with OssEmulator({KEY: SECRET}) as emulator:
        yield emulator


@pytest.fixture
async def em(oss: OssEmulator, clock: Clock) -> AsyncIterator[MtsEmulator]:
    async with MtsEmulator(oss, KEY, SECRET, clock=clock) as emulator:
        yield emulator


@pytest.fixture
def client(session: aiohttp.ClientSession, em: MtsEmulator, clock: Clock) -> MtsClient:
    return MtsClient(session, CREDS, endpoint=em.endpoint, clock=clock)


async def test_submit_walk_result_and_download(client, em, oss, session, clock) -> None:
    oss.put("tolk-media", "in/cat.png", b"\x89PNG source", "image/png")
    output = wire.expand_output(TEMPLATE, task_id="T42", function="ImageCartoonize")
    job_id = await client.submit_iproduction_job(
        "ImageCartoonize",
        IN,
        output,
        job_params={"Model": "3d"},
        user_data="task:T42",
    )
    (arrived,) = em.requests_for(wire.SUBMIT)
    assert (arrived.method, arrived.signature) == ("POST", "v3")
    assert arrived.params == {
        "FunctionName": "ImageCartoonize",
        "Input": IN,
        "Output": f"oss://tolk-media.{HOST}/out/T42/{{source}}-{{timestamp}}-{{sequenceId}}.png",
        "JobParams": '{"Model":"3d"}',
        "UserData": "task:T42",
    }
    assert arrived.body == b""  # parameters in the query, as the SDK sends them
    assert SECRET not in arrived.headers["Authorization"]

    seen = []
    for _ in range(3):
        job = await client.query_iproduction_job(job_id)
        seen.append((job.state, job.pending, job.done))
    assert seen == [("Queuing", True, False), ("Analysing", True, False), ("Success", False, True)]
    last = em.requests_for(wire.QUERY)[-1]
    assert (last.method, last.params, last.body) == ("POST", {"JobId": job_id}, b"")

    stamp = int(clock.now)
    assert (job.job_id, job.function_name, job.input, job.user_data) == (
        job_id,
        "ImageCartoonize",
        IN,
        "task:T42",
    )
    assert (job.code, job.message) == ("Success", "Successful.")
    assert job.output == arrived.params["Output"]  # echoed unexpanded
    assert job.output_files == (
        OssObject("tolk-media", f"out/T42/cat-{stamp}-0.png"),
        OssObject("tolk-media", f"out/T42/cat-{stamp}-1.png"),
    )
    assert job.result is not None and job.result.data["result"][0]["file"].endswith("-0.png")

    endpoint = oss_endpoint(oss.endpoint, job.output)
    bucket, key = job.output_files[0]
    url = presign_get(CREDS, bucket, key, endpoint=endpoint, expires=600, now=time.time())
    async with session.get(yarl.URL(url, encoded=True)) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert (await resp.read()).startswith(b"\x89PNG\r\n\x1a\n")
    assert oss.requests[-1].key == key and oss.requests[-1].code is None


async def test_caption_extraction_two_subtitles(client, em, oss, session) -> None:
    output = f"oss://tolk-media.{HOST}/subs/{{source}}-{{resultType}}.srt"
    job_id = await client.submit_iproduction_job(
        "CaptionExtraction",
        f"oss://tolk-media.{HOST}/in/talk.mp4",
        output,
        job_params='{"sep":true}',
    )
    em.finish(job_id)
    job = await client.query_iproduction_job(job_id)
    assert [o.key for o in job.output_files] == ["subs/talk-zh.srt", "subs/talk-en.srt"]
    url = presign_get(
        CREDS, "tolk-media", "subs/talk-en.srt", endpoint=oss.endpoint, now=time.time()
    )
    async with session.get(yarl.URL(url, encoded=True)) as resp:
        assert b"Press the red button." in await resp.read()


async def test_a_failed_job(client, em) -> None:
    em.faults.fail_next("InvalidInput.ContentNotSupported", "No face was found in the image.")
    job_id = await client.submit_iproduction_job("ImageCartoonize", IN, OUT)
    states = [(await client.query_iproduction_job(job_id)).state for _ in range(3)]
    assert states == ["Queuing", "Analysing", "Fail"]
    job = await client.query_iproduction_job(job_id)
    assert job.failed and not job.pending and job.output_files == ()
    assert (job.code, job.message) == (
        "InvalidInput.ContentNotSupported",
        "No face was found in the image.",
    )
    error = wire.job_failure(job)
    assert error.kind is ErrorKind.PERMANENT and error.code == "InvalidInput.ContentNotSupported"


async def test_a_job_the_service_does_not_know(client) -> None:
    job = await client.query_iproduction_job("0" * 32)
    assert job.missing and job.job_id == "0" * 32 and not job.pending


async def test_mistakes_are_refused_before_sending(client, em) -> None:
    with pytest.raises(ValueError, match="did you mean ImageCartoonize"):
        await client.submit_iproduction_job("ImageCartoonise", IN, OUT)
    with pytest.raises(ValueError, match=r"JobParams is not valid JSON.*double quotes"):
        await client.submit_iproduction_job("ImageCartoonize", IN, OUT, job_params="{Model:'3d'}")
    with pytest.raises(ValueError, match="fps must be an integer from 2 to 10"):
        await client.submit_iproduction_job("CaptionExtraction", IN, OUT, job_params={"fps": 30})
    with pytest.raises(ValueError, match="Input must be oss://"):
        await client.submit_iproduction_job("ImageH2V", "https://example.com/a.png", OUT)
    with pytest.raises(ValueError, match=r"Output still holds Tolk's \{task\}"):
        await client.submit_iproduction_job("ImageH2V", IN, TEMPLATE)
    with pytest.raises(ValueError, match="JobId"):
        await client.query_iproduction_job(" ")
    assert em.requests == []


async def test_the_emulator_refuses_an_unknown_function_sent_anyway(session, em) -> None:
    rpc = AlibabaRpc(session, CREDS, endpoint=em.endpoint, version=wire.VERSION, provider="mts")
    params = {"FunctionName": "ImageCartoonise", "Input": IN, "Output": OUT}
    status, body = await rpc.call(wire.SUBMIT, params)
    assert (status, body["Code"]) == (400, "InvalidParameter.FunctionName")
    with pytest.raises(ProviderError) as err:
        wire.parse_submitted(status, body)
    assert err.value.kind is ErrorKind.PERMANENT


@pytest.mark.parametrize(
    ("plan", "code", "kind"),
    [
        (lambda f: f.throttle(wire.SUBMIT), "Throttling.User", ErrorKind.RETRYABLE),
        (
            lambda f: f.code("*", "InvalidAccountStatus", status=403),
            "InvalidAccountStatus",
            "quota",
        ),
        (lambda f: f.code("*", "Forbidden.RAM", status=403), "Forbidden.RAM", "permanent"),
        (lambda f: f.http("*", 503, retry_after=3), "http-503", ErrorKind.RETRYABLE),
        (lambda f: f.malformed(wire.SUBMIT), "bad-json", ErrorKind.RETRYABLE),
    ],
)
async def test_error_kinds(client, em, plan, code, kind) -> None:
    plan(em.faults)
    with pytest.raises(ProviderError) as err:
        await client.submit_iproduction_job("ImageCartoonize", IN, OUT)
    assert (err.value.provider, err.value.code, err.value.kind) == ("mts", code, kind)
    if code == "Throttling.User":
        assert err.value.retry_after == 1.0
    if code == "http-503":
        assert err.value.retry_after == 3.0


async def test_a_wrong_secret_never_shows_in_the_error(session, em) -> None:
    wrong = Credentials(KEY, "not-the-secret-9f8e7d")
    client = MtsClient(session, wrong, endpoint=em.endpoint)
    with pytest.raises(ProviderError) as err:
        await client.query_iproduction_job("0" * 32)
    assert err.value.code == "SignatureDoesNotMatch" and err.value.kind is ErrorKind.PERMANENT
    assert "not-the-secret-9f8e7d" not in str(err.value) and "not-the-secret" not in repr(client)


async def test_paced_submissions_stay_under_the_limit(session, oss) -> None:
    """100 concurrent submissions paced by a TokenBucket(100.0, 1): none throttled, against
    the emulator's real-time per-second window."""
    async with MtsEmulator(oss, KEY, SECRET) as em:
        bucket = TokenBucket(100.0, 1)
        client = MtsClient(session, CREDS, endpoint=em.endpoint, pace=bucket.acquire)
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.submit_iproduction_job("ImageH2V", IN, OUT) for _ in range(100)),
            return_exceptions=True,
        )
        elapsed = time.monotonic() - started
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert len(set(results)) == 100 and len(em.jobs) == 100
    assert elapsed >= 0.95  # 99 waits of 10 ms: the bucket did pace the burst
    per_second: dict[int, int] = {}
    for received in em.requests_for(wire.SUBMIT):
        per_second[int(received.at)] = per_second.get(int(received.at), 0) + 1
    assert max(per_second.values()) <= 100


async def test_unpaced_calls_within_one_second_are_throttled(session, oss) -> None:
    """150 unpaced calls inside one emulator second: the first 100 pass, 50 are throttled."""
    frozen = Clock()
    async with MtsEmulator(oss, KEY, SECRET, clock=frozen) as em:
        client = MtsClient(session, CREDS, endpoint=em.endpoint, clock=frozen)
        results = await asyncio.gather(
            *(client.submit_iproduction_job("ImageH2V", IN, OUT) for _ in range(150)),
            return_exceptions=True,
        )
    throttled = [r for r in results if isinstance(r, ProviderError)]
    assert len(throttled) == 50 and len(em.jobs) == 100
    assert {(e.code, e.kind) for e in throttled} == {("Throttling.User", ErrorKind.RETRYABLE)}
    assert all(isinstance(r, str) for r in results if not isinstance(r, ProviderError))


async def test_repr_names_the_endpoint_only(session) -> None:
    text = repr(MtsClient(session, CREDS))
    assert text == "MtsClient(endpoint='https://mts.cn-hangzhou.aliyuncs.com')"
    assert SECRET not in text and SECRET not in repr(CREDS)

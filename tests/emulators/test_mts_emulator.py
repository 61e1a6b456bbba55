"""MtsEmulator over real loopback HTTP with a test-local signer (ACS3 and V2, written out
here from alibaba-mt.md §2): what it accepts (the SDK's query placement, both encodings, form
bodies), what it refuses (§9), how jobs walk (§5) and what Success writes (§3, §9.5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import yarl

from emulators.mts import KINDS, MtsEmulator
from emulators.oss import OssEmulator
from providers.mts import wire

KEY, SECRET = "LTAI5tTolkEmulator", "emulator-secret"
SUBMIT, QUERY = "SubmitIProductionJob", "QueryIProductionJob"
HOST = "oss-cn-hangzhou.aliyuncs.com"
IN = f"oss://tolk-media.{HOST}/in/cat.png"
OUT = f"oss://tolk-media.{HOST}/out/{{source}}-{{timestamp}}-{{sequenceId}}.png"


def _enc(text: str) -> str:
    return quote(text, safe="-_.~")


def _canonical(params: dict[str, str]) -> str:
    return "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(params.items()))


def sign_v3(
    method: str,
    host: str,
    action: str,
    query: dict[str, str],
    body: bytes,
    *,
    at: float,
    secret: str = SECRET,
    version: str = "2014-06-18",
) -> dict[str, str]:
    body_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": body_hash,
    }
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            "/",
            _canonical(query),
            "".join(f"{n}:{headers[n]}\n" for n in names),
            ";".join(names),
            body_hash,
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={KEY},SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return headers


def sign_v2(method: str, action: str, params: dict[str, str], *, at: float) -> dict[str, str]:
    every = params | {
        "Action": action,
        "Version": "2014-06-18",
        "Format": "JSON",
        "AccessKeyId": KEY,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
    }
    to_sign = f"{method}&%2F&{_enc(_canonical(every))}"
    digest = hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return every | {"Signature": base64.b64encode(digest).decode()}


class Api:
    """Signed calls. ``style``: ``query`` (the SDK: POST, parameters in the query, empty
    body), ``aiohttp`` (the same as the SDK's async transport encodes it), ``form``, ``v2``."""

    def __init__(self, session: aiohttp.ClientSession, em: MtsEmulator, clock: Callable) -> None:
        self.session, self.em, self.clock = session, em, clock

    async def __call__(
        self, action: str, params: dict[str, str], *, style: str = "query", **sign: Any
    ) -> tuple[int, Any]:
        host = self.em.endpoint.removeprefix("http://")
        method = sign.pop("method", "POST")
        at = sign.pop("at", self.clock())
        body, headers, query = b"", {}, params
        if style == "form":
            body, query = _canonical(params).encode(), {}
        if style == "v2":
            query = sign_v2(method, action, params, at=at)
        else:
            headers = sign_v3(method, host, action, query, body, at=at, **sign)
        raw = _canonical(query)
        if style == "aiohttp":  # the SDK's aiohttp transport leaves ':' and '/' as they are
            raw = "&".join(f"{k}={quote(v, safe=':/')}" for k, v in sorted(query.items()))
            headers["Content-Type"] = "application/octet-stream"  # unsigned, empty body
        url = yarl.URL(f"{self.em.endpoint}/?{raw}", encoded=True)
        async with self.session.request(method, url, data=body, headers=headers) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


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
    async with OssEmulator() as emulator:
        yield emulator


@pytest.fixture
async def em(oss: OssEmulator, clock: Clock) -> AsyncIterator[MtsEmulator]:
    async with MtsEmulator(oss, clock=clock) as emulator:
        yield emulator


@pytest.fixture
async def api(em: MtsEmulator, clock: Clock) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, em, clock)


def submit_args(**change: str) -> dict[str, str]:
    return {"FunctionName": "ImageCartoonize", "Input": IN, "Output": OUT} | change


# -- signatures and placement -------------------------------------------------------------------


@pytest.mark.parametrize("style", ["query", "aiohttp", "form", "v2"])
async def test_accepts_every_placement_and_scheme(api, em, style) -> None:
    params = submit_args(JobParams='{"Model":"3d"}', UserData="a b+c")
    status, body = await api(SUBMIT, params, style=style)
    assert status == 200, body
    assert set(body) == {"RequestId", "JobId"} and len(body["JobId"]) == 32
    received = em.requests_for(SUBMIT)[-1]
    assert received.params == params
    assert received.signature == ("v2" if style == "v2" else "v3")
    job = em.jobs[body["JobId"]]
    assert (job.user_data, job.job_params) == ("a b+c", '{"Model":"3d"}')


async def test_query_by_get_is_accepted_unless_strict(api, em) -> None:
    status, body = await api(SUBMIT, submit_args())
    assert (await api(QUERY, {"JobId": body["JobId"]}, method="GET"))[0] == 200
    em.strict_methods = True
    status, body = await api(QUERY, {"JobId": body["JobId"]}, method="GET")
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")


async def test_bad_signatures_versions_and_actions(api, em) -> None:
    status, body = await api(SUBMIT, submit_args(), secret="wrong")
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert "product=mts" in body["Recommend"]
    status, body = await api(SUBMIT, submit_args(), version="2018-10-12")
    assert (status, body["Code"]) == (400, "InvalidVersion")
    status, body = await api("SubmitJobs", submit_args())
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")
    em.keys.clear()
    status, body = await api(SUBMIT, submit_args())
    assert (status, body["Code"]) == (404, "InvalidAccessKeyId.NotFound")
    assert em.jobs == {}


# -- Submit checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("function", wire.FUNCTIONS)
async def test_every_documented_function_is_accepted(api, function) -> None:
    assert (await api(SUBMIT, submit_args(FunctionName=function)))[0] == 200


def test_the_emulator_knows_the_documented_list() -> None:
    assert set(KINDS) == set(wire.FUNCTIONS)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"FunctionName": "ImageCartoonise"}, "InvalidParameter.FunctionName"),
        ({"FunctionName": ""}, "MissingFunctionName"),
        ({"Input": ""}, "MissingInput"),
        ({"Output": " "}, "MissingOutput"),
        ({"Input": "https://example.com/cat.png"}, "InvalidParameter.Input"),
        ({"Input": "oss://tolk-media/in/cat.png"}, "InvalidParameter.Input"),
        ({"Output": f"oss://Tolk_Media.{HOST}/x.png"}, "InvalidParameter.Output"),
        ({"JobParams": "[1, 2]"}, "InvalidParameter.JobParams"),
        ({"JobParams": "{Model: gif"}, "InvalidParameter.JobParams"),
        ({"NotifyUrl": "https://example.com/hook"}, "InvalidParameter.NotifyUrl"),
    ],
)
async def test_submit_refusals(api, em, change, code) -> None:
    status, body = await api(SUBMIT, submit_args(**change))
    assert (status, body["Code"]) == (400, code)
    assert em.jobs == {}


async def test_lenient_job_params_bare_hosts_and_mns(api, em) -> None:
    params = submit_args(JobParams='{mode:"gif"}', NotifyUrl="mns://1.mns.cn-hangzhou/queues/q")
    status, body = await api(SUBMIT, params)
    assert status == 200
    assert em.jobs[body["JobId"]].params == {"mode": "gif"}
    em.require_oss_host = False
    assert (await api(SUBMIT, submit_args(Input="oss://tolk-media/in/cat.png")))[0] == 200


async def test_pipelines(api, em) -> None:
    status, body = await api(SUBMIT, submit_args())
    assert em.jobs[body["JobId"]].pipeline_id == em.default_pipeline
    em.require_pipeline = True
    status, body = await api(SUBMIT, submit_args())
    assert (status, body["Code"]) == (400, "MissingPipelineId")
    em.pipelines = {"p" * 32}
    status, body = await api(SUBMIT, submit_args(PipelineId="q" * 32))
    assert (status, body["Code"]) == (400, "InvalidParameter.PipelineId")
    status, body = await api(SUBMIT, submit_args(PipelineId="p" * 32))
    assert status == 200 and em.jobs[body["JobId"]].pipeline_id == "p" * 32


# -- Query and the job walk ------------------------------------------------------------------


async def test_walk_by_polls_and_the_result_shape(api, em, oss, clock) -> None:
    oss.put("tolk-media", "in/cat.png", b"source bytes", "image/png")
    _, submitted = await api(SUBMIT, submit_args(JobParams='{"Model":"3d"}'))
    job_id = submitted["JobId"]
    states = []
    for _ in range(4):
        status, body = await api(QUERY, {"JobId": job_id})
        assert status == 200
        states.append(body["State"])
    assert states == ["Queuing", "Analysing", "Success", "Success"]
    assert body["Output"] == OUT and body["UserData"] == "null"
    assert body["JobParams"] == '{"Model":"3d"}' and body["FunctionName"] == "ImageCartoonize"
    assert all(isinstance(v, str) for v in body.values())
    outer = json.loads(body["Result"])
    assert list(outer) == ["Code", "Data", "Message"]
    assert (outer["Code"], outer["Message"]) == ("Success", "Successful.")
    assert isinstance(outer["Data"], str)
    stamp = int(clock.now)
    assert json.loads(outer["Data"]) == {
        "result": [{"file": f"out/cat-{stamp}-0.png"}, {"file": f"out/cat-{stamp}-1.png"}]
    }
    result_png = oss.get("tolk-media", f"out/cat-{stamp}-0.png")
    assert result_png is not None and result_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert oss.get("tolk-media", f"out/cat-{stamp}-1.png") == b"source bytes"  # the origin


async def test_queued_answers_have_no_result(api, em) -> None:
    _, submitted = await api(SUBMIT, submit_args())
    _, body = await api(QUERY, {"JobId": submitted["JobId"]})
    assert body["State"] == "Queuing" and "Result" not in body


async def test_walk_by_time(api, em, clock) -> None:
    em.job_seconds = 10
    _, submitted = await api(SUBMIT, submit_args())
    seen = []
    for advance in (0, 5, 4, 1):
        clock.now += advance
        seen.append((await api(QUERY, {"JobId": submitted["JobId"]}))[1]["State"])
    assert seen == ["Queuing", "Analysing", "Analysing", "Success"]


async def test_hold_then_finish_fail(api, em) -> None:
    em.analysing_polls = None
    _, submitted = await api(SUBMIT, submit_args())
    job_id = submitted["JobId"]
    for _ in range(5):
        _, body = await api(QUERY, {"JobId": job_id})
    assert body["State"] == "Analysing"
    em.finish(job_id, "Fail", code="InvalidInput.ContentNotSupported", message="No face found.")
    _, body = await api(QUERY, {"JobId": job_id})
    assert body["State"] == "Fail"
    assert json.loads(body["Result"]) == {
        "Code": "InvalidInput.ContentNotSupported",
        "Message": "No face found.",
    }
    em.finish(job_id)  # a finished job stays as it is
    assert em.jobs[job_id].state == "Fail"
    with pytest.raises(ValueError):
        em.finish(job_id, "Done")


async def test_fail_next_and_require_input(api, em) -> None:
    em.faults.fail_next("ProcessFailed", "It broke.")
    _, first = await api(SUBMIT, submit_args())
    _, second = await api(SUBMIT, submit_args())
    em.require_input = True
    _, third = await api(SUBMIT, submit_args())
    em.finish(second["JobId"])
    for job_id in (first["JobId"], third["JobId"]):
        for _ in range(3):
            await api(QUERY, {"JobId": job_id})
    assert em.jobs[first["JobId"]].code == "ProcessFailed"
    assert em.jobs[second["JobId"]].state == "Success"
    assert (em.jobs[third["JobId"]].state, em.jobs[third["JobId"]].code) == (
        "Fail",
        "InvalidInput.NotExist",
    )


async def test_unknown_job(api, em) -> None:
    status, body = await api(QUERY, {"JobId": "f" * 32})
    assert status == 200 and set(body) == {"RequestId", "JobId"} and body["JobId"] == "f" * 32
    status, body = await api(QUERY, {})
    assert (status, body["Code"]) == (400, "MissingJobId")
    em.unknown_job = "error"
    status, body = await api(QUERY, {"JobId": "f" * 32})
    assert (status, body["Code"]) == (404, "InvalidJobId.NotFound")


# -- what Success writes, by function ------------------------------------------------------------


async def finished(api: Api, em: MtsEmulator, **change: str) -> dict[str, Any]:
    _, submitted = await api(SUBMIT, submit_args(**change))
    em.finish(submitted["JobId"])
    _, body = await api(QUERY, {"JobId": submitted["JobId"]})
    return json.loads(json.loads(body["Result"])["Data"])


async def test_caption_extraction_srt_and_vtt(api, em, oss, clock) -> None:
    out = f"oss://tolk-media.{HOST}/subs/{{source}}-{{resultType}}.srt"
    data = await finished(api, em, FunctionName="CaptionExtraction", Output=out)
    assert data == {"result": [{"file": "subs/cat-zh.srt"}]}
    assert oss.get("tolk-media", "subs/cat-zh.srt").startswith(b"1\n00:00:01,000 --> ")
    data = await finished(
        api, em, FunctionName="CaptionExtraction", Output=out, JobParams='{"sep": true}'
    )
    assert [f["file"] for f in data["result"]] == ["subs/cat-zh.srt", "subs/cat-en.srt"]
    assert b"Press the red button." in oss.get("tolk-media", "subs/cat-en.srt")
    vtt = f"oss://tolk-media.{HOST}/subs/{{source}}.vtt"
    data = await finished(api, em, FunctionName="CaptionExtraction", Output=vtt)
    assert oss.get("tolk-media", "subs/cat.vtt").startswith(b"WEBVTT\n")
    assert oss.objects[("tolk-media", "subs/cat.vtt")].content_type == "text/vtt"


async def test_analysis_audio_video_outputs(api, em, oss) -> None:
    out = f"oss://tolk-media.{HOST}/a/{{source}}.json"
    data = await finished(api, em, FunctionName="AudioBeatDetection", Output=out)
    assert data["result"] == [{"file": "a/cat.json"}]
    assert json.loads(oss.get("tolk-media", "a/cat.json"))["BeatList"] == data["BeatList"]
    assert data["DownBeatList"] == data["BeatList"][::4]
    await finished(api, em, FunctionName="SpeechDenoise", Output=f"oss://tolk-media.{HOST}/a.wav")
    assert oss.get("tolk-media", "a.wav").startswith(b"RIFF")
    matte = f"oss://tolk-media.{HOST}/v/{{source}}.webm"
    await finished(api, em, FunctionName="VideoGreenScreenMatting", Output=matte)
    assert oss.objects[("tolk-media", "v/cat.webm")].content_type == "video/webm"


async def test_two_outputs_without_sequence_id_do_not_collide(api, em, oss) -> None:
    data = await finished(api, em, Output=f"oss://tolk-media.{HOST}/same.png")
    assert [f["file"] for f in data["result"]] == ["same.png", "same-1.png"]


# -- throttling and faults -------------------------------------------------------------------


async def test_throttling_per_action_and_second(api, em, clock) -> None:
    em.qps[SUBMIT] = 3
    answers = [await api(SUBMIT, submit_args()) for _ in range(4)]
    assert [s for s, _ in answers] == [200, 200, 200, 400]
    assert answers[-1][1]["Code"] == "Throttling.User"
    assert answers[-1][1]["Message"] == "Request was denied due to user flow control."
    assert (await api(QUERY, {"JobId": "x"}))[0] == 200  # another action, another count
    clock.now += 1
    assert (await api(SUBMIT, submit_args()))[0] == 200


async def test_fault_plan(api, em) -> None:
    em.faults.code(SUBMIT, "InvalidAccountStatus", status=403, message="Not activated.")
    status, body = await api(SUBMIT, submit_args())
    assert (status, body["Code"], body["Message"]) == (
        403,
        "InvalidAccountStatus",
        "Not activated.",
    )
    em.faults.http("*", 503, retry_after=2)
    async with api.session.post(em.endpoint + "/") as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (503, "2")
    em.faults.malformed(QUERY)
    status, body = await api(QUERY, {"JobId": "x"})
    assert status == 200 and body == "<html>upstream error</html>"
    em.faults.throttle(QUERY, times=2)
    assert [(await api(QUERY, {"JobId": "x"}))[0] for _ in range(3)] == [400, 400, 200]
    em.faults.delay(QUERY, 0.05)
    started = time.monotonic()
    await api(QUERY, {"JobId": "x"})
    assert time.monotonic() - started >= 0.05
    em.faults.clear()
    assert (await api(SUBMIT, submit_args()))[0] == 200

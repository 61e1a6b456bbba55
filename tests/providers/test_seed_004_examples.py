"""Seed 004 (``004_0ad38d3f2f207de0.txt``, MPS/MTS ``QueryIProductionJob``), every example
replayed: the printed answer through the wire parser; the printed request (``JobId``)
through Tolk's client to the MTS emulator, which holds the seed's own job and must answer
the print (``Result`` byte for byte); and a job of the seed's function walked through
every ``State`` the seed lists, its outputs read back from the OSS emulator.

The seed documents one operation. (``SubmitIProductionJob``, which makes the job, is not
in this seed; Tolk takes it from alibaba-mts.md §2.)

QueryIProductionJob — query an intelligent-production job

- **Tolk sends** ``POST /?JobId=<id>`` — the one parameter the seed lists, in the query
  with an empty body as the official SDK sends it — signed ACS3-HMAC-SHA256 with
  ``x-acs-version: 2014-06-18``; one call per job per poll round, through one token bucket
  for Submit and Query together, 95 a second, under the seed's 100 per second per user.
- **Tolk parses** every field as a string: ``FunctionName`` (checked against the seed's
  14 names and 4 newer ones when a person types it), ``Input``, ``Output`` (the
  unexpanded template, as printed), ``RequestId``, ``UserData`` (``"null"`` is none; Tolk
  puts its task id there), ``State`` (``Queuing``/``Analysing``: still running; ``Success``;
  ``Fail``; anything else is a garbled answer, retried), ``PipelineId``, ``JobParams``
  (kept as text: the seed's ``{mode:"gif"}`` is not strict JSON), ``JobId`` and
  ``Result`` — JSON whose ``Data`` is JSON again, ``{"result": [{"file": key}, …]}``,
  each ``file`` an object key in the bucket of ``Output`` (a full ``oss://``/``https://``
  location is read too). Those objects are read through OSS V4 presigned URLs made at the
  moment of download: images and subtitles are attached to the thread, anything else is
  listed, and one Tolk cannot read is listed with its ``oss://bucket/key``, the reason and
  the fix (issue 17, item 7). On ``Fail`` the ``Result`` ``Code``/``Message`` are the
  error (a quota problem when the code names arrears, quota or an unactivated service).
- **Undocumented** (assumed): every error code (the seed says "see the error center";
  Tolk classifies by name: ``Throttling*``, ``InternalError``, ``ServiceUnavailable`` and
  5xx retried, ``*Arrears*``/``*Quota*``/``*NotActivated*``/``InvalidAccountStatus`` quota,
  the rest permanent); ``Result`` on ``Fail`` (taken as ``{Code, Message}``); what an
  unknown ``JobId`` answers (the public docs: only ``RequestId`` and ``JobId`` — Tolk waits
  60 s for a new job to become visible, then says it does not exist); the HTTP method
  (the SDK's POST); where the outputs' endpoint is (``ALIBABA_OSS_ENDPOINT``, else the
  host in ``Output``); the ``JobParams`` keys of each function (Tolk sends strict JSON:
  the seed's bare-key ``{mode:"gif"}`` would be refused before sending, with a hint). The
  example's ``.srt`` output for ``ImageCartoonize`` is the doc's copy slip; the masked
  names (``example-****``, ``…15****``) are read as they are.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from emulators.mts import KINDS, MtsEmulator
from emulators.mts import Job as EmulatedJob
from emulators.oss import OssEmulator
from providers.alibaba.signing import Credentials
from providers.errors import ErrorKind, ProviderError
from providers.mts import wire
from providers.mts.client import MtsClient
from providers.oss.presign import OssObject

QUERY = "QueryIProductionJob"
JOB_ID = "88c6ca184c0e432bbf5b665e2a15****"
REQUEST = {"JobId": JOB_ID}  # 请求参数: 示例值
RESPONSE = {  # 正常返回示例
    "FunctionName": "ImageCartoonize",
    "Input": "oss://example-****.oss-cn-hangzhou.aliyuncs.com/example.mp4",
    "RequestId": "D127C68E-F1A1-4CE5-A874-8FF724881A12",
    "UserData": "null",
    "State": "Success",
    "Output": "oss://example-****.oss-cn-hangzhou.aliyuncs.com/iproduction/{source}-{timestamp}-{sequenceId}.srt",
    "PipelineId": "39f8e0bc005e4f309379701645f4****",
    "JobParams": '{mode:"gif"}',
    "JobId": JOB_ID,
    "Result": '{"Code":"Success","Data":"{\\"result\\":[{\\"file\\":\\"iproduction/test-result.jpg\\"},{\\"file\\":\\"iproduction/test-origin.jpg\\"}]}","Message":"Successful."}',  # noqa: E501
}
FILES = ["iproduction/test-result.jpg", "iproduction/test-origin.jpg"]
STATES = ["Queuing", "Analysing", "Fail", "Success"]  # State: 取值
FUNCTIONS = [  # FunctionName: 取值
    "VideoH2V",
    "VideoDelogo",
    "Cover",
    "VideoClip",
    "ImageH2V",
    "ImageDelogo",
    "CaptionExtraction",
    "VideoDetext",
    "VideoGreenScreenMatting",
    "MusicSegmentDetect",
    "AudioMixing",
    "AudioBeatDetection",
    "ImageCartoonize",
    "AudioQualityAssessment",
]
QPS = 100  # QPS 限制: 100 次/秒


# -- the printed answer -------------------------------------------------------------------------


def test_the_response_example_parses():
    job = wire.parse_job(200, RESPONSE)
    assert (job.job_id, job.state, job.function_name) == (JOB_ID, "Success", "ImageCartoonize")
    assert job.done and not job.pending and not job.failed and not job.missing
    assert (job.input, job.output) == (RESPONSE["Input"], RESPONSE["Output"])
    assert job.user_data is None  # "null", the seed's quirk
    assert (job.pipeline_id, job.job_params) == (RESPONSE["PipelineId"], '{mode:"gif"}')
    assert (job.code, job.message) == ("Success", "Successful.")
    assert job.result.data == {"result": [{"file": f} for f in FILES]}  # both layers decoded
    assert job.output_files == tuple(OssObject("example-****", f) for f in FILES)
    assert job.raw["RequestId"] == RESPONSE["RequestId"]


@pytest.mark.parametrize("state", STATES)
def test_every_state_the_seed_lists_is_read(state):
    job = wire.parse_job(200, {**RESPONSE, "State": state})
    assert (job.pending, job.failed, job.done) == (
        state in ("Queuing", "Analysing"),
        state == "Fail",
        state == "Success",
    )


def test_a_state_the_seed_does_not_list_is_a_garbled_answer():
    with pytest.raises(ProviderError) as raised:
        wire.parse_job(200, {**RESPONSE, "State": "Finished"})
    assert (raised.value.code, raised.value.kind) == ("bad-response", ErrorKind.RETRYABLE)


def test_the_seeds_functions_and_rate_are_known_everywhere():
    assert set(FUNCTIONS) <= set(wire.FUNCTIONS) and set(FUNCTIONS) <= set(KINDS)
    assert wire.FUNCTIONS[: len(FUNCTIONS)] == tuple(FUNCTIONS)  # the seed's first, in order
    assert MtsEmulator._default_qps == {"SubmitIProductionJob": QPS, QUERY: QPS}
    assert wire.METHODS[QUERY] == "POST" and wire.IN_QUERY


# -- the printed request, through the client to the emulator ----------------------------------


@pytest.fixture
async def em() -> AsyncIterator[MtsEmulator]:
    async with OssEmulator() as oss, MtsEmulator(oss) as emulator:
        yield emulator


@pytest.fixture
def client(session, em) -> MtsClient:
    key, secret = next(iter(em.keys.items()))
    return MtsClient(session, Credentials(key, secret), endpoint=em.endpoint)


def the_seeds_job() -> EmulatedJob:
    """The printed job, finished, as the emulator keeps jobs."""
    return EmulatedJob(
        job_id=JOB_ID,
        function_name=RESPONSE["FunctionName"],
        input=RESPONSE["Input"],
        output=RESPONSE["Output"],
        job_params=RESPONSE["JobParams"],
        params={"mode": "gif"},
        pipeline_id=RESPONSE["PipelineId"],
        user_data=None,
        notify_url=None,
        created_at=0.0,
        state="Success",
        code="Success",
        message="Successful.",
        files=list(FILES),
        data={"result": [{"file": f} for f in FILES]},
    )


async def test_the_request_example_arrives_as_printed_and_is_answered_with_the_print(client, em):
    em.jobs[JOB_ID] = the_seeds_job()
    status, body = await client._call(QUERY, REQUEST)
    (received,) = em.requests_for(QUERY)
    assert received.params == REQUEST and received.method == "POST" and received.body == b""
    assert received.headers["x-acs-version"] == "2014-06-18"
    assert status == 200 and set(body) == set(RESPONSE)
    assert {k: v for k, v in body.items() if k != "RequestId"} == {
        k: v for k, v in RESPONSE.items() if k != "RequestId"
    }  # Result included, byte for byte
    parsed = await client.query_iproduction_job(JOB_ID)
    assert replace(parsed, raw={}) == replace(wire.parse_job(200, RESPONSE), raw={})


async def test_the_printed_job_id_unknown_answers_without_a_state(client, em):
    job = await client.query_iproduction_job(JOB_ID)
    assert job.missing and job.job_id == JOB_ID
    (received,) = em.requests_for(QUERY)
    assert received.params == REQUEST
    assert set(job.raw) == {"RequestId", "JobId"}


async def test_a_job_of_the_seeds_function_walks_the_seeds_states(client, em):
    """The print with its masks unmasked (``example-****`` is no bucket one can create)."""
    bucket_host = "example-bucket.oss-cn-hangzhou.aliyuncs.com"
    output = RESPONSE["Output"].replace("example-****.oss-cn-hangzhou.aliyuncs.com", bucket_host)
    job_id = await client.submit_iproduction_job(
        RESPONSE["FunctionName"],
        f"oss://{bucket_host}/example.mp4",
        output,
        pipeline_id=RESPONSE["PipelineId"],
        job_params={"mode": "gif"},
    )
    seen = []
    while not seen or seen[-1].pending:
        seen.append(await client.query_iproduction_job(job_id))
    assert [j.state for j in seen] == ["Queuing", "Analysing", "Success"]
    _, body = await client._call(QUERY, {"JobId": job_id})
    assert set(body) == set(RESPONSE)  # the printed fields, no more, no fewer
    assert (body["UserData"], body["Output"], body["PipelineId"]) == (
        "null",
        output,
        RESPONSE["PipelineId"],
    )
    outer = json.loads(body["Result"])
    assert list(outer) == ["Code", "Data", "Message"] and isinstance(outer["Data"], str)
    assert (outer["Code"], outer["Message"]) == ("Success", "Successful.")
    files = [entry["file"] for entry in json.loads(outer["Data"])["result"]]
    assert len(files) == 2 and all(f.startswith("iproduction/example-") for f in files)
    assert seen[-1].output_files == tuple(OssObject("example-bucket", f) for f in files)
    assert all(em.oss.get("example-bucket", f) for f in files)  # written where Output says

    em.faults.fail_next("InvalidInput.Corrupted", "The input file is damaged.")
    failed_id = await client.submit_iproduction_job(
        RESPONSE["FunctionName"], f"oss://{bucket_host}/example.mp4", output
    )
    job = await client.query_iproduction_job(failed_id)
    while job.pending:
        job = await client.query_iproduction_job(failed_id)
    assert job.failed and (job.code, job.message) == (
        "InvalidInput.Corrupted",
        "The input file is damaged.",
    )
    error = wire.job_failure(job)
    assert (error.code, error.kind) == ("InvalidInput.Corrupted", ErrorKind.PERMANENT)


def test_the_seeds_job_params_are_refused_before_sending():
    """Not the seed's wire (it prints a Query answer), but what Tolk does with it."""
    with pytest.raises(ValueError, match="keys need double quotes"):
        wire.submit_params(
            "ImageCartoonize",
            "oss://example-bucket.oss-cn-hangzhou.aliyuncs.com/example.mp4",
            "oss://example-bucket.oss-cn-hangzhou.aliyuncs.com/iproduction/{source}.jpg",
            job_params=RESPONSE["JobParams"],
        )

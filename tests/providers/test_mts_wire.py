"""The pure MTS wire module: checks, output templates, the seed's QueryIProductionJob answer
(alibaba-mts.md §3) and error classification (§6)."""

from __future__ import annotations

import json

import pytest

from providers.errors import ErrorKind, ProviderError
from providers.mts import wire
from providers.mts.wire import IProductionJob, OssObject

#: The seed's example answer (alibaba-mts.md §3, seed 004); ``Result`` as the seed's table
#: shows it, i.e. the JSON string value once decoded from the answer.
SEED_RESULT = (
    r'{"Code":"Success","Data":"{\"result\":[{\"file\":\"iproduction/test-result.jpg\"},'
    r'{\"file\":\"iproduction/test-origin.jpg\"}]}","Message":"Successful."}'
)
SEED_ANSWER = {
    "FunctionName": "ImageCartoonize",
    "Input": "oss://example-****.oss-cn-hangzhou.aliyuncs.com/example.mp4",
    "RequestId": "D127C68E-F1A1-4CE5-A874-8FF724881A12",
    "UserData": "null",
    "State": "Success",
    "Output": (
        "oss://example-****.oss-cn-hangzhou.aliyuncs.com/iproduction/"
        "{source}-{timestamp}-{sequenceId}.srt"
    ),
    "PipelineId": "39f8e0bc005e4f309379701645f4****",
    "JobParams": '{mode:"gif"}',
    "JobId": "88c6ca184c0e432bbf5b665e2a15****",
    "Result": SEED_RESULT,
}
IN = "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/in/cat.png"
OUT = "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/out/{source}-{timestamp}-{sequenceId}.png"


# -- functions and JobParams ------------------------------------------------------------------


def test_documented_functions() -> None:
    assert len(wire.FUNCTIONS) == len(set(wire.FUNCTIONS)) == 18
    for name in ("ImageCartoonize", "CaptionExtraction", "AudioQualityAssessment", "VideoSplit"):
        assert wire.check_function(name) == name


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("ImageCartoonise", "ImageCartoonize"),
        ("imagecartoonize", "ImageCartoonize"),
        ("CaptionExtract", "CaptionExtraction"),
        ("VideoH2v", "VideoH2V"),
    ],
)
def test_unknown_function_names_close_matches(name: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=rf"unknown MTS function '{name}'; did you mean") as err:
        wire.check_function(name)
    assert suggestion in str(err.value)


def test_unknown_function_far_from_any_lists_them() -> None:
    with pytest.raises(ValueError, match="known: VideoH2V, VideoDelogo"):
        wire.check_function("Translate")


def test_job_params() -> None:
    assert wire.check_job_params('{"Model": "gif"}') == {"Model": "gif"}
    assert wire.check_job_params("  ") == {}
    with pytest.raises(ValueError, match=r"line 1, column 2 \(keys need double quotes"):
        wire.check_job_params('{mode:"gif"}')
    with pytest.raises(ValueError, match="not valid JSON: Expecting ',' delimiter at line 2"):
        wire.check_job_params('{"a": 1\n "b": 2}')
    with pytest.raises(ValueError, match=r"must be a JSON object \{…\}, not a list"):
        wire.check_job_params("[1, 2]")
    with pytest.raises(ValueError, match="not a string"):
        wire.check_job_params('"gif"')


@pytest.mark.parametrize(
    ("function", "params", "error"),
    [
        ("CaptionExtraction", {"fps": 1}, "fps must be an integer from 2 to 10"),
        ("CaptionExtraction", {"fps": 5.5}, "fps"),
        ("CaptionExtraction", {"sep": "yes"}, "sep must be true or false"),
        ("CaptionExtraction", {"roi": [[0.7, 1]]}, "roi"),
        ("VideoDetext", {"Text": [[1, 2, 3, 4]] * 3}, "one or two boxes"),
        ("VideoDetext", {"Text": [[1, 2, 3]]}, "one or two boxes"),
    ],
)
def test_documented_function_params(function: str, params: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        wire.check_function_params(function, params)


def test_valid_function_params_pass() -> None:
    wire.check_function_params(
        "CaptionExtraction", {"fps": 2, "sep": True, "roi": [[0.75, 1], [0, 1]]}
    )
    wire.check_function_params("VideoDetext", {"Text": [[0, 0.8, 1, 0.2], [0, 0, 1, 0.1]]})
    wire.check_function_params("ImageCartoonize", {"anything": "goes"})


# -- locations and output templates ---------------------------------------------------------


def test_parse_oss_url_forms() -> None:
    assert wire.parse_oss_url(IN) == OssObject("tolk-media", "in/cat.png")
    assert wire.parse_oss_url("oss://tolk-media/a+b.jpg") == ("tolk-media", "a+b.jpg")
    legacy = '{"Bucket":"tolk-media","Location":"oss-cn-hangzhou","Object":"in%2Fa%20b.mp4"}'
    assert wire.parse_oss_url(legacy) == ("tolk-media", "in/a b.mp4")
    for bad in ('{"Bucket": "b"}', "http://x/y", "oss://UPPER/k"):
        with pytest.raises(ValueError):
            wire.parse_oss_url(bad)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/tolk/{function}/{task}/"
            "{source}-{timestamp}-{sequenceId}.jpg",
            "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/tolk/ImageCartoonize/T-1_a.b/"
            "{source}-{timestamp}-{sequenceId}.jpg",
        ),
        (
            "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/out/",
            "oss://tolk-media.oss-cn-hangzhou.aliyuncs.com/out/T-1_a.b/"
            "{source}-{timestamp}-{sequenceId}.jpg",
        ),
        (
            "oss://tolk-media",
            "oss://tolk-media/T-1_a.b/{source}-{timestamp}-{sequenceId}.jpg",
        ),
    ],
)
def test_expand_output(template: str, expected: str) -> None:
    assert wire.expand_output(template, task_id="T-1_a.b", function="ImageCartoonize") == expected


def test_expand_output_adds_the_host_and_cleans_the_task_id() -> None:
    out = wire.expand_output(
        "oss://bucket/out/",
        task_id="C0/1712: x",
        function="CaptionExtraction",
        oss_host="oss-cn-shanghai.aliyuncs.com",
    )
    assert out == (
        "oss://bucket.oss-cn-shanghai.aliyuncs.com/out/C0-1712-x/"
        "{source}-{timestamp}-{sequenceId}.srt"
    )
    emulator = wire.expand_output(
        "oss://bucket/o.png", task_id="t", function="ImageH2V", oss_host="http://127.0.0.1:9"
    )
    assert emulator == "oss://bucket/o.png"
    keep = wire.expand_output(
        "oss://bucket.oss-cn-beijing.aliyuncs.com/{resultType}.srt",
        task_id="t",
        function="CaptionExtraction",
        oss_host="ignored",
    )
    assert keep == "oss://bucket.oss-cn-beijing.aliyuncs.com/{resultType}.srt"


def test_expand_output_refuses_unknown_placeholders() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{taks\}.*known: \{function\}"):
        wire.expand_output("oss://b-1/{taks}/x.png", task_id="t", function="ImageH2V")


# -- Submit parameters ----------------------------------------------------------------------


def test_submit_params() -> None:
    params = wire.submit_params(
        "ImageCartoonize",
        IN,
        OUT,
        pipeline_id="p1",
        job_params={"Model": "3d", "名": "猫"},
        user_data='{"task": "T1"}',
        notify_url="mns://1234.mns.cn-hangzhou.aliyuncs.com/queues/q",
    )
    assert params == {
        "FunctionName": "ImageCartoonize",
        "Input": IN,
        "Output": OUT,
        "JobParams": '{"Model":"3d","名":"猫"}',
        "PipelineId": "p1",
        "UserData": '{"task": "T1"}',
        "NotifyUrl": "mns://1234.mns.cn-hangzhou.aliyuncs.com/queues/q",
    }
    text = '{ "fps": 5 }'
    assert wire.submit_params("CaptionExtraction", IN, OUT, job_params=text)["JobParams"] == text
    assert "JobParams" not in wire.submit_params("ImageH2V", IN, OUT, job_params={})


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"function_name": "Cartoon"}, "unknown MTS function"),
        ({"input": "https://example.com/a.png"}, "Input must be oss://"),
        ({"input": "oss://tolk-media/in/"}, "Input names no object"),
        ({"input": '{"Bucket": "tolk-media", "Object": "a.png"}'}, "Input must be oss://"),
        ({"output": "oss://Tolk_Media/x.png"}, "Output must be oss://"),
        ({"job_params": '{mode:"gif"}'}, "JobParams is not valid JSON"),
        ({"job_params": "[]"}, "must be a JSON object"),
        ({"notify_url": "https://example.com/hook"}, "MNS queue or topic"),
    ],
)
def test_submit_params_refuse(change: dict, error: str) -> None:
    args = {"function_name": "ImageCartoonize", "input": IN, "output": OUT} | change
    with pytest.raises(ValueError, match=error):
        wire.submit_params(args.pop("function_name"), args.pop("input"), args.pop("output"), **args)


# -- Query answers -----------------------------------------------------------------------------


def test_the_seed_answer() -> None:
    job = wire.parse_job(200, SEED_ANSWER)
    assert (job.done, job.failed, job.pending, job.missing) == (True, False, False, False)
    assert job.job_id == "88c6ca184c0e432bbf5b665e2a15****"
    assert job.state == "Success" and job.function_name == "ImageCartoonize"
    assert job.user_data is None  # the literal "null"
    assert job.job_params == '{mode:"gif"}'  # kept as it came, not strict JSON
    assert job.output == SEED_ANSWER["Output"]  # the unexpanded template
    assert (job.code, job.message) == ("Success", "Successful.")
    assert job.result is not None
    assert job.result.data == {
        "result": [{"file": "iproduction/test-result.jpg"}, {"file": "iproduction/test-origin.jpg"}]
    }
    assert job.output_files == (
        OssObject("example-****", "iproduction/test-result.jpg"),
        OssObject("example-****", "iproduction/test-origin.jpg"),
    )
    assert job.raw["RequestId"] == "D127C68E-F1A1-4CE5-A874-8FF724881A12"


@pytest.mark.parametrize("state", ["Queuing", "Analysing"])
def test_pending_states(state: str) -> None:
    body = {k: v for k, v in SEED_ANSWER.items() if k != "Result"} | {"State": state}
    job = wire.parse_job(200, body)
    assert job.pending and not job.done and job.result is None and job.output_files == ()


def test_a_job_that_is_not_found() -> None:
    job = wire.parse_job(200, {"RequestId": "R", "JobId": "abc"}, "abc")
    assert job.missing and not job.pending and not job.done and not job.failed
    assert job == IProductionJob(job_id="abc", state="", raw=job.raw)


def test_a_failed_job_and_its_error() -> None:
    result = json.dumps({"Code": "InvalidInput.ContentNotSupported", "Message": "No face found."})
    job = wire.parse_job(200, SEED_ANSWER | {"State": "Fail", "Result": result})
    assert job.failed and (job.code, job.message) == (
        "InvalidInput.ContentNotSupported",
        "No face found.",
    )
    assert job.output_files == ()
    error = wire.job_failure(job)
    assert (error.provider, error.operation, error.kind) == ("mts", wire.QUERY, "permanent")
    assert str(error) == (
        "mts QueryIProductionJob failed with InvalidInput.ContentNotSupported: No face found."
    )
    arrears = wire.parse_job(200, SEED_ANSWER | {"State": "Fail", "Result": '{"Code":"Arrears"}'})
    assert wire.job_failure(arrears).kind is ErrorKind.QUOTA
    odd = wire.parse_job(200, SEED_ANSWER | {"State": "Fail"})  # a Result that says Success
    assert wire.job_failure(odd).code == "Fail"
    bare = {k: v for k, v in SEED_ANSWER.items() if k != "Result"} | {"State": "Fail"}
    assert str(wire.job_failure(wire.parse_job(200, bare))).endswith("Fail: the job failed")


@pytest.mark.parametrize(
    ("result", "code", "data"),
    [
        ({"Code": "Success", "Data": {"result": []}}, "Success", {"result": []}),
        ('{"Code":"Success","Data":"not json"}', "Success", "not json"),
        ('{"Code":"Success"}', "Success", None),
        ("plain text", None, "plain text"),
        ("[1]", None, [1]),
    ],
)
def test_result_shapes_are_tolerated(result: object, code: str | None, data: object) -> None:
    decoded = wire.decode_result(result)
    assert decoded is not None and (decoded.code, decoded.data) == (code, data)
    assert wire.decode_result("") is None and wire.decode_result(None) is None


def test_output_files_in_other_forms() -> None:
    data = {
        "result": [
            {"file": "/iproduction/a.srt"},
            {"File": "oss://other.oss-cn-beijing.aliyuncs.com/b.srt"},
            "https://third.oss-cn-hangzhou.aliyuncs.com/c%20d.srt?x=1",
            {"nofile": 1},
            7,
        ],
        "BeatList": [0.5, 1.0],
    }
    result = json.dumps({"Code": "Success", "Data": json.dumps(data)})
    job = wire.parse_job(200, SEED_ANSWER | {"Result": result})
    assert job.output_files == (
        OssObject("example-****", "iproduction/a.srt"),
        OssObject("other", "b.srt"),
        OssObject("third", "c d.srt"),
    )
    assert job.result is not None and job.result.data["BeatList"] == [0.5, 1.0]


def test_unknown_state_is_a_bad_response() -> None:
    with pytest.raises(ProviderError) as err:
        wire.parse_job(200, SEED_ANSWER | {"State": "Exploded"})
    assert err.value.code == "bad-response" and err.value.retryable


def test_submitted() -> None:
    assert wire.parse_submitted(200, {"RequestId": "R", "JobId": "j1"}) == "j1"
    with pytest.raises(ProviderError, match="no JobId"):
        wire.parse_submitted(200, {"RequestId": "R"})
    with pytest.raises(ProviderError, match="not an object"):
        wire.parse_submitted(200, ["x"])


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("Throttling.User", 400, ErrorKind.RETRYABLE),
        ("Throttling", 400, ErrorKind.RETRYABLE),
        ("ServiceUnavailable", 503, ErrorKind.RETRYABLE),
        ("InternalError", 500, ErrorKind.RETRYABLE),
        ("SomethingNew", 502, ErrorKind.RETRYABLE),
        ("InvalidAccountStatus", 403, ErrorKind.QUOTA),
        ("Forbidden.Arrears", 403, ErrorKind.QUOTA),
        ("QuotaExceed.Pipeline", 400, ErrorKind.QUOTA),
        ("Mts.ServiceNotActivated", 403, ErrorKind.QUOTA),
        ("InvalidParameter.FunctionName", 400, ErrorKind.PERMANENT),
        ("MissingInput", 400, ErrorKind.PERMANENT),
        ("InvalidInput.NotExist", 400, ErrorKind.PERMANENT),
        ("InvalidJobId.NotFound", 404, ErrorKind.PERMANENT),
        ("Forbidden.RAM", 403, ErrorKind.PERMANENT),
        ("SignatureDoesNotMatch", 400, ErrorKind.PERMANENT),
        ("InvalidAccessKeyId.NotFound", 404, ErrorKind.PERMANENT),
    ],
)
def test_classify(code: str, status: int, kind: ErrorKind) -> None:
    assert wire.classify(code, status) is kind


def test_error_from() -> None:
    body = {
        "RequestId": "R",
        "HostId": "mts.cn-hangzhou.aliyuncs.com",
        "Code": "Throttling.User",
        "Message": "Request was denied due to user flow control.",
    }
    error = wire.error_from(400, body, wire.SUBMIT)
    assert (error.provider, error.code, error.kind, error.retry_after) == (
        "mts",
        "Throttling.User",
        ErrorKind.RETRYABLE,
        1.0,
    )
    assert "flow control" in error.message
    leaky = {"Code": "SignatureDoesNotMatch", "Message": "expected for key s3cr3t-value"}
    error = wire.error_from(400, leaky, wire.QUERY, redact=("s3cr3t-value",))
    assert "s3cr3t-value" not in str(error) and "[redacted]" in error.message
    assert wire.error_from(502, "x", wire.QUERY).kind is ErrorKind.RETRYABLE
    assert wire.error_from(404, {}, wire.QUERY).code == "http-404"
    with pytest.raises(ProviderError) as err:
        wire.parse_job(400, {"Code": "InvalidParameter.JobId", "Message": "bad"})
    assert err.value.kind is ErrorKind.PERMANENT

"""Issue 8: every provider response parser holds under hostile answers.

A provider (or whatever sits between it and Tolk) may answer anything: any JSON value, the
documented sample bodies with fields removed, retyped or replaced, any HTTP status, any
bytes where a ZIP should be. Each parser returns its typed result or raises
``ProviderError`` with a non-empty message — never ``KeyError``, ``TypeError``,
``OverflowError`` …, which would surface as a crashed poll instead of a task that retries
or fails with a clear message.
"""

from __future__ import annotations

import copy
import io
import json
import math
import stat
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.alibaba import wire as alibaba
from providers.errors import ErrorKind, ProviderError
from providers.mts import wire as mts
from providers.rozetta import wire as rozetta
from providers.xiangji import wire as xiangji

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = "SECRET-key-7f3a9c"

# --- the documented sample bodies (/work/shared/providers/*.md) --------------------------------

XIANGJI_SAMPLES = [
    {
        "Message": "ok",
        "RequestId": "5b135a6003a3075d",
        "Code": 200,
        "Data": {
            "Url": "http://i.tosoiot.com/20220311/r/5b135a6003a3075d/f-16417978499354920.jpg",
            "SslUrl": "https://i.tosoiot.com/20220311/r/5b135a6003a3075d/f-16417978499354920.jpg",
            "RmUrl": "http://i.tosoiot.com/20220311/r/5b135a6003a3075d/i-16417978499354920.jpg",
            "SslRmUrl": "https://i.tosoiot.com/20220311/r/16417978499354920.jpg",
        },
    },
    {
        "Message": "ok",
        "RequestId": "5b135a6003a3075d",
        "Code": 200,
        "Data": {
            "SourceLanguage": "CHS",
            "TargetLanguage": "ENG",
            "OriginText": "我是中国人",
            "Text": "I am Chinese",
        },
    },
    {
        "Message": "ok",
        "RequestId": "fcfd686744fcc5f4",
        "Code": 200,
        "Data": {
            "Content": [
                {
                    "RequestId": "402f9f5c36d61b74",
                    "Code": 200,
                    "OriginUrl": "http://www.tosoiot.com/upload/20211122110639TR3YAU.jpg",
                    "Url": "http://i.tosoiot.com/r/402f9f5c36d61b74/f-2021AU.jpg",
                    "SslUrl": "https://i.tosoiot.com/r/402f9f5c36d61b74/f-2021AU.jpg",
                    "SourceLanguage": "CHS",
                    "TargetLanguage": "KOR",
                }
            ]
        },
    },
    {
        "Message": "ok",
        "RequestId": "84722c5e81a7b0cb",
        "Code": 200,
        "Data": {"Content": ["493e4277248a30d4", "29c280ae35f067be"]},
    },
    {
        "Code": 200,
        "Message": "ok",
        "RequestId": "9eb88a7d3518593f",
        "Data": {
            "Content": {
                "31de8c80dca1b1fd1": {"Code": 115, "Message": "请求ID错误"},
                "ee338726f069b731": {
                    "RequestId": "ee338726f069b731",
                    "Code": 200,
                    "OriginUrl": "http://www.tosoiot.com/upload/2021AU.jpg",
                    "Url": "http://i.tosoiot.com/r/ee338726f069b731/f-2021AU.jpg",
                    "SslUrl": "https://i.tosoiot.com/r/ee338726f069b731/f-2021AU.jpg",
                    "SourceLanguage": "CHS",
                    "TargetLanguage": "KOR",
                },
            }
        },
    },
    {
        "Message": "ok",
        "RequestId": "9eb88a7d3518593f",
        "Data": {
            "Content": {
                "9a3d413c4a0b0342": None,
                "0bb26f6f94749af6": {
                    "RequestId": "0bb26f6f94749af6",
                    "Orc": [
                        {
                            "source": "点缀蜗居生活",
                            "target": "겸손한 거주지의 삶을 꾸미십시오.",
                            "bounding_box": "[[499,272], [681,272], [681,302], [499,302]]",
                            "font_size": "30px",
                            "orientation": "h",
                            "fg": "215,216,215",
                            "bg": "215,217,218",
                        },
                        {"source": "立即购买!", "boundingBox": "134,0,1066,249", "fontSize": 20},
                    ],
                    "OriginUrl": "http://www.tosoiot.com/upload-temp/20211122110639TR3YAU.jpg",
                    "SslUrl": "https://i.tosoiot.com/r/0bb26f6f94749af6/f-2021.jpg",
                },
            }
        },
    },
    {
        "Message": "ok",
        "RequestId": "fcfd686744fcc5f4",
        "Code": 200,
        "Data": {
            "RequestId": "39460axx8f60d32",
            "OriginUrl": "http://i.tosoiot.com/20220522/39460axx8f60d32/logo.png",
            "OriginSslUrl": "https://i.tosoiot.com/20220522/39460axx8f60d32/logo.png",
            "Url": "http://i.tosoiot.com/20220522/39460axx8f60d32/c-logo.png",
            "SslUrl": "https://i.tosoiot.com/20220522/39460axx8f60d32/c-logo.png",
        },
    },
    {"Message": "ok", "RequestId": "39460axx8f60d32", "Code": 200, "Data": {"Content": "39460a"}},
    {"code": "0", "msg": "ok", "data": {"type": 1, "leftCount": "80828"}},
    {"Code": 113, "Message": "账号服务没有开通或者欠费", "RequestId": "x", "Data": {}},
]

ALIBABA_SAMPLES = [
    {
        "RequestId": "6BE56E05-XXXX-XXXX-XXXX-FD90C4FFD581",
        "HostId": "mt.cn-hangzhou.aliyuncs.com",
        "Code": "10025",
        "Message": "The specified task does not exist.",
        "Recommend": "https://api.alibabacloud.com/troubleshoot?q=10025&product=alimt",
    },
    {
        "Code": 200,
        "Message": "ok",
        "RequestId": "A41F6E25-8520-4AF0-90EF-AF7E32840108",
        "Data": {"TaskId": "A41F6E25-8520-4AF0-90EF-111111"},
    },
    {
        "Code": 200,
        "Message": "ok",
        "RequestId": "xxxxxxx",
        "Data": {
            "ImageData": json.dumps(
                [
                    {
                        "errorCode": "200",
                        "sourceUrl": "https://img.alicdn.com/imgextra/i3/O1CN01AJHAFq.jpg",
                        "success": True,
                        "topRequestId": "of8hp0d9ne81",
                        "url": "https://ae01.alicdn.com/kf/H86dc34f146e1488aa55a0435ebd1775cu.jpeg",
                    }
                ]
            )
        },
    },
    {
        "Status": "ready",
        "RequestId": "D3920BC3-A395-4CAD-9E84-7C39EB07507B",
        "TaskId": "0586df512c8b4bb382d7d9a6a01b5854",
    },
    {
        "Status": "translated",
        "RequestId": "12952E92-FDF3-4D3C-88E3-242D72BA7150",
        "TranslateFileUrl": "http://translateFileUrl",
        "TranslateErrorCode": "Error",
        "PageCount": 20,
        "TaskId": "0586df512c8b4bb382d7d9a6a01b5854",
        "TranslateErrorMessage": "Fail to get the page number of document.",
    },
    {
        "task_id": "0586df512c8b4bb382d7d9a6a01b5854",
        "status": "translated",
        "errCode": 200,
        "errMsg": "",
        "translateFileUrl": "https://example.com/guide-ja.docx",
    },
]

MTS_SAMPLES = [
    {
        "RequestId": "C1849434-FC47-5DC1-92B6-F7EAAFE3851E",
        "JobId": "****20b48fb04483915d4f2cd8ac****",
    },
    {
        "FunctionName": "ImageCartoonize",
        "Input": "oss://example-****.oss-cn-hangzhou.aliyuncs.com/example.mp4",
        "RequestId": "D127C68E-F1A1-4CE5-A874-8FF724881A12",
        "UserData": "null",
        "State": "Success",
        "Output": "oss://example-****.oss-cn-hangzhou.aliyuncs.com/iproduction/{source}.srt",
        "PipelineId": "39f8e0bc005e4f309379701645f4****",
        "JobParams": '{mode:"gif"}',
        "JobId": "88c6ca184c0e432bbf5b665e2a15****",
        "Result": json.dumps(
            {
                "Code": "Success",
                "Data": json.dumps(
                    {
                        "result": [
                            {"file": "iproduction/test-result.jpg"},
                            {"file": "iproduction/test-origin.jpg"},
                        ]
                    }
                ),
                "Message": "Success",
            }
        ),
    },
    {"State": "Fail", "JobId": "j1", "Result": '{"Code":"InvalidInput","Message":"bad input"}'},
]

ROZETTA_SAMPLES = [
    {"status": "success", "data": {"translateId": "8c76e418-9842-455b-aac1-5be28e8e4e94"}},
    {
        "status": "success",
        "data": [
            {
                "translateId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
                "done": False,
                "langs": ["zh-CN", "ja"],
                "fieldId": 1,
                "createdAt": {},
                "items": [
                    {
                        "translateItemId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
                        "lang": "ja",
                        "wordCount": 1000,
                        "detectedLang": "zh-CN",
                        "done": False,
                        "originalName": "test.pdf",
                        "downloaded": False,
                        "error": False,
                        "errorCode": None,
                        "errorMessage": None,
                        "id": 5507,
                    }
                ],
            }
        ],
    },
    {
        "status": "success",
        "data": {
            "translateId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
            "done": False,
            "langs": ["en"],
            "fieldId": 1,
            "createdAt": "2019-07-21T17:32:28Z",
            "items": [
                {
                    "translateItemId": "8c76e418-9842-455b-aac1-5be28e8e4e94",
                    "lang": "ja",
                    "wordCount": 1000,
                    "detectedLang": "en",
                    "done": True,
                    "originalName": "test.pdf",
                    "downloaded": True,
                    "error": False,
                }
            ],
        },
    },
    {"status": "failure", "data": {"code": 40006, "message": "The signature is incorrect."}},
]

# --- hostile JSON ------------------------------------------------------------------------------

# Field names the parsers look for, so generated objects hit the interesting branches.
KEYS = sorted(
    {
        *("Code", "code", "Message", "msg", "message", "Data", "data", "RequestId", "Content"),
        *("Url", "SslUrl", "SsUrl", "RmUrl", "SslRmUrl", "OriginUrl", "Text", "Orc", "Ocr"),
        *("bounding_box", "boundingBox", "font_size", "fontSize", "fg", "bg", "orientation"),
        *("type", "leftCount", "TaskId", "Status", "ImageData", "TranslateFileUrl", "PageCount"),
        *("errorCode", "success", "url", "sourceUrl", "task_id", "status", "errCode"),
        *("State", "Result", "Output", "JobId", "File", "file", "result", "items", "langs"),
        *("translateId", "translateItemId", "wordCount", "done", "error", "id", "createdAt"),
        *("t4ooAuthFailed", "originalName", "lang", "errorMessage", "error_code"),
    }
)
WEIRD_NUMBERS = [
    10**400, -(10**400), 2**63, -(2**63) - 1, math.inf, -math.inf, math.nan, 1e308, -0.0, 200.0,
]  # fmt: skip
WEIRD_TEXT = [
    "", " ", "200", "0", "114", "113", "null", "None", "true", "1e999", "-1", "1" * 5000,
    "[" * 5000, "{", "[[1,2],[3]]", "1,2,3,4", "1e999,0,0,0", "inf", "nan", "30px",
    "https://[x/y", "http://a.b:99999/c", "oss://", "oss://b/k", "oss://b.oss-cn-x.aliyuncs.com/",
    "\ud800", "\x00", "ü" * 300, SECRET,
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WEIRD_NUMBERS),
    st.text(max_size=30),
    st.sampled_from(WEIRD_TEXT),
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), kids, max_size=6)
    ),
    max_leaves=24,
)


def _slots(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place inside ``value`` (as a path of keys and indexes)."""
    found = [path]
    if isinstance(value, dict):
        for key in value:
            found += _slots(value[key], (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _slots(item, (*path, index))
    return found


def _get(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, samples: list[Any]) -> Any:
    """A documented sample with a few places replaced, retyped, deleted or re-encoded."""
    value = copy.deepcopy(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_slots(value)))
        old = _get(value, path)
        how = draw(st.sampled_from(["replace", "delete", "as-text", "as-json-text", "wrap"]))
        if how == "replace":
            new = draw(json_values)
        elif how == "delete" and path:
            parent = _get(value, path[:-1])
            del parent[path[-1]]
            continue
        elif how == "as-text":
            new = str(old)
        elif how == "as-json-text":
            new = json.dumps(old)
        else:
            new = [old] if draw(st.booleans()) else {"Data": old}
        if not path:
            value = new
        else:
            _get(value, path[:-1])[path[-1]] = new
    return value


statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503]) | (
    st.integers(0, 999)
)


def answers(samples: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, mutated(samples), st.sampled_from(samples))


def refused_clearly(exc: ProviderError, provider: str) -> None:
    """What the person and the operator see: whose error, a code, and words."""
    assert exc.provider == provider
    assert isinstance(exc.code, str) and exc.code.strip()
    assert isinstance(exc.message, str) and exc.message.strip()
    assert isinstance(exc.kind, ErrorKind)
    assert str(exc)  # formatting it (for a log line or a message) works


def returns_or_refuses(provider: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ProviderError as exc:
        refused_clearly(exc, provider)
        return None


# --- Xiangji ----------------------------------------------------------------------------------


@SETTINGS
@given(answers(XIANGJI_SAMPLES), statuses)
def test_xiangji_parsers_return_their_result_or_a_provider_error(body: Any, status: int) -> None:
    def run(parse: Callable[[], Any]) -> Any:
        return returns_or_refuses(xiangji.PROVIDER, parse)

    assert run(lambda: xiangji.check(body, "Op", status=status)) in (None, body)
    text = run(lambda: xiangji.parse_text_translation(body))
    assert text is None or isinstance(text.text, str)
    image = run(lambda: xiangji.parse_image_result(body))
    assert image is None or (isinstance(image.url, str) and image.url)
    ids = run(lambda: xiangji.parse_submit_ids(body))
    assert ids is None or all(isinstance(i, str) and i for i in ids)
    for parse in (xiangji.parse_batch_result, xiangji.parse_batch_query):
        items = run(lambda parse=parse: parse(body))
        for item in (items or {}).values():
            if item is None:
                continue
            assert item.done == (item.result is not None and bool(item.result.url))
            if not item.done:
                refused_clearly(item.error(), xiangji.PROVIDER)
    matting = run(lambda: xiangji.parse_matting(body))
    assert matting is None or matting.url
    job = run(lambda: xiangji.parse_matting_submit(body))
    assert job is None or (isinstance(job, str) and job)
    quota = run(lambda: xiangji.parse_quota(body, status=status))
    assert quota is None or (type(quota.type) is int and type(quota.left_count) is int)
    assert isinstance(xiangji.classify(body), ErrorKind)


@SETTINGS
@given(json_values)
def test_xiangji_ocr_fields_never_crash(value: Any) -> None:
    assert xiangji.parse_box(value) is None or len(xiangji.parse_box(value)) == 4
    size = xiangji.parse_font_size(value)
    assert size is None or type(size) is int
    line = xiangji.parse_ocr_line({"bounding_box": value, "fontSize": value, "fg": value})
    assert isinstance(line.source, str)


@SETTINGS
@given(st.integers(100, 199) | st.sampled_from(["101", " 113 ", "abc"]), st.text(max_size=40))
def test_xiangji_errors_never_carry_a_key(code: Any, said: str) -> None:
    body = {"Code": code, "Message": f"{said} ImgTransKey={SECRET} {said}"}
    with pytest.raises(ProviderError) as info:
        xiangji.check(body, "Op", redact=[SECRET])
    assert SECRET not in str(info.value)
    quota = {"code": str(code), "msg": f"bad key {SECRET}"}
    with pytest.raises(ProviderError) as info:
        xiangji.parse_quota(quota, redact=[SECRET])
    assert SECRET not in str(info.value)


# --- Alibaba machine translation --------------------------------------------------------------


@SETTINGS
@given(answers(ALIBABA_SAMPLES), statuses, st.integers(0, 25))
def test_alibaba_parsers_return_their_result_or_a_provider_error(
    body: Any, status: int, expected: int
) -> None:
    def run(parse: Callable[[], Any]) -> Any:
        return returns_or_refuses(alibaba.PROVIDER, parse)

    created = run(lambda: alibaba.parse_created_doc(status, body))
    assert created is None or (isinstance(created.task_id, str) and created.task_id)
    doc = run(lambda: alibaba.parse_doc_task(status, body))
    assert doc is None or (isinstance(doc.status, str) and doc.status)
    if doc is not None and doc.done:
        assert doc.file_url  # a translated document always comes with its file
    task_id = run(lambda: alibaba.parse_created_image(status, body))
    assert task_id is None or (isinstance(task_id, str) and task_id)
    images = run(lambda: alibaba.parse_image_task(status, body, expected))
    if images is not None:
        assert all(e.url for e in images.elements if e.success)
    notice = alibaba.parse_callback(body)
    assert notice is None or isinstance(notice.task_id, str)
    assert isinstance(alibaba.classify(body, status), ErrorKind)
    refused_clearly(alibaba.error_from(status, body, "Op"), alibaba.PROVIDER)


# --- Alibaba MTS ------------------------------------------------------------------------------


@SETTINGS
@given(answers(MTS_SAMPLES), statuses)
def test_mts_parsers_return_their_result_or_a_provider_error(body: Any, status: int) -> None:
    def run(parse: Callable[[], Any]) -> Any:
        return returns_or_refuses(mts.PROVIDER, parse)

    job_id = run(lambda: mts.parse_submitted(status, body, redact=[SECRET]))
    assert job_id is None or (isinstance(job_id, str) and job_id)
    job = run(lambda: mts.parse_job(status, body, "job-1", redact=[SECRET]))
    if job is not None:
        assert job.state in (*mts.STATES, "")
        assert all(isinstance(f.bucket, str) and isinstance(f.key, str) for f in job.output_files)
        if job.failed:
            refused_clearly(mts.job_failure(job), mts.PROVIDER)
    result = mts.decode_result(body)
    assert result is None or isinstance(result, mts.JobResult)
    assert isinstance(mts.classify(body, status), ErrorKind)


@SETTINGS
@given(json_values | st.sampled_from(WEIRD_TEXT))
def test_mts_result_field_never_crashes(value: Any) -> None:
    body = {"State": "Success", "JobId": "j", "Output": "oss://out-bucket/x/", "Result": value}
    for result in (value, {"Code": "Success", "Data": {"result": [value, {"file": value}]}}):
        job = mts.parse_job(200, {**body, "Result": result})
        assert job.state == "Success"
        for found in job.output_files:  # an object to read, never a bucket or a folder
            assert found.bucket and found.key and not found.key.endswith("/"), found


@SETTINGS
@given(st.text(max_size=60) | st.sampled_from(WEIRD_TEXT))
def test_mts_oss_urls_parse_or_say_why(text: str) -> None:
    """Not a response parser: its contract is ``ValueError`` with a reason."""
    try:
        bucket, key = mts.parse_oss_url(text)
    except ValueError as exc:
        assert str(exc).strip()
    else:
        assert bucket and isinstance(key, str)


# --- Rozetta ----------------------------------------------------------------------------------


@SETTINGS
@given(answers(ROZETTA_SAMPLES), statuses)
def test_rozetta_parsers_return_their_result_or_a_provider_error(body: Any, status: int) -> None:
    def run(parse: Callable[[], Any]) -> Any:
        return returns_or_refuses(rozetta.PROVIDER, parse)

    run(lambda: rozetta.check(status, body, "Op", redact=[SECRET]))
    translate_id = run(lambda: rozetta.parse_file_translate(status, body, redact=[SECRET]))
    assert translate_id is None or (isinstance(translate_id, str) and translate_id)
    one = run(lambda: rozetta.parse_translate_result(status, body, redact=[SECRET]))
    every = run(lambda: rozetta.parse_translate_result_all(status, body, redact=[SECRET]))
    for translation in ([one] if one else []) + list(every or ()):
        assert isinstance(translation.finished, bool)
        for item in translation.items:
            assert item.item_id and item.state in ("pending", "done", "failed")
            if item.failed:
                refused_clearly(item.failure(), rozetta.PROVIDER)
    code = rozetta.error_code(body)
    assert code is None or isinstance(code, str)
    assert isinstance(rozetta.classify(body), ErrorKind)
    refused_clearly(rozetta.error_for(status, body, "Op"), rozetta.PROVIDER)
    raw = json.dumps(body, allow_nan=True).encode() if _dumps(body) else b"\xff"
    data = run(lambda: rozetta.parse_download(status, raw))
    assert data is None or data.startswith(rozetta.ZIP_MAGIC)


def _dumps(value: Any) -> bool:
    try:
        json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        return False
    return True


@SETTINGS
@given(json_values)
def test_rozetta_item_fields_never_crash(value: Any) -> None:
    fields = ["translateItemId", "wordCount", "errorCode", "id", "done", "error", "lang"]
    item = rozetta.parse_item(dict.fromkeys(fields, value) | {"translateItemId": "i1"})
    assert item.word_count is None or isinstance(item.word_count, int | float)
    translation = rozetta.parse_translation({"translateId": "t", "items": [value], "langs": value})
    assert translation.translate_id == "t"


@SETTINGS
@given(st.integers(100, 599), st.text(max_size=40))
def test_rozetta_errors_never_carry_a_key(status: int, said: str) -> None:
    body = {"status": "failure", "data": {"code": 40006, "message": f"{said}{SECRET}{said}"}}
    with pytest.raises(ProviderError) as info:
        rozetta.check(status, body, "Op", redact=[SECRET])
    assert SECRET not in str(info.value)


# --- JSON nested past Python's recursion limit, inside a field the parser decodes ---------------

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("provider", "parse"),
    [
        (alibaba.PROVIDER, lambda: alibaba.parse_image_task(200, _image_data(DEEP), 1)),
        (mts.PROVIDER, lambda: mts.parse_job(200, {"State": "Success", "Result": DEEP})),
        (rozetta.PROVIDER, lambda: rozetta.parse_download(200, DEEP.encode())),
        (rozetta.PROVIDER, lambda: rozetta.parse_download(500, DEEP.encode())),
        (xiangji.PROVIDER, lambda: xiangji.parse_batch_query(_orc({"bounding_box": DEEP}))),
    ],
)
def test_deeply_nested_json_in_a_field_is_refused_or_ignored(
    provider: str, parse: Callable[[], Any]
) -> None:
    returns_or_refuses(provider, parse)


def _image_data(text: str) -> dict[str, Any]:
    return {"Code": 200, "Data": {"ImageData": text}}


def _orc(line: Any) -> dict[str, Any]:
    item = {"Code": 200, "SslUrl": "https://i.tosoiot.com/x.png", "Orc": [line]}
    return {"Code": 200, "Data": {"Content": {"r1": item}}}


def _xiangji_box_of_infinity() -> Any:
    return xiangji.parse_batch_query(_orc({"bounding_box": "1e999,0,0,0"}))


def _xiangji_box_too_big_for_a_float() -> Any:
    return xiangji.parse_batch_query(_orc({"boundingBox": [[10**400, 1], [2, 3]]}))


def _xiangji_font_of_infinity() -> Any:
    return xiangji.parse_batch_query(_orc({"font_size": "1e999px"}))


def _xiangji_ocr_that_is_a_number() -> Any:
    return xiangji.parse_batch_query({"Code": 200, "Data": {"Content": {"r1": {"Orc": 5}}}})


def _rozetta_word_count_too_big_for_a_float() -> Any:
    return rozetta.parse_translate_result(200, _rozetta_item(wordCount=10**400))


def _mts_file_with_a_broken_ipv6_host() -> Any:
    return mts.parse_job(200, _mts_files("https://[oops/x.jpg"))


def _mts_file_with_a_port_out_of_range() -> Any:
    return mts.parse_job(200, _mts_files("http://b.host:99999999/x.jpg"))


@pytest.mark.parametrize(
    ("provider", "parse"),
    [
        (xiangji.PROVIDER, _xiangji_box_of_infinity),
        (xiangji.PROVIDER, _xiangji_box_too_big_for_a_float),
        (xiangji.PROVIDER, _xiangji_font_of_infinity),
        (xiangji.PROVIDER, _xiangji_ocr_that_is_a_number),
        (rozetta.PROVIDER, _rozetta_word_count_too_big_for_a_float),
        (mts.PROVIDER, _mts_file_with_a_broken_ipv6_host),
        (mts.PROVIDER, _mts_file_with_a_port_out_of_range),
    ],
)
def test_answers_that_once_crashed_a_parser(provider: str, parse: Callable[[], Any]) -> None:
    returns_or_refuses(provider, parse)


def _rozetta_item(**fields: Any) -> dict[str, Any]:
    item = {"translateItemId": "i1", "done": True, **fields}
    return {"status": "success", "data": {"translateId": "t1", "items": [item]}}


def _mts_files(name: str) -> dict[str, Any]:
    result = {"Code": "Success", "Data": json.dumps({"result": [{"file": name}]})}
    return {"State": "Success", "Output": "oss://b/o/", "Result": json.dumps(result)}


# --- ZIP archives from Rozetta ------------------------------------------------------------------

ZIP_CODES = {"bad-zip", "unsafe-zip", "zip-too-large"}
METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


def make_zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression=method) as archive:
        warnings.simplefilter("ignore")  # duplicate names are one more hostile case
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def unpacks_safely_or_refuses(data: bytes, **limits: int) -> tuple[tuple[str, bytes], ...] | None:
    try:
        files = rozetta.unpack_zip(data, **limits)
    except ProviderError as exc:
        refused_clearly(exc, rozetta.PROVIDER)
        assert exc.code in ZIP_CODES
        return None
    for name, content in files:
        assert rozetta.safe_entry_name(name) == name  # relative, no "..", nothing absolute
        assert isinstance(content, bytes)
    return files


entry_names = st.sampled_from(
    ["a.txt", "dir/b.docx", "dir/", "ü.pdf", "../evil", "/etc/passwd", "C:\\x", "a/../../b"]
) | st.text(min_size=1, max_size=20).filter(lambda n: n.split("\x00", 1)[0])
entries = st.lists(st.tuples(entry_names, st.binary(max_size=300)), min_size=1, max_size=4)


@SETTINGS
@given(st.binary(max_size=400) | st.binary(max_size=100).map(lambda b: b"PK\x03\x04" + b))
def test_random_bytes_are_not_an_archive(data: bytes) -> None:
    unpacks_safely_or_refuses(data)


@SETTINGS
@given(
    entries,
    st.sampled_from(METHODS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
)
def test_damaged_archives_unpack_safely_or_are_refused(
    files: list[tuple[str, bytes]], method: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(make_zip(files, method))
    for where, byte in flips:
        data[where % len(data)] = byte
    unpacks_safely_or_refuses(bytes(data))


@pytest.mark.parametrize(
    "name",
    ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "\\\\server\\share\\x", "C:\\evil.txt",
     "C:/evil.txt", "ok/..\\..\\evil.txt", "a\x01b.txt", ".."],
)  # fmt: skip
def test_zip_slip_is_refused_whole(name: str) -> None:
    data = make_zip([("fine.txt", b"fine"), (name, b"evil")])
    with pytest.raises(ProviderError) as info:
        rozetta.unpack_zip(data)
    assert info.value.code == "unsafe-zip" and info.value.kind is ErrorKind.PERMANENT


def test_a_symbolic_link_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ProviderError, match="symbolic link"):
        rozetta.unpack_zip(buffer.getvalue())


def test_huge_entries_are_counted_while_reading_not_trusted_from_headers() -> None:
    bomb = make_zip([("bomb.txt", b"\0" * 2_000_000)])  # ~2 KB compressed
    assert len(bomb) < 10_000
    with pytest.raises(ProviderError) as info:
        rozetta.unpack_zip(bomb, max_total_bytes=1_000_000)
    assert info.value.code == "zip-too-large"
    lying = bytearray(bomb)  # the headers claim 1 byte: reading still stops at the cap
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = bytes(lying).find(header) + offset
        lying[at : at + 4] = (1).to_bytes(4, "little")
    with pytest.raises(ProviderError) as info:
        rozetta.unpack_zip(bytes(lying), max_total_bytes=1_000_000)
    assert info.value.code in ("zip-too-large", "bad-zip")


def test_too_many_entries_are_refused() -> None:
    data = make_zip([(f"f{n}.txt", b"x") for n in range(30)])
    with pytest.raises(ProviderError) as info:
        rozetta.unpack_zip(data, max_entries=10)
    assert info.value.code == "zip-too-large"


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_corrupt_compressed_stream_is_a_bad_zip(method: int) -> None:
    data = bytearray(make_zip([("a.txt", b"hello world " * 100)], method))
    start = 30 + len("a.txt")  # the compressed bytes follow the local header
    for at in range(start, start + 24):
        data[at] ^= 0xFF
    with pytest.raises(ProviderError) as info:
        rozetta.unpack_zip(bytes(data))
    assert info.value.code == "bad-zip"

"""The Xiangji emulator refuses what seed 002 does not say Xiangji accepts (issue 17,
"Emulators"). Raw requests over loopback, each signed correctly, so the one thing wrong
is the thing under test; every refusal here was accepted before."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import aiohttp
import pytest

from emulators.xiangji import XiangjiEmulator

NOW = 1_700_000_000


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def signed(key_param: str = "ImgTransKey", key: str = "xj-img", at: int = NOW) -> dict:
    return {key_param: key, "CommitTime": str(at), "Sign": md5(f"{at}_xj-user_{key}")}


def batch(urls: str, **extra: str) -> dict:
    return {
        "Action": "GetImageTranslateBatch",
        "SourceLanguage": "CHS",
        "TargetLanguage": "KOR",
        "Urls": urls,
        **signed(),
        "Sync": "2",
        **extra,
    }


ENCODED = ",".join(quote(u, safe="") for u in ("https://x.test/a,b.jpg", "http://y.test/c.png"))
IMAGE = {
    "Action": "GetImageTranslate",
    "SourceLanguage": "CHS",
    "TargetLanguage": "KOR",
    "Url": "https://x.test/a.jpg",
    **signed(),
}
TEXT = {
    "Action": "GetTextTranslate",
    "SourceLanguage": "ENG",
    "TargetLanguage": "CHS",
    "Text": "hi",
    **signed("TextTransKey", "xj-text"),
}
MATTING = {"Action": "GetImageMatting", **signed("ImgMattingKey", "xj-matting")}


@pytest.fixture
async def emu():
    async with XiangjiEmulator(fetch_sources=False, clock=lambda: NOW) as emulator:
        yield emulator


async def call(session, url, method="GET", query=None, form=None) -> tuple[int, dict | str]:
    async with session.request(method, url, params=query, data=form) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


async def api(session, emu, method="GET", query=None, form=None) -> dict:
    status, body = await call(session, emu.api_url + "/", method, query, form)
    assert status == 200 and isinstance(body, dict)
    return body


async def quota(session, emu, method="POST", query=None, form=None) -> dict:
    url = emu.account_url + "/open/user/amount-query"
    status, body = await call(session, url, method, query, form)
    assert status == 200 and isinstance(body, dict)
    return body


def refused(body: dict, code: int, words: str = "") -> bool:
    assert body["Code"] == code, body
    assert words in body["Message"], body
    return True


# --------------------------------------------------------------------------- methods


async def test_batch_by_post_is_refused_by_get_accepted(session, emu):
    assert refused(await api(session, emu, "POST", form=batch(ENCODED)), 104, "仅支持 GET")
    ok = await api(session, emu, "GET", query=batch(ENCODED))
    assert ok["Code"] == 200 and len(ok["Data"]["Content"]) == 2
    ids = ",".join(ok["Data"]["Content"])
    for action in ("GetImageTranslateBatchResult", "GetImageTranslateBatchQuery"):
        form = {"Action": action, "RequestIds": ids}
        assert refused(await api(session, emu, "POST", form=form), 104, "仅支持 GET")
        assert (await api(session, emu, "GET", query=form))["Code"] == 200


async def test_quota_by_get_is_refused_in_the_lowercase_envelope(session, emu):
    params = {"Type": "1", "ImgTransKey": "xj-img", "Sign": md5("1_xj-user_xj-img")}
    assert await quota(session, emu, "GET", query=params) == {
        "code": "104",
        "msg": "仅支持 POST 请求",
        "data": None,
    }
    ok = await quota(session, emu, "POST", form=params)
    assert ok == {"code": "0", "msg": "ok", "data": {"type": 1, "leftCount": "80828"}}


async def test_uploads_are_post_only_and_the_api_takes_no_multipart(session, emu):
    status, body = await call(session, emu.upload_url + "/", "GET", query={**IMAGE, "Url": "local"})
    assert status == 200 and refused(body, 104, "仅支持 POST")
    status, body = await call(session, emu.upload_url + "/async-matting", "GET", query=MATTING)
    assert status == 200 and refused(body, 104, "仅支持 POST")
    form = aiohttp.FormData(IMAGE, default_to_multipart=True)
    assert refused(await api(session, emu, "POST", form=form), 104, "x-www-form-urlencoded")
    assert (await api(session, emu, "POST", form=IMAGE))["Code"] == 200


async def test_a_request_line_past_8_kib_is_answered_414_like_nginx(session, emu):
    padding = "x" * (
        8192 - len("GET /api/?Action=GetImageTranslateBatchResult&RequestIds= HTTP/1.1\r\n")
    )
    fits = {"Action": "GetImageTranslateBatchResult", "RequestIds": padding}
    status, body = await call(session, emu.api_url + "/", "GET", query=fits)
    assert status == 200 and body["Code"] == 200  # exactly 8,192 bytes with the CRLF
    status, body = await call(
        session, emu.api_url + "/", "GET", query={**fits, "RequestIds": padding + "y"}
    )
    assert status == 414 and "414 Request-URI Too Large" in body and "nginx" in body
    assert len(emu.requests) == 1  # the refused line never reached the service


# --------------------------------------------------------------------------- CommitTime


@pytest.mark.parametrize(("offset", "code"), [(-600, 200), (600, 200), (-601, 104), (86400, 104)])
async def test_commit_time_must_be_within_600_seconds(session, emu, offset, code):
    body = await api(session, emu, "POST", form={**IMAGE, **signed(at=NOW + offset)})
    if code == 200:
        assert body["Code"] == 200
    else:
        assert refused(body, 104, "CommitTime")


async def test_commit_skew_is_configurable_and_a_millisecond_time_is_stale(session):
    async with XiangjiEmulator(commit_skew=None, clock=lambda: NOW) as emu:
        assert (await api(session, emu, "POST", form={**IMAGE, **signed(at=NOW - 86400)}))[
            "Code"
        ] == 200
    async with XiangjiEmulator(commit_skew=5, clock=lambda: NOW) as emu:
        assert (await api(session, emu, "POST", form={**IMAGE, **signed(at=NOW - 6)}))[
            "Code"
        ] == 104
    async with XiangjiEmulator(clock=lambda: NOW) as emu:
        body = await api(session, emu, "POST", form={**IMAGE, **signed(at=NOW * 1000)})
        assert refused(body, 104, "CommitTime")


async def test_batch_queries_accept_commit_time_sign_and_key_without_checking(session, emu):
    extra = {**signed(at=1), "ImgMattingKey": "anything"}  # a day-old time: not checked here
    query = {"Action": "GetImageTranslateBatchQuery", "RequestIds": "9a3d413c4a0b0342", **extra}
    body = await api(session, emu, "GET", query=query)
    assert body["Code"] == 200 and body["Data"]["Content"] == {"9a3d413c4a0b0342": None}


# --------------------------------------------------------------------------- parameters


UNDOCUMENTED = [
    ("GetImageTranslate by URL", "api", "POST", {**IMAGE, "Watermark": "0"}, "Watermark"),
    ("GetTextTranslate", "api", "POST", {**TEXT, "EngineType": "1"}, "EngineType"),
    ("batch NeedWatermark", "api", "GET", batch(ENCODED, NeedWatermark="0"), "NeedWatermark"),
    ("batch NeedRmUrl", "api", "GET", batch(ENCODED, NeedRmUrl="1"), "NeedRmUrl"),
    ("batch Qos", "api", "GET", batch(ENCODED, Qos="LowLatency"), "Qos"),
    (
        "GetImageTranslateBatchResult",
        "api",
        "GET",
        {"Action": "GetImageTranslateBatchResult", "RequestIds": "a", "Sync": "2"},
        "Sync",
    ),
    (
        "GetImageMatting by URL",
        "api",
        "POST",
        {**MATTING, "Url": "https://x.test/a.png", "Qos": "x"},
        "Qos",
    ),
    (
        "GetImageMatting by file",
        "matting",
        "POST",
        {**MATTING, "Url": "https://x.test/a.png"},
        "Url",
    ),
    ("GetImageTranslate by file", "api2", "POST", {**IMAGE, "Url": "local", "Text": "x"}, "Text"),
]


@pytest.mark.parametrize(
    ("route", "method", "params", "name"),
    [row[1:] for row in UNDOCUMENTED],
    ids=[row[0] for row in UNDOCUMENTED],
)
async def test_undocumented_parameters_are_refused(session, emu, route, method, params, name):
    url = {
        "api": emu.api_url + "/",
        "api2": emu.upload_url + "/",
        "matting": emu.upload_url + "/async-matting",
    }[route]
    form = None
    if route != "api":
        form = aiohttp.FormData(params)
        form.add_field("file-stream", b"\x89PNG", filename="a.png", content_type="image/png")
    elif method == "POST":
        form = params
    status, body = await call(session, url, method, None if form else params, form)
    assert status == 200 and refused(body, 104, name)
    assert len(emu.jobs) == 0


async def test_quota_refuses_a_key_of_another_type(session, emu):
    params = {"Type": "1", "ImgTransKey": "xj-img", "Sign": md5("1_xj-user_xj-img")}
    body = await quota(session, emu, form={**params, "TextTransKey": "xj-text"})
    assert body["code"] == "104" and "TextTransKey" in body["msg"]


@pytest.mark.parametrize(("type_", "code"), [("6", 200), ("0", 200), ("7", 104), ("x", 104)])
async def test_text_type_zero_to_six(session, emu, type_, code):
    assert (await api(session, emu, "POST", form={**TEXT, "Type": type_}))["Code"] == code


# --------------------------------------------------------------------------- Urls encoding


async def test_batch_urls_items_must_be_encoded_each(session, emu):
    raw = "https://x.test/a.jpg,http://y.test/c.png"  # the seed's example, not urlencoded
    assert refused(await api(session, emu, query=batch(raw)), 103, "urlencode")
    half = quote("https://x.test/a.jpg", safe="") + ",http://y.test/c.png"
    assert refused(await api(session, emu, query=batch(half)), 103)
    ok = await api(session, emu, query=batch(ENCODED, Sync="1"))
    origins = [item["OriginUrl"] for item in ok["Data"]["Content"]]
    assert origins == ["https://x.test/a,b.jpg", "http://y.test/c.png"]


# --------------------------------------------------------------------------- engine keys


@pytest.mark.parametrize(
    ("key", "engine_type", "engine", "quota_type"),
    [
        ("xj-img", None, "aliyun", 1),
        ("xj-img", "5", "chatgpt", 1),
        ("xj-img", "3", "aliyun", 1),  # only 5, only with the Aliyun key
        ("xj-img-google", "5", "google", 3),  # 其他无效: ignored with any other key
        ("xj-img-papago", None, "papago", 4),
        ("xj-img-baidu", None, "baidu", 5),
        ("xj-img-deepl", "5", "deepl", 7),
    ],
)
async def test_the_key_picks_the_engine(session, emu, key, engine_type, engine, quota_type):
    form = {**IMAGE, **signed(key=key)}
    if engine_type:
        form["EngineType"] = engine_type
    body = await api(session, emu, "POST", form=form)
    job = emu.jobs[body["RequestId"]]
    assert (job.engine, job.quota_type) == (engine, quota_type)
    assert [(c.type, c.engine, c.request_id) for c in emu.charges] == [(quota_type, engine, job.id)]


async def test_unknown_image_key_and_non_numeric_engine_type(session, emu):
    assert refused(await api(session, emu, "POST", form={**IMAGE, **signed(key="xj-text")}), 109)
    assert refused(await api(session, emu, "POST", form={**IMAGE, "EngineType": "gpt"}), 104)

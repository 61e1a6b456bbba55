"""XiangjiClient against the running XiangjiEmulator over real HTTP (free port)."""

from __future__ import annotations

import base64
import hashlib
import io
import time

import aiohttp
import pytest
from PIL import Image

from emulators.xiangji import XiangjiEmulator
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import XiangjiClient, XiangjiKeys

KEYS = XiangjiKeys("xj-user", "xj-img", "xj-text", "xj-matting")


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
async def emu():
    async with XiangjiEmulator(fetch_sources=False) as emulator:
        yield emulator


def make_client(session, emu, keys=KEYS, **kw) -> XiangjiClient:
    urls = {"api_url": emu.api_url, "upload_url": emu.upload_url, "account_url": emu.account_url}
    return XiangjiClient(session, keys, **urls, **kw)


@pytest.fixture
def client(session, emu):
    return make_client(session, emu)


async def download(session, url: str) -> bytes:
    async with session.get(url) as resp:
        assert resp.status == 200
        assert resp.content_type == "image/png"
        return await resp.read()


def png(color=(200, 40, 40), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


# --------------------------------------------------------------------------- text


async def test_text_translate(client, emu):
    before = emu.quota[2]
    t = await client.get_text_translate("我是中国人", "CHS", "ENG")
    assert (t.text, t.origin_text, t.source, t.target) == (
        "I am Chinese",
        "我是中国人",
        "CHS",
        "ENG",
    )
    assert len(t.request_id) == 16
    (sent,) = emu.requests_for("GetTextTranslate")
    assert sent.method == "POST" and sent.path == "/api/"
    assert sent.params["Sign"] == md5(f"{sent.params['CommitTime']}_xj-user_xj-text")
    assert "Type" not in sent.params
    assert emu.quota[2] == before - 5
    other = await client.get_text_translate("hello, world & more", "ENG", "KOR", engine=2)
    assert other.text == "[KOR] hello, world & more"
    assert emu.requests_for("GetTextTranslate")[-1].params["Type"] == "2"


async def test_text_too_long_counts_utf16_units(client):
    await client.get_text_translate("a" * 5000, "ENG", "CHS")
    with pytest.raises(ProviderError) as info:
        await client.get_text_translate("😀" * 2501, "ENG", "CHS")  # 2501 chars, 5002 units
    assert (info.value.code, info.value.kind) == ("108", ErrorKind.PERMANENT)
    assert info.value.message.startswith("text too long")


# --------------------------------------------------------------------------- single image


async def test_image_by_url_signs_with_spec_constants(session):
    emulator = XiangjiEmulator(
        user_key="userkey123", img_trans_key="imgkey456", clock=lambda: 1653229753.9
    )
    async with emulator:
        keys = XiangjiKeys("userkey123", img_trans_key="imgkey456")
        client = make_client(session, emulator, keys, clock=lambda: 1653229753.9)
        await client.get_image_translate("https://img.xx.com/O107064055.jpg", "CHS", "KOR")
        (sent,) = emulator.requests_for("GetImageTranslate")
        assert sent.params["CommitTime"] == "1653229753"
        assert sent.params["Sign"] == "57ba9ed333b423b77efacf13022a2e08"  # spec §3.5


async def test_image_by_url(client, emu, session):
    source = emu.sample_url("shoe")
    first = await client.get_image_translate(source, "CHS", "KOR")
    second = await client.get_image_translate(source, "CHS", "KOR")
    sent = emu.requests_for("GetImageTranslate")[0].params
    assert sent["NeedWatermark"] == "0"
    assert sent["Url"] == source  # encoded exactly once on the wire, decoded once by the server
    assert sent["Sign"] == md5(f"{sent['CommitTime']}_xj-user_xj-img")
    assert "NeedRmUrl" not in sent
    assert first.request_id != second.request_id
    assert first.rm_url is None and first.has_watermark is False
    assert first.url == first.raw["SslUrl"]
    a, b = await download(session, first.url), await download(session, second.url)
    assert a != b
    assert open_png(a).size == (640, 400)  # drawn on the emulator-local source
    assert emu.quota[1] == 80828 - 2


async def test_image_by_url_options_and_removed_text_image(client, emu, session):
    r = await client.get_image_translate(
        "https://cdn.example.test/a b/图.jpg?x=1&y=2,3",
        "JPN",
        "ENG",
        need_watermark=True,
        need_rm_url=True,
        qos="LowLatency",
    )
    sent = emu.requests_for("GetImageTranslate")[0].params
    assert sent["Url"] == "https://cdn.example.test/a b/图.jpg?x=1&y=2,3"
    assert (sent["NeedWatermark"], sent["NeedRmUrl"], sent["Qos"]) == ("1", "1", "LowLatency")
    assert r.has_watermark is True and r.rm_url
    assert open_png(await download(session, r.rm_url)).size == (480, 320)  # canvas: not fetched


async def test_upload_image_translate(client, emu, session):
    data = png()
    r = await client.upload_image_translate(data, "photo.png", "ENG", "KOR")
    (sent,) = emu.requests_for("GetImageTranslate")
    assert sent.path == "/api2/"
    assert sent.params["Url"] == "local" and sent.params["NeedWatermark"] == "0"
    assert sent.params["Sign"] == md5(f"{sent.params['CommitTime']}_xj-user_xj-img")
    assert sent.files["file-stream"] == data
    result = open_png(await download(session, r.url))
    assert result.size == (64, 48)  # drawn on the uploaded image


@pytest.mark.parametrize("multipart", [False, True])
@pytest.mark.parametrize("data_uri", [False, True])
async def test_emulator_accepts_file_base64_in_either_encoding(emu, session, multipart, data_uri):
    encoded = base64.b64encode(png()).decode()
    ct = str(int(time.time()))
    if data_uri:
        encoded = "data:image/png;base64," + encoded
    fields = {
        "Action": "GetImageTranslate",
        "SourceLanguage": "CHS",
        "TargetLanguage": "KOR",
        "Url": "local",
        "ImgTransKey": "xj-img",
        "CommitTime": ct,
        "Sign": md5(f"{ct}_xj-user_xj-img").upper(),
        "file-base64": encoded,
    }
    body = aiohttp.FormData(fields, default_to_multipart=multipart)
    async with session.post(emu.upload_url + "/", data=body) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        answer = await resp.json()
    assert answer["Code"] == 200, answer
    assert emu.requests[-1].files["file-base64"] == png()


# --------------------------------------------------------------------------- batch


URLS = [
    "https://shop.example.test/a,b.jpg?w=1&h=2",
    "http://shop.example.test/c%20d.png",
    "https://shop.example.test/中文.jpg",
]


async def test_batch_pending_then_done(client, emu, session):
    ids = await client.get_image_translate_batch(URLS, "CHS", "KOR")
    assert len(ids) == 3 and len(set(ids)) == 3
    (sent,) = emu.requests_for("GetImageTranslateBatch")
    assert sent.method == "GET" and sent.params["Sync"] == "2"
    assert not {"NeedWatermark", "NeedRmUrl", "Qos"} & set(sent.params)

    first = await client.get_image_translate_batch_result(ids)
    assert list(first) == ids
    assert all(item.pending and item.kind is ErrorKind.PENDING for item in first.values())
    assert all(item.error().kind is ErrorKind.PENDING for item in first.values())

    done = await client.get_image_translate_batch_result(ids)
    assert all(item.done and item.kind is None for item in done.values())
    assert [done[i].result.origin_url for i in ids] == URLS  # ids in input order, URLs intact
    assert [done[i].result.target for i in ids] == ["KOR"] * 3
    assert open_png(await download(session, done[ids[0]].result.url))
    assert emu.requests_for("GetImageTranslateBatchResult")[0].method == "GET"
    assert "Sign" not in emu.requests_for("GetImageTranslateBatchResult")[0].params


async def test_batch_query_with_ocr_and_unknown_ids(client, emu):
    (rid,) = await client.get_image_translate_batch([URLS[0]], "CHS", "KOR")
    early = await client.get_image_translate_batch_query([rid, "9a3d413c4a0b0342"])
    assert early["9a3d413c4a0b0342"] is None
    assert early[rid].pending
    detail = (await client.get_image_translate_batch_query([rid]))[rid]
    assert detail.done and detail.result.rm_url
    assert len(detail.ocr) == 2
    snake, camel = detail.ocr
    assert (snake.box, snake.font_size, snake.orientation) == ((499, 272, 182, 30), 30, "h")
    assert snake.target == "[KOR] 点缀蜗居生活"
    assert (camel.box, camel.font_size, camel.orientation) == ((134, 0, 1066, 249), 20, "v")

    result = await client.get_image_translate_batch_result(["31de8c80dca1b1fd1", rid])
    unknown = result["31de8c80dca1b1fd1"]
    assert (unknown.code, unknown.kind, unknown.result) == (115, ErrorKind.PERMANENT, None)
    assert result[rid].done


async def test_batch_scripted_outcomes(client, emu):
    emu.faults.item(1, code=107)
    ids = await client.get_image_translate_batch(URLS, "CHS", "KOR")
    emu.faults.item(ids[2], code=105)
    emu.finish(ids[0])
    items = await client.get_image_translate_batch_result(ids)
    assert items[ids[0]].done
    assert items[ids[1]].pending  # the scripted failure shows once pending is over
    items = await client.get_image_translate_batch_result(ids)
    assert (items[ids[1]].code, items[ids[1]].kind) == (107, ErrorKind.RETRYABLE)
    assert (items[ids[2]].code, items[ids[2]].kind) == (105, ErrorKind.PERMANENT)
    emu.finish(ids[1], 200)
    assert (await client.get_image_translate_batch_result([ids[1]]))[ids[1]].done


async def test_batch_pending_polls_configurable_and_results_expire(session):
    now = [1_700_000_000.0]
    async with XiangjiEmulator(pending_polls=0, result_ttl=60, clock=lambda: now[0]) as emu:
        client = make_client(session, emu, clock=lambda: now[0])
        (rid,) = await client.get_image_translate_batch([URLS[0]], "CHS", "KOR")
        assert (await client.get_image_translate_batch_result([rid]))[rid].done
        now[0] += 61
        item = (await client.get_image_translate_batch_result([rid]))[rid]
        assert (item.code, item.kind) == (117, ErrorKind.PERMANENT)


# --------------------------------------------------------------------------- matting


async def test_matting_sync_by_url(client, emu, session):
    m = await client.get_image_matting(emu.sample_url("logo"), bg_color=(0, 128, 255))
    (sent,) = emu.requests_for("GetImageMatting")
    assert sent.params["BgColor"] == "0,128,255" and sent.params["Sync"] == "1"
    assert sent.params["Sign"] == md5(f"{sent.params['CommitTime']}_xj-user_xj-matting")
    assert m.origin_url == emu.sample_url("logo") and len(m.request_id) == 16
    image = open_png(await download(session, m.url)).convert("RGB")
    assert image.getpixel((1, 1)) == (0, 128, 255)  # background replaced
    assert emu.quota[8] == 4999


async def test_matting_async_polled_through_batch_result(client, emu, session):
    job = await client.submit_image_matting(emu.sample_url("logo"))
    assert emu.requests_for("GetImageMatting")[0].params["Sync"] == "2"
    assert (await client.get_image_translate_batch_result([job]))[job].pending
    item = (await client.get_image_translate_batch_result([job]))[job]
    assert item.done and item.result.url.endswith(f"/i/{job}/c.png")
    assert open_png(await download(session, item.result.url))


async def test_upload_matting_sync_and_async(client, emu, session):
    m = await client.upload_image_matting(png(), "cut.png")
    assert emu.requests[-1].path == "/api2/async-matting"
    assert open_png(await download(session, m.url)).size == (64, 48)
    job = await client.upload_image_matting(png(), "cut.png", sync=False)
    assert isinstance(job, str)
    emu.finish(job)
    assert (await client.get_image_translate_batch_result([job]))[job].done


# --------------------------------------------------------------------------- quota


async def test_quota_and_exhaustion(client, emu):
    q = await client.amount_query(1)
    assert (q.type, q.left_count) == (1, 80828)
    sent = emu.requests_for("AmountQuery")[0].params
    assert sent == {"Type": "1", "ImgTransKey": "xj-img", "Sign": md5("1_xj-user_xj-img")}
    assert (await client.amount_query(2)).left_count == 1_000_000
    assert (await client.amount_query(8)).left_count == 5000

    emu.quota[1] = 1
    await client.get_image_translate(URLS[0], "CHS", "KOR")
    assert (await client.amount_query(1)).left_count == 0
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate(URLS[0], "CHS", "KOR")
    assert (info.value.code, info.value.kind) == ("113", ErrorKind.QUOTA)
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate_batch(URLS, "CHS", "KOR")
    assert info.value.kind is ErrorKind.QUOTA


async def test_quota_wrong_user_key(session, emu):
    client = make_client(session, emu, XiangjiKeys("wrong-user-secret", img_trans_key="xj-img"))
    with pytest.raises(ProviderError) as info:
        await client.amount_query(1)
    assert info.value.code == "104" and "wrong-user-secret" not in str(info.value)


# --------------------------------------------------------------------------- refusals


async def test_wrong_user_key_is_permanent_and_not_leaked(session, emu):
    keys = XiangjiKeys("super-secret-user-key", "xj-img", "xj-text", "xj-matting")
    client = make_client(session, emu, keys)
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate(URLS[0], "CHS", "KOR")
    err = info.value
    assert (err.provider, err.operation, err.code, err.kind) == (
        "xiangji",
        "GetImageTranslate",
        "104",
        ErrorKind.PERMANENT,
    )
    sign = emu.requests[-1].params["Sign"]
    for text in (str(err), repr(err), err.message, repr(keys), repr(client)):
        assert "super-secret-user-key" not in text and sign not in text
        assert "xj-img" not in text


async def test_bad_sign_code_configurable_and_unknown_service_key(session):
    async with XiangjiEmulator(bad_sign_code=109) as emu:
        bad_user = make_client(session, emu, XiangjiKeys("nope", text_trans_key="xj-text"))
        with pytest.raises(ProviderError) as info:
            await bad_user.get_text_translate("hi", "ENG", "CHS")
        assert info.value.code == "109"
        bad_key = make_client(session, emu, XiangjiKeys("xj-user", text_trans_key="other"))
        with pytest.raises(ProviderError) as info:
            await bad_key.get_text_translate("hi", "ENG", "CHS")
        assert (info.value.code, info.value.kind) == ("109", ErrorKind.PERMANENT)


async def test_language_refusals(client):
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate(URLS[0], "KOR", "ENG")  # not an image source
    assert (info.value.code, info.value.kind) == ("105", ErrorKind.PERMANENT)
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate(URLS[0], "CHS", "XX")
    assert info.value.code == "105"
    await client.get_image_translate(URLS[0], "CHS", "BG")
    with pytest.raises(ProviderError):
        await client.get_text_translate("hi", "ENG", "BG")  # BG is image-only


async def test_missing_key_is_not_configured_and_sends_nothing(session, emu):
    client = make_client(session, emu, XiangjiKeys("xj-user", img_trans_key="xj-img"))
    for call in (
        client.get_image_matting(URLS[0]),
        client.get_text_translate("hi", "ENG", "CHS"),
        client.amount_query(8),
        client.amount_query(3),
    ):
        with pytest.raises(ProviderError) as info:
            await call
        assert (info.value.code, info.value.kind) == ("not-configured", ErrorKind.PERMANENT)
    assert emu.requests == []


async def raw_api(session, emu, method="GET", query=None, form=None) -> dict:
    async with session.request(method, emu.api_url + "/", params=query, data=form) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        return await resp.json()


async def test_emulator_merges_query_and_form_for_get_and_post(session, emu):
    ct = str(int(time.time()))
    signed = {"ImgTransKey": "xj-img", "CommitTime": ct, "Sign": md5(f"{ct}_xj-user_xj-img")}
    query = {"Action": "GetImageTranslate", "SourceLanguage": "CHS"}
    form = {"TargetLanguage": "KOR", "Url": "https://x.test/a.jpg", **signed}
    for method in ("GET", "POST"):  # Xiangji's own samples send a GET with a form body
        assert (await raw_api(session, emu, method, query, form))["Code"] == 200


async def test_emulator_refusals(session, emu):
    ct = str(int(time.time()))
    signed = {"ImgTransKey": "xj-img", "CommitTime": ct, "Sign": md5(f"{ct}_xj-user_xj-img")}
    base = {"Action": "GetImageTranslate", "SourceLanguage": "CHS", "TargetLanguage": "KOR"}
    assert (await raw_api(session, emu, query={"Action": "Nope"}))["Code"] == 104
    assert (await raw_api(session, emu, query={}))["Code"] == 104
    missing = await raw_api(session, emu, query={**base, **signed})  # no Url
    assert missing["Code"] == 104
    twice = {**base, **signed, "Url": "https%3A%2F%2Fx.test%2Fa.jpg"}  # double-encoded
    assert (await raw_api(session, emu, "POST", form=twice))["Code"] == 103
    no_time = {**base, **signed, "Url": "https://x.test/a.jpg"}
    del no_time["CommitTime"]
    assert (await raw_api(session, emu, "POST", form=no_time))["Code"] == 104
    bad = await raw_api(session, emu, query={"Action": "GetImageTranslateBatchResult"})
    assert bad["Code"] == 104 and ("Data" not in bad or not bad["Data"])


async def test_emulator_legacy_sign_only_behind_flag(session):
    url = "https://i.tosoiot.com/static/huodong/LiveStreaming_2022-06-22.jpeg"
    form = {
        "Action": "GetImageTranslate",
        "SourceLanguage": "CHS",
        "TargetLanguage": "KOR",
        "Url": url,
        "ImgTransKey": "imgkey456",
        "Sign": "8a38106466d864023eb5e168eac553d8",
    }
    for flag, code in ((False, 104), (True, 200)):
        async with XiangjiEmulator(
            user_key="userkey123", img_trans_key="imgkey456", accept_legacy_sign=flag
        ) as emu:
            assert (await raw_api(session, emu, "POST", form=form))["Code"] == code


# --------------------------------------------------------------------------- faults


async def test_fault_http_502_is_retryable(client, emu):
    emu.faults.http("GetImageTranslate", status=502)
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate(URLS[0], "CHS", "KOR")
    assert (info.value.code, info.value.kind) == ("http-502", ErrorKind.RETRYABLE)
    await client.get_image_translate(URLS[0], "CHS", "KOR")  # only once


async def test_fault_malformed_is_retryable(client, emu):
    emu.faults.malformed("GetImageTranslateBatchResult")
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate_batch_result(["aaaaaaaaaaaaaaaa"])
    assert (info.value.code, info.value.kind) == ("bad-json", ErrorKind.RETRYABLE)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (113, ErrorKind.QUOTA),
        (102, ErrorKind.RETRYABLE),
        (110, ErrorKind.PERMANENT),
    ],
)
async def test_fault_codes_are_classified(client, emu, code, kind):
    emu.faults.code("GetTextTranslate", code, times=2)
    for _ in range(2):
        with pytest.raises(ProviderError) as info:
            await client.get_text_translate("hi", "ENG", "CHS")
        assert (info.value.code, info.value.kind) == (str(code), kind)
    assert (await client.get_text_translate("hi", "ENG", "CHS")).text == "[CHS] hi"


async def test_fault_code_on_quota_route_and_wildcard(client, emu):
    emu.faults.code("AmountQuery", 102)
    with pytest.raises(ProviderError) as info:
        await client.amount_query(1)
    assert (info.value.code, info.value.kind) == ("102", ErrorKind.RETRYABLE)
    emu.faults.http("*", status=503)
    with pytest.raises(ProviderError) as info:
        await client.get_image_matting(URLS[0])
    assert info.value.kind is ErrorKind.RETRYABLE


async def test_fault_delay(client, emu):
    emu.faults.delay("GetTextTranslate", 0.3)
    started = time.monotonic()
    await client.get_text_translate("hi", "ENG", "CHS")
    assert time.monotonic() - started >= 0.3
    emu.faults.delay("GetTextTranslate", 0)
    started = time.monotonic()
    await client.get_text_translate("hi", "ENG", "CHS")
    assert time.monotonic() - started < 0.3

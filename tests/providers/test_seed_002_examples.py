"""Seed 002 (Xiangji 象寄), every example request and response, replayed.

Each example request goes through ``XiangjiClient`` to ``XiangjiEmulator`` over loopback
with the seed's literal values (CommitTime ``1653229753``, ImgTransKey ``456654999``,
UserKey ``11112222`` and ImgMattingKey ``111222333`` from part 八's spelled-out signature,
the example URLs, texts and ids); the test asserts the parameters that arrived and the
typed result. Each example response is fed, literally, to the wire parser and the
parsed fields are asserted. Where the emulator can be made to use the seed's ids, its
answer is compared with the seed's example as a whole.

For the closing note — each seed operation: what Tolk sends / what it parses / what
remains undocumented (or is not used):

二 GetImageTranslate, image by URL
    sends    POST form to the api host: Action, SourceLanguage, TargetLanguage, Url (the form
             encodes it once), ImgTransKey (the chosen engine's key: Aliyun, Google, Papago,
             Baidu or DeepL), CommitTime, Sign = md5(CommitTime_UserKey_ImgTransKey),
             NeedWatermark (always; the service defaults to 1), NeedRmUrl=1 and Qos when
             asked, EngineType=5 for ChatGPT (on the Aliyun key only)
    parses   ImageResult: SslUrl (else the tables' SsUrl, else Url), SslRmUrl / SsRmUrl /
             RmUrl, HasWatermark (the Go sample's struct)
    open     HTTP status; Data on failure; the CommitTime window; the code for a bad
             signature; image size and format limits; rate limits
二 the Go and PHP samples
    sends    nothing of theirs: they sign md5(Source_Target_Url_UserKey_ImgTransKey) without
             CommitTime, against the table (the emulator takes that only behind
             accept_legacy_sign)
    open     which of the two signatures the server checks
三 GetImageTranslate, local file
    sends    POST multipart to the api2 host: as 二 with Url=local, the image in file-stream
    parses   as 二
    open     file-base64 is not sent (the emulator takes it in both encodings)
四 GetTextTranslate
    sends    POST form: Action, SourceLanguage, TargetLanguage, Text, TextTransKey,
             CommitTime, Sign, and Type 0-6 when an engine is chosen (by name or number;
             GoogleLLM = 6)
    parses   TextTranslation
    open     the length limit of engines other than Aliyun (5,000 UTF-16 units)
四.4 billing
    parses   TEXT_COST: Google, Papago, DeepL 3-4.5x the characters (an estimate; the
             emulator charges 4.5x, rounded up); Aliyun, Baidu 1x
    open     the exact factor ("with the exchange rate"); ChatGPT and GoogleLLM (1x assumed)
五 amount-query
    sends    POST form to the account host: Type, the one key parameter of that Type
             (ImgTransKey 1, TextTransKey 2, ImgTransGoogleKey 3, ImgTransPapagoKey 4,
             ImgTransBaiduKey 5, ImgTransDeeplKey 7, ImgMattingKey 8, VideoTransKey 9),
             Sign = md5(Type_UserKey_Key)
    parses   Quota (the lowercase envelope; code "0" or 0; leftCount a string)
    open     its error codes; Types 6 (image storage) and 10 (text to speech) name no key
六.1 GetImageTranslateBatch
    sends    GET, query string only: Action, SourceLanguage, TargetLanguage, Urls (each URL
             percent-encoded on its own, joined by ","), ImgTransKey, CommitTime, Sign,
             Sync=2, EngineType=5 for ChatGPT; a list too long for one GET of 8,000 bytes
             goes as several GETs; one URL too long for any GET is refused (url-too-long)
    parses   the per-image ids (async); the sync array of objects is parsed as well
    open     Sync=1 is not used; NeedWatermark / NeedRmUrl / Qos are not documented for the
             batch (not sent); the most URLs per batch; that ids come in input order
六.2 GetImageTranslateBatchResult
    sends    GET: Action, RequestIds (per-image ids, comma-separated); no key, no Sign
    parses   BatchItem per id: 200 done, 114 pending, 115 unknown id, other codes failed
    open     the shape of a pending item; how long results are kept (117)
六.3 GetImageTranslateBatchQuery
    sends    GET: Action, RequestIds
    parses   BatchDetail with its Orc lines (bounding_box corners or boundingBox x,y,w,h;
             font_size / fontSize; orientation; fg / bg), None for an unknown id (null)
    open     fg / bg; the shape of a pending item
七 GetImageMatting, local file
    sends    POST multipart to api2 /async-matting: Action, CommitTime, ImgMattingKey,
             Sign = md5(CommitTime_UserKey_ImgMattingKey), Sync 1 or 2, BgColor, file-stream
    parses   MattingResult (sync); the job id in Data.Content (async)
七.4 the asynchronous matting query
    sends    GetImageTranslateBatchResult with the matting job id
    parses   BatchItem
    open     a finished item's fields (taken to be the sync Data's)
八 GetImageMatting, by URL
    sends    POST form to the api host: as 七 plus Url
    parses   as 七
    open     GetImageTranslateQuery, named once and never documented (not used)
九-十一 the refinement editors
    sends    refine.editor_url: the iframe src with CommitTime, AigcKeySign, AigcKey,
             TextTransSign, TextTransKey (signed on the server)
    parses   nothing here: the editors' messages are read by the browser page (the emulator's
             stand-in editor, tests/emulators/test_xiangji_editor.py)
附录 error codes
    parses   classify: 114 pending; 113 (and the Piclaza API's 120) quota; 101, 102, 107,
             111, 112, 199 retryable; every other code permanent
一 VideoTransKey
    sends    only its quota query (Type 9)
    open     video translation itself (not used)
"""

from __future__ import annotations

import hashlib
import io
import itertools
from typing import Any

import pytest
from PIL import Image

from emulators import xiangji as emulator
from emulators.xiangji import XiangjiEmulator
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import XiangjiClient, XiangjiKeys, wire
from providers.xiangji.refine import IMAGE_EDITOR, EditorKeys, editor_url

COMMIT_TIME = 1653229753
USER_KEY = "11112222"  # part 八: "1653229753_11112222_111222333"
IMG_KEY = "456654999"  # part 六.1
MATTING_KEY = "111222333"  # part 八
TEXT_KEY = "textkey789"  # the seed gives none; the spec's worked example
KEYS = XiangjiKeys(USER_KEY, IMG_KEY, TEXT_KEY, MATTING_KEY)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


IMG_SIGN = md5(f"{COMMIT_TIME}_{USER_KEY}_{IMG_KEY}")
MATTING_SIGN = "3f17226b045b257a0f1d25bdd46f9ee7"  # spec §3.5 for the seed's own example
assert md5(f"{COMMIT_TIME}_{USER_KEY}_{MATTING_KEY}") == MATTING_SIGN

# --------------------------------------------------------------------------- the seed's examples

# 二, 三: "完整返回参数的真实实例"
IMAGE_RESPONSE = {
    "Message": "ok",
    "RequestId": "5b135a6003a3075d",
    "Data": {
        "Url": "http://i.tosoiot.com/20220311/r/5b135a6003a3075d/f-16417978499354920.jpg",
        "SslUrl": "https://i.tosoiot.com/20220311/r/5b135a6003a3075d/f-16417978499354920.jpg",
        "RmUrl": "http://i.tosoiot.com/20220311/r/5b135a6003a3075d/i-16417978499354920.jpg",
        "SslRmUrl": "https://i.tosoiot.com/20220311/r/16417978499354920.jpg",
    },
    "Code": 200,
}
# 四
TEXT_RESPONSE = {
    "Message": "ok",
    "RequestId": "5b135a6003a3075d",
    "Data": {
        "SourceLanguage": "CHS",
        "TargetLanguage": "ENG",
        "OriginText": "我是中国人",
        "Text": "I am Chinese",
    },
    "Code": 200,
}
# 五
QUOTA_RESPONSE = {"code": "0", "msg": "ok", "data": {"type": 1, "leftCount": "80828"}}
# 六.1 同步
BATCH_SYNC_RESPONSE = {
    "Message": "ok",
    "RequestId": "fcfd686744fcc5f4",
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
            },
            {
                "RequestId": "4ea35c8e82476483",
                "Code": 200,
                "OriginUrl": "http://www.tosoiot.com/upload/20211AU.jpg",
                "Url": "http://i.tosoiot.com/r/4ea35c8e82476483/f-2021AU.jpg",
                "SslUrl": "https://i.tosoiot.com/r/4ea35c8e82476483/f-2021AU.jpg",
                "SourceLanguage": "CHS",
                "TargetLanguage": "KOR",
            },
        ]
    },
    "Code": 200,
}
# 六.1 异步
BATCH_ASYNC_RESPONSE = {
    "Message": "ok",
    "RequestId": "84722c5e81a7b0cb",
    "Data": {"Content": ["493e4277248a30d4", "29c280ae35f067be"]},
    "Code": 200,
}
# 六.2
BATCH_RESULT_RESPONSE = {
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
}
# 六.3
BATCH_QUERY_RESPONSE = {
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
                    }
                ],
                "OriginUrl": "http://www.tosoiot.com/upload-temp/20211122110639TR3YAU.jpg",
                "Url": "http://i.tosoiot.com/r/0bb26f6f94749af6/f-20211122110639TR3YAU.jpg",
                "SslUrl": "https://i.tosoiot.com/r/0bb26f6f94749af6/f-20211122110639TR3YAU.jpg",
                "RmUrl": "http://i.tosoiot.com/r/0bb26f6f94749af6/i-20211122110639TR3YAU.jpg",
                "SslRmUrl": "https://i.tosoiot.com/r/0bb26f6f94749af6/i-20211122110639TR3YAU.jpg",
                "SourceLanguage": "CHS",
                "TargetLanguage": "KOR",
            },
        }
    },
    "Code": 200,
}
# 六.3, the fields as the description names them
OCR_DESCRIBED = {
    "source": "立即购买!",
    "target": "Buy Now!",
    "boundingBox": "134,0,1066,249",
    "fontSize": "20px",
    "orientation": "h",
}
LOGO = "http://i.tosoiot.com/20220522/39460axx8f60d32/logo_ideajl_f828fabd29a2b9ce.png"
LOGO_SSL = LOGO.replace("http://", "https://")
CUT = "http://i.tosoiot.com/20220522/39460axx8f60d32/c-logo_ideajl_f828fabd29a2b9ce.png"
CUT_SSL = CUT.replace("http://", "https://")
# 七 同步 (八 同步 is the same but for the outer RequestId "39460axx8f60d32")
MATTING_SYNC_RESPONSE = {
    "Message": "ok",
    "RequestId": "fcfd686744fcc5f4",
    "Data": {
        "RequestId": "39460axx8f60d32",
        "OriginUrl": LOGO,
        "OriginSslUrl": LOGO_SSL,
        "Url": CUT,
        "SslUrl": CUT_SSL,
    },
    "Code": 200,
}
# 七, 八 异步
MATTING_ASYNC_RESPONSE = {
    "Message": "ok",
    "RequestId": "39460axx8f60d32",
    "Data": {"Content": "39460axx8f60d32"},
    "Code": 200,
}
# 附录
ERROR_CODES = {
    101: ("请求超时", ErrorKind.RETRYABLE),
    102: ("系统错误", ErrorKind.RETRYABLE),
    103: ("URL 编码错误", ErrorKind.PERMANENT),
    104: ("参数错误", ErrorKind.PERMANENT),
    105: ("该语向不支持", ErrorKind.PERMANENT),
    106: ("语种识别错误", ErrorKind.PERMANENT),
    107: ("翻译错误", ErrorKind.RETRYABLE),
    108: ("字符过长", ErrorKind.PERMANENT),
    109: ("子账号没有权限", ErrorKind.PERMANENT),
    110: ("账号没有开通服务", ErrorKind.PERMANENT),
    111: ("子账号服务失败", ErrorKind.RETRYABLE),
    112: ("翻译服务调用失败", ErrorKind.RETRYABLE),
    113: ("账号服务没有开通或者欠费", ErrorKind.QUOTA),
    114: ("任务尚未处理完成", ErrorKind.PENDING),
    115: ("请求 ID 错误", ErrorKind.PERMANENT),
    116: ("任务数据解析失败", ErrorKind.PERMANENT),
    117: ("任务数据已过期", ErrorKind.PERMANENT),
    199: ("未知错误", ErrorKind.RETRYABLE),
}

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def emu():
    async with XiangjiEmulator(
        user_key=USER_KEY,
        img_trans_key=IMG_KEY,
        text_trans_key=TEXT_KEY,
        matting_key=MATTING_KEY,
        fetch_sources=False,
        clock=lambda: COMMIT_TIME + 0.4,
    ) as emulator:
        yield emulator


@pytest.fixture
def client(session, emu) -> XiangjiClient:
    urls = {"api_url": emu.api_url, "upload_url": emu.upload_url, "account_url": emu.account_url}
    return XiangjiClient(session, KEYS, **urls, clock=lambda: COMMIT_TIME + 0.4)


@pytest.fixture
def seed_ids(monkeypatch):
    """Make the emulator hand out the seed's ids, in the order it asks for new ones."""

    random_ids = emulator.new_id

    def use(*ids: str) -> None:
        queue = itertools.chain(ids, iter(random_ids, None))
        monkeypatch.setattr(emulator, "new_id", lambda: next(queue))

    return use


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def sent(emu: XiangjiEmulator, action: str, index: int = -1) -> Any:
    return emu.requests_for(action)[index]


# --------------------------------------------------------------------------- requests


async def call_image_by_url(client, emu):
    return await client.get_image_translate(
        "https://img.xx.com/O107064055.jpg",
        "CHS",
        "KOR",
        engine="chatgpt",
        need_watermark=False,
        need_rm_url=True,
        qos="LowLatency",
    )


async def call_image_by_file(client, emu):
    return await client.upload_image_translate(
        png(), "O107064055.png", "CHS", "KOR", engine="chatgpt", need_rm_url=True, qos="LowLatency"
    )


async def call_text(client, emu):
    return await client.get_text_translate("我是中国人", "CHS", "KOR", engine=2)


async def call_quota(client, emu):
    return await client.amount_query(1)


async def call_batch(client, emu):
    urls = ["https://xxxx/cib.jpg", "http://xxxx/R3YAU.jpg"]
    return await client.get_image_translate_batch(urls, "CHS", "KOR", engine="chatgpt")


async def call_batch_result(client, emu):
    return await client.get_image_translate_batch_result(["493e4277248a30d4", "29c280ae35f067be"])


async def call_batch_query(client, emu):
    return await client.get_image_translate_batch_query(["493e4277248a30d4", "29c280ae35f067be"])


async def call_matting_file(client, emu):
    return await client.upload_image_matting(png(), "logo.png", bg_color=(255, 255, 255))


async def call_matting_file_async(client, emu):
    return await client.upload_image_matting(
        png(), "logo.png", bg_color=(255, 255, 255), sync=False
    )


async def call_matting_url(client, emu):
    return await client.get_image_matting(LOGO, bg_color=(255, 255, 255))


async def call_matting_url_async(client, emu):
    return await client.submit_image_matting(LOGO, bg_color=(255, 255, 255))


IMAGE_PARAMS = {
    "Action": "GetImageTranslate",
    "SourceLanguage": "CHS",
    "TargetLanguage": "KOR",
    "Url": "https://img.xx.com/O107064055.jpg",
    "ImgTransKey": IMG_KEY,
    "CommitTime": "1653229753",
    "Sign": IMG_SIGN,
    "NeedWatermark": "0",
    "NeedRmUrl": "1",
    "Qos": "LowLatency",
    "EngineType": "5",
}
MATTING_PARAMS = {
    "Action": "GetImageMatting",
    "CommitTime": "1653229753",
    "ImgMattingKey": MATTING_KEY,
    "Sign": MATTING_SIGN,
    "Sync": "1",
    "BgColor": "255,255,255",
}

#: (seed part, the client call, the action recorded, method, path, the parameters that
#: must arrive — the seed's example values — and the result type)
REQUESTS = [
    (
        "二 image by URL",
        call_image_by_url,
        "GetImageTranslate",
        "POST",
        "/api/",
        IMAGE_PARAMS,
        wire.ImageResult,
    ),
    (
        "三 image by local file",
        call_image_by_file,
        "GetImageTranslate",
        "POST",
        "/api2/",
        {**IMAGE_PARAMS, "Url": "local"},
        wire.ImageResult,
    ),
    (
        "四 text",
        call_text,
        "GetTextTranslate",
        "POST",
        "/api/",
        {
            "Action": "GetTextTranslate",
            "SourceLanguage": "CHS",
            "TargetLanguage": "KOR",
            "Text": "我是中国人",
            "TextTransKey": TEXT_KEY,
            "CommitTime": "1653229753",
            "Sign": md5(f"1653229753_{USER_KEY}_{TEXT_KEY}"),
            "Type": "2",
        },
        wire.TextTranslation,
    ),
    (
        "五 quota",
        call_quota,
        "AmountQuery",
        "POST",
        "/account/open/user/amount-query",
        {"Type": "1", "ImgTransKey": IMG_KEY, "Sign": md5(f"1_{USER_KEY}_{IMG_KEY}")},
        wire.Quota,
    ),
    (
        "六.1 batch (async)",
        call_batch,
        "GetImageTranslateBatch",
        "GET",
        "/api/",
        {
            "Action": "GetImageTranslateBatch",
            "SourceLanguage": "CHS",
            "TargetLanguage": "KOR",
            "Urls": "https%3A%2F%2Fxxxx%2Fcib.jpg,http%3A%2F%2Fxxxx%2FR3YAU.jpg",
            "ImgTransKey": IMG_KEY,
            "CommitTime": "1653229753",
            "Sign": IMG_SIGN,
            "Sync": "2",
            "EngineType": "5",
        },
        list,
    ),
    (
        "六.2 batch result",
        call_batch_result,
        "GetImageTranslateBatchResult",
        "GET",
        "/api/",
        {
            "Action": "GetImageTranslateBatchResult",
            "RequestIds": "493e4277248a30d4,29c280ae35f067be",
        },
        dict,
    ),
    (
        "六.3 batch query",
        call_batch_query,
        "GetImageTranslateBatchQuery",
        "GET",
        "/api/",
        {
            "Action": "GetImageTranslateBatchQuery",
            "RequestIds": "493e4277248a30d4,29c280ae35f067be",
        },
        dict,
    ),
    (
        "七 matting by file (sync)",
        call_matting_file,
        "GetImageMatting",
        "POST",
        "/api2/async-matting",
        MATTING_PARAMS,
        wire.MattingResult,
    ),
    (
        "七 matting by file (async)",
        call_matting_file_async,
        "GetImageMatting",
        "POST",
        "/api2/async-matting",
        {**MATTING_PARAMS, "Sync": "2"},
        str,
    ),
    (
        "八 matting by URL (sync)",
        call_matting_url,
        "GetImageMatting",
        "POST",
        "/api/",
        {**MATTING_PARAMS, "Url": LOGO},
        wire.MattingResult,
    ),
    (
        "八 matting by URL (async)",
        call_matting_url_async,
        "GetImageMatting",
        "POST",
        "/api/",
        {**MATTING_PARAMS, "Url": LOGO, "Sync": "2"},
        str,
    ),
]


@pytest.mark.parametrize(
    ("call", "action", "method", "path", "params", "result_type"),
    [row[1:] for row in REQUESTS],
    ids=[row[0] for row in REQUESTS],
)
async def test_the_seed_example_request_goes_out_as_written(
    client, emu, call, action, method, path, params, result_type
):
    if action in ("GetImageTranslateBatchResult", "GetImageTranslateBatchQuery"):
        await call_batch(client, emu)
    result = await call(client, emu)
    assert isinstance(result, result_type)
    request = sent(emu, action)
    assert (request.method, request.path) == (method, path)
    assert request.params == params
    if path.startswith("/api2"):
        assert request.files == {"file-stream": png()}


# --------------------------------------------------------------------------- responses


def test_image_response_parses():  # 二, 三
    result = wire.parse_image_result(IMAGE_RESPONSE)
    data = IMAGE_RESPONSE["Data"]
    assert result.request_id == "5b135a6003a3075d"
    assert (result.url, result.http_url, result.rm_url) == (
        data["SslUrl"],
        data["Url"],
        data["SslRmUrl"],
    )
    # the tables spell them SsUrl / SsRmUrl
    table = {"Url": data["Url"], "SsUrl": data["SslUrl"], "RmUrl": data["RmUrl"], "SsRmUrl": "s"}
    spelled = wire.parse_image_result({**IMAGE_RESPONSE, "Data": table})
    assert (spelled.url, spelled.rm_url) == (data["SslUrl"], "s")
    # the Go sample's struct: Url, SslUrl, HasWatermark
    go = {"Url": data["Url"], "SslUrl": data["SslUrl"], "HasWatermark": False}
    assert wire.parse_image_result({**IMAGE_RESPONSE, "Data": go}).has_watermark is False


async def test_image_answer_has_the_seed_shape(client, emu, seed_ids):
    seed_ids("5b135a6003a3075d")
    result = await call_image_by_url(client, emu)
    assert result.request_id == "5b135a6003a3075d"
    assert set(IMAGE_RESPONSE["Data"]) <= set(result.raw)
    assert result.rm_url and result.url == result.raw["SslUrl"]
    uploaded = await call_image_by_file(client, emu)
    assert set(IMAGE_RESPONSE["Data"]) <= set(uploaded.raw)


async def test_text_example_round_trip(client, emu, seed_ids):  # 四
    expected = wire.parse_text_translation(TEXT_RESPONSE)
    assert (expected.source, expected.target, expected.origin_text, expected.text) == (
        "CHS",
        "ENG",
        "我是中国人",
        "I am Chinese",
    )
    seed_ids("5b135a6003a3075d")
    assert await client.get_text_translate("我是中国人", "CHS", "ENG") == expected
    assert expected.raw == TEXT_RESPONSE["Data"]


async def test_quota_example_round_trip(client, emu):  # 五
    expected = wire.parse_quota(QUOTA_RESPONSE)
    assert (expected.type, expected.left_count) == (1, 80828)
    as_table = {**QUOTA_RESPONSE, "code": 0}  # the table says Integer 0
    assert wire.parse_quota(as_table) == expected
    got = await call_quota(client, emu)
    assert got == expected and got.raw == QUOTA_RESPONSE["data"]


async def test_batch_async_example_round_trip(client, emu, session, seed_ids):  # 六.1 异步
    assert wire.parse_submit_ids(BATCH_ASYNC_RESPONSE) == ["493e4277248a30d4", "29c280ae35f067be"]
    seed_ids("493e4277248a30d4", "29c280ae35f067be", "84722c5e81a7b0cb")
    urls = ["https://xxxx/cib.jpg", "http://xxxx/R3YAU.jpg"]
    ((_, full),) = wire.batch_urls(
        emu.api_url + "/",
        urls,
        "CHS",
        "KOR",
        key=IMG_KEY,
        user_key=USER_KEY,
        commit_time=COMMIT_TIME,
    )
    async with session.get(full) as resp:
        assert await resp.json() == BATCH_ASYNC_RESPONSE  # the seed's answer, as a whole


async def test_batch_sync_example_round_trip(emu, session, seed_ids):  # 六.1 同步
    items = BATCH_SYNC_RESPONSE["Data"]["Content"]
    assert wire.parse_submit_ids(BATCH_SYNC_RESPONSE) == ["402f9f5c36d61b74", "4ea35c8e82476483"]
    parsed = wire.parse_batch_result(BATCH_SYNC_RESPONSE, "GetImageTranslateBatch")
    assert [(i.request_id, i.done, i.result.url) for i in parsed.values()] == [
        (item["RequestId"], True, item["SslUrl"]) for item in items
    ]
    # Tolk submits with Sync=2; the emulator answers Sync=1 in the seed's shape
    seed_ids("402f9f5c36d61b74", "4ea35c8e82476483", "fcfd686744fcc5f4")
    urls = [item["OriginUrl"] for item in items]
    params = wire.batch_params(
        urls, "CHS", "KOR", key=IMG_KEY, user_key=USER_KEY, commit_time=COMMIT_TIME, sync=1
    )
    async with session.get(f"{emu.api_url}/?{wire.query_string(params)}") as resp:
        answer = await resp.json()
    assert (answer["RequestId"], answer["Code"], answer["Message"]) == (
        "fcfd686744fcc5f4",
        200,
        "ok",
    )
    for got, seed in zip(answer["Data"]["Content"], items, strict=True):
        assert set(got) == set(seed)
        same = ("RequestId", "Code", "OriginUrl", "SourceLanguage", "TargetLanguage")
        assert {k: got[k] for k in same} == {k: seed[k] for k in same}


async def test_batch_result_example_round_trip(client, emu, seed_ids):  # 六.2
    expected = wire.parse_batch_result(BATCH_RESULT_RESPONSE)
    bad, good = expected["31de8c80dca1b1fd1"], expected["ee338726f069b731"]
    assert (bad.code, bad.kind, bad.result) == (115, ErrorKind.PERMANENT, None)
    assert bad.message.startswith("request ID error") and "请求ID错误" in bad.message
    assert good.done and good.result.url.startswith("https://i.tosoiot.com/r/ee338726f069b731/")
    seed_ids("ee338726f069b731")
    (rid,) = await client.get_image_translate_batch([good.result.origin_url], "CHS", "KOR")
    emu.finish(rid)
    got = await client.get_image_translate_batch_result(["31de8c80dca1b1fd1", rid])
    assert list(got) == list(expected)
    assert got["31de8c80dca1b1fd1"] == bad
    assert (
        got["31de8c80dca1b1fd1"].raw
        == BATCH_RESULT_RESPONSE["Data"]["Content"]["31de8c80dca1b1fd1"]
    )
    same = ("request_id", "origin_url", "source", "target", "rm_url")
    assert [getattr(got[rid].result, k) for k in same] == [getattr(good.result, k) for k in same]
    assert set(got[rid].raw) == set(good.raw)


async def test_batch_query_example_round_trip(client, emu, seed_ids):  # 六.3
    expected = wire.parse_batch_query(BATCH_QUERY_RESPONSE)
    assert expected["9a3d413c4a0b0342"] is None
    detail = expected["0bb26f6f94749af6"]
    assert detail.done and detail.result.rm_url.endswith("/i-20211122110639TR3YAU.jpg")
    (line,) = detail.ocr
    assert (line.source, line.target) == ("点缀蜗居生活", "겸손한 거주지의 삶을 꾸미십시오.")
    assert (line.box, line.font_size, line.orientation) == ((499, 272, 182, 30), 30, "h")
    assert (line.fg, line.bg) == ((215, 216, 215), (215, 217, 218))
    described = wire.parse_ocr_line(OCR_DESCRIBED)
    assert (described.box, described.font_size, described.orientation) == (
        (134, 0, 1066, 249),
        20,
        "h",
    )
    seed_ids("0bb26f6f94749af6")
    (rid,) = await client.get_image_translate_batch([detail.result.origin_url], "CHS", "KOR")
    emu.finish(rid)
    got = await client.get_image_translate_batch_query(["9a3d413c4a0b0342", rid])
    assert list(got) == list(expected) and got["9a3d413c4a0b0342"] is None
    mine = got[rid]
    assert set(mine.raw) == set(detail.raw)
    assert (mine.result.origin_url, mine.result.source, mine.result.target) == (
        detail.result.origin_url,
        "CHS",
        "KOR",
    )
    first = mine.ocr[0]
    assert (first.source, first.box, first.font_size, first.orientation, first.fg, first.bg) == (
        line.source,
        line.box,
        line.font_size,
        line.orientation,
        line.fg,
        line.bg,
    )


async def test_matting_examples_round_trip(client, emu, seed_ids):  # 七, 八
    expected = wire.parse_matting(MATTING_SYNC_RESPONSE)
    assert (expected.request_id, expected.url, expected.http_url, expected.origin_url) == (
        "39460axx8f60d32",
        CUT_SSL,
        CUT,
        LOGO_SSL,
    )
    outer_same = {**MATTING_SYNC_RESPONSE, "RequestId": "39460axx8f60d32"}  # 八's example
    assert wire.parse_matting(outer_same) == expected
    assert wire.parse_matting_submit(MATTING_ASYNC_RESPONSE) == "39460axx8f60d32"

    seed_ids("39460axx8f60d32", "fcfd686744fcc5f4")
    by_url = await call_matting_url(client, emu)
    assert by_url.request_id == "39460axx8f60d32" and by_url.origin_url == LOGO
    assert set(by_url.raw) == set(MATTING_SYNC_RESPONSE["Data"])
    seed_ids("39460axx8f60d32")
    assert await call_matting_url_async(client, emu) == "39460axx8f60d32"
    seed_ids("39460axx8f60d32", "fcfd686744fcc5f4")
    by_file = await call_matting_file(client, emu)
    assert by_file.request_id == "39460axx8f60d32"
    assert set(by_file.raw) == set(MATTING_SYNC_RESPONSE["Data"])


async def test_async_matting_is_polled_through_batch_result(client, emu):  # 七.4
    job = await call_matting_file_async(client, emu)
    emu.finish(job)
    (item,) = (await client.get_image_translate_batch_result([job])).values()
    assert item.done and item.result.url.endswith(f"/i/{job}/c.png")
    assert sent(emu, "GetImageTranslateBatchResult").params == {
        "Action": "GetImageTranslateBatchResult",
        "RequestIds": job,
    }


@pytest.mark.parametrize("flag", [False, True])
async def test_the_go_and_php_samples_legacy_signature(session, flag):  # 二, Go/PHP
    url = "https://i.tosoiot.com/static/huodong/LiveStreaming_2022-06-22.jpeg"
    sample = {
        "Action": "GetImageTranslate",
        "SourceLanguage": "CHS",
        "TargetLanguage": "KOR",
        "Url": url,
        "ImgTransKey": IMG_KEY,
        "Sign": md5(f"CHS_KOR_{url}_{USER_KEY}_{IMG_KEY}"),
    }
    async with (
        XiangjiEmulator(
            user_key=USER_KEY, img_trans_key=IMG_KEY, accept_legacy_sign=flag, fetch_sources=False
        ) as emu,
        session.get(emu.api_url + "/", params=sample) as resp,
    ):  # httpGet(url)
        answer = await resp.json()
    assert answer["Code"] == (200 if flag else 104)
    if flag:
        assert wire.parse_image_result(answer).url


def test_the_editor_iframe_src_of_part_ten():  # 十
    src = editor_url(
        "https://www.xiangjifanyi.com",
        IMAGE_EDITOR,
        EditorKeys(USER_KEY, aigc_key="123", text_trans_key="123"),
        commit_time=1667920070,
        lang=None,
    )
    prefix = "https://www.xiangjifanyi.com/image-editor/#/?"
    assert src.startswith(prefix)
    fields = dict(pair.split("=") for pair in src.removeprefix(prefix).split("&"))
    assert list(fields) == ["CommitTime", "AigcKeySign", "AigcKey", "TextTransSign", "TextTransKey"]
    assert fields["CommitTime"] == "1667920070"
    assert fields["AigcKeySign"] == fields["TextTransSign"] == md5(f"1667920070_{USER_KEY}_123")


@pytest.mark.parametrize("code", list(ERROR_CODES))
async def test_error_code_table(client, emu, code):  # 附录
    meaning, kind = ERROR_CODES[code]
    assert wire.classify(code) is kind
    emu.faults.code("GetTextTranslate", code)
    with pytest.raises(ProviderError) as info:
        await client.get_text_translate("我是中国人", "CHS", "ENG")
    assert (info.value.code, info.value.kind) == (str(code), kind)
    assert info.value.message.startswith(wire.MEANINGS[code])
    assert emulator.MESSAGES[code].replace(" ", "") == meaning.replace(" ", "")
    item = wire.batch_item_from("493e4277248a30d4", {"Code": code, "Message": meaning})
    assert (item.code, item.kind, item.done) == (code, kind, False)
    assert (await client.get_text_translate("我是中国人", "CHS", "ENG")).text == "I am Chinese"

"""Xiangji wire format: signing known answers, parameter builders, parsers on the
spec's sample JSON (with every documented quirk), and classification."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode

import pytest

from emulators import xiangji as emulator
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import wire

# --------------------------------------------------------------------------- signing (§3.5)

SIGN_ROWS = [
    ("1653229753", "11112222", "111222333", "3f17226b045b257a0f1d25bdd46f9ee7"),
    ("1653229753", "userkey123", "imgkey456", "57ba9ed333b423b77efacf13022a2e08"),
    ("1653229753", "userkey123", "textkey789", "39e4d804e69c67f71daae104a07a9031"),
]
QUOTA_ROW = ("1", "userkey123", "imgkey456", "94bd8df31f24efd8058119b5fac756df")
LEGACY_ROW = (
    "CHS_KOR_https://i.tosoiot.com/static/huodong/LiveStreaming_2022-06-22.jpeg"
    "_userkey123_imgkey456",
    "8a38106466d864023eb5e168eac553d8",
)


@pytest.mark.parametrize(("commit_time", "user", "key", "expected"), SIGN_ROWS)
def test_sign_known_answers(commit_time, user, key, expected):
    assert wire.sign(commit_time, user, key) == expected
    assert wire.sign(int(commit_time), user, key) == expected


def test_quota_sign_known_answer():
    type_, user, key, expected = QUOTA_ROW
    assert wire.quota_sign(type_, user, key) == expected
    assert wire.quota_sign(1, user, key) == expected


@pytest.mark.parametrize(("commit_time", "user", "key", "expected"), SIGN_ROWS)
def test_emulator_signing_primitive_known_answers(commit_time, user, key, expected):
    # The emulator signs with its own code; it must agree with the spec, not with wire.
    assert emulator.md5_hex(f"{commit_time}_{user}_{key}") == expected


def test_emulator_quota_and_legacy_known_answers():
    assert emulator.md5_hex("1_userkey123_imgkey456") == QUOTA_ROW[3]
    assert emulator.md5_hex(LEGACY_ROW[0]) == LEGACY_ROW[1]


# --------------------------------------------------------------------------- builders


def test_image_params_always_send_need_watermark_zero_and_sign():
    p = wire.image_translate_params(
        "https://img.xx.com/O107064055.jpg",
        "CHS",
        "KOR",
        key="imgkey456",
        user_key="userkey123",
        commit_time=1653229753,
    )
    assert p == {
        "Action": "GetImageTranslate",
        "ImgTransKey": "imgkey456",
        "CommitTime": "1653229753",
        "Sign": "57ba9ed333b423b77efacf13022a2e08",
        "SourceLanguage": "CHS",
        "TargetLanguage": "KOR",
        "Url": "https://img.xx.com/O107064055.jpg",
        "NeedWatermark": "0",
    }
    assert "userkey123" not in p.values()


def test_image_params_options():
    p = wire.image_translate_params(
        "local",
        "ENG",
        "KOR",
        key="k",
        user_key="u",
        commit_time=1,
        need_watermark=True,
        need_rm_url=True,
        qos="BestQuality",
        engine_type=5,
    )
    assert p["Url"] == "local"
    assert (p["NeedWatermark"], p["NeedRmUrl"], p["Qos"], p["EngineType"]) == (
        "1",
        "1",
        "BestQuality",
        "5",
    )


def test_text_params():
    p = wire.text_translate_params(
        "我是中国人",
        "CHS",
        "ENG",
        key="textkey789",
        user_key="userkey123",
        commit_time="1653229753",
        engine=2,
    )
    assert p["Sign"] == "39e4d804e69c67f71daae104a07a9031"
    assert (p["Action"], p["TextTransKey"], p["Text"], p["Type"]) == (
        "GetTextTranslate",
        "textkey789",
        "我是中国人",
        "2",
    )


def test_batch_urls_are_encoded_individually_then_once_more_by_the_form():
    urls = ["https://x.test/a,b.jpg?w=1&h=2", "http://y.test/c%20d.png"]
    p = wire.batch_params(urls, "CHS", "KOR", key="k", user_key="u", commit_time=1)
    assert p["Sync"] == "2" and not {"NeedWatermark", "NeedRmUrl", "Qos"} & set(p)
    assert (
        p["Urls"]
        == "https%3A%2F%2Fx.test%2Fa%2Cb.jpg%3Fw%3D1%26h%3D2,http%3A%2F%2Fy.test%2Fc%2520d.png"
    )
    # What a server sees after one level of form decoding, then per-item decoding:
    decoded = dict(parse_qsl(urlencode(p)))["Urls"]
    assert [unquote(item) for item in decoded.split(",")] == urls


def test_batch_query_params_are_unsigned():
    assert wire.batch_result_params(["a1", " b2 "]) == {
        "Action": "GetImageTranslateBatchResult",
        "RequestIds": "a1,b2",
    }
    assert wire.batch_query_params(["a1"])["Action"] == "GetImageTranslateBatchQuery"
    with pytest.raises(ValueError):
        wire.batch_result_params([])


def test_matting_and_quota_params():
    p = wire.matting_params(
        key="111222333",
        user_key="11112222",
        commit_time=1653229753,
        url="http://i.test/logo.png",
        bg_color=(255, 255, 255),
        sync=False,
    )
    assert p["Sign"] == "3f17226b045b257a0f1d25bdd46f9ee7"
    assert (p["Action"], p["Sync"], p["BgColor"], p["Url"]) == (
        "GetImageMatting",
        "2",
        "255,255,255",
        "http://i.test/logo.png",
    )
    assert "Url" not in wire.matting_params(key="k", user_key="u", commit_time=1)
    with pytest.raises(ValueError):
        wire.matting_params(key="k", user_key="u", commit_time=1, bg_color=(256, 0, 0))
    q = wire.quota_params(1, user_key="userkey123", key="imgkey456")
    assert q == {"Type": "1", "ImgTransKey": "imgkey456", "Sign": QUOTA_ROW[3]}
    assert "ImgMattingKey" in wire.quota_params(8, user_key="u", key="m")
    with pytest.raises(ValueError):
        wire.quota_params(6, user_key="u", key="k")


# --------------------------------------------------------------------------- classify (§9)

CLASSES = {
    101: ErrorKind.RETRYABLE,
    102: ErrorKind.RETRYABLE,
    103: ErrorKind.PERMANENT,
    104: ErrorKind.PERMANENT,
    105: ErrorKind.PERMANENT,
    106: ErrorKind.PERMANENT,
    107: ErrorKind.RETRYABLE,
    108: ErrorKind.PERMANENT,
    109: ErrorKind.PERMANENT,
    110: ErrorKind.PERMANENT,
    111: ErrorKind.RETRYABLE,
    112: ErrorKind.RETRYABLE,
    113: ErrorKind.QUOTA,
    114: ErrorKind.PENDING,
    115: ErrorKind.PERMANENT,
    116: ErrorKind.PERMANENT,
    117: ErrorKind.PERMANENT,
    120: ErrorKind.QUOTA,
    199: ErrorKind.RETRYABLE,
}


@pytest.mark.parametrize(("code", "kind"), sorted(CLASSES.items()))
def test_classify_every_code(code, kind):
    assert wire.classify(code) is kind
    assert wire.classify(str(code)) is kind
    assert wire.MEANINGS[code]


def test_classify_unknown_codes_are_permanent():
    assert wire.classify(999) is ErrorKind.PERMANENT
    assert wire.classify("weird") is ErrorKind.PERMANENT
    assert set(wire.MEANINGS) == set(CLASSES) | {200}


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize("data", ["absent", {}, None])
def test_check_raises_on_failure_whatever_the_data_shape(data):
    body = {"Code": 104, "Message": "参数错误", "RequestId": "5b135a6003a3075d"}
    if data != "absent":
        body["Data"] = data
    with pytest.raises(ProviderError) as info:
        wire.check(body, "GetImageTranslate")
    err = info.value
    assert (err.provider, err.operation, err.code, err.kind) == (
        "xiangji",
        "GetImageTranslate",
        "104",
        ErrorKind.PERMANENT,
    )
    assert err.message == "parameter error (Xiangji: 参数错误)"


def test_check_redacts_secrets_and_accepts_string_codes():
    body = {"Code": "113", "Message": "key xj-secret-key in arrears"}
    with pytest.raises(ProviderError) as info:
        wire.check(body, "GetTextTranslate", redact=["xj-secret-key"])
    assert info.value.kind is ErrorKind.QUOTA
    assert "xj-secret-key" not in str(info.value)
    assert wire.check({"Code": "200"}, "x") == {"Code": "200"}


@pytest.mark.parametrize(
    ("body", "status", "code", "kind"),
    [
        (["not", "an", "object"], 200, "bad-response", ErrorKind.RETRYABLE),
        ({"Message": "ok"}, 200, "bad-response", ErrorKind.RETRYABLE),
        ({"error": "nope"}, 403, "http-403", ErrorKind.PERMANENT),
    ],
)
def test_check_odd_bodies(body, status, code, kind):
    with pytest.raises(ProviderError) as info:
        wire.check(body, "GetImageTranslate", status=status)
    assert (info.value.code, info.value.kind) == (code, kind)


# --------------------------------------------------------------------------- parsers

IMAGE_EXAMPLE = {
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


def test_parse_image_example():
    r = wire.parse_image_result(IMAGE_EXAMPLE)
    assert r.request_id == "5b135a6003a3075d"
    assert r.url == IMAGE_EXAMPLE["Data"]["SslUrl"]
    assert r.http_url == IMAGE_EXAMPLE["Data"]["Url"]
    assert r.rm_url == "https://i.tosoiot.com/20220311/r/16417978499354920.jpg"
    assert r.has_watermark is None
    assert r.raw == IMAGE_EXAMPLE["Data"]


def test_parse_image_url_spellings():
    data = {"Url": "http://a/f.jpg", "SsUrl": "https://a/f.jpg", "SsRmUrl": "https://a/i.jpg"}
    r = wire.parse_image_result({"Code": 200, "RequestId": "r", "Data": data})
    assert (r.url, r.rm_url) == ("https://a/f.jpg", "https://a/i.jpg")
    r = wire.parse_image_result({"Code": 200, "Data": {"Url": "http://a/f.jpg", "X": 1}})
    assert r.url == "http://a/f.jpg" and r.rm_url is None and r.raw["X"] == 1
    data = {"Url": "http://a/f.jpg", "HasWatermark": True}  # Go sample's extra field
    assert wire.parse_image_result({"Code": 200, "Data": data}).has_watermark is True
    with pytest.raises(ProviderError) as info:
        wire.parse_image_result({"Code": 200, "Data": None})
    assert info.value.code == "bad-response"


def test_parse_text_example():
    body = {
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
    t = wire.parse_text_translation(body)
    assert (t.request_id, t.source, t.target, t.origin_text, t.text) == (
        "5b135a6003a3075d",
        "CHS",
        "ENG",
        "我是中国人",
        "I am Chinese",
    )


def test_parse_batch_async_submit_strings():
    body = {
        "Message": "ok",
        "RequestId": "84722c5e81a7b0cb",
        "Data": {"Content": ["493e4277248a30d4", "29c280ae35f067be"]},
        "Code": 200,
    }
    assert wire.parse_submit_ids(body) == ["493e4277248a30d4", "29c280ae35f067be"]


SYNC_BATCH = {
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


def test_parse_batch_sync_array_of_objects():
    assert wire.parse_submit_ids(SYNC_BATCH) == ["402f9f5c36d61b74", "4ea35c8e82476483"]
    items = wire.parse_batch_result(SYNC_BATCH)
    assert list(items) == ["402f9f5c36d61b74", "4ea35c8e82476483"]
    first = items["402f9f5c36d61b74"]
    assert first.done and first.kind is None
    assert first.result.origin_url == "http://www.tosoiot.com/upload/20211122110639TR3YAU.jpg"
    assert (first.result.source, first.result.target) == ("CHS", "KOR")


BATCH_RESULT = {
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


def test_parse_batch_result_example():
    items = wire.parse_batch_result(BATCH_RESULT)
    bad, good = items["31de8c80dca1b1fd1"], items["ee338726f069b731"]
    assert (bad.code, bad.kind, bad.result) == (115, ErrorKind.PERMANENT, None)
    assert bad.message == "request ID error (Xiangji: 请求ID错误)"
    assert bad.error().code == "115"
    assert good.done and good.error() is None
    assert good.result.url == "https://i.tosoiot.com/r/ee338726f069b731/f-2021AU.jpg"


def test_parse_batch_result_quirky_items():
    body = {
        "Code": 200,
        "Data": {
            "Content": {
                "aaaaaaaaaaaaaaaa": {"Code": 114, "Message": "任务尚未处理完成"},
                "bbbbbbbbbbbbbbbb": "图片下载失败",  # plain string item
                "cccccccccccccccc": {
                    "Code": 200,
                    "OriginalUrl": "http://o/x.jpg",
                    "Url": "http://r",
                },
                "dddddddddddddddd": None,
                "eeeeeeeeeeeeeeee": {"Code": "107", "Message": "翻译错误"},
                "ffffffffffffffff": {"Code": 200},  # done but nothing to download
            }
        },
    }
    items = wire.parse_batch_result(body)
    pending = items["aaaaaaaaaaaaaaaa"]
    assert pending.pending and not pending.done and pending.kind is ErrorKind.PENDING
    text = items["bbbbbbbbbbbbbbbb"]
    assert (text.code, text.kind) == (199, ErrorKind.RETRYABLE) and "图片下载失败" in text.message
    assert items["cccccccccccccccc"].result.origin_url == "http://o/x.jpg"
    assert items["dddddddddddddddd"].code == 115
    assert items["eeeeeeeeeeeeeeee"].kind is ErrorKind.RETRYABLE
    assert items["ffffffffffffffff"].code == 116


@pytest.mark.parametrize("data", [None, {}, {"Content": None}])
def test_parse_batch_result_empty_content(data):
    assert wire.parse_batch_result({"Code": 200, "Data": data}) == {}


BATCH_QUERY = {
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


def test_parse_batch_query_example():
    details = wire.parse_batch_query(BATCH_QUERY)
    assert details["9a3d413c4a0b0342"] is None
    d = details["0bb26f6f94749af6"]
    assert d.done and d.code == 200  # the example item has no Code at all
    assert d.result.rm_url.endswith("/i-20211122110639TR3YAU.jpg")
    (line,) = d.ocr
    assert line.source == "点缀蜗居生活" and line.target.startswith("겸손한")
    assert line.box == (499, 272, 182, 30)
    assert (line.font_size, line.orientation) == (30, "h")
    assert (line.fg, line.bg) == ((215, 216, 215), (215, 217, 218))


def test_parse_ocr_described_spelling():
    line = wire.parse_ocr_line(
        {
            "source": "立即购买!",
            "target": "Buy Now!",
            "boundingBox": "134,0,1066,249",
            "fontSize": "20px",
            "orientation": "v",
        }
    )
    assert (line.box, line.font_size, line.orientation, line.fg) == (
        (134, 0, 1066, 249),
        20,
        "v",
        None,
    )
    assert wire.parse_box([[0, 0], [10, 0], [10, 5], [0, 5]]) == (0, 0, 10, 5)
    assert wire.parse_box("garbage") is None
    assert wire.parse_font_size(14) == 14 and wire.parse_font_size("n/a") is None


def test_parse_batch_query_pending_item():
    body = {"Code": 200, "Data": {"Content": {"r1": {"Code": 114, "Message": "任务尚未处理完成"}}}}
    d = wire.parse_batch_query(body)["r1"]
    assert d.pending and d.ocr == () and d.result is None


MATTING_SYNC = {
    "Message": "ok",
    "RequestId": "fcfd686744fcc5f4",
    "Data": {
        "RequestId": "39460axx8f60d32",
        "OriginUrl": "http://i.tosoiot.com/20220522/39460axx8f60d32/logo_ideajl_f828fabd29a2b9ce.png",
        "OriginSslUrl": "https://i.tosoiot.com/20220522/39460axx8f60d32/logo_ideajl_f828fabd29a2b9ce.png",
        "Url": "http://i.tosoiot.com/20220522/39460axx8f60d32/c-logo_ideajl_f828fabd29a2b9ce.png",
        "SslUrl": "https://i.tosoiot.com/20220522/39460axx8f60d32/c-logo_ideajl_f828fabd29a2b9ce.png",
    },
    "Code": 200,
}


def test_parse_matting_sync_and_async():
    m = wire.parse_matting(MATTING_SYNC)
    assert m.request_id == "39460axx8f60d32"  # Data.RequestId, not the envelope's
    assert m.url.startswith("https://") and m.http_url.startswith("http://")
    assert m.origin_url.startswith("https://i.tosoiot.com/20220522/")
    body = {
        "Message": "ok",
        "RequestId": "39460axx8f60d32",
        "Data": {"Content": "39460axx8f60d32"},
        "Code": 200,
    }
    assert wire.parse_matting_submit(body) == "39460axx8f60d32"
    assert wire.parse_submit_ids(body) == ["39460axx8f60d32"]  # single-string Content


def test_parse_quota_lowercase_envelope_with_strings():
    q = wire.parse_quota({"code": "0", "msg": "ok", "data": {"type": 1, "leftCount": "80828"}})
    assert (q.type, q.left_count) == (1, 80828)
    q = wire.parse_quota({"code": 0, "msg": "ok", "data": {"type": "2", "leftCount": 5}})
    assert (q.type, q.left_count) == (2, 5)


def test_parse_quota_errors():
    with pytest.raises(ProviderError) as info:
        wire.parse_quota({"code": "109", "msg": "no permission for k-123"}, redact=["k-123"])
    assert info.value.code == "109" and "k-123" not in info.value.message
    with pytest.raises(ProviderError) as info:
        wire.parse_quota({"code": "0", "msg": "ok", "data": None})
    assert info.value.code == "bad-response"
    with pytest.raises(ProviderError) as info:  # an Action-style envelope from a front proxy
        wire.parse_quota({"Code": 102, "Message": "系统错误"})
    assert info.value.kind is ErrorKind.RETRYABLE

"""Issue 17 items 1–3 and 5 through the wire: image engines by key, text engines by
``Type``, the quota of every key, and the batch as the GET seed 002 part 六 documents."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest

from emulators.xiangji import XiangjiEmulator
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import (
    IMAGE_ENGINES,
    QUOTA_KEY_ATTRS,
    QUOTA_SERVICES,
    TEXT_COST,
    TEXT_ENGINES,
    XiangjiClient,
    XiangjiKeys,
    wire,
)

ALL_KEYS = XiangjiKeys(
    "xj-user",
    img_trans_key="xj-img",
    text_trans_key="xj-text",
    matting_key="xj-matting",
    img_trans_google_key="xj-img-google",
    img_trans_papago_key="xj-img-papago",
    img_trans_baidu_key="xj-img-baidu",
    img_trans_deepl_key="xj-img-deepl",
    video_trans_key="xj-video",
)
#: engine → (the key it sends as ImgTransKey, its quota Type, EngineType sent)
ROUTES = {
    "aliyun": ("xj-img", 1, None),
    "google": ("xj-img-google", 3, None),
    "papago": ("xj-img-papago", 4, None),
    "baidu": ("xj-img-baidu", 5, None),
    "deepl": ("xj-img-deepl", 7, None),
    "chatgpt": ("xj-img", 1, "5"),
}
QUOTA_PARAMS = {
    1: ("ImgTransKey", "xj-img"),
    2: ("TextTransKey", "xj-text"),
    3: ("ImgTransGoogleKey", "xj-img-google"),
    4: ("ImgTransPapagoKey", "xj-img-papago"),
    5: ("ImgTransBaiduKey", "xj-img-baidu"),
    7: ("ImgTransDeeplKey", "xj-img-deepl"),
    8: ("ImgMattingKey", "xj-matting"),
    9: ("VideoTransKey", "xj-video"),
}
BATCH_PARAMS = {
    "Action",
    "SourceLanguage",
    "TargetLanguage",
    "Urls",
    "ImgTransKey",
    "CommitTime",
    "Sign",
    "Sync",
    "EngineType",
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
async def emu():
    async with XiangjiEmulator(fetch_sources=False, pending_polls=0) as emulator:
        yield emulator


def make_client(session, emu, keys: XiangjiKeys = ALL_KEYS, **kw) -> XiangjiClient:
    urls = {"api_url": emu.api_url, "upload_url": emu.upload_url, "account_url": emu.account_url}
    return XiangjiClient(session, keys, **urls, **kw)


@pytest.fixture
def client(session, emu):
    return make_client(session, emu)


# --------------------------------------------------------------------------- the API


def test_engine_tables_follow_the_seed():
    assert list(IMAGE_ENGINES) == ["aliyun", "google", "papago", "baidu", "deepl", "chatgpt"]
    routes = {n: (e.key_attr, e.quota_type, e.engine_type) for n, e in IMAGE_ENGINES.items()}
    assert routes == {
        "aliyun": ("img_trans_key", 1, None),
        "google": ("img_trans_google_key", 3, None),
        "papago": ("img_trans_papago_key", 4, None),
        "baidu": ("img_trans_baidu_key", 5, None),
        "deepl": ("img_trans_deepl_key", 7, None),
        "chatgpt": ("img_trans_key", 1, 5),
    }
    assert IMAGE_ENGINES["google"].env == "XIANGJI_IMG_TRANS_GOOGLE_KEY"
    assert TEXT_ENGINES == {
        "aliyun": 0,
        "google": 1,
        "papago": 2,
        "baidu": 3,
        "deepl": 4,
        "chatgpt": 5,
        "googlellm": 6,
    }
    assert {n for n, c in TEXT_COST.items() if c == (3.0, 4.5)} == {"google", "papago", "deepl"}
    assert set(TEXT_COST) == set(TEXT_ENGINES)
    assert set(QUOTA_SERVICES) == set(QUOTA_KEY_ATTRS) == {1, 2, 3, 4, 5, 7, 8, 9}
    assert all(hasattr(ALL_KEYS, attr) for attr in QUOTA_KEY_ATTRS.values())


def test_keys_list_engines_and_quota_types_and_never_show_values():
    assert ALL_KEYS.image_engines() == list(IMAGE_ENGINES)
    assert ALL_KEYS.quota_types() == [1, 2, 3, 4, 5, 7, 8, 9]
    some = XiangjiKeys("u-secret", img_trans_deepl_key="deepl-secret", video_trans_key="v-secret")
    assert some.image_engines() == ["deepl"]
    assert some.quota_types() == [7, 9]
    assert XiangjiKeys("u", img_trans_key="a").image_engines() == ["aliyun", "chatgpt"]
    text = repr(some)
    assert "img_trans_deepl_key=set" in text and "img_trans_google_key=unset" in text
    assert "video_trans_key=set" in text
    assert not any(secret in text for secret in ("u-secret", "deepl-secret", "v-secret"))
    assert set(some.secrets()) == {"u-secret", "deepl-secret", "v-secret"}


# --------------------------------------------------------------------------- image engines


@pytest.mark.parametrize("engine", list(ROUTES))
async def test_each_image_engine_sends_its_key_and_spends_its_quota(client, emu, engine):
    key, quota_type, engine_type = ROUTES[engine]
    before = dict(emu.quota)
    result = await client.get_image_translate(emu.sample_url("a"), "CHS", "KOR", engine=engine)
    uploaded = await client.upload_image_translate(
        b"\x89PNG-ish", "a.png", "CHS", "KOR", engine=engine
    )
    (rid,) = await client.get_image_translate_batch(
        [emu.sample_url("b")], "CHS", "KOR", engine=engine
    )
    for sent in emu.requests:
        assert sent.params["ImgTransKey"] == key
        assert sent.params["Sign"] == md5(f"{sent.params['CommitTime']}_xj-user_{key}")
        assert sent.params.get("EngineType") == engine_type
    for request_id in (result.request_id, uploaded.request_id, rid):
        job = emu.jobs[request_id]
        assert (job.engine, job.quota_type) == (engine, quota_type)
    await client.get_image_translate_batch_result([rid])  # done: charged now
    spent = {t: before[t] - emu.quota[t] for t in before if before[t] != emu.quota[t]}
    assert spent == {quota_type: 3}
    assert [(c.type, c.engine) for c in emu.charges] == [(quota_type, engine)] * 3


async def test_each_key_answers_its_own_quota(client, emu):
    left = {t: (await client.amount_query(t)).left_count for t in (1, 3, 7)}
    await client.get_image_translate(emu.sample_url("a"), "CHS", "KOR", engine="google")
    await client.get_image_translate(emu.sample_url("a"), "CHS", "KOR", engine="chatgpt")
    assert (await client.amount_query(3)).left_count == left[3] - 1
    assert (await client.amount_query(1)).left_count == left[1] - 1  # ChatGPT: the Aliyun key
    assert (await client.amount_query(7)).left_count == left[7]


async def test_an_engine_without_its_key_fails_clearly_before_any_request(session, emu):
    client = make_client(session, emu, XiangjiKeys("xj-user", img_trans_key="xj-img"))
    url = emu.sample_url("a")
    for call in (
        client.get_image_translate(url, "CHS", "KOR", engine="google"),
        client.upload_image_translate(b"x", "a.png", "CHS", "KOR", engine="papago"),
        client.get_image_translate_batch([url], "CHS", "KOR", engine="deepl"),
    ):
        with pytest.raises(ProviderError) as info:
            await call
        assert (info.value.code, info.value.kind) == ("not-configured", ErrorKind.PERMANENT)
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate(url, "CHS", "KOR", engine="google")
    assert info.value.message == (
        "no ImgTransKey for the Google engine is configured (XIANGJI_IMG_TRANS_GOOGLE_KEY)"
    )
    google_only = make_client(session, emu, XiangjiKeys("xj-user", img_trans_google_key="g"))
    with pytest.raises(ProviderError) as info:
        await google_only.get_image_translate(url, "CHS", "KOR", engine="chatgpt")
    assert "XIANGJI_IMG_TRANS_KEY" in info.value.message and "ChatGPT" in info.value.message
    with pytest.raises(ValueError, match="unknown Xiangji image engine 'bing'"):
        await client.get_image_translate(url, "CHS", "KOR", engine="bing")
    assert emu.requests == []


# --------------------------------------------------------------------------- text engines


@pytest.mark.parametrize(("engine", "type_"), [*TEXT_ENGINES.items(), (2, 2), ("6", 6)])
async def test_text_engine_by_name_or_number_sends_type(client, emu, engine, type_):
    await client.get_text_translate("hello", "ENG", "CHS", engine=engine)
    (sent,) = emu.requests_for("GetTextTranslate")
    assert sent.params["Type"] == str(type_)
    (charge,) = emu.charges
    name = next(n for n, t in TEXT_ENGINES.items() if t == type_)
    assert (charge.type, charge.engine) == (2, name)


async def test_text_quota_follows_the_billing_note(client, emu):
    cases = [("aliyun", 5), ("baidu", 5), ("google", 23), ("papago", 23), ("deepl", 23)]
    for engine, cost in cases:  # "hello": 5 characters; 3–4.5×, the emulator charges 4.5×
        before = emu.quota[2]
        await client.get_text_translate("hello", "ENG", "CHS", engine=engine)
        assert before - emu.quota[2] == cost, engine
    assert (await client.amount_query(2)).left_count == emu.quota[2]


async def test_unknown_text_engine_is_refused_before_any_request(client, emu):
    for engine in ("bing", 7, -1, True):
        with pytest.raises(ValueError):
            await client.get_text_translate("hi", "ENG", "CHS", engine=engine)
    assert emu.requests == []


# --------------------------------------------------------------------------- quota


@pytest.mark.parametrize("quota_type", list(QUOTA_PARAMS))
async def test_quota_of_every_type_with_its_parameter_and_sign(client, emu, quota_type):
    param, key = QUOTA_PARAMS[quota_type]
    emu.quota[quota_type] = 1234 + quota_type
    quota = await client.amount_query(quota_type)
    assert (quota.type, quota.left_count) == (quota_type, 1234 + quota_type)
    (sent,) = emu.requests_for("AmountQuery")
    assert sent.method == "POST" and sent.path == "/account/open/user/amount-query"
    assert sent.params == {
        "Type": str(quota_type),
        param: key,
        "Sign": md5(f"{quota_type}_xj-user_{key}"),
    }


async def test_quota_of_a_type_without_key_or_parameter(session, emu):
    client = make_client(session, emu, XiangjiKeys("xj-user", img_trans_key="xj-img"))
    with pytest.raises(ProviderError) as info:
        await client.amount_query(9)
    assert info.value.code == "not-configured"
    assert info.value.message == (
        "no VideoTransKey (quota Type 9) is configured (XIANGJI_VIDEO_TRANS_KEY)"
    )
    for no_key in (6, 10):  # image temporary storage, text to speech: the seed names no key
        with pytest.raises(ValueError):
            await client.amount_query(no_key)
    assert emu.requests == []


# --------------------------------------------------------------------------- batch


async def test_batch_is_a_get_with_only_the_seed_parameters(client, emu):
    urls = ["https://shop.example.test/a,b.jpg?w=1&h=2", "http://shop.example.test/c%20d.png"]
    ids = await client.get_image_translate_batch(urls, "CHS", "KOR", engine="chatgpt")
    (sent,) = emu.requests_for("GetImageTranslateBatch")
    assert sent.method == "GET" and sent.path == "/api/"
    assert set(sent.params) == BATCH_PARAMS
    assert (sent.params["Sync"], sent.params["EngineType"]) == ("2", "5")
    # after the query decoding, each item is still encoded: the comma inside survives
    assert sent.params["Urls"] == ",".join(quote(u, safe="") for u in urls)
    done = await client.get_image_translate_batch_result(ids)
    assert [done[i].result.origin_url for i in ids] == urls
    assert [emu.jobs[i].engine for i in ids] == ["chatgpt", "chatgpt"]


async def test_a_long_list_is_split_into_gets_under_the_limit(client, emu):
    urls = [f"https://cdn.example.test/{n:03d}/{'x' * 180},{n}.jpg" for n in range(90)]
    planned = wire.batch_urls(
        client._api, urls, "CHS", "KOR", key="k", user_key="u", commit_time=1653229753
    )
    assert len(planned) > 2 and all(len(full) <= wire.MAX_GET_URL for _, full in planned)
    assert [u for chunk, _ in planned for u in chunk] == urls
    ids = await client.get_image_translate_batch(urls, "CHS", "KOR")
    sent = emu.requests_for("GetImageTranslateBatch")
    assert len(sent) == len(planned) and all(r.method == "GET" for r in sent)
    assert len(ids) == len(set(ids)) == 90
    assert [emu.jobs[i].origin_url for i in ids] == urls  # ids concatenated in input order


async def test_one_url_too_long_for_any_get_is_refused_and_nothing_sent(client, emu):
    urls = ["https://cdn.example.test/ok.jpg", "https://cdn.example.test/" + "y" * 7900]
    with pytest.raises(ProviderError) as info:
        await client.get_image_translate_batch(urls, "CHS", "KOR")
    err = info.value
    assert (err.code, err.kind, err.operation) == (
        "url-too-long",
        ErrorKind.PERMANENT,
        "GetImageTranslateBatch",
    )
    assert "takes 7,941 bytes" in err.message and "at most 8,000 bytes" in err.message
    assert emu.requests == []


def test_batch_urls_fill_each_get_to_the_limit_exactly():
    urls = [f"https://x.test/{n}.jpg" for n in range(40)]
    opts = {"key": "k", "user_key": "u", "commit_time": 1}
    (whole,) = wire.batch_urls("http://h/", urls, "CHS", "KOR", **opts)
    assert whole[1].startswith("http://h/?Action=GetImageTranslateBatch&ImgTransKey=k&")
    limit = len(whole[1]) - 1  # one byte short: the last URL moves to a second GET
    first, second = wire.batch_urls("http://h/", urls, "CHS", "KOR", limit=limit, **opts)
    assert (first[0], second[0]) == (urls[:-1], urls[-1:])
    assert len(first[1]) <= limit and len(second[1]) <= limit

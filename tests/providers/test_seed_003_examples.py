"""Seed 003 (``003_1c9322046a423f33.txt``): not a price list — its first lines (收费标准,
API价格, 马上免费试用, 暗色/亮色) are the page's navigation, and the page itself is Rozetta's
"文件翻译・取得全部结果" (file translation · get every result). No price appears, so Tolk
derives nothing from pricing here; what it documents is one operation, replayed below: the
printed response through the wire parser, and the printed request (the curl line and the
Node sample) through Tolk's client to the Rozetta emulator, with the seed's own translation
put in the emulator so its answer can be compared with the print byte for byte.

GET /api/v1/translate-result/all — every translation of the access key (T-4OO, T-3MT)

- **Tolk sends** ``GET <ROZETTA_API_URL>/api/v1/translate-result/all`` (default
  ``https://translate.rozetta-api.io``, as in the curl line) with no query and no body, and
  the three headers of the sample: ``accessKey``, ``nonce`` (milliseconds like
  ``new Date().getTime()``, strictly increasing per key: calls are serialised) and
  ``signature`` = hex HMAC-SHA256(secret key, nonce + signed path — ``/api/v1/translate-
  result/all``, after any path of the base URL). One call per poll round covers every
  pending Rozetta task, unless the account's history makes one call per id cheaper
  (``wire.choose_poll``).
- **Tolk parses** ``status`` (``success``/``failure``) and ``data``, an array of
  translations: ``translateId``, ``done``, ``langs``, ``fieldId``, ``createdAt`` (a string
  is kept; the seed's ``{}`` is not a time: None) and ``items``, each with
  ``translateItemId`` (what downloads ask for; an item without one is dropped), ``lang``,
  ``wordCount`` (words on T-4OO, characters on T-3MT — shown in the file's comment),
  ``detectedLang``, ``done``, ``originalName``, ``downloaded``, ``error``, ``errorCode``,
  ``errorMessage``, ``id`` and ``t4ooAuthFailed``. An item is pending, done or failed
  (``error``, an ``errorCode``, or ``t4ooAuthFailed``: 40001); a translation is finished
  when every item is settled, whatever its own ``done`` says. Because "even one failed
  paragraph fails the request", a ``failure`` whose ``data`` still holds translations is
  read like a success, the failure being in the items.
- **Undocumented** (assumed): ``createdAt``'s real type (``{}`` in the example; the
  emulator sends an ISO string unless told to mimic the print); ``done`` on a failed item;
  the type and values of ``errorCode``; the shape of a failure without translations (the
  emulator: ``{"status": "failure", "data": {"code", "message"}}``); whether the answer is
  ever paged (the whole history comes back: Tolk measures its weight); where exactly
  ``t4ooAuthFailed`` sits (read on items); rate limits (only code 40103 says so).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

import pytest

from emulators.rozetta import RozettaEmulator, _Item, _Translation
from providers.rozetta import wire
from providers.rozetta.client import DEFAULT_API_URL, RozettaClient, RozettaKeys

ALL = "translate-result/all"
PATH = "/api/v1/translate-result/all"
CURL = (  # Request例文
    'curl -H "nonce: Your Nonce" -H "accessKey: Your Access Key" '
    '-H "signature: Your Signature" https://translate.rozetta-api.io/api/v1/translate-result/all'
)
RESPONSE = {  # Response例文
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
}
TRANSLATION = RESPONSE["data"][0]
ITEM = TRANSLATION["items"][0]


def parsed_example() -> wire.Translation:
    (translation,) = wire.parse_translate_result_all(200, RESPONSE)
    return translation


# -- the printed response ---------------------------------------------------------------------


def test_the_response_example_parses():
    translation = parsed_example()
    assert translation.translate_id == TRANSLATION["translateId"]
    assert (translation.done, translation.langs, translation.field_id) == (
        False,
        ("zh-CN", "ja"),
        "1",
    )
    assert translation.created_at is None  # {} is not a time
    (item,) = translation.items
    assert item == wire.TranslateItem(
        item_id=ITEM["translateItemId"],
        file_name="test.pdf",
        target_lang="ja",
        done=False,
        error=False,
        error_code=None,
        error_message=None,
        word_count=1000,
        detected_lang="zh-CN",
        downloaded=False,
        numeric_id=5507,
        t4oo_auth_failed=False,
    )
    assert item.state == "pending" and not translation.finished
    assert translation.pending_items == (item,)


def test_one_failed_paragraph_fails_the_request_but_the_items_are_still_read():
    """The seed's note on ``status``; the error's values are made up (the seed has none)."""
    failed_item = {**ITEM, "error": True, "errorCode": 40102, "errorMessage": "Translation failed"}
    body = {"status": "failure", "data": [{**TRANSLATION, "items": [failed_item]}]}
    (translation,) = wire.parse_translate_result_all(200, body)
    (item,) = translation.items
    assert item.state == "failed" and item.failure_code == "40102" and translation.finished
    assert item.failure().kind is wire.classify(40102)


def test_an_engine_account_failure_is_an_item_failure():
    body = {**RESPONSE, "data": [{**TRANSLATION, "items": [{**ITEM, "t4ooAuthFailed": True}]}]}
    (translation,) = wire.parse_translate_result_all(200, body)
    assert translation.items[0].failure_code == "40001"


def test_the_address_is_the_curl_lines():
    assert f"{DEFAULT_API_URL}{wire.TRANSLATE_RESULT_ALL_PATH}" == CURL.rsplit(" ", 1)[1]
    for header in ("nonce", "accessKey", "signature"):
        assert f'-H "{header}: ' in CURL


# -- the printed request, through the client to the emulator ----------------------------------


@pytest.fixture
async def em() -> AsyncIterator[RozettaEmulator]:
    async with RozettaEmulator(created_at_object=True) as emulator:
        item = _Item(  # the seed's translation, as printed
            id=ITEM["translateItemId"],
            numeric_id=ITEM["id"],
            name=ITEM["originalName"],
            lang=ITEM["lang"],
            content=b"",
            detected=ITEM["detectedLang"],
            word_count=ITEM["wordCount"],
            polls_left=1_000_000,  # still translating however often it is asked
        )
        emulator._items[item.id] = item
        key = next(iter(emulator.keys))
        emulator.translations[TRANSLATION["translateId"]] = _Translation(
            id=TRANSLATION["translateId"],
            access_key=key,
            langs=list(TRANSLATION["langs"]),
            field_id=str(TRANSLATION["fieldId"]),
            created_at=emulator.clock(),
            items=[item],
        )
        yield emulator


@pytest.fixture
def client(session, em) -> RozettaClient:
    key, secret = next(iter(em.keys.items()))
    return RozettaClient(session, RozettaKeys(key, secret), api_url=em.base_url)


async def test_the_request_example_arrives_signed_and_the_answer_is_the_print(client, em):
    status, body, _ = await client._json(ALL, "GET", wire.TRANSLATE_RESULT_ALL_PATH)
    assert status == 200 and body == RESPONSE  # the emulator answers the print, exactly
    assert await client.translate_result_all() == (parsed_example(),)

    first, second = em.requests_for(ALL)
    key, secret = next(iter(em.keys.items()))
    for received in (first, second):
        assert (received.method, received.path, received.query) == ("GET", PATH, {})
        assert set(received.headers) == {"accesskey", "nonce", "signature"}  # the curl line's
        assert received.headers["accesskey"] == key and received.code is None
        nonce = received.headers["nonce"]
        assert nonce.isdigit() and len(nonce) == 13  # milliseconds, like the Node sample
        expected = hmac.new(secret.encode(), (nonce + PATH).encode(), hashlib.sha256).hexdigest()
        assert received.headers["signature"] == expected
    assert int(second.nonce) > int(first.nonce)


async def test_an_item_error_fails_the_request_as_the_seed_says(session, em):
    em.item_errors_fail_request = True
    em.finish(ITEM["translateItemId"], error_code=40102)
    key, secret = next(iter(em.keys.items()))
    client = RozettaClient(session, RozettaKeys(key, secret), api_url=em.base_url)
    status, body, _ = await client._json(ALL, "GET", wire.TRANSLATE_RESULT_ALL_PATH)
    assert status == 200 and body["status"] == "failure"
    (translation,) = await client.translate_result_all()
    (item,) = translation.items
    assert item.state == "failed" and item.failure_code == "40102"

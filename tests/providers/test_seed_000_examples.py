"""Seed 000 (``000_c5d51365db5f94c7.txt``, alimt ``GetImageTranslateTask``), every example
replayed: the printed bodies through the wire parser, the printed request through Tolk's
client to the Alibaba emulator (over loopback, signatures checked by the emulator's own
code), and the error table in both of its spellings.

The seed documents one operation. (``CreateImageTranslateTask``, which makes the task,
is not in this seed; Tolk takes it from alibaba-mt.md §4.)

GetImageTranslateTask — fetch an asynchronous image translation (marked by Alibaba for
retirement; Tolk's default image provider is Xiangji)

- **Tolk sends** ``POST /`` with a form body ``TaskId=<id>`` (the only parameter the seed
  lists), signed ACS3-HMAC-SHA256 with ``x-acs-action: GetImageTranslateTask`` and
  ``x-acs-version: 2018-10-12``; one call per task per poll round, paced a little under
  the public limit of 3 a second (2.8).
- **Tolk parses** the HTTP 200 envelope: ``Code`` (200 is success; any other value is an
  error — a number 101–113/199 or its ``System.*`` name, one code either way: 101, 102,
  107, 111, 112 retryable; 103–106, 108 permanent; 110, 113 quota), ``Message``,
  ``RequestId``, and ``Data.ImageData`` — a JSON *string* holding an array of
  ``{errorCode, sourceUrl, success, topRequestId, url}``. The task is done when there is
  one element per submitted URL; an element is a translated image when ``success`` is
  true, ``errorCode`` is ``"200"`` and ``url`` is there (downloaded from an allowed host,
  ``*.alicdn.com`` by default), otherwise a failed image with its ``errorCode`` explained.
  ``topRequestId`` is kept in ``raw`` and not used.
- **Undocumented** (what Tolk assumes): the HTTP method (the SDK's POST form); what a task
  still running answers (``ImageData`` absent, empty or shorter: pending); whether errors
  come as a body ``Code`` on HTTP 200 or in the POP error shape on HTTP 4xx (both read);
  which spelling of a code is sent (both read, ``System.*`` shown as written); what an
  unknown ``TaskId`` answers (the emulator: 104); what a failed element carries besides
  ``errorCode`` (no ``url`` assumed); how long result URLs live; the rate limit (the seed
  gives none; the public docs say 3 a second). The response example's ``"[{xxxxxx}]"`` is
  a placeholder, not JSON: read as is, Tolk treats it as a garbled answer (retryable).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from emulators._server import LoopbackServer
from emulators.alibaba import IMAGE_MESSAGES, SYSTEM_NAMES, AlibabaMTEmulator
from emulators.alibaba import sample_image as png
from providers.alibaba import wire
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.signing import Credentials
from providers.errors import ErrorKind, ProviderError

GET_IMAGE = "GetImageTranslateTask"
T, P, Q = ErrorKind.RETRYABLE, ErrorKind.PERMANENT, ErrorKind.QUOTA

# -- the seed, as printed ------------------------------------------------------------------

REQUEST = {"TaskId": "xxxxxx"}  # 请求参数: 示例值
RESPONSE = {  # 正常返回示例
    "Code": 200,
    "Message": "ok",
    "RequestId": "xxxxxxx",
    "Data": {"ImageData": "[{xxxxxx}]"},
}
IMAGE_DATA = [  # ImageData: 图片翻译结构化数据
    {
        "errorCode": "200",
        "sourceUrl": "https://img.alicdn.com/imgextra/i3/2838892713/O1CN01AJHAFq1Vub9eKog8t_!!2838892713.jpg",
        "success": True,
        "topRequestId": "of8hp0d9ne81",
        "url": "https://ae01.alicdn.com/kf/H86dc34f146e1488aa55a0435ebd1775cu.jpeg",
    },
    {
        "errorCode": "200",
        "sourceUrl": "https://img.alicdn.com/imgextra/i2/2838892713/O1CN01Ko5Mxu1Vub9Y85K6p_!!2838892713.jpg",
        "success": True,
        "topRequestId": "of8hp0d9ne81",
        "url": "https://ae01.alicdn.com/kf/H1cc74cbdfc554b278dfaa8b2ede33f48D.jpeg",
    },
]
SOURCES = [e["sourceUrl"] for e in IMAGE_DATA]
ERRORS = [  # 错误码: (HTTP status code column, 错误码, 错误信息, Tolk's kind)
    (101, "System.RequestTimeOut", "The request has timed out.", T),
    (102, "System.Error", "A system error occurred.", T),
    (
        103,
        "System.UrlDecodingError",
        "An error occurred while decoding the URL. Verify that the specified URL is encoded.",
        P,
    ),
    (104, "System.ParameterError", "Some required parameters are missing.", P),
    (105, "System.LanguageNotSupported", "The specified language pair is not supported.", P),
    (106, "System.LanguageDetectError", "An error occurred while detecting the language.", P),
    (107, "System.TranslateError", "An error occurred while translating.", T),
    (108, "System.StringTooLong", "The maximum length of the specified string is exceeded.", P),
    (110, "System.AccountNotActivated", "The account has not activated the service.", Q),
    (111, "System.SubServiceFailed", "Sub-account service failed.", T),
    (112, "System.TranslateServiceCallFailed", "Failed to call the translation service.", T),
    (
        113,
        "System.AccountNotActivatedOrInArrears",
        "The service is not activated or the account has an outstanding balance.",
        Q,
    ),
]


# -- loopback stand-ins ------------------------------------------------------------------------


class ImageHost(LoopbackServer):
    """``img.alicdn.com`` on loopback: every path is a picture; paths served are kept."""

    def __init__(self) -> None:
        self.served: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._image)
        return app

    async def _image(self, request: web.Request) -> web.Response:
        self.served.append(request.path)
        return web.Response(body=png(request.path), content_type="image/jpeg")


@pytest.fixture
async def alicdn() -> AsyncIterator[ImageHost]:
    async with ImageHost() as host:
        yield host


@pytest.fixture
async def em(alicdn) -> AsyncIterator[AlibabaMTEmulator]:
    hosts = {"img.alicdn.com": alicdn.base_url}
    async with AlibabaMTEmulator(image_pending_polls=0, hosts=hosts) as emulator:
        yield emulator


@pytest.fixture
def client(session, em) -> AlibabaMTClient:
    key, secret = next(iter(em.keys.items()))
    return AlibabaMTClient(session, Credentials(key, secret), endpoint=em.endpoint)


# -- the printed response ---------------------------------------------------------------------


def test_the_response_example_as_printed_is_a_placeholder_tolk_does_not_take():
    with pytest.raises(ProviderError) as raised:
        wire.parse_image_task(200, RESPONSE, expected=2)
    assert (raised.value.code, raised.value.kind) == ("bad-response", ErrorKind.RETRYABLE)
    assert "ImageData is not valid JSON" in raised.value.message


def test_the_response_example_with_the_seeds_image_data_parses():
    body = {**RESPONSE, "Data": {"ImageData": json.dumps(IMAGE_DATA)}}
    task = wire.parse_image_task(200, body, expected=2)
    assert task.done and len(task.elements) == 2
    for element, printed in zip(task.elements, IMAGE_DATA, strict=True):
        assert element.source_url == printed["sourceUrl"]
        assert element.url == printed["url"]
        assert element.success is True and element.error_code == "200"
        assert element.raw["topRequestId"] == "of8hp0d9ne81"
    assert not wire.parse_image_task(200, body, expected=3).done  # one element short: pending


def test_an_empty_image_data_is_still_running():
    for pending in ("", "[]", None):
        body = {**RESPONSE, "Data": {"ImageData": pending}}
        task = wire.parse_image_task(200, body, expected=2)
        assert not task.done and task.elements == ()


# -- the printed request, through the client to the emulator ----------------------------------


async def test_the_request_example_arrives_as_printed(client, em):
    with pytest.raises(ProviderError) as raised:  # nobody made task "xxxxxx"
        await client.get_image_translate_task(REQUEST["TaskId"], 2)
    (received,) = em.requests_for(GET_IMAGE)
    assert received.params == REQUEST and received.method == "POST"
    assert received.signature == "v3" and received.headers["x-acs-version"] == "2018-10-12"
    assert received.body == b"TaskId=xxxxxx"
    assert (raised.value.code, raised.value.kind) == ("104", ErrorKind.PERMANENT)


async def test_a_task_of_the_seeds_images_answers_the_documented_shape(client, em, alicdn):
    task_id = await client.create_image_translate_task(SOURCES, "zh", "en")
    assert alicdn.served == []  # the images are fetched on the first poll
    status, body = await client._call(GET_IMAGE, {"TaskId": task_id})
    assert status == 200 and set(body) == set(RESPONSE)
    assert (body["Code"], body["Message"]) == (200, "ok") and isinstance(body["RequestId"], str)
    assert set(body["Data"]) == {"ImageData"} and isinstance(body["Data"]["ImageData"], str)
    elements = json.loads(body["Data"]["ImageData"])
    assert [set(e) for e in elements] == [set(e) for e in IMAGE_DATA]  # the seed's keys, no more
    assert [e["sourceUrl"] for e in elements] == SOURCES  # the seed's own URLs, as sent
    assert all(e["errorCode"] == "200" and e["success"] is True for e in elements)
    assert len({e["topRequestId"] for e in elements}) == 1  # one task, one top request
    assert sorted(alicdn.served) == sorted(urlsplit(s).path for s in SOURCES)  # fetched

    result = await client.get_image_translate_task(task_id, len(SOURCES))
    assert result.done and [e.source_url for e in result.elements] == SOURCES
    assert all(e.success and e.url and e.url.startswith(em.endpoint) for e in result.elements)
    assert [r.params for r in em.requests_for(GET_IMAGE)] == [{"TaskId": task_id}] * 2


# -- the error table ---------------------------------------------------------------------------


def test_the_tables_hold_the_seeds_codes_names_and_messages():
    assert {n: IMAGE_MESSAGES[n] for n, *_ in ERRORS} == {n: m for n, _, m, _ in ERRORS}
    assert {n: name for n, name, _, _ in ERRORS} == SYSTEM_NAMES  # the emulator's
    assert {name: str(n) for n, name, _, _ in ERRORS} == wire.SYSTEM_CODES  # the wire's
    assert all(wire.classify(n) is kind for n, _, _, kind in ERRORS)


@pytest.mark.parametrize("spelling", ["number", "system"])
@pytest.mark.parametrize(("number", "name", "message", "kind"), ERRORS, ids=[e[1] for e in ERRORS])
async def test_each_row_of_the_error_table_replayed(
    client, em, spelling, number, name, message, kind
):
    em.image_codes = spelling
    em.faults.code(GET_IMAGE, str(number))
    status, body = await client._call(GET_IMAGE, REQUEST)
    sent = name if spelling == "system" else number
    assert (status, body["Code"], body["Message"]) == (200, sent, message)
    em.faults.code(GET_IMAGE, str(number))
    with pytest.raises(ProviderError) as raised:
        await client.get_image_translate_task(REQUEST["TaskId"], 1)
    assert raised.value.code == str(sent) and raised.value.kind is kind
    assert raised.value.message.startswith(wire.MEANINGS[str(number)])

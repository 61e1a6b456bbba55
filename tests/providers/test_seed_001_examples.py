"""Seed 001 (``001_31c11a3937f5a663.txt``, alimt ``CreateDocTranslateTask``), every example
replayed: the printed request through Tolk's client to the Alibaba emulator exactly as the
seed writes it (``http://fileUrl`` and ``http://callbackUrl`` are served on loopback via
the emulator's ``hosts``), the printed response and the callback body through the wire
parser, and every row of the error table through the emulator and the client.

The seed documents one operation and the callback it triggers.

CreateDocTranslateTask — create a document translation task ("POST only")

- **Tolk sends** ``POST /`` with a form body ``SourceLanguage``, ``TargetLanguage``,
  ``FileUrl`` (the URL a person gave, or a signed Tolk link to a Slack file), ``Scene``
  (only with ``--scene``), ``CallbackUrl`` (only with ``TOLK_PUBLIC_URL``:
  ``<public>/callbacks/alibaba/<task>/<token>``) and ``ClientToken`` (``tolk-<task>-<n>``,
  the same on every retry, so a resubmission within the seed's 3 minutes is one task);
  signed ACS3-HMAC-SHA256. One document per call, paced under the public 5 a second (4.8).
- **Tolk parses** ``Status``, ``RequestId``, ``TaskId`` (``DocTask``; a missing
  ``TaskId`` is a garbled answer, retried). Refusals come in the POP error shape with a
  string ``Code`` (the table below): 10011, 10012, 19999, 10023 and throttling retried;
  10010, 10013, 10029 and ``InvalidAccountStatus`` are quota problems (an alert); the rest
  permanent. Each is shown with its English meaning, then Alibaba's own words.

Callback — Alibaba's ``POST <CallbackUrl>`` when the task ends

- **Tolk receives** raw JSON ``{task_id, status, errCode, errMsg, translateFileUrl}``
  (``errCode`` 200 is success, as in the seed's Java sample) and parses ``task_id``,
  ``status``, ``errCode`` (None for 200) and ``translateFileUrl``; it is only a hint: the
  task must carry Tolk's token in its URL, is held to the seed's six source addresses with
  ``ALIBABA_CALLBACK_IPS=alibaba`` (``TOLK_TRUSTED_PROXIES`` behind a proxy), and the status
  query that follows (``GetDocTranslateTask``) is the truth.

Undocumented (what Tolk and the emulator assume): what ``Status`` values follow
``ready`` (the public docs: ``translating``, ``translated``, ``error``); the real HTTP status
of the rows marked 109–113 and 199 (not HTTP statuses; the emulator sends 400); how the file
type is told from ``FileUrl`` (the emulator: the path's extension, else the
``Content-Disposition`` name); the callback's ``Content-Type``, the answer Alibaba expects,
and whether it retries; the JSON types of ``errCode`` (a number for 200 in the sample);
the sample's misspelt ``erMsg``; what a repeated ``ClientToken`` answers (the emulator: the
first ``TaskId``, nothing new created).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from emulators._server import LoopbackServer
from emulators.alibaba import MESSAGES, AlibabaMTEmulator
from providers.alibaba import wire
from providers.alibaba.client import AlibabaMTClient
from providers.alibaba.signing import Credentials
from providers.errors import ErrorKind, ProviderError

CREATE_DOC = "CreateDocTranslateTask"
T, P, Q = ErrorKind.RETRYABLE, ErrorKind.PERMANENT, ErrorKind.QUOTA

# -- the seed, as printed ------------------------------------------------------------------

REQUEST = {  # 请求参数: 示例值
    "SourceLanguage": "en",
    "TargetLanguage": "zh",
    "FileUrl": "http://fileUrl",
    "Scene": "general",
    "CallbackUrl": "http://callbackUrl",
    "ClientToken": "token",
}
RESPONSE = {  # 正常返回示例
    "Status": "ready",
    "RequestId": "D3920BC3-A395-4CAD-9E84-7C39EB07507B",
    "TaskId": "0586df512c8b4bb382d7d9a6a01b5854",
}
CALLBACK_FIELDS = {"task_id", "status", "errCode", "errMsg", "translateFileUrl"}  # 请求 body
CALLBACK_IPS = (  # IP 白名单
    "59.82.61.52",
    "203.119.241.30",
    "203.119.241.98",
    "59.82.84.90",
    "203.119.241.56",
    "59.82.61.75",
)
SCENES = ("general", "title", "description", "message", "medical", "social", "tech")
ERRORS = [  # 错误码: (HTTP status code column, 错误码, 错误信息, Tolk's kind)
    (109, "10009", "子账号没有权限", P),
    (110, "10010", "账号没有开通服务", Q),
    (111, "10011", "子账号服务失败", T),
    (112, "10012", "翻译服务调用失败", T),
    (113, "10013", "账号服务没有开通或者欠费", Q),
    (199, "19999", "An unknown error occurred.", T),
    (400, "10021", "The parameter is invalid.", P),
    (400, "10022", "The parameter fileUrl is invalid.", P),
    (400, "10023", "The parameter fileUrl is not accessible.", T),
    (400, "10024", "The parameter callbackUrl is invalid.", P),
    (400, "10030", "The file size exceeds the limit.", P),
    (400, "10031", "The specified file type is invalid.", P),
    (400, "InvalidAccountStatus", "The Machine Translation service has not been activated.", Q),
    (403, "10029", "The number of calls per day exceeds the limit.", Q),
]
DOCUMENT = b"Press the red button.\nWait for the green light.\n"


# -- loopback stand-ins ------------------------------------------------------------------------


class Stand(LoopbackServer):
    """``fileUrl`` and ``callbackUrl`` on loopback: ``/`` serves a document named
    ``guide.txt`` (the URL has no path to name it) and takes callbacks."""

    def __init__(self) -> None:
        self.fetched = 0
        self.callbacks: list[tuple[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._file)
        app.router.add_post("/", self._callback)
        return app

    async def _file(self, request: web.Request) -> web.Response:
        self.fetched += 1
        disposition = {"Content-Disposition": 'attachment; filename="guide.txt"'}
        return web.Response(body=DOCUMENT, content_type="text/plain", headers=disposition)

    async def _callback(self, request: web.Request) -> web.Response:
        self.callbacks.append((request.content_type, await request.json()))
        return web.Response(text="ok")


@pytest.fixture
async def stand() -> AsyncIterator[Stand]:
    async with Stand() as server:
        yield server


@pytest.fixture
async def em(stand) -> AsyncIterator[AlibabaMTEmulator]:
    hosts = {"fileUrl": stand.base_url, "callbackUrl": stand.base_url}
    async with AlibabaMTEmulator(doc_seconds=None, hosts=hosts) as emulator:
        yield emulator


@pytest.fixture
def client(session, em) -> AlibabaMTClient:
    key, secret = next(iter(em.keys.items()))
    return AlibabaMTClient(session, Credentials(key, secret), endpoint=em.endpoint)


def create(client: AlibabaMTClient, **changes: str):
    params = {**REQUEST, **changes}
    return client.create_doc_translate_task(
        params["SourceLanguage"],
        params["TargetLanguage"],
        params["FileUrl"],
        scene=params["Scene"],
        callback_url=params["CallbackUrl"],
        client_token=params["ClientToken"],
    )


# -- the printed response and callback -------------------------------------------------------


def test_the_response_example_parses():
    task = wire.parse_created_doc(200, RESPONSE)
    assert (task.task_id, task.status) == (RESPONSE["TaskId"], "ready")
    assert not task.done and not task.failed and task.raw["RequestId"] == RESPONSE["RequestId"]


def test_a_callback_with_the_seeds_fields_parses():
    url = "https://example.oss-cn-hangzhou.aliyuncs.com/guide-zh.txt?Expires=1&Signature=x"
    ok = {
        "task_id": RESPONSE["TaskId"],
        "status": "translated",
        "errCode": 200,  # the Java sample: 200 != errCode means failure
        "errMsg": "",
        "translateFileUrl": url,
    }
    assert set(ok) == CALLBACK_FIELDS
    notice = wire.parse_callback(ok)
    assert (notice.task_id, notice.status, notice.error_code, notice.file_url) == (
        RESPONSE["TaskId"],
        "translated",
        None,
        url,
    )
    failed = {**ok, "status": "error", "errCode": 10031, "errMsg": "x", "translateFileUrl": ""}
    notice = wire.parse_callback(failed)
    assert (notice.error_code, notice.file_url) == ("10031", None)
    assert wire.parse_callback({**ok, "errCode": "200"}).error_code is None  # either type
    assert wire.parse_callback({"status": "translated"}) is None  # no task_id: not a callback


def test_the_callback_addresses_and_scenes_are_the_seeds():
    assert wire.CALLBACK_SOURCE_IPS == CALLBACK_IPS
    assert wire.SCENES == SCENES
    assert wire.METHODS[CREATE_DOC] == "POST"  # 仅支持通过 POST 方式调用


# -- the printed request, through the client to the emulator ----------------------------------


async def test_the_request_example_arrives_exactly_and_answers_the_documented_shape(
    client, em, stand
):
    sent = wire.create_doc_params(
        "en",
        "zh",
        "http://fileUrl",
        scene="general",
        callback_url="http://callbackUrl",
        client_token="token",
    )
    assert sent == REQUEST  # what Tolk's wire makes of the seed's values
    status, body = await client._call(CREATE_DOC, sent)
    (received,) = em.requests_for(CREATE_DOC)
    assert received.params == REQUEST and received.method == "POST"
    headers = {name.lower(): value for name, value in received.headers.items()}
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert status == 200 and set(body) == set(RESPONSE) and body["Status"] == "ready"
    assert re.fullmatch(r"[0-9a-f]{32}", body["TaskId"])  # shaped like the seed's
    assert stand.fetched == 1  # Alibaba fetched http://fileUrl (here: on loopback)

    task = await create(client)  # the same ClientToken within 3 minutes: the same task
    assert (task.task_id, task.status) == (body["TaskId"], "ready")
    assert len(em.docs) == 1 and stand.fetched == 1
    assert [r.params for r in em.requests_for(CREATE_DOC)] == [REQUEST] * 2

    em.finish(task.task_id)  # the callback goes to http://callbackUrl
    await em.drain()
    ((content_type, called),) = stand.callbacks
    assert content_type == "application/json" and set(called) == CALLBACK_FIELDS
    assert (called["task_id"], called["status"], called["errCode"]) == (
        task.task_id,
        "translated",
        200,
    )
    notice = wire.parse_callback(called)
    assert notice.error_code is None and notice.file_url == called["translateFileUrl"]
    done = await client.get_doc_translate_task(task.task_id)  # the truth behind the hint
    assert done.done and done.file_url and done.page_count == 1


async def test_a_get_is_refused_as_the_seed_says(client, em):
    status, body = await client._rpc.call(CREATE_DOC, REQUEST, method="GET")
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")
    assert em.docs == {}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"SourceLanguage": "xx"}, "10021"),
        ({"FileUrl": "fileUrl"}, "10022"),
        ({"CallbackUrl": "ftp://callbackUrl"}, "10024"),
        ({"FileUrl": "http://fileUrl/missing.txt"}, "10023"),
    ],
)
async def test_the_emulator_refuses_bad_parameters_with_the_seeds_codes(
    client, em, stand, change, code
):
    # (only "/" is served on the stand-in fileUrl: /missing.txt answers 404)
    with pytest.raises(ProviderError) as raised:
        await create(client, **change)
    assert (raised.value.code, raised.value.kind) == (code, wire.classify(code))
    assert raised.value.message.startswith(wire.MEANINGS[code])


# -- the error table ---------------------------------------------------------------------------


def test_the_emulator_says_what_the_seed_says():
    assert {code: MESSAGES[code] for _, code, _, _ in ERRORS} == {c: m for _, c, m, _ in ERRORS}


@pytest.mark.parametrize(("listed", "code", "message", "kind"), ERRORS, ids=[e[1] for e in ERRORS])
async def test_each_row_of_the_error_table_replayed(client, em, listed, code, message, kind):
    status = listed if listed in (400, 403) else 400  # 109–113, 199 are not HTTP statuses
    em.faults.code(CREATE_DOC, code, status=status)
    answered, body = await client._call(
        CREATE_DOC, wire.create_doc_params("en", "zh", "http://fileUrl")
    )
    assert (answered, body["Code"], body["Message"]) == (status, code, message)
    em.faults.code(CREATE_DOC, code, status=status)
    with pytest.raises(ProviderError) as raised:
        await create(client)
    assert (raised.value.code, raised.value.kind) == (code, kind)
    assert raised.value.message.startswith(wire.MEANINGS[code])  # English first
    assert message.rstrip(".").lower() in raised.value.message.lower()  # then Alibaba's words

"""AlibabaMTEmulator over real HTTP on loopback: the official SDK, a test-local signer and
small aiohttp servers standing in for file hosts and callback receivers. No mocks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
import yarl
from aiohttp import web
from alibabacloud_alimt20181012 import models as mt
from alibabacloud_alimt20181012.client import Client as SdkClient
from alibabacloud_tea_openapi import models as openapi
from PIL import Image

from emulators.alibaba import AlibabaMTEmulator, translate_document

KEY, SECRET = "LTAI5tTolkEmulator", "emulator-secret"
CREATE_DOC, GET_DOC = "CreateDocTranslateTask", "GetDocTranslateTask"
CREATE_IMAGE, GET_IMAGE = "CreateImageTranslateTask", "GetImageTranslateTask"
METHOD = {CREATE_DOC: "POST", GET_DOC: "GET", CREATE_IMAGE: "POST", GET_IMAGE: "POST"}


# --------------------------------------------------------------------------- a test-local signer


def _enc(text: str) -> str:
    return quote(text, safe="-_.~")


def sign_v3(
    method: str,
    host: str,
    action: str,
    query: dict[str, str],
    body: bytes,
    *,
    key: str = KEY,
    secret: str = SECRET,
    at: float | None = None,
    nonce: str | None = None,
    version: str = "2018-10-12",
) -> dict[str, str]:
    """ACS3-HMAC-SHA256 written out from alibaba-mt.md §2.1, for this test file only."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))
    body_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": stamp,
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": body_hash,
    }
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            "/",
            "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(query.items())),
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            body_hash,
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={key},SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return headers


class Api:
    """Signed calls to the emulator through a shared aiohttp session."""

    def __init__(
        self, session: aiohttp.ClientSession, em: AlibabaMTEmulator, clock: Callable[[], float]
    ) -> None:
        self.session, self.em, self.clock = session, em, clock

    async def __call__(
        self,
        action: str,
        params: dict[str, str] | None = None,
        *,
        method: str | None = None,
        tamper: Callable[[dict[str, str], bytes], bytes] | None = None,
        **sign: Any,
    ) -> tuple[int, Any]:
        params = params or {}
        method = method or METHOD.get(action, "POST")
        query, body = (params, b"") if method == "GET" else ({}, urlencode(params).encode())
        host = self.em.endpoint.removeprefix("http://")
        headers = sign_v3(
            method, host, action, query, body, at=sign.pop("at", self.clock()), **sign
        )
        if tamper is not None:
            body = tamper(headers, body)
        url = yarl.URL(f"{self.em.endpoint}/?{urlencode(query, quote_via=quote)}", encoded=True)
        async with self.session.request(method, url, data=body, headers=headers) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def em() -> AsyncIterator[AlibabaMTEmulator]:
    async with AlibabaMTEmulator(doc_seconds=None) as emulator:
        yield emulator


@pytest.fixture
def api(session, em) -> Api:
    return Api(session, em, time.time)


@pytest.fixture
async def timed(clock) -> AsyncIterator[AlibabaMTEmulator]:
    """An emulator on the fake clock (dates signed from the same clock)."""
    async with AlibabaMTEmulator(clock=clock, doc_seconds=None) as emulator:
        yield emulator


@pytest.fixture
def timed_api(session, timed, clock) -> Api:
    return Api(session, timed, clock)


class Origin:
    """A file host and callback receiver on its own free port."""

    def __init__(self) -> None:
        self.callbacks: list[tuple[str, dict[str, Any]]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/download/{id}", self._attachment)
        app.router.add_get("/big.txt", self._big)
        app.router.add_post("/hook", self._hook)
        return app

    async def _attachment(self, request: web.Request) -> web.Response:
        return web.Response(
            body=b"Hello\nWorld\n",
            headers={"Content-Disposition": 'attachment; filename="notes.txt"'},
        )

    async def _big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 4096)

    async def _hook(self, request: web.Request) -> web.Response:
        self.callbacks.append((request.content_type, await request.json()))
        return web.Response(text="ok")


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    host = Origin()
    runner = web.AppRunner(host.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield host
    await runner.cleanup()


def doc_params(em: AlibabaMTEmulator, **extra: str) -> dict[str, str]:
    return {
        "SourceLanguage": "en",
        "TargetLanguage": "ja",
        "FileUrl": em.sample_doc_url(),
        **extra,
    }


def image_params(em: AlibabaMTEmulator, n: int = 2, **extra: str) -> dict[str, str]:
    urls = ",".join(em.sample_image_url(f"p{i}.png") for i in range(n))
    return {"UrlList": urls, "SourceLanguage": "zh", "TargetLanguage": "en", **extra}


def closed_port_url(path: str = "/a.txt") -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, bytes, Any]:
    async with session.get(yarl.URL(url, encoded=True)) as resp:
        return resp.status, await resp.read(), resp.headers


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert body["Code"] == code and isinstance(body["Code"], str)
    assert set(body) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["HostId"].startswith("127.0.0.1:")
    assert f"q={code}" in body["Recommend"]


# --------------------------------------------------------------------------- the official SDK


def sdk(em: AlibabaMTEmulator, secret: str = SECRET, algorithm: str | None = None) -> SdkClient:
    port = em.endpoint.rsplit(":", 1)[1]
    extra = {"signature_algorithm": algorithm} if algorithm else {}
    config = openapi.Config(
        access_key_id=KEY,
        access_key_secret=secret,
        endpoint=f"127.0.0.1:{port}",
        protocol="http",
        **extra,
    )
    return SdkClient(config)


@pytest.mark.parametrize("algorithm", [None, "v2"])
async def test_sdk_is_accepted_for_all_four_operations(em, session, algorithm):
    client = sdk(em, algorithm=algorithm)
    created = await client.create_doc_translate_task_async(
        mt.CreateDocTranslateTaskRequest(
            source_language="en",
            target_language="ja",
            file_url=em.sample_doc_url("guide.md"),
            scene="tech",
            client_token="tok-sdk",
        )
    )
    assert created.body.status == "ready" and len(created.body.task_id) == 32
    em.finish(created.body.task_id)
    polled = await client.get_doc_translate_task_async(
        mt.GetDocTranslateTaskRequest(task_id=created.body.task_id)
    )
    assert polled.body.status == "translated" and polled.body.page_count == 1
    status, content, _ = await fetch(session, polled.body.translate_file_url)
    assert status == 200 and b"# [ja] Tolk guide" in content

    image = await client.create_image_translate_task_async(
        mt.CreateImageTranslateTaskRequest(
            url_list=image_params(em)["UrlList"],
            source_language="zh",
            target_language="en",
            extra='{"have_ocr":"false","without_text":"true"}',
        )
    )
    assert image.body.code == 200 and image.body.data.task_id
    request = mt.GetImageTranslateTaskRequest(task_id=image.body.data.task_id)
    pending = await client.get_image_translate_task_async(request)
    assert pending.body.data.image_data == "[]"
    done = await client.get_image_translate_task_async(request)
    items = json.loads(done.body.data.image_data)
    assert [i["success"] for i in items] == [True, True]

    scheme = "v2" if algorithm else "v3"
    assert [(r.action, r.method, r.signature) for r in em.requests] == [
        (CREATE_DOC, "POST", scheme),
        (GET_DOC, "GET", scheme),
        (CREATE_IMAGE, "POST", scheme),
        (GET_IMAGE, "POST", scheme),
        (GET_IMAGE, "POST", scheme),
    ]
    assert em.requests[0].params == {
        "SourceLanguage": "en",
        "TargetLanguage": "ja",
        "FileUrl": em.sample_doc_url("guide.md"),
        "Scene": "tech",
        "ClientToken": "tok-sdk",
    }
    assert em.requests[1].params == {"TaskId": created.body.task_id}
    assert em.requests[1].body == b""
    assert em.docs[created.body.task_id].scene == "tech"


async def test_sdk_sync_transport_in_a_thread(em):
    client = sdk(em)
    request = mt.CreateDocTranslateTaskRequest(
        source_language="en", target_language="zh", file_url=em.sample_doc_url("a b.txt")
    )
    created = await asyncio.to_thread(client.create_doc_translate_task, request)
    polled = await asyncio.to_thread(
        client.get_doc_translate_task,
        mt.GetDocTranslateTaskRequest(task_id=created.body.task_id),
    )
    assert polled.body.status == "translating"
    assert em.docs[created.body.task_id].result_name == "a b.txt"


@pytest.mark.parametrize("algorithm", [None, "v2"])
async def test_sdk_with_a_wrong_secret_is_refused(em, algorithm):
    client = sdk(em, secret="not-the-secret", algorithm=algorithm)
    with pytest.raises(Exception) as caught:
        await client.get_doc_translate_task_async(mt.GetDocTranslateTaskRequest(task_id="x" * 32))
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400
    assert em.docs == {}


async def test_sdk_sees_the_error_shape(em):
    with pytest.raises(Exception) as caught:
        await sdk(em).get_doc_translate_task_async(mt.GetDocTranslateTaskRequest(task_id="nope"))
    assert (caught.value.code, caught.value.status_code) == ("10025", 404)
    assert "The specified task does not exist." in caught.value.message


# --------------------------------------------------------------------------- gateway refusals


async def test_unknown_key_is_404(api, em):
    status, body = await api(GET_DOC, {"TaskId": "x"}, key="LTAInobody")
    assert status == 404
    assert_error_shape(body, "InvalidAccessKeyId.NotFound")
    em.keys["LTAInobody"] = "s2"
    status, body = await api(GET_DOC, {"TaskId": "x"}, key="LTAInobody", secret="s2")
    assert (status, body["Code"]) == (404, "10025")  # now signed correctly: a business answer


async def test_tampered_body_is_refused(api, em):
    def tamper(headers: dict[str, str], body: bytes) -> bytes:
        return body.replace(b"ja", b"ko")

    status, body = await api(CREATE_DOC, doc_params(em), tamper=tamper)
    assert status == 400
    assert_error_shape(body, "SignatureDoesNotMatch")
    assert em.docs == {} and em.fetched == []


async def test_unknown_action_version_and_method(api, em):
    status, body = await api("TranslateGeneral", {"SourceText": "hi"})
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")
    status, body = await api(GET_DOC, {"TaskId": "x"}, version="2019-01-02")
    assert (status, body["Code"]) == (400, "InvalidVersion")
    status, body = await api(CREATE_DOC, doc_params(em), method="GET")
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")
    em.strict_methods = False
    status, body = await api(CREATE_DOC, doc_params(em), method="GET")
    assert status == 200 and body["Status"] == "ready"


async def test_replayed_nonce_and_skew(timed_api, timed, clock):
    status, _ = await timed_api(GET_DOC, {"TaskId": "x"}, nonce="n-1")
    assert status == 404
    status, body = await timed_api(GET_DOC, {"TaskId": "x"}, nonce="n-1")
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    status, body = await timed_api(GET_DOC, {"TaskId": "x"}, at=clock() - 901)
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")
    clock.advance(901)
    status, body = await timed_api(GET_DOC, {"TaskId": "x"}, nonce="n-1")
    assert (status, body["Code"]) == (404, "10025")  # the nonce window has passed
    timed.max_skew = None
    status, body = await timed_api(GET_DOC, {"TaskId": "x"}, at=clock() - 86400)
    assert (status, body["Code"]) == (404, "10025")


async def test_unsigned_request_is_refused(session, em):
    async with session.get(f"{em.endpoint}/?Action=GetDocTranslateTask&TaskId=x") as resp:
        body = await resp.json()
    assert (resp.status, body["Code"]) == (400, "IncompleteSignature")
    assert em.requests[0].action == GET_DOC and em.requests[0].signature == "v2"


# --------------------------------------------------------------------------- documents


async def test_doc_walk_with_the_timer(session):
    async with AlibabaMTEmulator(doc_seconds=0.4) as em:
        api = Api(session, em, time.time)
        status, body = await api(CREATE_DOC, doc_params(em, Scene="general"))
        assert status == 200 and body["Status"] == "ready"
        assert set(body) == {"Status", "RequestId", "TaskId"}
        task_id = body["TaskId"]
        doc = em.docs[task_id]
        assert (doc.status, doc.source_bytes) == ("ready", (await fetch_sample(session, em)))
        seen = []
        for _ in range(20):
            _, body = await api(GET_DOC, {"TaskId": task_id})
            seen.append(body["Status"])
            if body["Status"] == "translated":
                break
            await asyncio.sleep(0.25)
        assert seen[-1] == "translated" and "translating" in seen
        assert doc.finished_at is not None and doc.finished_at >= doc.created_at
        assert body["PageCount"] == 1 and "TranslateErrorCode" not in body
        status, content, headers = await fetch(session, body["TranslateFileUrl"])
        assert status == 200
        assert content.decode() == (
            "[ja] Tolk sample guide\n\n[ja] Press the red button to start.\n[ja] Hold it to stop.\n"
        )
        assert headers["Content-Disposition"].startswith('attachment; filename="guide.txt"')
        assert em.downloads == [f"/files/doc/{task_id}/guide.txt"]
        assert em.fetched == [(em.sample_doc_url(), 200)]


async def fetch_sample(session, em) -> bytes:
    return (await fetch(session, em.sample_doc_url()))[1]


async def test_doc_finish_and_fresh_links(api, em):
    _, body = await api(CREATE_DOC, doc_params(em))
    task_id = body["TaskId"]
    _, body = await api(GET_DOC, {"TaskId": task_id})
    assert body["Status"] == "translating" and "TranslateFileUrl" not in body
    em.finish(task_id)
    _, first = await api(GET_DOC, {"TaskId": task_id})
    em.clock = lambda: time.time() + 5
    _, second = await api(GET_DOC, {"TaskId": task_id})
    assert first["TranslateFileUrl"] != second["TranslateFileUrl"]  # a fresh URL per call
    em.finish(task_id, "error")  # already finished: unchanged
    assert em.docs[task_id].status == "translated"


async def test_doc_finish_with_an_error(api, em):
    _, body = await api(CREATE_DOC, doc_params(em))
    em.finish(body["TaskId"], "error", code="10012", message="翻译服务调用失败")
    _, got = await api(GET_DOC, {"TaskId": body["TaskId"]})
    assert got["Status"] == "error"
    assert (got["TranslateErrorCode"], got["TranslateErrorMessage"]) == (
        "10012",
        "翻译服务调用失败",
    )
    assert "TranslateFileUrl" not in got and "PageCount" not in got


async def test_doc_error_fault_is_followed_by_finish(api, em):
    em.faults.doc_error("10012", "翻译服务调用失败")
    _, planned = await api(CREATE_DOC, doc_params(em))
    _, other = await api(CREATE_DOC, doc_params(em))
    em.finish(planned["TaskId"])
    em.finish(other["TaskId"])
    failed, fine = em.docs[planned["TaskId"]], em.docs[other["TaskId"]]
    assert (failed.status, failed.error_code, failed.error_message) == (
        "error",
        "10012",
        "翻译服务调用失败",
    )
    assert fine.status == "translated" and fine.error_code is None
    with pytest.raises(ValueError):
        em.finish(other["TaskId"], "done")


async def test_callback_success_and_error(api, em, origin):
    hook = f"{origin.url}/hook"
    _, ok = await api(CREATE_DOC, doc_params(em, CallbackUrl=hook))
    em.faults.doc_error("19999", "An unknown error occurred.")
    _, bad = await api(CREATE_DOC, doc_params(em, CallbackUrl=hook))
    em.finish(ok["TaskId"])
    em.finish(bad["TaskId"], "error", code="19999", message="An unknown error occurred.")
    await em.drain()
    assert len(origin.callbacks) == 2
    (kind, first), (_, second) = origin.callbacks
    assert kind == "application/json"
    assert first["task_id"] == ok["TaskId"] and first["status"] == "translated"
    assert (first["errCode"], first["errMsg"]) == (200, "")
    status, content, _ = await fetch(api.session, first["translateFileUrl"])
    assert status == 200 and content.startswith(b"[ja] ")
    assert second == {
        "task_id": bad["TaskId"],
        "status": "error",
        "errCode": 19999,
        "errMsg": "An unknown error occurred.",
        "translateFileUrl": "",
    }
    assert [(c.url, c.status, c.error) for c in em.callbacks] == [(hook, 200, None)] * 2
    assert em.callbacks[0].body == first


async def test_callback_to_a_receiver_that_is_down(api, em):
    hook = closed_port_url("/hook")
    _, body = await api(CREATE_DOC, doc_params(em, CallbackUrl=hook))
    em.finish(body["TaskId"])
    await em.drain()
    (sent,) = em.callbacks
    assert sent.url == hook and sent.status is None and sent.error
    assert sent.body["status"] == "translated"


async def test_callback_from_the_timer_and_doc_error_fault(session, origin):
    async with AlibabaMTEmulator(doc_seconds=0.05) as em:
        api = Api(session, em, time.time)
        em.faults.doc_error()
        _, body = await api(CREATE_DOC, doc_params(em, CallbackUrl=f"{origin.url}/hook"))
        for _ in range(100):
            if em.callbacks:
                break
            await asyncio.sleep(0.02)
        (sent,) = em.callbacks
        assert sent.body["status"] == "error" and sent.body["errCode"] == "Error"
        _, got = await api(GET_DOC, {"TaskId": body["TaskId"]})
        assert (got["Status"], got["TranslateErrorCode"]) == ("error", "Error")
        assert got["TranslateErrorMessage"] == "Fail to get the page number of document."


async def test_client_token_window(timed_api, timed, clock):
    params = doc_params(timed, ClientToken="tok-1")
    _, first = await timed_api(CREATE_DOC, params)
    clock.advance(179)
    _, again = await timed_api(CREATE_DOC, {**params, "TargetLanguage": "ko"})
    assert again["TaskId"] == first["TaskId"] and again["Status"] == "ready"
    assert again["RequestId"] != first["RequestId"]
    assert len(timed.docs) == 1 and len(timed.fetched) == 1
    clock.advance(2)
    _, later = await timed_api(CREATE_DOC, params)
    assert later["TaskId"] != first["TaskId"]
    assert len(timed.docs) == 2 and len(timed.fetched) == 2
    assert timed.docs[first["TaskId"]].client_token == "tok-1"


async def test_client_token_is_released_when_creation_fails(api, em):
    params = doc_params(em, ClientToken="tok-2", FileUrl=closed_port_url())
    status, body = await api(CREATE_DOC, params)
    assert (status, body["Code"]) == (400, "10023")
    status, body = await api(CREATE_DOC, {**params, "FileUrl": em.sample_doc_url()})
    assert status == 200 and body["TaskId"] in em.docs


async def test_file_url_not_accessible(api, em):
    unreachable = closed_port_url()
    status, body = await api(CREATE_DOC, doc_params(em, FileUrl=unreachable))
    assert status == 400
    assert_error_shape(body, "10023")
    assert body["Message"] == "The parameter fileUrl is not accessible."
    missing = f"{em.endpoint}/files/doc/none/a.txt"  # 403 without a signature
    status, body = await api(CREATE_DOC, doc_params(em, FileUrl=missing))
    assert (status, body["Code"]) == (400, "10023")
    assert em.fetched == [(unreachable, None), (missing, 403)]
    assert em.docs == {}


async def test_file_type(api, em, origin):
    status, body = await api(CREATE_DOC, doc_params(em, FileUrl=em.sample_doc_url("tool.exe")))
    assert (status, body["Code"], body["Message"]) == (
        400,
        "10031",
        "The specified file type is invalid.",
    )
    status, body = await api(CREATE_DOC, doc_params(em, FileUrl=f"{origin.url}/download/7"))
    assert status == 200  # no extension in the path: Content-Disposition names it
    doc = em.docs[body["TaskId"]]
    assert doc.result_name == "notes.txt" and doc.source_bytes == b"Hello\nWorld\n"


async def test_file_size_limit(session, origin):
    async with AlibabaMTEmulator(doc_seconds=None, max_doc_bytes=1024) as em:
        api = Api(session, em, time.time)
        status, body = await api(CREATE_DOC, doc_params(em, FileUrl=f"{origin.url}/big.txt"))
        assert (status, body["Code"]) == (400, "10030")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"FileUrl": "http://example .com/a.txt"}, "10022"),
        ({"FileUrl": "ftp://example.com/a.txt"}, "10022"),
        ({"FileUrl": "not a url"}, "10022"),
        ({"CallbackUrl": "callback"}, "10024"),
        ({"CallbackUrl": "http://cb .example.com/x"}, "10024"),
        ({"SourceLanguage": "xx"}, "10021"),
        ({"TargetLanguage": "en"}, "10021"),  # same as the source
        ({"TargetLanguage": "auto"}, "10021"),
        ({"TargetLanguage": "zh-tw"}, "10021"),  # zh-tw pairs only with zh
        ({"Scene": "legal"}, "10021"),
        ({"FileUrl": ""}, "MissingFileUrl"),
        ({"SourceLanguage": ""}, "MissingSourceLanguage"),
    ],
)
async def test_create_doc_parameter_checks(api, em, change, code):
    status, body = await api(CREATE_DOC, {**doc_params(em), **change})
    assert (status, body["Code"]) == (400, code)
    assert em.docs == {} and em.fetched == []


async def test_domain_rule(session):
    async with AlibabaMTEmulator(doc_seconds=None, require_domain=True) as em:
        api = Api(session, em, time.time)
        status, body = await api(CREATE_DOC, doc_params(em))
        assert (status, body["Code"]) == (400, "10022")
        cb = {"FileUrl": "http://localhost:1/a.txt", "CallbackUrl": "http://10.0.0.1/cb"}
        status, body = await api(CREATE_DOC, doc_params(em, **cb))
        assert (status, body["Code"]) == (400, "10024")


async def test_unknown_doc_task_is_404(api):
    status, body = await api(GET_DOC, {"TaskId": "0586df512c8b4bb382d7d9a6a01b5854"})
    assert status == 404
    assert_error_shape(body, "10025")
    assert body["Message"] == "The specified task does not exist."
    status, body = await api(GET_DOC, {})
    assert (status, body["Code"]) == (400, "MissingTaskId")


async def test_expired_or_forged_file_url_is_403(timed_api, timed, clock, session):
    _, body = await timed_api(CREATE_DOC, doc_params(timed))
    timed.finish(body["TaskId"])
    _, got = await timed_api(GET_DOC, {"TaskId": body["TaskId"]})
    url = got["TranslateFileUrl"]
    forged = url.replace("Signature=", "Signature=0")
    assert (await fetch(session, forged))[0] == 403
    clock.advance(3599)
    assert (await fetch(session, url))[0] == 200
    clock.advance(2)
    status, content, _ = await fetch(session, url)
    assert status == 403 and b"AccessDenied" in content
    _, again = await timed_api(GET_DOC, {"TaskId": body["TaskId"]})
    assert (await fetch(session, again["TranslateFileUrl"]))[0] == 200  # re-obtained


async def test_pdf_comes_back_as_docx_and_binaries_as_copies(api, em, session):
    names = {}
    for name in ("manual.pdf", "sheet.xlsx"):
        _, body = await api(CREATE_DOC, doc_params(em, FileUrl=em.sample_doc_url(name)))
        em.finish(body["TaskId"])
        _, got = await api(GET_DOC, {"TaskId": body["TaskId"]})
        names[name] = got["TranslateFileUrl"].split("?")[0].rsplit("/", 1)[1]
        status, content, _ = await fetch(session, got["TranslateFileUrl"])
        assert status == 200
        names[name + ":content"] = content
    assert names["manual.pdf"] == "manual.docx"
    with zipfile.ZipFile(io.BytesIO(names["manual.pdf:content"])) as archive:
        assert "[ja]" in archive.read("word/document.xml").decode()
    assert names["sheet.xlsx"] == "sheet.xlsx"
    assert names["sheet.xlsx:content"] == (await fetch(session, em.sample_doc_url("sheet.xlsx")))[1]


def test_translated_text_keeps_its_format():
    srt = b"1\n00:00:01,000 --> 00:00:03,000\nPress it.\n"
    assert translate_document(srt, "srt", "ja") == (
        b"1\n00:00:01,000 --> 00:00:03,000\n[ja] Press it.\n"
    )
    data = json.loads(translate_document(b'{"a": "Hi", "b": [1, "Yo"]}', "json", "ko"))
    assert data == {"a": "[ko] Hi", "b": [1, "[ko] Yo"]}
    html = translate_document(b"<p>Hello</p><br/>", "html", "fr")
    assert html == b"<p>[fr] Hello</p><br/>"
    assert translate_document(b"a,b\n,c\n", "csv", "de") == b"[de] a,[de] b\n,[de] c\n"
    assert translate_document(b"- item\n", "md", "zh") == b"- [zh] item\n"


# --------------------------------------------------------------------------- images


async def test_image_pending_then_done(api, em, session):
    params = image_params(em, n=3)
    params["UrlList"] += "," + closed_port_url("/x.png")
    status, created = await api(CREATE_IMAGE, params)
    assert status == 200 and created["Code"] == 200 and created["Message"] == "ok"
    task_id = created["Data"]["TaskId"]
    _, pending = await api(GET_IMAGE, {"TaskId": task_id})
    assert pending["Code"] == 200 and pending["Data"]["ImageData"] == "[]"
    _, done = await api(GET_IMAGE, {"TaskId": task_id})
    image_data = done["Data"]["ImageData"]
    assert isinstance(image_data, str)
    items = json.loads(image_data)
    assert [i["sourceUrl"] for i in items] == params["UrlList"].split(",")
    assert [(i["success"], i["errorCode"]) for i in items] == [(True, "200")] * 3 + [(False, "103")]
    assert len({i["topRequestId"] for i in items}) == 1 and "url" not in items[3]
    status, png, headers = await fetch(session, items[0]["url"])
    assert status == 200 and headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG" and picture.size == (480, 320)
    task = em.images[task_id]
    assert (task.polls, task.source_language, task.target_language) == (2, "zh", "en")
    assert len([u for u, _ in em.fetched if u in task.urls]) == 4
    _, again = await api(GET_IMAGE, {"TaskId": task_id})
    assert again["Data"]["ImageData"] == image_data  # finished once, fetched once
    assert len(em.fetched) == 4


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"UrlList": ",".join(f"http://img.example.com/{i}.png" for i in range(21))}, 104),
        ({"UrlList": "http://a.example.com/1.png,,http://a.example.com/2.png"}, 104),
        ({"UrlList": "img.example.com/1.png"}, 103),
        ({"SourceLanguage": "ja"}, 105),
        ({"TargetLanguage": "zh"}, 105),
        ({"TargetLanguage": "xx"}, 105),
        ({"Extra": "not json"}, 104),
        ({"Extra": '["have_ocr"]'}, 104),
        ({"Extra": '{"have_ocr": true}'}, 104),
        ({"SourceLanguage": ""}, 104),
    ],
)
async def test_create_image_refusals_are_body_codes(api, em, change, code):
    status, body = await api(CREATE_IMAGE, {**image_params(em), **change})
    assert status == 200
    assert body["Code"] == code and isinstance(body["Code"], int)
    assert body["Message"] and body["RequestId"] and "Data" not in body
    assert em.images == {}


async def test_twenty_images_and_odd_extra_keys_are_fine(api, em):
    extra = '{"have_psd":"true","product_id":"123","platform":"ae"}'
    status, body = await api(CREATE_IMAGE, image_params(em, n=20, Extra=extra))
    assert (status, body["Code"]) == (200, 200)
    assert em.images[body["Data"]["TaskId"]].extra == {"have_psd": "true"}


async def test_unknown_image_task_is_body_code_104(api):
    status, body = await api(GET_IMAGE, {"TaskId": "A41F6E25-8520-4AF0-90EF-111111"})
    assert (status, body["Code"]) == (200, 104)
    assert body["Message"] == "Some required parameters are missing."


async def test_image_client_token(api, em):
    _, first = await api(CREATE_IMAGE, image_params(em, ClientToken="img-1"))
    _, again = await api(CREATE_IMAGE, image_params(em, ClientToken="img-1"))
    assert again["Data"]["TaskId"] == first["Data"]["TaskId"] and len(em.images) == 1


# --------------------------------------------------------------------------- throttling


async def test_throttling_beyond_qps(timed_api, timed, clock):
    _, created = await timed_api(CREATE_DOC, doc_params(timed))
    for _ in range(5):
        status, _ = await timed_api(GET_DOC, {"TaskId": created["TaskId"]})
        assert status == 200
    status, body = await timed_api(GET_DOC, {"TaskId": created["TaskId"]})
    assert status == 400
    assert_error_shape(body, "Throttling.User")
    assert body["Message"] == "Request was denied due to user flow control."
    for _ in range(3):
        assert (await timed_api(GET_IMAGE, {"TaskId": "x"}))[1]["Code"] == 104
    status, body = await timed_api(GET_IMAGE, {"TaskId": "x"})
    assert (status, body["Code"]) == (400, "Throttling.User")
    clock.advance(1)
    assert (await timed_api(GET_DOC, {"TaskId": created["TaskId"]}))[0] == 200
    timed.qps[GET_DOC] = 1
    assert (await timed_api(GET_DOC, {"TaskId": created["TaskId"]}))[0] == 400


# --------------------------------------------------------------------------- faults


async def test_fault_code(api, em):
    em.faults.code(CREATE_DOC, "10013", times=2)
    em.faults.code(GET_DOC, "10029", status=403)
    for _ in range(2):
        status, body = await api(CREATE_DOC, doc_params(em))
        assert status == 400
        assert_error_shape(body, "10013")
        assert body["Message"] == "账号服务没有开通或者欠费"
    assert (await api(CREATE_DOC, doc_params(em)))[0] == 200
    status, body = await api(GET_DOC, {"TaskId": "x"})
    assert (status, body["Code"]) == (403, "10029")
    em.faults.code(CREATE_IMAGE, "113")
    status, body = await api(CREATE_IMAGE, image_params(em))
    assert (status, body["Code"]) == (200, 113)
    em.faults.code("*", "InvalidAccountStatus", message="not active")
    status, body = await api(GET_IMAGE, {"TaskId": "x"})
    assert (status, body["Code"], body["Message"]) == (400, "InvalidAccountStatus", "not active")


async def test_fault_code_still_needs_a_signature(api, em):
    em.faults.code(GET_DOC, "10013")
    status, body = await api(GET_DOC, {"TaskId": "x"}, secret="wrong")
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert (await api(GET_DOC, {"TaskId": "x"}))[1]["Code"] == "10013"


async def test_fault_http_malformed_throttle_and_clear(api, em):
    em.faults.http(GET_DOC, 503, retry_after=7)
    em.faults.http("*", 429)
    status, body = await api(GET_DOC, {"TaskId": "x"})
    assert status == 503 and isinstance(body, str) and "503" in body
    status, body = await api(CREATE_IMAGE, image_params(em))
    assert status == 429 and isinstance(body, str)
    em.faults.malformed(GET_IMAGE)
    status, body = await api(GET_IMAGE, {"TaskId": "x"})
    assert status == 200 and isinstance(body, str)
    em.faults.throttle(CREATE_DOC, times=1)
    status, body = await api(CREATE_DOC, doc_params(em))
    assert (status, body["Code"]) == (400, "Throttling.User")
    em.faults.code("*", "19999", times=5)
    em.faults.clear()
    assert (await api(CREATE_DOC, doc_params(em)))[0] == 200


async def test_fault_http_retry_after_header(session, em):
    em.faults.http(GET_DOC, 503, retry_after=7)
    host = em.endpoint.removeprefix("http://")
    headers = sign_v3("GET", host, GET_DOC, {"TaskId": "x"}, b"")
    async with session.get(f"{em.endpoint}/?TaskId=x", headers=headers) as resp:
        assert resp.status == 503 and resp.headers["Retry-After"] == "7"
        assert not resp.content_type.endswith("json")


async def test_fault_delay(api, em):
    em.faults.delay(GET_DOC, 0.3)
    started = time.monotonic()
    await api(GET_DOC, {"TaskId": "x"})
    assert time.monotonic() - started >= 0.3
    em.faults.delay(GET_DOC, 0)
    started = time.monotonic()
    await api(GET_DOC, {"TaskId": "x"})
    assert time.monotonic() - started < 0.3


async def test_fault_image_item(api, em):
    em.image_pending_polls = 0
    em.faults.image_item(1, "105")
    _, created = await api(CREATE_IMAGE, image_params(em, n=3))
    _, done = await api(GET_IMAGE, {"TaskId": created["Data"]["TaskId"]})
    items = json.loads(done["Data"]["ImageData"])
    assert [(i["success"], i["errorCode"]) for i in items] == [
        (True, "200"),
        (False, "105"),
        (True, "200"),
    ]
    _, other = await api(CREATE_IMAGE, image_params(em, n=2))
    _, done = await api(GET_IMAGE, {"TaskId": other["Data"]["TaskId"]})
    assert all(i["success"] for i in json.loads(done["Data"]["ImageData"]))  # used up


async def test_received_records_everything(api, em):
    await api(GET_DOC, {"TaskId": "x"}, secret="wrong")
    await api(CREATE_DOC, doc_params(em))
    assert [r.action for r in em.requests] == [GET_DOC, CREATE_DOC]
    (create,) = em.requests_for(CREATE_DOC)
    assert create.method == "POST" and create.signature == "v3"
    assert create.params == doc_params(em)
    assert create.body == urlencode(doc_params(em)).encode()
    assert create.headers["x-acs-action"] == CREATE_DOC

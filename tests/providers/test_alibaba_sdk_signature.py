"""Tolk's ACS3 signature equals the official SDK's for the same inputs.

The SDK (``alibabacloud-alimt20181012``, a test-only dependency) sends each operation to
a loopback server that records the request; Tolk's ``sign_v3`` then signs the same
method, query, body, date, nonce and header set, and must produce the same
``Authorization``; the parameters it sends are the ones Tolk would send.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from alibabacloud_alimt20181012 import models
from alibabacloud_alimt20181012.client import Client
from alibabacloud_tea_openapi.models import Config

from providers.alibaba.signing import FORM, Credentials, encode_params, sign_v3

KEY_ID, SECRET = "LTAI5tSdkCheck", "sdk-check-secret"


@pytest.fixture
async def recorder() -> Any:
    seen: list[dict[str, Any]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "query": dict(request.query),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": await request.read(),
            }
        )
        return web.json_response({"RequestId": "r", "TaskId": "t", "Status": "ready"})

    app = web.Application()
    app.router.add_route("*", "/", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1], seen
    await runner.cleanup()


CALLS = [
    (
        "create_doc_translate_task",
        models.CreateDocTranslateTaskRequest(
            source_language="en",
            target_language="ja",
            file_url="https://files.example.com/a b/guide.docx?x=1&y=2",
            scene="general",
            callback_url="https://tolk.example.com/callbacks/alibaba/T1/tok~en",
            client_token="tolk-T1-0",
        ),
    ),
    ("get_doc_translate_task", models.GetDocTranslateTaskRequest(task_id="0586df512c8b")),
    (
        "create_image_translate_task",
        models.CreateImageTranslateTaskRequest(
            url_list="https://img.example.com/1.jpg,https://img.example.com/2.jpg",
            source_language="zh",
            target_language="en",
            extra='{"have_ocr":"false"}',
            client_token="tolk-T2",
        ),
    ),
    ("get_image_translate_task", models.GetImageTranslateTaskRequest(task_id="abc")),
]


@pytest.mark.parametrize(("method", "request_model"), CALLS, ids=[c[0] for c in CALLS])
async def test_signature_equals_the_sdks(recorder: Any, method: str, request_model: Any) -> None:
    port, seen = recorder
    sdk = Client(
        Config(
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            endpoint=f"127.0.0.1:{port}",
            protocol="http",
        )
    )
    await asyncio.to_thread(getattr(sdk, method), request_model)
    sent = seen[-1]
    headers = sent["headers"]
    authorization = headers["authorization"]
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    ours_by_default = {
        "host",
        "content-type",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    }
    extra = {n: headers[n] for n in signed_names if n not in ours_by_default}
    params = {k: v for k, v in request_model.to_map().items() if v is not None}
    if sent["method"] == "POST":  # the same parameters (the SDK writes a space as "+")
        assert parse_qsl(sent["body"].decode()) == parse_qsl(encode_params(params))
    else:
        assert sent["query"] == params and sent["body"] == b""

    ours = sign_v3(
        Credentials(KEY_ID, SECRET),
        method=sent["method"],
        host=headers["host"],
        action=headers["x-acs-action"],
        version=headers["x-acs-version"],
        query=sent["query"],
        body=sent["body"],
        content_type=FORM if sent["body"] else None,
        date=headers["x-acs-date"],
        nonce=headers["x-acs-signature-nonce"],
        extra_headers=extra,
    )
    assert ours["Authorization"] == authorization

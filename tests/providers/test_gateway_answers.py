"""Answers that are not the provider's: a 4xx page from a gateway or a wrong base URL is
permanent (asking again gets the same page), and Alibaba's two spellings of its codes are
one code (seed 000: 101 is ``System.RequestTimeOut`` …)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from providers._http import request_json
from providers.alibaba.wire import SYSTEM_CODES, classify, error_from
from providers.errors import ErrorKind, ProviderError


@pytest.fixture
async def gateway() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        if request.query.get("empty"):
            return web.Response(status=status)
        return web.Response(status=status, text="<html>Forbidden</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{status}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/403", ErrorKind.PERMANENT),
        ("/404?empty=1", ErrorKind.PERMANENT),
        ("/401", ErrorKind.PERMANENT),
        ("/408", ErrorKind.RETRYABLE),
        ("/429", ErrorKind.RETRYABLE),
        ("/502", ErrorKind.RETRYABLE),
        ("/200", ErrorKind.RETRYABLE),  # a 200 that is not JSON: a hiccup, asked again
    ],
)
async def test_an_answer_without_the_apis_body_is_classified_by_its_status(gateway, path, kind):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderError) as raised:
            await request_json(session, "GET", gateway + path, provider="x", operation="op")
    assert raised.value.kind is kind
    if kind is ErrorKind.PERMANENT:
        status = path[1:4]
        assert raised.value.code == f"http-{status}" and f"HTTP {status}" in raised.value.message


@pytest.mark.parametrize(("name", "number"), sorted(SYSTEM_CODES.items()))
def test_both_spellings_of_an_alibaba_code_are_one_code(name: str, number: str) -> None:
    assert classify(name) is classify(number)
    spelled = error_from(400, {"Code": name, "Message": "m"}, "op")
    numbered = error_from(400, {"Code": number, "Message": "m"}, "op")
    assert spelled.kind is numbered.kind and spelled.message == numbered.message
    assert spelled.code == name  # shown as Alibaba wrote it


@pytest.mark.parametrize("code", ["110", "10010", "InvalidAccountStatus", "113", "10013"])
def test_not_activated_and_arrears_are_quota_problems_alike(code: str) -> None:
    assert classify(code) is ErrorKind.QUOTA
    assert classify("System.AccountNotActivated") is ErrorKind.QUOTA


async def test_a_wrong_base_url_fails_the_task_at_once_saying_so(slack, xiangji, tmp_path):
    """A typo'd XIANGJI_API_URL that lands on someone's 403 page: one call, one answer."""
    from bot.config import load_settings
    from bot.runtime import serving
    from tests.conftest import Tolk, tolk_env
    from tests.test_commands_e2e import task_id_in

    calls = 0

    async def forbidden(_: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(status=403, text="<html>Forbidden</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forbidden)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    env = {**tolk_env(slack, xiangji, tmp_path), "XIANGJI_API_URL": f"http://{host}:{port}"}
    try:
        async with (
            serving(load_settings(env), host="127.0.0.1") as (services, bound),
            aiohttp.ClientSession() as session,
        ):
            tolk = Tolk(services, bound, session)
            _, body = await tolk.command("/translate", "zh>en 你好")
            await tolk.settle()
            task = await services.store.get(task_id_in(body))
            assert task is not None and str(task.state) == "failed" and task.settled
            (failure,) = slack.ephemerals("C0GENERAL")
            assert "http-403" in failure["text"] and "wrong base URL" in failure["text"]
            assert calls == 1
    finally:
        await runner.cleanup()

"""A source Tolk fetches itself that cannot be had is a permanent failure, reported within
seconds with the host or status — not retried until the task's deadline (an hour)."""

# ruff: noqa: F811 - the Rozetta fixtures are imported and then asked for by name

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from bot.core.tasks import State
from tests.conftest import Tolk
from tests.test_alibaba_e2e import running
from tests.test_commands_e2e import task_id_in
from tests.test_rozetta_e2e import rozetta, rozetta_env, samples  # noqa: F401


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    """A web server with the ways a URL goes wrong: a 404, an HTML page where a document
    should be, a redirect off the allowed hosts, a 503."""

    async def missing(_: web.Request) -> web.Response:
        return web.Response(status=404, text="not here")

    async def sign_in(_: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><html>Sign in</html>", content_type="text/html")

    async def elsewhere(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://127.0.0.2:9/guide.docx")

    async def busy(_: web.Request) -> web.Response:
        return web.Response(status=503, text="try later")

    app = web.Application()
    app.router.add_get("/missing.docx", missing)
    app.router.add_get("/login.docx", sign_in)
    app.router.add_get("/moved.docx", elsewhere)
    app.router.add_get("/busy.docx", busy)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture
async def rz(slack, xiangji, rozetta, samples, tmp_path, origin) -> AsyncIterator[Tolk]:
    env = rozetta_env(slack, xiangji, rozetta, samples, tmp_path)
    env["TOLK_ALLOWED_FILE_HOSTS"] += "," + urlsplit(origin).netloc
    async for tolk in running(env):
        yield tolk


async def failure_of(rz: Tolk, slack, url: str) -> tuple[str, float, State]:
    started = time.monotonic()
    _, body = await rz.command("/translate-doc", f"en>ja {url} --provider rozetta")
    await rz.settle(within=15)
    task = await rz.services.store.get(task_id_in(body))
    assert task is not None and task.settled
    final = slack.thread("C0GENERAL", task.place.thread_ts)[-1]["text"]
    return final, time.monotonic() - started, task.state


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/missing.docx", "HTTP 404 (not found)"),
        ("/login.docx", "web page, not the document"),
        ("/moved.docx", "127.0.0.2"),
    ],
)
async def test_a_source_that_cannot_be_had_fails_at_once_saying_why(
    rz, slack, rozetta, origin, path, said
):
    final, took, state = await failure_of(rz, slack, origin + path)
    assert said in final and state is State.FAILED
    assert took < 10
    assert rozetta.requests_for("file-translate") == []  # nothing was sent to the provider


async def test_a_host_that_does_not_exist_fails_at_once_naming_it(rz, slack, rozetta):
    final, took, state = await failure_of(rz, slack, "https://no-such-host.invalid/guide.docx")
    assert "no such host as no-such-host.invalid" in final and state is State.FAILED
    assert took < 10


async def test_a_busy_server_is_tried_again(rz, slack, rozetta, origin):
    _, body = await rz.command("/translate-doc", f"en>ja {origin}/busy.docx --provider rozetta")
    await rz.services.poller.drain()
    task = await rz.services.store.get(task_id_in(body))
    assert task is not None and not task.final and task.attempts >= 1

"""The CDP driver in tests/browser.py, against real headless Chromium and two loopback
servers (two ports, so two origins). One Chromium serves the whole module; each test
gets a fresh tab."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from tests import browser
from tests.browser import BrowserError, Chromium, Page, chromium_path, require_chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARENT = """<!doctype html><title>parent</title>
<script>
  window.received = [];
  window.addEventListener("message", (event) => {
    window.received.push({origin: event.origin, data: event.data});
  });
</script>
<iframe src="{child}" width="300" height="200"></iframe>"""


class Site:
    """An aiohttp server on 127.0.0.1 serving ``pages`` (path → HTML); unknown paths 404."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.runner = web.AppRunner(web.Application())
        self.runner.app.router.add_get("/{path:.*}", self.serve)

    async def serve(self, request: web.Request) -> web.Response:
        if (html := self.pages.get(request.path)) is None:
            raise web.HTTPNotFound()
        return web.Response(text=html, content_type="text/html")

    async def start(self) -> str:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.origin = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self.origin


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sites() -> AsyncIterator[tuple[Site, Site]]:
    a, b = Site(), Site()
    await a.start()
    await b.start()
    a.pages["/"] = "<!doctype html><title>Tolk test page</title><p>hello</p>"
    a.pages["/parent"] = PARENT.replace("{child}", f"{b.origin}/child")
    b.pages["/child"] = "<!doctype html><title>child</title><p>child</p>"
    yield a, b
    await a.runner.cleanup()
    await b.runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Chromium]:
    require_chromium()
    async with Chromium() as instance:
        yield instance


@pytest_asyncio.fixture(loop_scope="module")
async def page(chromium: Chromium) -> AsyncIterator[Page]:
    page = await chromium.new_page()
    yield page
    await page.close()


async def test_goto_evaluates_and_records_the_status(page: Page, sites: tuple[Site, Site]) -> None:
    a, _ = sites
    await page.goto(f"{a.origin}/")
    assert page.status == 200
    assert await page.evaluate("document.title") == "Tolk test page"
    assert await page.evaluate("Promise.resolve(6 * 7)") == 42
    await page.goto(f"{a.origin}/missing")
    assert page.status == 404


async def test_a_message_sent_from_the_frame_carries_its_origin(
    page: Page, sites: tuple[Site, Site]
) -> None:
    a, b = sites
    await page.goto(f"{a.origin}/parent")
    frames = await page.frames()
    assert [f["url"] for f in frames] == [f"{a.origin}/parent", f"{b.origin}/child"]
    assert frames[1]["parentId"] == frames[0]["id"]
    assert await page.evaluate("location.origin", frame_url_prefix=b.origin) == b.origin
    await page.evaluate("window.parent.postMessage({name: 'x'}, '*')", frame_url_prefix=b.origin)
    received = await page.wait_for(
        f"window.received.length === 1 && window.received[0].origin === {b.origin!r}"
        " && window.received"
    )
    assert received == [{"origin": b.origin, "data": {"name": "x"}}]


async def test_screenshot_is_a_png_of_the_window_width(
    page: Page, sites: tuple[Site, Site]
) -> None:
    await page.goto(f"{sites[0].origin}/")
    png = await page.screenshot()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24])[0] == 1280


async def test_wait_for_times_out_quickly_and_says_what(page: Page) -> None:
    await page.evaluate("console.log('diagnosis', 1)")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"(?s)'1 === 2'.*diagnosis 1"):
        await page.wait_for("1 === 2", timeout=0.3)
    assert time.monotonic() - started < 1.5


async def test_a_throwing_expression_raises_browser_error(page: Page) -> None:
    with pytest.raises(BrowserError, match="boom"):
        await page.evaluate("(() => { throw new Error('boom') })()")
    with pytest.raises(BrowserError, match="no child frame"):
        await page.evaluate("1", frame_url_prefix="http://nowhere.invalid")


async def test_navigation_errors_and_uncaught_exceptions_are_reported(page: Page) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(BrowserError, match="ERR_CONNECTION_REFUSED"):
        await page.goto(f"http://127.0.0.1:{closed}/")
    await page.evaluate("setTimeout(() => { throw new Error('later') }, 0)")
    await page.wait_for("new Promise((resolve) => setTimeout(() => resolve(true), 20))")
    assert any("later" in error for error in page.errors)


async def test_a_missing_browser_skips_but_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOLK_CHROMIUM", "/opt/my/chrome")
    assert chromium_path() == "/opt/my/chrome"
    monkeypatch.delenv("TOLK_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on PATH ...
    monkeypatch.setattr(browser, "DEBIAN_CHROMIUM", str(tmp_path / "chromium"))  # ... nor here
    monkeypatch.delenv("TOLK_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium()
    monkeypatch.setenv("TOLK_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        require_chromium()

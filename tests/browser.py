"""A small async driver for headless Chromium over the Chrome DevTools Protocol (CDP).

Raw CDP over aiohttp's websocket client rather than Playwright or Selenium: no browser
download, no node, no chromedriver, no new dependency; it drives the Debian ``chromium``
package that CI installs. Child frames are reached through their page's target, so they must
be same-site with it (127.0.0.1 on another port is fine; ``localhost`` is not: site isolation
puts a cross-site frame in another process, outside the page's frame tree).
"""

# ruff: noqa: ASYNC109  -- ``timeout=`` keywords are this driver's interface

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from asyncio.subprocess import DEVNULL
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]  # fmt: skip
DEBIAN_CHROMIUM = "/usr/bin/chromium"
MISSING = (
    "no Chromium found (looked at $TOLK_CHROMIUM, `chromium` and `chromium-browser` on PATH, "
    "/usr/bin/chromium); install it with `apt-get install chromium`, or point TOLK_CHROMIUM "
    "at a Chromium or Chrome binary"
)


class BrowserError(RuntimeError):
    """Chromium failed to start, answered a command with an error, or a script threw."""


def chromium_path() -> str | None:
    """The Chromium to use: $TOLK_CHROMIUM, else the first found on PATH or in /usr/bin."""
    if env := os.environ.get("TOLK_CHROMIUM"):
        return env
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or (DEBIAN_CHROMIUM if os.path.exists(DEBIAN_CHROMIUM) else None)


def require_chromium() -> str:
    """The Chromium path, or skip the test; fail instead when TOLK_REQUIRE_BROWSER=1 (CI)."""
    if path := chromium_path():
        return path
    if os.environ.get("TOLK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{MISSING} (TOLK_REQUIRE_BROWSER=1, so this is not skipped)", pytrace=False)
    pytest.skip(MISSING)


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    return exception.get("description") or exception.get("value") or details.get("text", "?")


class _Connection:
    """One CDP websocket: commands answered by id, events handed to listeners."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if "id" not in data:
                    for listener in list(self._listeners.get(data.get("method", ""), ())):
                        listener(data.get("params", {}))
                elif (future := self._pending.pop(data["id"], None)) and not future.done():
                    if error := data.get("error"):
                        future.set_exception(BrowserError(f"CDP error: {error}"))
                    else:
                        future.set_result(data.get("result", {}))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BrowserError("the DevTools connection closed"))

    def on(self, event: str, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.setdefault(event, []).append(listener)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send one command and return its result; BrowserError on a CDP error."""
        command_id = next(self._ids)
        future = self._pending[command_id] = asyncio.get_running_loop().create_future()
        try:
            await self._ws.send_json({"id": command_id, "method": method, "params": params or {}})
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(f"{method} got no answer within {timeout} s") from None
        finally:
            self._pending.pop(command_id, None)

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Page(_Connection):
    """One tab. ``console`` and ``errors`` collect its console output and uncaught exceptions;
    ``status`` is the HTTP status of the last document ``goto`` loaded."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, target_id: str, browser: _Connection):
        super().__init__(ws)
        self.target_id, self._browser = target_id, browser
        self.console: list[str] = []
        self.errors: list[str] = []
        self.status: int | None = None
        self._loaded = asyncio.Event()
        self._statuses: dict[str, int] = {}  # loaderId -> HTTP status of its document
        self.on("Runtime.consoleAPICalled", self._on_console)
        self.on("Runtime.exceptionThrown", self._on_exception)
        self.on("Page.loadEventFired", lambda _: self._loaded.set())
        self.on("Network.responseReceived", self._on_response)

    def _on_console(self, params: dict[str, Any]) -> None:
        args = (a.get("value", a.get("description", a.get("type"))) for a in params["args"])
        self.console.append(f"{params['type']}: " + " ".join(map(str, args)))

    def _on_exception(self, params: dict[str, Any]) -> None:
        self.errors.append(_exception_text(params["exceptionDetails"]))

    def _on_response(self, params: dict[str, Any]) -> None:
        if params.get("type") == "Document":
            self._statuses[params["loaderId"]] = params["response"]["status"]

    async def goto(self, url: str, *, timeout: float = 15.0) -> None:
        """Navigate the top frame to ``url`` and wait for its load event."""
        self._loaded.clear()
        self._statuses.clear()
        try:
            async with asyncio.timeout(timeout):
                result = await self.send("Page.navigate", {"url": url}, timeout=timeout)
                if error := result.get("errorText"):
                    raise BrowserError(f"navigating to {url} failed: {error}")
                if "loaderId" not in result:  # a same-document (#fragment) navigation
                    return
                await self._loaded.wait()
        except TimeoutError:
            raise TimeoutError(f"{url} did not load within {timeout} s") from None
        self.status = self._statuses.get(result["loaderId"])

    async def frames(self) -> list[dict[str, Any]]:
        """Every frame, top first: ``{"id", "url", "parentId"}`` (parentId None at the top)."""
        found, todo = [], [(await self.send("Page.getFrameTree"))["frameTree"]]
        while todo:
            node = todo.pop(0)
            todo[:0] = node.get("childFrames", [])  # depth first, in document order
            found.append({key: node["frame"].get(key) for key in ("id", "url", "parentId")})
        return found

    async def _frame_context(self, url_prefix: str) -> int:
        frames = await self.frames()
        frame = next((f for f in frames if f["parentId"] and f["url"].startswith(url_prefix)), 0)
        if not frame:
            urls = [f["url"] for f in frames]
            raise BrowserError(f"no child frame with a URL starting {url_prefix!r}; frames: {urls}")
        world = {"frameId": frame["id"], "worldName": "tolk-test", "grantUniveralAccess": False}
        return (await self.send("Page.createIsolatedWorld", world))["executionContextId"]

    async def evaluate(
        self, expression: str, *, frame_url_prefix: str | None = None, timeout: float = 10.0
    ) -> Any:
        """The (JSON) value of ``expression``, promises awaited. With ``frame_url_prefix``, it
        runs in an isolated world of that child frame: same DOM, same origin as the frame."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if frame_url_prefix is not None:
            params["contextId"] = await self._frame_context(frame_url_prefix)
        result = await self.send("Runtime.evaluate", params, timeout=timeout)
        if details := result.get("exceptionDetails"):
            raise BrowserError(f"{expression!r} threw: {_exception_text(details)}")
        return result["result"].get("value")

    async def wait_for(
        self,
        expression: str,
        *,
        frame_url_prefix: str | None = None,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> Any:
        """Re-evaluate ``expression`` until it is truthy and return it (errors count as falsy)."""
        last: Any = None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        last = await self.evaluate(expression, frame_url_prefix=frame_url_prefix)
                        if last:
                            return last
                    except BrowserError as exc:
                        last = exc
                    await asyncio.sleep(interval)
        except TimeoutError:
            raise TimeoutError(
                f"{expression!r} was still not truthy after {timeout} s (last: {last!r})\n"
                f"console: {self.console[-20:]}\nerrors: {self.errors[-10:]}"
            ) from None

    async def screenshot(self, path: str | Path | None = None) -> bytes:
        """A PNG of the viewport, also written to ``path`` when given."""
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        data = base64.b64decode(shot["data"])
        if path is not None:
            Path(path).write_bytes(data)
        return data

    async def close(self) -> None:
        """Close the tab and its connection."""
        with contextlib.suppress(BrowserError, TimeoutError, aiohttp.ClientError):
            await self._browser.send("Target.closeTarget", {"targetId": self.target_id}, timeout=5)
        await super().close()


class Chromium:
    """A headless Chromium with a throwaway profile, for ``async with``."""

    def __init__(self, *, width: int = 1280, height: int = 860, path: str | None = None) -> None:
        self.width, self.height, self.path = width, height, path
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._browser: _Connection | None = None
        self._pages: list[Page] = []

    async def __aenter__(self) -> Chromium:
        executable = self.path or require_chromium()
        self._dir = Path(tempfile.mkdtemp(prefix="tolk-chromium-"))
        self._log = self._dir / "tolk-stderr.log"  # a file, not a pipe: it never fills up
        self._session = aiohttp.ClientSession()
        command = [executable, *FLAGS, f"--window-size={self.width},{self.height}"]
        command += ["--remote-debugging-port=0", f"--user-data-dir={self._dir}", "about:blank"]
        try:
            with self._log.open("wb") as log:  # start_new_session: kill its process group
                self._process = await asyncio.create_subprocess_exec(
                    *command, stdin=DEVNULL, stdout=DEVNULL, stderr=log, start_new_session=True
                )
            self.port = await self._read_port(self._process)
            async with self._session.get(f"http://127.0.0.1:{self.port}/json/version") as response:
                url = (await response.json())["webSocketDebuggerUrl"]
            self._browser = _Connection(await self._session.ws_connect(url, max_msg_size=0))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    def _stderr_tail(self) -> str:
        return self._log.read_bytes()[-3000:].decode(errors="replace")

    async def _read_port(self, process: asyncio.subprocess.Process, timeout: float = 15.0) -> int:
        port_file = self._dir / "DevToolsActivePort"
        try:
            async with asyncio.timeout(timeout):
                while process.returncode is None:
                    with contextlib.suppress(FileNotFoundError):
                        lines = port_file.read_text().splitlines()
                        if len(lines) >= 2 and lines[0].isdigit():  # both lines: fully written
                            return int(lines[0])
                    await asyncio.sleep(0.05)
            problem = f"exited ({process.returncode}) before opening DevTools"
        except TimeoutError:
            problem = f"gave no DevTools port within {timeout} s"
        raise BrowserError(f"chromium {problem}; its stderr ends:\n{self._stderr_tail()}")

    async def new_page(self) -> Page:
        """Open a new tab (about:blank) with Page, Runtime and Network events on."""
        assert self._browser, "use Chromium as `async with Chromium() as browser`"
        target = await self._browser.send("Target.createTarget", {"url": "about:blank"})
        url = f"ws://127.0.0.1:{self.port}/devtools/page/{target['targetId']}"
        ws = await self._session.ws_connect(url, max_msg_size=0)  # screenshots can pass 4 MB
        page = Page(ws, target["targetId"], self._browser)
        self._pages.append(page)
        for domain in ("Page", "Runtime", "Network"):
            await page.send(f"{domain}.enable")
        return page

    async def __aexit__(self, *exc_info: object) -> None:
        for connection in [*self._pages, self._browser]:
            if connection:  # the tabs go with the browser: just disconnect
                await _Connection.close(connection)
        await self._session.close()
        if process := self._process:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await process.wait()
            with contextlib.suppress(ProcessLookupError):  # still running, or helpers left over
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

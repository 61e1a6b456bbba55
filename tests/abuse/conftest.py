"""What the abuse tests share: a trap server that must never be reached, a fake network
for names and addresses no test may really contact, and "nothing happened" checks."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from tests.conftest import Tolk

# Slack methods that change what people see.
VISIBLE = (
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "chat.delete",
    "files.completeUploadExternal",
    "files.getUploadURLExternal",
    "reactions.add",
    "views.publish",
    "views.open",
)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "black").save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Trap:
    """An HTTP server on loopback that records every request and answers with an image, so
    a fetch that should never happen would succeed and be visible."""

    base_url: str = ""
    requests: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


@pytest.fixture
async def trap() -> AsyncIterator[Trap]:
    found = Trap()
    image = png()

    async def anything(request: web.Request) -> web.Response:
        found.requests.append(f"{request.method} {request.path_qs}")
        return web.Response(body=image, content_type="image/png")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield found
    finally:
        await runner.cleanup()


class FakeNetwork:
    """Names that resolve where a test says, and addresses no connection may reach (each
    attempt is recorded and refused), on the event loop Tolk runs on. Everything else goes
    to the real resolver and network."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.names: dict[str, str] = {}
        self.blackholes: set[str] = set()
        self.attempts: list[tuple[str, int]] = []
        self._getaddrinfo = loop.getaddrinfo
        self._sock_connect = loop.sock_connect

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name in self.names:
            address = self.names[name]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            port = int(port or 0)
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
        return await self._getaddrinfo(host, port, *args, **kwargs)

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        if address[0] in self.blackholes:
            self.attempts.append((address[0], address[1]))
            raise ConnectionRefusedError(f"test: {address[0]} must never be contacted")
        await self._sock_connect(sock, address)


@pytest.fixture
async def network(monkeypatch: pytest.MonkeyPatch) -> FakeNetwork:
    loop = asyncio.get_running_loop()
    fake = FakeNetwork(loop)
    monkeypatch.setattr(loop, "getaddrinfo", fake.getaddrinfo)
    monkeypatch.setattr(loop, "sock_connect", fake.sock_connect)
    return fake


async def all_tasks(tolk: Tolk, channels: Iterable[str] = ("C0GENERAL", "C0LOCALE")) -> list[Any]:
    store = tolk.services.store
    return [t for c in channels for t in await store.list_for_channel(c, active_only=False)]


def visible_calls(slack: Any) -> list[Any]:
    return [c for c in slack.calls if c.method in VISIBLE]


async def assert_nothing_happened(tolk: Tolk, slack: Any, *providers: Any) -> None:
    """No task recorded, nothing posted in Slack, no provider contacted."""
    await tolk.settle()
    assert await all_tasks(tolk) == []
    assert [c.method for c in visible_calls(slack)] == []
    for provider in providers:
        assert provider.requests == [], type(provider).__name__

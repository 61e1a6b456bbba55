"""Issue 16, finding 6: slow and stalled clients cannot take the server down.

Before: no header or body read timeout and no connection cap — 1,100 stalled partial
requests exhausted file descriptors and took ``/healthz`` down (with 91k traceback lines).
Now a request must finish its headers within ``HEADER_SECONDS`` of its first byte (or of
the connection), and its body within ``BODY_SECONDS`` of its headers; at most
``MAX_CONNECTIONS`` are open, and past that the oldest connection still waiting for
headers makes room (if none is waiting, the new one is closed at once), with one log line
a minute. Against a running Tolk on loopback, 1,000 stalled connections at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import runtime
from bot.config import load_settings
from bot.runtime import serving
from emulators.signed import command_body, signed_headers
from tests.conftest import SIGNING_SECRET, Tolk
from tests.security.raw_http import LogTap, exchange, open_files, raw_request, read_response

HEADER_SECONDS = 2.0
BODY_SECONDS = 2.0
STALLED = 1_000


@pytest.fixture
async def guarded(env: dict[str, str], monkeypatch) -> AsyncIterator[Tolk]:
    """Tolk with short read deadlines (the real ones are longer), so the test is quick."""
    monkeypatch.setattr(runtime, "HEADER_SECONDS", HEADER_SECONDS)
    monkeypatch.setattr(runtime, "BODY_SECONDS", BODY_SECONDS)
    with open_files(8 * STALLED):
        async with (
            serving(load_settings(env), host="127.0.0.1") as (services, port),
            aiohttp.ClientSession() as session,
        ):
            yield Tolk(services, port, session)


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_stalled(port: int, count: int, partial: list[bytes]) -> list[Conn]:
    """``count`` connections, each sending one of ``partial`` and then nothing more."""
    conns: list[Conn] = []

    async def one(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(partial[i % len(partial)])
        conns.append((reader, writer))

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))
    return conns


async def closed_by_server(conns: list[Conn]) -> int:
    """How many of these the server has closed (a read sees the end, or a reset)."""

    async def closed(reader: asyncio.StreamReader) -> bool:
        try:
            async with asyncio.timeout(0.01):
                while await reader.read(65536):
                    pass  # a 408 or 503, then the end
                return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True

    return sum(await asyncio.gather(*(closed(r) for r, _ in conns)))


def close_all(conns: list[Conn]) -> None:
    for _, writer in conns:
        writer.transport.abort()


async def timed(port: int, request: bytes) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = await exchange(port, request, within=5.0)
    return status, (time.monotonic() - started) * 1000


def signed_command(text: str) -> bytes:
    body = command_body("/translate", text)
    headers = signed_headers(SIGNING_SECRET, body)
    return raw_request(
        "/slack/events",
        body.encode(),
        [("Content-Type", "application/x-www-form-urlencoded"), *headers.items()],
    )


async def open_connections(tolk: Tolk) -> float:
    async with tolk.session.get(f"http://127.0.0.1:{tolk.port}/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tolk_http_connections":
                return sample.value
    raise AssertionError("no tolk_http_connections gauge")


PARTIAL = [
    b"POST /slack/events HTT",  # a request line, cut short
    b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slack-Signa",  # headers, cut short
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n",  # headers without their end
    b"G",
]


async def test_a_thousand_stalled_connections_do_not_take_the_server_down(guarded, capsys):
    tolk = guarded
    healthz = raw_request("/healthz", method="GET")
    _, idle_ms = await timed(tolk.port, healthz)
    with LogTap() as tap:
        started = time.monotonic()
        conns = await open_stalled(tolk.port, STALLED, PARTIAL)
        opened = time.monotonic() - started
        await asyncio.sleep(0.2)
        try:
            latencies = []
            for _ in range(10):
                status, ms = await timed(tolk.port, healthz)
                assert status == 200
                latencies.append(ms)
            status, ack_ms = await timed(tolk.port, signed_command("zh>en 我是中国人"))
            assert status == 200, "a signed command is still acked"
            gauge = await open_connections(tolk)
            evicted = await closed_by_server(conns)

            assert gauge <= runtime.MAX_CONNECTIONS
            assert evicted >= STALLED - runtime.MAX_CONNECTIONS  # room was made, not refused
            assert max(latencies) < 1000, latencies

            await asyncio.sleep(HEADER_SECONDS + 1.0)
            assert await closed_by_server(conns) == STALLED  # every stall cut off
            assert await open_connections(tolk) <= 2  # this scrape's own, at most
        finally:
            close_all(conns)
        await tolk.settle()
    with capsys.disabled():
        print(
            f"\n[figures] {STALLED} stalled connections opened in {opened:.1f} s; "
            f"/healthz {idle_ms:.1f} ms idle, under the stall median "
            f"{sorted(latencies)[len(latencies) // 2]:.1f} ms, max {max(latencies):.1f} ms; "
            f"signed command acked in {ack_ms:.1f} ms; open connections {gauge:.0f}; "
            f"{evicted} made room at once; log {tap.size} bytes in {len(tap.lines())} lines"
        )
    assert "Traceback" not in tap.text
    ours = [line for line in tap.lines() if " bot.connections: " in line]
    assert len(ours) <= 2, ours  # "made room", "headers too slow": once a minute each
    assert tap.size < 1_500, tap.text


async def test_connections_that_never_send_anything_are_closed(guarded):
    tolk = guarded
    conns = await open_stalled(tolk.port, 200, [b""])
    try:
        await asyncio.sleep(HEADER_SECONDS + 1.0)
        assert await closed_by_server(conns) == 200
    finally:
        close_all(conns)


async def test_a_stalled_body_is_cut_off(guarded):
    """Headers complete, a body promised and never finished: on ``/slack/events`` and on
    any other route that reads a body, the connection is closed ``BODY_SECONDS`` later."""
    tolk = guarded
    promised = [
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n" + b"{" * 100,
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"10\r\n0123456789abcdef\r\n",
        b"POST /callbacks/alibaba/T1/forged HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{",
    ]
    with LogTap() as tap:
        conns = await open_stalled(tolk.port, 150, promised)
        try:
            status, ms = await timed(tolk.port, raw_request("/healthz", method="GET"))
            assert status == 200 and ms < 1000
            assert await closed_by_server(conns) == 0  # still within their time
            await asyncio.sleep(BODY_SECONDS + 1.0)
            assert await closed_by_server(conns) == 150
        finally:
            close_all(conns)
    assert "Traceback" not in tap.text
    # handlers.web.callbacks logs each refused callback (a line per request, not this finding's)
    ours = [line for line in tap.lines() if " handlers.web.callbacks: " not in line]
    assert len("\n".join(ours)) < 1_000, ours


async def test_a_trickle_does_not_extend_the_deadline(guarded):
    """A header line every quarter-second keeps arriving, but the headers never end: the
    connection is cut off at the deadline all the same."""
    tolk = guarded
    reader, writer = await asyncio.open_connection("127.0.0.1", tolk.port)
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\n")
    try:
        while time.monotonic() - started < HEADER_SECONDS + 3.0:
            writer.write(b"X-A: b\r\n")
            try:
                async with asyncio.timeout(0.25):
                    if not await reader.read(1024):
                        break  # closed by the server
            except TimeoutError:
                continue
    except ConnectionError:
        pass
    finally:
        writer.transport.abort()
    assert time.monotonic() - started < HEADER_SECONDS + 1.0


async def test_an_idle_keep_alive_connection_is_not_a_stall(guarded):
    """Between requests a kept-alive connection may wait longer than a header deadline (a
    proxy's pooled connection does): it is still served."""
    tolk = guarded
    reader, writer = await asyncio.open_connection("127.0.0.1", tolk.port)
    try:
        writer.write(raw_request("/healthz", method="GET"))
        assert (await read_response(reader))[0] == 200
        await asyncio.sleep(HEADER_SECONDS + 1.0)
        writer.write(raw_request("/healthz", method="GET"))
        async with asyncio.timeout(5):
            assert (await read_response(reader))[0] == 200
    finally:
        writer.transport.abort()

"""What the unauthenticated-stranger tests share: raw HTTP/1.1 over loopback (pipelined
floods, stalled connections, duplicated headers — things a polite client will not send),
and a tap that counts the bytes Tolk's real log formatter writes."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import resource
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bot.core.logs import RedactSecrets, TextFormatter


def raw_request(
    path: str,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    *,
    method: str = "POST",
) -> bytes:
    """One HTTP/1.1 request, byte for byte: headers may repeat, values are sent as given."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n"
    return head + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def exchange(port: int, request: bytes, within: float = 10.0) -> tuple[int, bytes]:
    """Send one raw request on a new connection; (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        async with asyncio.timeout(within):
            status, _, body = await read_response(reader)
        return status, body
    finally:
        writer.close()


async def flood(
    port: int, requests: Sequence[bytes], *, connections: int = 8, depth: int = 50
) -> Counter[int]:
    """Send every request, pipelined ``depth`` at a time on ``connections`` keep-alive
    connections; the count of each status answered (0: no answer, the connection closed)."""
    statuses: Counter[int] = Counter()
    batches = iter(range(0, len(requests), depth))

    async def worker() -> None:
        reader = writer = None
        for start in batches:
            batch = requests[start : start + depth]
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(batch))
            for n in range(len(batch)):
                try:
                    status, headers, _ = await read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    statuses[0] += len(batch) - n
                    writer.close()
                    reader = writer = None
                    break
                statuses[status] += 1
                if headers.get("connection", "").lower() == "close":
                    statuses[0] += len(batch) - n - 1
                    writer.close()
                    reader = writer = None
                    break
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return statuses


def _as_in_production(record: logging.LogRecord) -> bool:
    """What ``setup_logging`` lets through: the scheduler's chatter is WARNING and up; and
    access lines are the emulators' (Tolk's own server keeps no access log)."""
    if record.name.startswith(("apscheduler", "aiohttp.access")):
        return record.levelno >= logging.WARNING
    return True


class LogTap:
    """Every record at INFO and above, formatted by Tolk's own text formatter (as
    ``setup_logging`` does in production) into memory, for the duration of a ``with``."""

    def __init__(self, level: int = logging.INFO) -> None:
        self.out = io.StringIO()
        self.handler = logging.StreamHandler(self.out)
        self.handler.setFormatter(TextFormatter())
        self.handler.addFilter(RedactSecrets([]))
        self.handler.addFilter(_as_in_production)
        self.handler.setLevel(level)
        self.level = level
        self._saved = logging.INFO

    def __enter__(self) -> LogTap:
        root = logging.getLogger()
        self._saved = root.level
        root.setLevel(min(self.level, root.level or self.level))
        root.addHandler(self.handler)
        return self

    def __exit__(self, *_: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._saved)

    @property
    def text(self) -> str:
        return self.out.getvalue()

    @property
    def size(self) -> int:
        return len(self.text.encode())

    def lines(self) -> list[str]:
        return self.text.splitlines()


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def open_files(wanted: int) -> Iterator[int]:
    """Raise this process's soft limit on open files towards ``wanted`` (never past the hard
    limit) for the duration; yields the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = (
        soft
        if soft >= wanted
        else (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard))
    )
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        yield target
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

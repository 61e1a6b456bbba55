"""Issue 16, finding 4: the log cannot be flooded or forged from outside.

Bolt's ``RequestVerification`` logger wrote every unverified body whole at INFO (60 × 1 MB
unsigned posts = 63 MB of log in a second), and a body with newlines forged log lines.
Now unsigned requests are not logged (one line a minute says how many were refused), and
Tolk's formatters escape control characters — newlines, carriage returns, ANSI escapes,
Unicode line separators — in every message and field, so one record is one line.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

import pytest

from bot.core.logs import JsonFormatter, TextFormatter
from tests.security.raw_http import LogTap, flood, raw_request

FORGED = (
    "\n2024-05-01 12:00:00,000 ERROR bot.engine.work: task T0000 \x1b[32mdelivered\x1b[0m forged"
)
HOSTILE = [
    "\n",
    "\r",
    "\r\n",
    "\x1b[2J\x1b[H",
    "\x1b]0;title\x07",
    "\u2028",
    "\u2029",
    "\x85",
    "\x9b31m",
    "\x00",
    "\x7f",
    "\u202e",
]
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


async def test_unsigned_megabyte_bodies_leave_no_trace_in_the_log(tolk, slack):
    """60 unsigned posts of about 1 MB each, full of forged lines: the log stays a few
    hundred bytes, with nothing of the bodies in it."""
    line = FORGED.encode() + b" " + b"x" * 200
    body = (line * (1_000_000 // len(line)))[:1_000_000]
    headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Slack-Request-Timestamp", str(int(time.time()))),
        ("X-Slack-Signature", "v0=" + secrets.token_hex(32)),
    ]
    requests = [raw_request("/slack/events", body, headers) for _ in range(60)]
    with LogTap() as tap:
        statuses = await flood(tolk.port, requests, connections=4, depth=5)
    assert statuses == {401: 60}
    assert tap.size < 1_000, tap.size
    assert "forged" not in tap.text and "xxxxxxxx" not in tap.text
    assert slack.calls_to("response_url") == []


def record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad value" + FORGED)
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    rec = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


@pytest.mark.parametrize("hostile", HOSTILE, ids=[repr(h) for h in HOSTILE])
def test_text_lines_cannot_be_split_or_coloured(hostile):
    rec = record(
        "got %s from %r" + hostile,
        "value" + hostile + "tail",
        {"k": hostile},
        task="T1" + hostile,
        provider=hostile + "xiangji",
        operation="op" + FORGED,
    )
    line = TextFormatter().format(rec)
    assert "\n" not in line and not CONTROL.search(line), repr(line)
    assert "forged" in line  # escaped, kept readable, on the same line
    assert line.split(" ", 3)[2] == "WARNING"


@pytest.mark.parametrize("hostile", HOSTILE, ids=[repr(h) for h in HOSTILE])
def test_json_lines_cannot_be_split_or_coloured(hostile):
    rec = record("got %s" + hostile, "value" + hostile, task="T1" + hostile, provider=hostile)
    line = JsonFormatter().format(rec)
    assert "\n" not in line and not CONTROL.search(line), repr(line)
    entry = json.loads(line)
    for key in ("message", "task", "provider"):
        assert not CONTROL.search(entry[key]), (key, entry[key])


def test_a_traceback_cannot_forge_a_record():
    """A traceback is several lines, but only the record's own first line starts at the
    left margin: a newline in an exception's message cannot start a line that looks like
    another record."""
    text = TextFormatter().format(record("failed" + FORGED, exc=True))
    first, *rest = text.split("\n")
    assert first.split(" ")[2] == "WARNING" and "forged" in first
    assert rest and all(line.startswith(" ") for line in rest), rest
    assert "ValueError: bad value" in text
    assert not CONTROL.search(text.replace("\n", "")), repr(text)

    line = JsonFormatter().format(record("failed", exc=True))
    assert "\n" not in line  # one record, one line; the traceback is inside a string
    entry = json.loads(line)
    assert "ValueError: bad value" in entry["exception"]
    assert not CONTROL.search(entry["exception"].replace("\n", ""))


def test_a_huge_message_is_cut_short():
    rec = record("body: %s", "x" * 1_000_000, task="T" * 10_000)
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(rec)
        assert len(line) < 12_000
        assert "more characters" in line


def test_plain_lines_are_unchanged():
    rec = record("task %s polled %d times — 你好 ✓", "T7Q2K", 4, task="T7Q2K", latency_ms=1.5)
    line = TextFormatter().format(rec)
    assert line.endswith(
        "WARNING bot.test: task T7Q2K polled 4 times — 你好 ✓ [task=T7Q2K latency_ms=1.5]"
    )
    entry = json.loads(JsonFormatter().format(rec))
    assert entry["message"] == "task T7Q2K polled 4 times — 你好 ✓" and entry["latency_ms"] == 1.5

"""Logging set-up: one line per event, and no configured secret ever printed.

Lines about work carry structured fields — ``task``, ``provider``, ``operation`` and
``latency_ms`` — passed as ``extra`` or taken from ``current_work`` (set by the work
engine around each step, so a provider call logs the task it was made for).
``TOLK_LOG_FORMAT=json`` prints one JSON object per line for log collectors; the default
is readable text with the fields appended as ``key=value``.

One record is one line, whatever a value holds: both formatters escape control characters
(newlines, carriage returns, ANSI escapes, Unicode line separators and bidi overrides) in
the message and every field, and cut very long values short. In text, the lines of a
traceback are indented, so only a record's own line starts at the left margin.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

FIELDS = ("task", "provider", "operation", "latency_ms", "state")
MAX_MESSAGE_CHARS = 8_000
MAX_FIELD_CHARS = 200
MAX_TRACEBACK_CHARS = 32_000

#: Loggers that would write what a stranger sent: Bolt's request verification logs whole
#: unverified bodies at INFO (Tolk verifies requests itself, before Bolt sees them).
QUIET = ("slack_bolt.AsyncRequestVerification", "slack_bolt.RequestVerification")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: The task a coroutine is working for: {"task": id, "provider": …, "operation": …}.
current_work: ContextVar[dict[str, Any]] = ContextVar("current_work", default={})  # noqa: B039


#: Slack tokens of any kind (bot, user, app-level, rotating, refresh): with many
#: workspaces their values are not configured anywhere, so they are known by their shape.
SLACK_TOKEN = re.compile(r"\bxox(?:e\.xox)?[a-z]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,}")


class RedactSecrets(logging.Filter):
    """Replace every configured secret, and anything shaped like a Slack token, in a
    record's final text with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return SLACK_TOKEN.sub("[redacted]", text) if "x" in text else text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self._redact(text)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one printable line: control characters escaped (a newline becomes
    ``\\n``, an ANSI escape ``\\x1b``), cut to about ``limit`` characters."""
    dropped = len(text) - limit
    if dropped > 0:
        text = text[:limit]
    if _CONTROL.search(text):
        text = _CONTROL.sub(_escape, text)
        if len(text) > limit:  # escapes are longer than what they stand for
            text, dropped = text[:limit], max(dropped, 0) + 1
    return f"{text}… [{dropped} more characters]" if dropped > 0 else text


def _block(text: str) -> list[str]:
    """A traceback's lines, each escaped; a very long one keeps its end (the error)."""
    if len(text) > MAX_TRACEBACK_CHARS:
        cut = len(text) - MAX_TRACEBACK_CHARS
        text = f"[{cut} characters cut]\n" + text[cut:]
    return [one_line(line) for line in text.split("\n")]


def _value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return one_line(str(value), MAX_FIELD_CHARS)


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record: its own ``extra``, else the current work."""
    found = {k: getattr(record, k) for k in FIELDS if getattr(record, k, None) is not None}
    work = current_work.get()
    return {**{k: v for k, v in work.items() if k in FIELDS}, **found}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = one_line(self.formatMessage(record), 2 * MAX_MESSAGE_CHARS)
        extra = fields(record)
        if extra:  # fields stay on the record's line, before a traceback
            line += " [" + " ".join(f"{k}={_value(v)}" for k, v in extra.items()) + "]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        tail = [text for text in (record.exc_text, record.stack_info) if text]
        for text in tail:  # indented: only a record's own line starts at the margin
            line += "".join(f"\n  {part}" for part in _block(text))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": one_line(record.name, MAX_FIELD_CHARS),
            "message": one_line(record.getMessage()),
            **{k: _value(v) for k, v in fields(record).items()},
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = "\n".join(_block(record.exc_text))
        return json.dumps(entry, ensure_ascii=False, default=str)


class Throttled:
    """At most one log line per ``seconds`` for something a stranger can make happen without
    bound (requests refused, connections cut off): the first time is logged at once; later
    ones are counted, and the next line, once the time is up, says how many there were."""

    def __init__(
        self,
        logger: logging.Logger,
        level: int = logging.WARNING,
        seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.level, self.seconds, self.clock = logger, level, seconds, clock
        self.count = 0
        self._next_at = float("-inf")

    def __call__(self, message: str, *args: Any) -> None:
        self.count += 1
        now = self.clock()
        if now < self._next_at:
            return
        count, self.count = self.count, 0
        self._next_at = now + self.seconds
        if count > 1:
            message += " (%d times since the last such line)"
            args = (*args, count)
        self.logger.log(self.level, message, *args)


def quiet_loggers() -> None:
    """``QUIET`` to WARNING. Bolt copies its base logger's level onto these when it builds
    an app, so this runs again after each app is built."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(
    *, secrets: Iterable[str] = (), level: str | None = None, fmt: str | None = None
) -> None:
    handler = logging.StreamHandler()
    style = (fmt or os.environ.get("TOLK_LOG_FORMAT", "text")).lower()
    handler.setFormatter(JsonFormatter() if style == "json" else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("TOLK_LOG_LEVEL", "INFO"))
    for noisy in ("apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_loggers()

"""Logging set-up: one line per event, and no configured secret ever printed.

Lines about work carry structured fields — ``task``, ``provider``, ``operation`` and
``latency_ms`` — passed as ``extra`` or taken from ``current_work`` (set by the work
engine around each step, so a provider call logs the task it was made for).
``TOLK_LOG_FORMAT=json`` prints one JSON object per line for log collectors; the default
is readable text with the fields appended as ``key=value``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

FIELDS = ("task", "provider", "operation", "latency_ms", "state")

#: The task a coroutine is working for: {"task": id, "provider": …, "operation": …}.
current_work: ContextVar[dict[str, Any]] = ContextVar("current_work", default={})  # noqa: B039


class RedactSecrets(logging.Filter):
    """Replace every configured secret in a record's final text with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = text
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if record.exc_text:
            for secret in self._secrets:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of a record: its own ``extra``, else the current work."""
    found = {k: getattr(record, k) for k in FIELDS if getattr(record, k, None) is not None}
    work = current_work.get()
    return {**{k: v for k, v in work.items() if k in FIELDS}, **found}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = fields(record)
        if not extra:
            return line
        head, _, tail = line.partition("\n")  # fields stay on the first line, before a traceback
        pairs = " ".join(f"{k}={v}" for k, v in extra.items())
        return f"{head} [{pairs}]" + (f"\n{tail}" if tail else "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


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

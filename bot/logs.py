"""Logging set-up: one line per event, and no configured secret ever printed."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable


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


def setup_logging(*, secrets: Iterable[str] = (), level: str | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("TOLK_LOG_LEVEL", "INFO"))
    for noisy in ("apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

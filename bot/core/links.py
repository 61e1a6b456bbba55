"""Signed links: files a provider must fetch, per-task callback addresses, and the
per-user pages that open Xiangji's editor (``/refine/…``, ``handlers/web/refine.py``).

A Slack upload is private, so when a provider has to fetch one (Alibaba document
translation takes only a ``FileUrl``) Tolk serves it itself under ``TOLK_PUBLIC_URL``
(the route is ``handlers/web/files.py``; this module only signs and checks)::

    /files/<task>/<item>/<expires>/<signature>/<name>

The HMAC covers task, item, expiry and name: a link opens exactly one file, until it
expires or its task settles, and there is no listing. Callbacks carry a per-task token
(``/callbacks/alibaba/<task>/<token>``) derived the same way, so nothing secret is
stored and every replica can check it. Signatures are compared in constant time.

The key is derived from the Slack signing secret (or the bot token in Socket Mode):
already secret, already shared by every replica, and rotating it revokes every link.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

LINK_SECONDS = 3600.0
REFINE_SECONDS = 1800.0  # a Refine link: long enough to touch up an image, no longer
MAX_SERVED_BYTES = 50 * 1024 * 1024  # Alibaba's document limit
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# The shapes of a signed link's fields, checked before anything else (ASCII only: \d and
# str.isdigit() would admit digits int() refuses or reads differently).
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{32}")  # urlsafe base64 of 24 bytes (``_sign``)
_EXPIRES = re.compile(r"[0-9]{1,12}")  # unix seconds, far beyond any real expiry
_TASK = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INDEX = re.compile(r"[0-9]{1,6}")
_USER = re.compile(r"[A-Za-z0-9]{1,32}")  # a Slack user id
_LANG = re.compile(r"[A-Za-z-]{1,16}")  # an editor language (CHS, ENG, …)
_FIELD = re.compile(r"[^\x00-\x1f\x7f]{1,255}")  # any signed part: bounded, printable


def safe_name(name: str) -> str:
    """A file name a provider accepts in a URL: ASCII, no spaces (Alibaba MT
    spec, 'CreateDocTranslateTask')."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = _UNSAFE.sub("_", stem).strip("._") or "file"
    ext = _UNSAFE.sub("", ext)[:10]
    return f"{stem[:80]}.{ext}" if ext else stem[:80]


class Links:
    def __init__(
        self,
        public_url: str | None,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        ttl: float = LINK_SECONDS,
    ) -> None:
        self.public_url = public_url.rstrip("/") if public_url else None
        self._key = hmac.new(secret.encode(), b"tolk signed links v1", hashlib.sha256).digest()
        install_log_redaction()  # from here on, no log record can carry a signed link
        self._clock = clock
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Links(public_url={self.public_url!r})"

    def _sign(self, *parts: str) -> str:
        digest = hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def _base(self) -> str:
        if self.public_url is None:
            raise RuntimeError("TOLK_PUBLIC_URL is not set")
        return self.public_url

    # --- files ---------------------------------------------------------------------------

    def file_url(self, task_id: str, index: int, name: str) -> str:
        name = safe_name(name)
        expires = str(int(self._clock() + self.ttl))
        signature = self._sign("file", task_id, str(index), expires, name)
        return f"{self._base()}/files/{task_id}/{index}/{expires}/{signature}/{quote(name)}"

    def file_link_valid(
        self, task_id: str, index: str, expires: str, signature: str, name: str
    ) -> bool:
        if not (_TASK.fullmatch(task_id) and _INDEX.fullmatch(index)):
            return False
        return self._valid(signature, expires, "file", task_id, index, expires, name)

    def _valid(self, signature: str, expires: str, *signed: str) -> bool:
        """``signature`` is the one for ``signed`` (which includes ``expires``), and
        ``expires`` is still ahead.

        Every field is checked for its shape first (ASCII, bounded length, an expiry of at
        most 12 ASCII digits), so a link with an absurd field — a 5,000-digit expiry that
        ``int`` refuses, digits that are not ASCII — is simply not valid, even if its
        signature is genuine."""
        if not (_SIGNATURE.fullmatch(signature) and _EXPIRES.fullmatch(expires)):
            return False
        if not all(_FIELD.fullmatch(part) for part in signed):
            return False
        genuine = hmac.compare_digest(self._sign(*signed).encode(), signature.encode())
        return genuine and int(expires) > self._clock()

    # --- refine pages ----------------------------------------------------------------------

    def refine_url(self, task_id: str, index: int, user: str, lang: str) -> str:
        """A page that opens Xiangji's editor on one image, for one Slack user: the
        signature binds task, image, user and editor language, so none can be swapped."""
        expires = str(int(self._clock() + REFINE_SECONDS))
        signature = self._sign("refine", task_id, str(index), user, lang, expires)
        return f"{self._base()}/refine/{task_id}/{index}/{user}/{lang}/{expires}/{signature}"

    def refine_link_valid(
        self, task_id: str, index: str, user: str, lang: str, expires: str, signature: str
    ) -> bool:
        shapes = ((_TASK, task_id), (_INDEX, index), (_USER, user), (_LANG, lang))
        if not all(pattern.fullmatch(value) for pattern, value in shapes):
            return False
        return self._valid(signature, expires, "refine", task_id, index, user, lang, expires)

    # --- callbacks -------------------------------------------------------------------------

    def callback_url(self, provider: str, task_id: str) -> str:
        return f"{self._base()}/callbacks/{provider}/{task_id}/{self.callback_token(task_id)}"

    def callback_token(self, task_id: str) -> str:
        return self._sign("callback", task_id)

    def callback_valid(self, task_id: str, token: str) -> bool:
        if not (_TASK.fullmatch(task_id) and _SIGNATURE.fullmatch(token)):
            return False
        return hmac.compare_digest(self.callback_token(task_id).encode(), token.encode())


# --- no signed link in any log ------------------------------------------------------------
#
# A signed link is a credential: whoever holds it opens the file, the Refine page, or
# completes a task. Tolk's own log lines never include one, but libraries log what they
# send at DEBUG (slack_sdk prints every request body, so the ephemeral message carrying a
# Refine link), and exceptions quote URLs. So every log record, of every logger, has the
# signature of any signed link in its text replaced, when the record is made — before
# any handler or filter sees it. The task, image and expiry stay readable.

_SEP = r"(?:/|%2[Ff]|\\/)"  # a path separator, also form-encoded or JSON-escaped
_SEG = r"(?:(?!%2[Ff])[^/\s'\"<>|\\])+"  # one path segment
_SIG = r"[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])"
_SIGNED_LINK = re.compile(
    rf"((?:refine{_SEP}(?:{_SEG}{_SEP}){{5}})"  # /refine/task/index/user/lang/expires/<sig>
    rf"|(?:files{_SEP}(?:{_SEG}{_SEP}){{3}})"  # /files/task/index/expires/<sig>/name
    rf"|(?:callbacks{_SEP}(?:{_SEG}{_SEP}){{2}}))"  # /callbacks/provider/task/<token>
    rf"{_SIG}"
)
REDACTED_SIGNATURE = "[signature]"


def redact_links(text: str) -> str:
    """``text`` with the signature of every signed link (``/refine/…``, ``/files/…``,
    ``/callbacks/…``) replaced by ``[signature]``."""
    if "refine" not in text and "files" not in text and "callbacks" not in text:
        return text
    return _SIGNED_LINK.sub(lambda m: m.group(1) + REDACTED_SIGNATURE, text)


def install_log_redaction() -> None:
    """Make every ``LogRecord`` redact signed links as it is created (idempotent; wraps
    whatever record factory is installed, so other wrappers keep working)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_signed_links", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # A record whose arguments do not format is left to logging, which reports it.
        with contextlib.suppress(Exception):
            _redact_record(record)
        return record

    factory.redacts_signed_links = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    text = record.getMessage()
    redacted = redact_links(text)
    if redacted != text:
        record.msg, record.args = redacted, None
    if record.exc_info and not record.exc_text:
        trace = logging.Formatter().formatException(record.exc_info)
        if redact_links(trace) != trace:
            record.exc_text = redact_links(trace)  # formatters print exc_text as it is
    if record.stack_info:
        record.stack_info = redact_links(record.stack_info)

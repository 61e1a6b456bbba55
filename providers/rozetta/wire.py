"""Rozetta (CLASSIII / T-4OO / T-3MT) file translation: the wire format.

Pure code only — no I/O. The spec is ``/work/shared/providers/rozetta.md``; section
titles below refer to it.

- 'Authentication', signing: ``hex(HMAC-SHA256(secretKey, nonce + path))`` where ``path`` is the URL
  without scheme and host, query string included and *decoded*.
- 'Authentication', nonces: ``NonceSource`` hands out strictly increasing millisecond timestamps,
  ``max(now_ms, last + 1)``. It is not thread- or task-safe on its own: the client calls
  it under its per-access-key lock, so the order of nonces is the order on the wire.
- 'Endpoints for file translation': parameters and paths; 'Data model': parsing into frozen
  dataclasses (unknown fields in ``raw``),
  'State machine': per-item state (an item is settled when ``done`` or ``error``; the top-level
  ``done`` flag is not trusted); 'Error codes and classification': ``classify`` and ``check``.
- ``unpack_zip``: the 'Download', unpacked with zip-slip and zip-bomb guards.
- ``choose_poll``: whether one ``/translate-result/all`` or one call per pending id is
  cheaper this round.

Taxonomy (``classify``; kinds from ``providers.errors``):

- RETRYABLE: 40005 (nonce too small; the client already retried once with a fresh one),
  40100 general error, 40102 internal translation failure, 40103 rate limit, unknown
  401xx / 5xxxx codes, HTTP 5xx / 429, ``status: failure`` without a code, answers that
  cannot be read (``bad-response``, ``bad-json``, ``bad-zip``), timeouts and transport.
- PERMANENT: configuration (40001-40003 keys, 40006 signature, 40008 nonce too big,
  40204 contract), the request itself (40101, 402xx, ``bad-request``), the input (40300
  language not detected, 40301 unsupported pair), 40203 not found or expired, HTTP 4xx
  without a code, and archives we refuse (``unsafe-zip``, ``zip-too-large``, ``too-large``).
- QUOTA: no documented code means quota or balance, so nothing maps to it yet.
- PENDING: not an error here — an item with ``done: false`` is simply not settled.

``ProviderError.code`` is Rozetta's number as a string (``"40006"``) or one of ours:
``http-<status>``, ``failure``, ``item-error`` (an item with ``error: true`` and no
code), and the names above. Messages carry no key or signature.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import lzma
import re
import stat
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from providers.errors import ErrorKind, ProviderError, explain

PROVIDER = "rozetta"

# Operation names (the endpoints' own names), used in ProviderError.operation.
FILE_TRANSLATE = "file-translate"
TRANSLATE_RESULT = "translate-result"
TRANSLATE_RESULT_ALL = "translate-result/all"
DOWNLOADS = "downloads"

API_PREFIX = "/api/v1"
FILE_TRANSLATE_PATH = f"{API_PREFIX}/file-translate"
TRANSLATE_RESULT_ALL_PATH = f"{API_PREFIX}/translate-result/all"
DOWNLOADS_PATH = f"{API_PREFIX}/downloads"

#: 'Authentication': the largest nonce Rozetta accepts (40008 above it).
MAX_NONCE = 9_223_372_036_854_775_807

#: T-4OO field 1, "全体" (all fields) — the samples' default ('Upload files').
DEFAULT_FIELD_ID = "1"

#: English meaning of every documented code ('Error codes and classification').
MEANINGS: dict[int, str] = {
    40001: "engine (T-4OO) authentication error",
    40002: "access key does not exist",
    40003: "the access key is invalid",
    40005: "nonce too small: a bigger nonce is required",
    40006: "the signature is incorrect",
    40008: "nonce too large",
    40100: "general error",
    40101: "wrong transport: this endpoint needs a WebSocket",
    40102: "translation failed (internal error)",
    40103: "request frequency limit exceeded",
    40200: "a required argument is missing",
    40201: "invalid parameter type",
    40202: "missing or invalid parameter(s)",
    40203: "translation not found",
    40204: "no contract of this type (contract/engine mismatch)",
    40300: "unable to detect the text language: specify the source language",
    40301: "unsupported translation direction",
}

#: The documented English messages, to recover a code from a body that only has text.
_MESSAGE_CODES: dict[str, int] = {
    "access key doesn't exist.": 40002,
    "the key is invalid.": 40003,
    "please specify a bigger nonce.": 40005,
    "the signature is incorrect.": 40006,
    "please specify a smaller nonce.": 40008,
    "connect to this endpoint using websocket": 40101,
    "exceeded request frequency limit.": 40103,
    "required argument is missing.": 40200,
    "invalid type.": 40201,
    "missing or invalid parameter(s).": 40202,
}

_RETRYABLE = frozenset({40005, 40100, 40102, 40103})
_PERMANENT = frozenset(
    {40001, 40002, 40003, 40006, 40008, 40101, 40200, 40201, 40202, 40203, 40204, 40300, 40301}
)
_OUR_RETRYABLE = frozenset(
    {"failure", "bad-response", "bad-json", "bad-zip", "timeout", "transport"}
)
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*")


# ----------------------------------------------------------------------- signing ('Authentication')


def sign(secret_key: str, nonce: int | str, path: str) -> str:
    """``lowercase_hex(HMAC-SHA256(key=secret_key, msg=nonce + path))``.

    ``path`` is what follows the host, query included, in its decoded form
    (``/api/v1/downloads?ids=["…"]``).
    """
    message = f"{nonce}{path}".encode()
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def auth_headers(access_key: str, secret_key: str, nonce: int | str, path: str) -> dict[str, str]:
    """The three 'Authentication' headers for one request."""
    return {
        "accessKey": access_key,
        "nonce": str(nonce),
        "signature": sign(secret_key, nonce, path),
    }


class NonceSource:
    """Strictly increasing nonces: UNIX time in milliseconds, or ``last + 1`` if the
    clock has not moved on (or went back).

    Milliseconds, as 'Authentication' recommends, because every official sample but one uses them on
    the same key. Being based on the wall clock, nonces keep increasing across a
    restart; the only way to run ahead of the clock is to send more than one request
    per millisecond, and calls are serialised (one HTTP round trip each), so a restart
    would have to take less time than that lead — in practice it never does, and a
    40005 is retried once with a fresh nonce anyway.
    """

    def __init__(self, clock: Callable[[], float] = time.time, last: int = 0) -> None:
        self._clock = clock
        self.last = last

    def next(self) -> int:
        now = int(self._clock() * 1000)
        self.last = max(now, self.last + 1)
        if self.last > MAX_NONCE:  # pragma: no cover - 292 million years from now
            raise ValueError("nonce would exceed Rozetta's maximum")
        return self.last


# --------------------------------------------------------------------------- paths, parameters


def check_id(value: str, what: str = "id") -> str:
    """Translate and item ids go into a path or a signed query as they are: only
    URL-unreserved characters, so the encoded and decoded forms are the same."""
    if not isinstance(value, str) or not _SAFE_ID.fullmatch(value):
        raise ValueError(f"{what} must be a non-empty string of letters, digits, '.', '_', '-'")
    return value


def translate_result_path(translate_id: str) -> str:
    return f"{API_PREFIX}/translate-result/{check_id(translate_id, 'translate id')}"


def downloads_ids(item_ids: Sequence[str]) -> str:
    """'Download': the ``ids`` value, a compact JSON array of translateItemIds."""
    ids = list(dict.fromkeys(check_id(i, "item id") for i in item_ids))
    if not ids:
        raise ValueError("at least one item id is required")
    return json.dumps(ids, separators=(",", ":"))


def downloads_path(item_ids: Sequence[str]) -> tuple[str, str]:
    """``(signed path, path as sent)`` for 'Download': the signature covers the decoded query,
    the URL carries it percent-encoded once."""
    ids = downloads_ids(item_ids)
    return f"{DOWNLOADS_PATH}?ids={ids}", f"{DOWNLOADS_PATH}?ids={quote(ids, safe='')}"


def file_translate_fields(
    target_langs: Sequence[str],
    *,
    field_id: str | int = DEFAULT_FIELD_ID,
    contract_id: str | int | None = None,
    source_lang: str | None = None,
) -> list[tuple[str, str]]:
    """'Upload files': the text fields of the multipart upload (the ``files`` parts are added by the
    client). ``targetLangs`` is a JSON array serialised as a string; ``sourceLang`` is
    left out for automatic detection; ``contractId`` only when configured."""
    langs = [lang.strip() for lang in target_langs if lang and lang.strip()]
    if not langs:
        raise ValueError("at least one target language is required")
    if str(field_id).strip() == "":
        raise ValueError("fieldId must not be empty")
    fields = [
        ("targetLangs", json.dumps(list(dict.fromkeys(langs)), separators=(",", ":"))),
        ("fieldId", str(field_id).strip()),
    ]
    if contract_id is not None and str(contract_id).strip():
        fields.append(("contractId", str(contract_id).strip()))
    if source_lang:
        fields.append(("sourceLang", source_lang.strip()))
    return fields


_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/]')


def upload_name(file_name: str) -> str:
    """The name sent in a ``files`` part: the last path component, with quotes,
    backslashes and control characters replaced (sent as raw UTF-8, like a browser)."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = _UNSAFE_NAME_CHARS.sub("_", base)
    return base if base not in {"", ".", ".."} else "file"


# --------------------------------------------------------------------------- results ('Data model')


@dataclass(frozen=True)
class TranslateItem:
    """One uploaded file × one target language ('Data model'). ``word_count`` is words for
    T-4OO and characters for T-3MT (the engine follows the contract)."""

    item_id: str  # translateItemId, used for downloads
    file_name: str  # originalName
    target_lang: str  # lang
    done: bool  # the provider's flag as sent
    error: bool = False
    error_code: str | None = None
    error_message: str | None = None
    word_count: int | float | None = None
    detected_lang: str | None = None
    downloaded: bool = False
    numeric_id: int | None = None
    t4oo_auth_failed: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        return self.error or self.error_code is not None or self.t4oo_auth_failed

    @property
    def state(self) -> Literal["pending", "done", "failed"]:
        """'State machine': ``failed`` wins over ``done`` (``done`` on an error is undocumented)."""
        if self.failed:
            return "failed"
        return "done" if self.done else "pending"

    @property
    def settled(self) -> bool:
        return self.state != "pending"

    @property
    def failure_code(self) -> str | None:
        """``errorCode``; 40001 (engine authentication) for ``t4ooAuthFailed`` without
        one; ``item-error`` for an error without a code; None unless failed."""
        if not self.failed:
            return None
        if self.error_code is not None:
            return self.error_code
        return "40001" if self.t4oo_auth_failed else "item-error"

    @property
    def kind(self) -> ErrorKind | None:
        """The ErrorKind of the item's failure ('Error codes and classification'), None unless
        failed."""
        code = self.failure_code
        return None if code is None else classify(code)

    def failure(self, operation: str = TRANSLATE_RESULT) -> ProviderError | None:
        """The item's failure as a ``ProviderError`` (None unless failed)."""
        code = self.failure_code
        if code is None:
            return None
        message = f"{self.file_name} ({self.target_lang}): {describe(code, self.error_message)}"
        return ProviderError(PROVIDER, operation, code, message, classify(code))


@dataclass(frozen=True)
class Translation:
    """One upload ('Data model'): its items, one per file × target language."""

    translate_id: str
    items: tuple[TranslateItem, ...]
    done: bool = False  # the provider's top-level flag; see ``finished``
    langs: tuple[str, ...] = ()
    field_id: str | None = None
    created_at: str | None = None  # ISO-8601 when given as a string ({} in the seed)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Every item settled ('State machine' quirk: the top-level ``done`` may lag behind its
        items).
        A translation without items falls back to the top-level flag."""
        if not self.items:
            return self.done
        return all(item.settled for item in self.items)

    @property
    def done_items(self) -> tuple[TranslateItem, ...]:
        return tuple(i for i in self.items if i.state == "done")

    @property
    def failed_items(self) -> tuple[TranslateItem, ...]:
        return tuple(i for i in self.items if i.state == "failed")

    @property
    def pending_items(self) -> tuple[TranslateItem, ...]:
        return tuple(i for i in self.items if i.state == "pending")


# ------------------------------------------------ classification ('Error codes and classification')


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def classify(code: int | str) -> ErrorKind:
    """'Error codes and classification': 40005, 40100, 40102, 40103 retryable; the other documented
    codes permanent.

    Unknown codes: 5xxxx and 401xx retryable, other numbers permanent; ``http-5xx`` and
    ``http-429`` retryable; our own codes as in the module docstring; anything else
    permanent. No documented code means quota, so QUOTA is never returned; the
    spec's PENDING is not an error at all (an item with ``done: false``).
    """
    text = str(code).strip()
    if text.startswith("http-"):
        status = _as_int(text.removeprefix("http-"))
        retry = status is not None and (status >= 500 or status in {408, 425, 429})
        return ErrorKind.RETRYABLE if retry else ErrorKind.PERMANENT
    if text in _OUR_RETRYABLE:
        return ErrorKind.RETRYABLE
    number = _as_int(text)
    if number is None:
        return ErrorKind.PERMANENT
    if number in _RETRYABLE:
        return ErrorKind.RETRYABLE
    if number in _PERMANENT:
        return ErrorKind.PERMANENT
    if 50000 <= number <= 59999 or 40100 <= number <= 40199:
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


def describe(code: int | str, provider_message: Any = None, redact: Iterable[str] = ()) -> str:
    """English meaning of ``code`` plus Rozetta's own text, with secrets removed."""
    number = _as_int(code)
    meaning = MEANINGS.get(number, "unrecognised Rozetta code") if number is not None else ""
    return explain(meaning, provider_message, provider="Rozetta", redact=redact)


def _bad_response(operation: str, detail: str) -> ProviderError:
    return ProviderError(PROVIDER, operation, "bad-response", detail, ErrorKind.RETRYABLE)


def _failure_code(body: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The code and message of a failure body, wherever they are (the envelope is not
    documented: 'Error codes and classification' says accept the code anywhere in ``data``)."""
    places = [body.get("data"), body.get("error"), body]
    for place in places:
        if not isinstance(place, Mapping):
            continue
        for key in ("code", "errorCode", "error_code"):
            value = place.get(key)
            if value is not None and not isinstance(value, bool) and str(value).strip():
                message = next(
                    (place[k] for k in ("message", "errorMessage", "msg") if place.get(k)), None
                )
                return str(value).strip(), message
    message = next((m for m in map(_message_of, places) if m), None)
    if isinstance(message, str):
        known = _MESSAGE_CODES.get(message.strip().lower())
        if known is not None:
            return str(known), message
    return None, message


def _message_of(place: Any) -> str | None:
    if isinstance(place, str):
        return place
    if isinstance(place, Mapping):
        for key in ("message", "errorMessage", "msg"):
            value = place.get(key)
            if isinstance(value, str):
                return value
    return None


def error_code(body: Any) -> str | None:
    """Rozetta's code in a failure body (None for success bodies and bodies without one)."""
    if not isinstance(body, Mapping) or _is_success(body):
        return None
    return _failure_code(body)[0]


def _is_success(body: Mapping[str, Any]) -> bool:
    return str(body.get("status", "")).strip().lower() == "success"


def check(status: int, body: Any, operation: str, *, redact: Iterable[str] = ()) -> Any:
    """Return ``data`` of a success envelope; otherwise raise ``ProviderError``.

    ``status`` is the HTTP status, ``body`` the parsed JSON (or ``None`` when there was
    no JSON). ``redact`` lists strings (keys, signatures) that must never appear in the
    message.
    """
    if isinstance(body, Mapping) and _is_success(body) and status < 400:
        return body.get("data")
    raise error_for(status, body, operation, redact=redact)


def error_for(
    status: int, body: Any, operation: str, *, redact: Iterable[str] = ()
) -> ProviderError:
    """The ``ProviderError`` for a failed call (HTTP status + body)."""
    code, message = (None, None)
    if isinstance(body, Mapping):
        code, message = _failure_code(body)
    if code is not None:
        return ProviderError(
            PROVIDER, operation, code, describe(code, message, redact), classify(code)
        )
    if status >= 400:
        code = f"http-{status}"
        detail = describe(code, message, redact)
        if detail == "no detail given":
            detail = f"the provider refused the request with HTTP {status}"
        return ProviderError(PROVIDER, operation, code, detail, classify(code))
    if isinstance(body, Mapping) and str(body.get("status", "")).strip().lower() == "failure":
        detail = describe("failure", message, redact)
        if detail == "no detail given":
            detail = "the provider reported a failure without a code"
        return ProviderError(PROVIDER, operation, "failure", detail, classify("failure"))
    if not isinstance(body, Mapping):
        return _bad_response(operation, "the provider answered with JSON that is not an object")
    return _bad_response(operation, "the provider's answer has neither success nor a code")


# --------------------------------------------------------------------------- parsers


def _bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) if isinstance(value, bool | int) else False


def _str(value: Any) -> str | None:
    if type(value) is str:  # the common case, first: "all" answers can be thousands long
        return value.strip() or None
    if value is None or isinstance(value, bool | Mapping | list):
        return None
    text = str(value).strip()
    return text or None


def _count(value: Any) -> int | float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past a float
        return None
    return int(number) if number.is_integer() else number


def parse_item(obj: Mapping[str, Any]) -> TranslateItem:
    """One TranslateItem ('Data model'). ``errorCode`` 0 / "" count as no code."""
    code = obj.get("errorCode")
    error_code = None if code in (None, "", 0, "0") or isinstance(code, bool) else str(code)
    return TranslateItem(
        item_id=_str(obj.get("translateItemId")) or "",
        file_name=_str(obj.get("originalName")) or "",
        target_lang=_str(obj.get("lang")) or "",
        done=_bool(obj.get("done")),
        error=_bool(obj.get("error")),
        error_code=error_code,
        error_message=_str(obj.get("errorMessage")),
        word_count=_count(obj.get("wordCount")),
        detected_lang=_str(obj.get("detectedLang")),
        downloaded=_bool(obj.get("downloaded")),
        numeric_id=_as_int(obj.get("id")),
        t4oo_auth_failed=_bool(obj.get("t4ooAuthFailed")),
        raw=dict(obj),
    )


def parse_translation(obj: Mapping[str, Any]) -> Translation:
    """One Translate object ('Data model'). Items without a ``translateItemId`` are dropped (they
    cannot be downloaded; ``raw`` still has them)."""
    items = obj.get("items")
    parsed = tuple(
        item
        for item in (
            parse_item(i)
            for i in (items if isinstance(items, list) else [])
            if isinstance(i, Mapping)
        )
        if item.item_id
    )
    langs = obj.get("langs")
    return Translation(
        translate_id=_str(obj.get("translateId")) or "",
        items=parsed,
        done=_bool(obj.get("done")),
        langs=tuple(str(x) for x in langs) if isinstance(langs, list) else (),
        field_id=_str(obj.get("fieldId")),
        created_at=obj["createdAt"] if isinstance(obj.get("createdAt"), str) else None,
        raw=dict(obj),
    )


def _is_translation(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(_str(value.get("translateId")))


def parse_file_translate(
    status: int, body: Any, operation: str = FILE_TRANSLATE, *, redact: Iterable[str] = ()
) -> str:
    """'Upload files': the new ``translateId``."""
    data = check(status, body, operation, redact=redact)
    if isinstance(data, Mapping):
        tid = _str(data.get("translateId"))
    else:
        tid = _str(data) if isinstance(data, str) else None
    if not tid:
        raise _bad_response(operation, "success without data.translateId")
    return tid


def parse_translate_result(
    status: int, body: Any, operation: str = TRANSLATE_RESULT, *, redact: Iterable[str] = ()
) -> Translation:
    """'One translation's result'. A ``failure`` envelope that still carries the translation (the
    seed: one
    failed paragraph fails the request) is parsed: the failure is in its items."""
    if isinstance(body, Mapping) and status < 400 and _is_translation(body.get("data")):
        return parse_translation(body["data"])
    data = check(status, body, operation, redact=redact)
    raise _bad_response(
        operation, "success without a translation" if data is None else "data is not a translation"
    )


def parse_translate_result_all(
    status: int, body: Any, operation: str = TRANSLATE_RESULT_ALL, *, redact: Iterable[str] = ()
) -> tuple[Translation, ...]:
    """'All results': every translation of the access key. Entries that are not translations are
    skipped; a ``failure`` envelope with translations in ``data`` is parsed (see above)."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if (
        status < 400
        and isinstance(data, list)
        and (_is_success(body) or any(map(_is_translation, data)))
    ):
        return tuple(parse_translation(t) for t in data if _is_translation(t))
    data = check(status, body, operation, redact=redact)
    if data is None:
        return ()
    raise _bad_response(operation, "data is not an array of translations")


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def parse_download(
    status: int, body: bytes, operation: str = DOWNLOADS, *, redact: Iterable[str] = ()
) -> bytes:
    """'Download': the ZIP archive itself, or the ``ProviderError`` a JSON/HTTP error means."""
    if status < 400 and body.startswith(ZIP_MAGIC):
        return body
    try:
        parsed = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        parsed = None
    if status >= 400 or (isinstance(parsed, Mapping) and not _is_success(parsed)):
        raise error_for(status, parsed, operation, redact=redact)
    raise _bad_response(operation, "the download is not a ZIP archive")


# --------------------------------------------------------------------------- ZIP ('Download')

#: Caps for ``unpack_zip``: the upload limit is 500 MB per file ('Upload files').
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")


def _entry_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:  # not flagged UTF-8: zipfile decoded it as cp437
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return name


def safe_entry_name(name: str) -> str | None:
    """A relative POSIX name, or None when the entry would escape the target folder
    (absolute, drive letter, ``..`` component, control characters)."""
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        return None
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        return None
    parts = [p for p in text.split("/") if p not in {"", "."}]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def unpack_zip(
    data: bytes,
    *,
    max_total_bytes: int = MAX_UNPACKED_BYTES,
    max_entries: int = MAX_ZIP_ENTRIES,
    operation: str = DOWNLOADS,
) -> tuple[tuple[str, bytes], ...]:
    """The files of a download as ``(name inside the archive, content)`` pairs, in
    archive order (directories skipped).

    Refused with a PERMANENT ``ProviderError``: any entry whose name escapes the folder
    (zip-slip; the whole archive is refused, not just the entry), symbolic links, more
    than ``max_entries`` entries, and more than ``max_total_bytes`` once decompressed —
    counted while reading, never trusted from the headers. A damaged archive (maybe a
    cut-off download) is RETRYABLE ``bad-zip``.
    """

    def refuse(code: str, message: str) -> ProviderError:
        return ProviderError(PROVIDER, operation, code, message, ErrorKind.PERMANENT)

    out: list[tuple[str, bytes]] = []
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > max_entries:
                raise refuse("zip-too-large", f"the archive has more than {max_entries} entries")
            names = []
            for info in infos:
                name = safe_entry_name(_entry_name(info))
                if name is None:
                    raise refuse("unsafe-zip", "the archive has an entry outside its folder")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise refuse("unsafe-zip", "the archive has a symbolic link")
                names.append(name)
            for info, name in zip(infos, names, strict=True):
                if info.is_dir():
                    continue
                chunks = []
                with archive.open(info) as handle:
                    while chunk := handle.read(_CHUNK):
                        total += len(chunk)
                        if total > max_total_bytes:
                            raise refuse(
                                "zip-too-large",
                                f"the archive unpacks to more than {max_total_bytes} bytes",
                            )
                        chunks.append(chunk)
                out.append((name, b"".join(chunks)))
    except ProviderError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,  # also bz2's damaged streams
        EOFError,
        RuntimeError,
        zlib.error,  # a damaged deflate stream
        lzma.LZMAError,  # a damaged LZMA stream
    ) as exc:
        raise ProviderError(
            PROVIDER,
            operation,
            "bad-zip",
            "the download is not a readable ZIP archive",
            ErrorKind.RETRYABLE,
        ) from exc
    except (NotImplementedError, ValueError) as exc:  # unsupported compression, encryption
        raise refuse("bad-zip", f"the archive cannot be unpacked ({type(exc).__name__})") from exc
    return tuple(out)


# --------------------------------------------------------------------------- polling cost

#: One extra signed request costs about as much as receiving and parsing this many
#: translation objects in an "all" response. Measured against the emulator (one item
#: per translation): ~410 bytes and ~20-30 µs of JSON + wire parsing each, on the event
#: loop — 5,000 of them are ~2 MB and 100-200 ms of CPU. A request to Rozetta is a
#: round trip of ~100-300 ms during which the per-key nonce lock is held, but little
#: CPU. Counting time alone a request is worth ~2,500 objects; 500 also counts the
#: event-loop time a big "all" blocks, so a 5,000-translation history is only fetched
#: whole when 11 or more translations are pending.
REQUEST_COST = 500


def choose_poll(
    pending: int, history_size_estimate: int, *, request_cost: int = REQUEST_COST
) -> Literal["all", "per-id"]:
    """Poll with one ``/translate-result/all`` or one ``/translate-result/{id}`` per
    pending translation, whichever costs less this round.

    ``pending``: translations the bot still waits for. ``history_size_estimate``: how
    many translations the last "all" response held (it returns the account's whole
    history, not just ours). Costs, in units of one translation object:

        all    = request_cost + history
        per-id = pending * (request_cost + 1)

    so "all" wins unless the history outweighs the saved requests. With nothing
    pending there is nothing to ask ("per-id" with zero calls).
    """
    if pending <= 0:
        return "per-id"
    history = max(history_size_estimate, pending)
    all_cost = request_cost + history
    per_id_cost = pending * (request_cost + 1)
    return "all" if all_cost <= per_id_cost else "per-id"

"""Xiangji (象寄) wire format: signing, request parameters, response parsing.

Pure functions only — no I/O. The spec is ``/work/shared/providers/xiangji.md``;
section titles below refer to it.

Parsers are deliberately lenient about the documented quirks (``SslUrl`` vs
``SsUrl`` vs ``Url``, ``OriginalUrl``, the four shapes of ``Data.Content``, batch
items that are plain strings, the lowercase quota envelope with string numbers,
OCR ``Orc`` lines with ``bounding_box``/``boundingBox`` and ``font_size``/``fontSize``)
and strict about success: a non-200 ``Code`` always becomes a ``ProviderError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar
from urllib.parse import quote

from providers.errors import ErrorKind, ProviderError, explain
from providers.xiangji.spec import ENGINE_LABELS, TEXT_ENGINE_NAMES

PROVIDER = "xiangji"

# Action names ('Image translation by URL', 'Other operations'). The quota endpoint has no Action;
# AMOUNT_QUERY names it.
GET_IMAGE_TRANSLATE = "GetImageTranslate"
GET_TEXT_TRANSLATE = "GetTextTranslate"
GET_IMAGE_TRANSLATE_BATCH = "GetImageTranslateBatch"
GET_IMAGE_TRANSLATE_BATCH_RESULT = "GetImageTranslateBatchResult"
GET_IMAGE_TRANSLATE_BATCH_QUERY = "GetImageTranslateBatchQuery"
GET_IMAGE_MATTING = "GetImageMatting"
AMOUNT_QUERY = "AmountQuery"

#: Image translation accepts only these source languages ('Image translation by URL',
#: 'Language codes').
IMAGE_SOURCE_LANGUAGES = frozenset({"CHS", "CHT", "ENG", "JPN"})

#: Quota ``Type`` values ('Quota') that Tolk's own operations spend.
QUOTA_IMAGE = 1
QUOTA_TEXT = 2
QUOTA_MATTING = 8
QUOTA_VIDEO = 9
#: Quota ``Type`` → name of the key parameter that goes with it ('Quota').
QUOTA_KEY_PARAMS: dict[int, str] = {
    1: "ImgTransKey",
    2: "TextTransKey",
    3: "ImgTransGoogleKey",
    4: "ImgTransPapagoKey",
    5: "ImgTransBaiduKey",
    7: "ImgTransDeeplKey",
    8: "ImgMattingKey",
    9: "VideoTransKey",
}

#: Quota ``Type`` → what it counts, in English (seed part 五; 6 "image temporary storage"
#: and 10 "text to speech" have no key parameter, so Tolk cannot ask for them).
QUOTA_SERVICES: dict[int, str] = {
    1: "image translation (Aliyun)",
    2: "text translation",
    3: "image translation (Google)",
    4: "image translation (Papago)",
    5: "image translation (Baidu)",
    7: "image translation (DeepL)",
    8: "background removal",
    9: "video translation",
}
#: Quota ``Type`` → the ``XiangjiKeys`` attribute holding the key for that Type.
QUOTA_KEY_ATTRS: dict[int, str] = {
    1: "img_trans_key",
    2: "text_trans_key",
    3: "img_trans_google_key",
    4: "img_trans_papago_key",
    5: "img_trans_baidu_key",
    7: "img_trans_deepl_key",
    8: "matting_key",
    9: "video_trans_key",
}


def key_env(key_attr: str) -> str:
    """The environment variable that configures a ``XiangjiKeys`` attribute."""
    return "XIANGJI_" + key_attr.upper()


@dataclass(frozen=True)
class ImageEngine:
    """An image-translation engine (seed part 一, 二; quota Types 1, 3, 4, 5, 7).

    Xiangji picks the engine by *which* key arrives in ``ImgTransKey`` (there is one
    parameter, and one key per engine); ``EngineType=5`` (ChatGPT) is honoured only with
    the Aliyun key ("其他无效": anything else is ignored).
    """

    name: str
    key_attr: str  # the XiangjiKeys attribute whose value goes in ImgTransKey
    quota_type: int
    engine_type: int | None = None  # EngineType to send, if any

    @property
    def label(self) -> str:
        return ENGINE_LABELS.get(self.name, self.name)

    @property
    def env(self) -> str:
        return key_env(self.key_attr)


#: Image engines in default-preference order (issue 17: the first configured wins).
IMAGE_ENGINES: dict[str, ImageEngine] = {
    e.name: e
    for e in (
        ImageEngine("aliyun", "img_trans_key", 1),
        ImageEngine("google", "img_trans_google_key", 3),
        ImageEngine("papago", "img_trans_papago_key", 4),
        ImageEngine("baidu", "img_trans_baidu_key", 5),
        ImageEngine("deepl", "img_trans_deepl_key", 7),
        ImageEngine("chatgpt", "img_trans_key", 1, engine_type=5),  # Aliyun key + EngineType=5
    )
}

#: Text engines: the ``Type`` parameter of ``GetTextTranslate`` (seed part 四; default 0).
TEXT_ENGINES: dict[str, int] = {name: n for n, name in enumerate(TEXT_ENGINE_NAMES)}

#: Text quota (Type 2) spent per source character, as (low, high) factors (seed part 四.4:
#: Aliyun and Baidu 1×; Google, Papago and DeepL 3× to 4.5× "with the exchange rate").
TEXT_COST: dict[str, tuple[float, float]] = {
    "aliyun": (1.0, 1.0),
    "google": (3.0, 4.5),
    "papago": (3.0, 4.5),
    "baidu": (1.0, 1.0),
    "deepl": (3.0, 4.5),
    "chatgpt": (1.0, 1.0),  # undocumented: the seed's billing note does not name it
    "googlellm": (1.0, 1.0),  # undocumented: the seed's billing note does not name it
}


def image_engine(name: str) -> ImageEngine:
    """The engine called ``name`` (case-insensitive); ``ValueError`` if there is none."""
    try:
        return IMAGE_ENGINES[name.strip().lower()]
    except (KeyError, AttributeError):
        known = ", ".join(IMAGE_ENGINES)
        raise ValueError(f"unknown Xiangji image engine {name!r} (known: {known})") from None


def text_engine(engine: str | int | None) -> int | None:
    """``Type`` for a text engine given by name or by its number (old tasks store ints)."""
    if engine is None:
        return None
    if isinstance(engine, int) and not isinstance(engine, bool):
        if engine not in TEXT_ENGINES.values():
            raise ValueError(f"unknown Xiangji text engine Type {engine}")
        return engine
    if isinstance(engine, str):
        name = engine.strip().lower()
        if name in TEXT_ENGINES:
            return TEXT_ENGINES[name]
        if name.isdigit():
            return text_engine(int(name))
    known = ", ".join(TEXT_ENGINES)
    raise ValueError(f"unknown Xiangji text engine {engine!r} (known: {known})")


#: English meaning of every documented ``Code`` ('Error codes and suggested classification').
MEANINGS: dict[int, str] = {
    101: "request timed out",
    102: "system error",
    103: "URL encoding error",
    104: "parameter error",
    105: "language pair not supported",
    106: "language detection error",
    107: "translation error",
    108: "text too long",
    109: "sub-account has no permission",
    110: "account has not activated the service",
    111: "sub-account service failed",
    112: "translation service call failed",
    113: "service not activated or account in arrears",
    114: "task not finished yet",
    115: "request ID error",
    116: "task data parsing failed",
    117: "task data expired",
    120: "insufficient balance",
    199: "unknown error",
    200: "success",
}

_RETRYABLE = frozenset({101, 102, 107, 111, 112, 199})
_QUOTA = frozenset({113, 120})
_URL_KEYS = ("SslUrl", "SsUrl", "Url")
_RM_URL_KEYS = ("SslRmUrl", "SsRmUrl", "RmUrl")


# --------------------------------------------------------------------------- signing


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sign(commit_time: int | str, user_key: str, service_key: str) -> str:
    """'Standard scheme': ``md5(CommitTime_UserKey_ServiceKey)``, lower-case hex."""
    return _md5(f"{commit_time}_{user_key}_{service_key}")


def quota_sign(type: int | str, user_key: str, key: str) -> str:
    """'Quota scheme': ``md5(Type_UserKey_KeyForThatType)``, lower-case hex (no CommitTime)."""
    return _md5(f"{type}_{user_key}_{key}")


# --------------------------------------------------------------------------- parameters


def _flag(value: bool) -> str:
    return "1" if value else "0"


def encode_urls(urls: Sequence[str]) -> str:
    """'Batch image translation': percent-encode each URL on its own (commas → ``%2C``), join with
    ``,``.

    The HTTP form encoder then encodes the whole value once more.
    """
    if not urls:
        raise ValueError("at least one URL is required")
    return ",".join(quote(url, safe="") for url in urls)


def format_bg_color(rgb: tuple[int, int, int] | None) -> str | None:
    if rgb is None:
        return None
    if len(rgb) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in rgb):
        raise ValueError("bg_color must be three integers 0-255")
    return ",".join(str(c) for c in rgb)


class Signing(TypedDict):
    """The signing inputs every request takes, as keyword arguments of the ``*_params``
    builders: the service key, the account's user key and the ``CommitTime``."""

    key: str
    user_key: str
    commit_time: int | str


def _signed(
    action: str, key_param: str, key: str, user_key: str, commit_time: int | str
) -> dict[str, str]:
    return {
        "Action": action,
        key_param: key,
        "CommitTime": str(commit_time),
        "Sign": sign(commit_time, user_key, key),
    }


def _image_options(
    params: dict[str, str],
    need_watermark: bool,
    need_rm_url: bool,
    qos: str | None,
    engine_type: int | None,
) -> dict[str, str]:
    params["NeedWatermark"] = _flag(need_watermark)  # the service defaults to 1: always send
    if need_rm_url:
        params["NeedRmUrl"] = "1"
    if qos:
        params["Qos"] = qos
    if engine_type is not None:
        params["EngineType"] = str(engine_type)
    return params


def text_translate_params(
    text: str,
    source: str,
    target: str,
    *,
    key: str,
    user_key: str,
    commit_time: int | str,
    engine: int | None = None,
) -> dict[str, str]:
    params = _signed(GET_TEXT_TRANSLATE, "TextTransKey", key, user_key, commit_time)
    params.update(SourceLanguage=source, TargetLanguage=target, Text=text)
    if engine is not None:
        params["Type"] = str(engine)
    return params


def image_translate_params(
    url: str,
    source: str,
    target: str,
    *,
    key: str,
    user_key: str,
    commit_time: int | str,
    need_watermark: bool = False,
    need_rm_url: bool = False,
    qos: str | None = None,
    engine_type: int | None = None,
) -> dict[str, str]:
    """'Image translation by URL' ('Image translation by local file' with ``url="local"``). ``Url``
    is raw here: the form encoder
    encodes it exactly once."""
    params = _signed(GET_IMAGE_TRANSLATE, "ImgTransKey", key, user_key, commit_time)
    params.update(SourceLanguage=source, TargetLanguage=target, Url=url)
    return _image_options(params, need_watermark, need_rm_url, qos, engine_type)


def batch_params(
    urls: Sequence[str],
    source: str,
    target: str,
    *,
    key: str,
    user_key: str,
    commit_time: int | str,
    sync: int = 2,
    engine_type: int | None = None,
) -> dict[str, str]:
    """Seed part 六.1: exactly the parameters it lists for the batch — no
    ``NeedWatermark``, ``NeedRmUrl`` or ``Qos`` (they are documented for single images
    only)."""
    params = _signed(GET_IMAGE_TRANSLATE_BATCH, "ImgTransKey", key, user_key, commit_time)
    params.update(
        SourceLanguage=source, TargetLanguage=target, Urls=encode_urls(urls), Sync=str(sync)
    )
    if engine_type is not None:
        params["EngineType"] = str(engine_type)
    return params


#: The longest GET URL Tolk sends. Servers commonly refuse a request line past 8 KiB
#: (nginx's default ``large_client_header_buffers 4 8k`` answers 414); 8,000 bytes for the
#: whole URL leaves room for the method, the protocol and a longer base URL's host.
MAX_GET_URL = 8000


def query_string(params: Mapping[str, str]) -> str:
    """Every name and value percent-encoded (only RFC 3986 unreserved characters kept),
    so the length measured here is exactly what goes on the wire."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())


def batch_urls(
    base_url: str,
    urls: Sequence[str],
    source: str,
    target: str,
    *,
    key: str,
    user_key: str,
    commit_time: int | str,
    sync: int = 2,
    engine_type: int | None = None,
    limit: int = MAX_GET_URL,
) -> list[tuple[list[str], str]]:
    """Seed part 六.1 as GET URLs: ``[(the image URLs in it, the full GET URL), …]``.

    The seed documents the batch as a GET only, so a list too long for one GET is split
    into several GETs, each at most ``limit`` bytes, in input order — instead of falling
    back to a POST the seed does not mention. An image URL too long to fit a GET even on
    its own is refused (PERMANENT ``url-too-long``) before anything is sent.
    """
    if not urls:
        raise ValueError("at least one URL is required")

    def full(chunk: Sequence[str]) -> str:
        params = batch_params(
            chunk,
            source,
            target,
            key=key,
            user_key=user_key,
            commit_time=commit_time,
            sync=sync,
            engine_type=engine_type,
        )
        return f"{base_url}?{query_string(params)}"

    # Urls goes on the wire as quote(",".join(quote(u))): per character, so the items'
    # lengths add up (plus 3 bytes, "%2C", per separator) and need no rebuilding per try.
    fixed = len(full([""]))
    chunks: list[list[str]] = []
    size = 0
    for url in urls:
        item = len(quote(quote(url, safe=""), safe=""))
        if fixed + item > limit:
            message = (
                f"an image URL is too long for Xiangji's batch: it takes {item:,} bytes "
                f"encoded and a batch GET may be at most {limit:,} bytes"
            )
            raise ProviderError(
                PROVIDER,
                GET_IMAGE_TRANSLATE_BATCH,
                "url-too-long",
                message,
                ErrorKind.PERMANENT,
            )
        if chunks and size + 3 + item <= limit:
            chunks[-1].append(url)
            size += 3 + item
        else:
            chunks.append([url])
            size = fixed + item
    return [(chunk, full(chunk)) for chunk in chunks]


def _ids(request_ids: Sequence[str]) -> str:
    ids = [i.strip() for i in request_ids if i and i.strip()]
    if not ids or any("," in i for i in ids):
        raise ValueError("request ids must be non-empty and must not contain commas")
    return ",".join(ids)


def batch_result_params(request_ids: Sequence[str]) -> dict[str, str]:
    """'Batch result query': unsigned — no key, CommitTime or Sign is documented for this call."""
    return {"Action": GET_IMAGE_TRANSLATE_BATCH_RESULT, "RequestIds": _ids(request_ids)}


def batch_query_params(request_ids: Sequence[str]) -> dict[str, str]:
    """'Batch detail query': unsigned, like 'Batch result query'."""
    return {"Action": GET_IMAGE_TRANSLATE_BATCH_QUERY, "RequestIds": _ids(request_ids)}


def matting_params(
    *,
    key: str,
    user_key: str,
    commit_time: int | str,
    url: str | None = None,
    bg_color: tuple[int, int, int] | None = None,
    sync: bool = True,
) -> dict[str, str]:
    """'Matting'. ``url=None`` for the local-file variant (the file goes in ``file-stream``)."""
    params = _signed(GET_IMAGE_MATTING, "ImgMattingKey", key, user_key, commit_time)
    if url is not None:
        params["Url"] = url
    params["Sync"] = "1" if sync else "2"
    color = format_bg_color(bg_color)
    if color:
        params["BgColor"] = color
    return params


def quota_params(service_type: int, *, user_key: str, key: str) -> dict[str, str]:
    """'Quota'."""
    try:
        key_param = QUOTA_KEY_PARAMS[service_type]
    except KeyError:
        raise ValueError(f"quota type {service_type} has no key parameter") from None
    return {
        "Type": str(service_type),
        key_param: key,
        "Sign": quota_sign(service_type, user_key, key),
    }


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TextTranslation:
    request_id: str
    source: str
    target: str
    origin_text: str
    text: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class ImageResult:
    request_id: str
    url: str | None  # best result URL: SslUrl, else SsUrl, else Url
    http_url: str | None = None  # Url as sent
    rm_url: str | None = None  # best text-removed URL: SslRmUrl, else SsRmUrl, else RmUrl
    origin_url: str | None = None  # OriginUrl / OriginalUrl / OriginSslUrl
    source: str | None = None
    target: str | None = None
    has_watermark: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class MattingResult:
    request_id: str
    url: str | None  # best: SslUrl, else SsUrl, else Url
    http_url: str | None = None
    origin_url: str | None = None  # best: OriginSslUrl, else OriginUrl / OriginalUrl
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class OcrLine:
    source: str
    target: str
    box: tuple[int, int, int, int] | None = None  # x, y, width, height
    font_size: int | None = None  # pixels
    orientation: str | None = None  # "h" or "v"
    fg: tuple[int, ...] | None = None
    bg: tuple[int, ...] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class BatchItem:
    """One per-image (or matting job) entry of a batch query."""

    request_id: str
    code: int
    message: str
    kind: ErrorKind | None  # None when code == 200
    result: ImageResult | None = None  # only when code == 200
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.code == 200

    @property
    def pending(self) -> bool:
        return self.kind is ErrorKind.PENDING

    def error(self, operation: str = GET_IMAGE_TRANSLATE_BATCH_RESULT) -> ProviderError | None:
        """The item's failure as a ``ProviderError`` (None when done)."""
        if self.kind is None:
            return None
        return ProviderError(PROVIDER, operation, str(self.code), self.message, self.kind)


@dataclass(frozen=True)
class BatchDetail(BatchItem):
    """An entry of 'Batch detail query': a ``BatchItem`` plus the OCR lines (``Orc``)."""

    ocr: tuple[OcrLine, ...] = ()


@dataclass(frozen=True)
class Quota:
    type: int
    left_count: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


# --------------------------------------------------------------------------- classification


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def classify(code: int | str) -> ErrorKind:
    """'Error codes and suggested classification': 114 pending; 113/120 quota;
    101/102/107/111/112/199 retryable; else permanent.

    Only meaningful for non-200 codes (200 is success, not an error).
    """
    number = _as_int(code)
    if number == 114:
        return ErrorKind.PENDING
    if number in _QUOTA:
        return ErrorKind.QUOTA
    if number in _RETRYABLE:
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


def describe(code: int | str, provider_message: Any = None, redact: Iterable[str] = ()) -> str:
    """English meaning of ``code`` plus the provider's own text, with secrets removed."""
    number = _as_int(code)
    meaning = MEANINGS.get(number, "unrecognised Xiangji code") if number is not None else ""
    return explain(meaning, provider_message, provider="Xiangji", redact=redact)


def _bad_response(
    operation: str, detail: str, kind: ErrorKind = ErrorKind.RETRYABLE
) -> ProviderError:
    return ProviderError(PROVIDER, operation, "bad-response", detail, kind)


def _http_refused(operation: str, status: int) -> ProviderError:
    message = f"the provider refused the request with HTTP {status}"
    return ProviderError(PROVIDER, operation, f"http-{status}", message, ErrorKind.PERMANENT)


def check(
    envelope: Any, operation: str, *, status: int = 200, redact: Iterable[str] = ()
) -> Mapping[str, Any]:
    """Return the envelope if its ``Code`` is 200; otherwise raise ``ProviderError``.

    ``status`` is the HTTP status (4xx bodies reach here; 5xx never do). ``redact``
    lists strings (keys, signatures) that must not appear in the error message.
    """
    if not isinstance(envelope, Mapping):
        if status >= 400:
            raise _http_refused(operation, status)
        raise _bad_response(operation, "the provider answered with JSON that is not an object")
    code = _as_int(envelope.get("Code"))
    if code is None:
        if status >= 400:
            raise _http_refused(operation, status)
        raise _bad_response(operation, "the provider's answer has no Code")
    if code == 200:
        return envelope
    message = describe(code, envelope.get("Message"), redact)
    raise ProviderError(PROVIDER, operation, str(code), message, classify(code))


# --------------------------------------------------------------------------- parsers


def _data(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    data = envelope.get("Data")
    return data if isinstance(data, Mapping) else {}


def _text(obj: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    number = _as_int(value)
    if number is not None:
        return number != 0
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def image_result_from(obj: Mapping[str, Any], request_id: str = "") -> ImageResult:
    """Build an ``ImageResult`` from a ``Data`` object of 'Image translation by URL' or a batch
    item."""
    return ImageResult(
        request_id=_text(obj, "RequestId") or request_id,
        url=_text(obj, *_URL_KEYS),
        http_url=_text(obj, "Url"),
        rm_url=_text(obj, *_RM_URL_KEYS),
        origin_url=_text(obj, "OriginUrl", "OriginalUrl", "OriginSslUrl"),
        source=_text(obj, "SourceLanguage"),
        target=_text(obj, "TargetLanguage"),
        has_watermark=_bool(obj.get("HasWatermark")),
        raw=dict(obj),
    )


def parse_text_translation(envelope: Any, operation: str = GET_TEXT_TRANSLATE) -> TextTranslation:
    data = _data(check(envelope, operation))
    text = data.get("Text")
    if not isinstance(text, str):
        raise _bad_response(operation, "success without a translated Text")
    return TextTranslation(
        request_id=str(envelope.get("RequestId") or ""),
        source=str(data.get("SourceLanguage") or ""),
        target=str(data.get("TargetLanguage") or ""),
        origin_text=str(data.get("OriginText") or ""),
        text=text,
        raw=dict(data),
    )


def parse_image_result(envelope: Any, operation: str = GET_IMAGE_TRANSLATE) -> ImageResult:
    """The synchronous response of 'Image translation by URL' (or 'by local file')."""
    data = _data(check(envelope, operation))
    result = image_result_from(data, str(envelope.get("RequestId") or ""))
    if result.url is None:
        raise _bad_response(operation, "success without a result image URL")
    return result


def parse_submit_ids(envelope: Any, operation: str = GET_IMAGE_TRANSLATE_BATCH) -> list[str]:
    """Per-image request ids from a 'Batch image translation' (or an async 'Matting').

    Accepts ``Content`` as an array of strings (async), an array of objects (sync),
    or a single string (matting).
    """
    content = _data(check(envelope, operation)).get("Content")
    if isinstance(content, str) and content.strip():
        return [content.strip()]
    if not isinstance(content, list):
        raise _bad_response(operation, "success without Data.Content request ids")
    ids: list[str] = []
    for entry in content:
        rid = entry if isinstance(entry, str) else None
        if isinstance(entry, Mapping):
            rid = _text(entry, "RequestId")
        if not rid or not rid.strip():
            raise _bad_response(operation, "a Data.Content entry has no request id")
        ids.append(rid.strip())
    return ids


def batch_item_from(request_id: str, value: Any) -> BatchItem:
    """One entry of a 'Batch result query' map; tolerant of ``null`` and plain-string entries."""
    return _item(BatchItem, request_id, value)


_Item = TypeVar("_Item", bound=BatchItem)


def _item(cls: type[_Item], request_id: str, value: Any, **extra: Any) -> _Item:
    if value is None:
        code, message = 115, describe(115)
    elif isinstance(value, str):  # observed: an error text instead of an object
        code, message = 199, describe(199, value)
    elif isinstance(value, Mapping):
        given = _as_int(value.get("Code"))
        # the 'Batch detail query' example items carry no Code at all
        code = given if given is not None else 200 if _text(value, *_URL_KEYS) else 199
        message = describe(code, value.get("Message"))
        if code == 200:
            result = image_result_from(value, request_id)
            if result.url is not None:
                return cls(request_id, 200, message, None, result, value, **extra)
            code, message = 116, describe(116, "done but no result URL")
    else:
        code, message = 199, describe(199, repr(value)[:100])
    return cls(request_id, code, message, classify(code), None, value, **extra)


def _content_map(envelope: Any, operation: str) -> dict[str, Any]:
    content = _data(check(envelope, operation)).get("Content")
    if isinstance(content, Mapping):
        return {str(k): v for k, v in content.items()}
    if isinstance(content, list):  # sync-batch shape: key objects by their RequestId
        return {
            rid: entry
            for entry in content
            if isinstance(entry, Mapping) and (rid := _text(entry, "RequestId"))
        }
    return {}


def parse_batch_result(
    envelope: Any, operation: str = GET_IMAGE_TRANSLATE_BATCH_RESULT
) -> dict[str, BatchItem]:
    """'Batch result query': map per-image id → ``BatchItem``. Item 114 is pending, not an error."""
    return {rid: batch_item_from(rid, v) for rid, v in _content_map(envelope, operation).items()}


def parse_batch_query(
    envelope: Any, operation: str = GET_IMAGE_TRANSLATE_BATCH_QUERY
) -> dict[str, BatchDetail | None]:
    """'Batch detail query': map per-image id → ``BatchDetail`` (with OCR), ``None`` for unknown
    ids."""
    out: dict[str, BatchDetail | None] = {}
    for rid, value in _content_map(envelope, operation).items():
        if value is None:
            out[rid] = None
            continue
        lines = value.get("Orc", value.get("Ocr")) if isinstance(value, Mapping) else None
        lines = lines if isinstance(lines, list) else []
        ocr = tuple(parse_ocr_line(line) for line in lines if isinstance(line, Mapping))
        out[rid] = _item(BatchDetail, rid, value, ocr=ocr)
    return out


def parse_box(value: Any) -> tuple[int, int, int, int] | None:
    """``"x,y,w,h"`` (described) or ``"[[x,y], …4 corners]"`` (example) → (x, y, w, h)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
                return None
        else:
            value = text.split(",")
    if not isinstance(value, list | tuple):
        return None
    try:
        if value and all(isinstance(p, list | tuple) and len(p) >= 2 for p in value):
            xs = [round(float(p[0])) for p in value]
            ys = [round(float(p[1])) for p in value]
            return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
        if len(value) == 4:
            x, y, w, h = (round(float(str(v).strip())) for v in value)
            return x, y, w, h
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf, or ints past a float
        return None
    return None


def parse_font_size(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lower().removesuffix("px").strip()
    try:
        return round(float(text))
    except (ValueError, OverflowError):  # "1e999" is infinity
        return None


def _rgb(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        return None


def parse_ocr_line(obj: Mapping[str, Any]) -> OcrLine:
    return OcrLine(
        source=str(obj.get("source") or ""),
        target=str(obj.get("target") or ""),
        box=parse_box(obj.get("bounding_box", obj.get("boundingBox"))),
        font_size=parse_font_size(obj.get("font_size", obj.get("fontSize"))),
        orientation=obj.get("orientation") if isinstance(obj.get("orientation"), str) else None,
        fg=_rgb(obj.get("fg")),
        bg=_rgb(obj.get("bg")),
        raw=dict(obj),
    )


def parse_matting(envelope: Any, operation: str = GET_IMAGE_MATTING) -> MattingResult:
    """'Matting', synchronous response (``Data`` is a flat object)."""
    data = _data(check(envelope, operation))
    url = _text(data, *_URL_KEYS)
    if url is None:
        raise _bad_response(operation, "success without a result image URL")
    return MattingResult(
        request_id=_text(data, "RequestId") or str(envelope.get("RequestId") or ""),
        url=url,
        http_url=_text(data, "Url"),
        origin_url=_text(data, "OriginSslUrl", "OriginUrl", "OriginalUrl"),
        raw=dict(data),
    )


def parse_matting_submit(envelope: Any, operation: str = GET_IMAGE_MATTING) -> str:
    """'Matting', asynchronous response: the job id in ``Data.Content`` (a single string)."""
    data = _data(check(envelope, operation))
    content = data.get("Content")
    if isinstance(content, list) and len(content) == 1:
        content = content[0]
    job = content if isinstance(content, str) else _text(data, "RequestId")
    if not job or not job.strip():
        raise _bad_response(operation, "success without a job id in Data.Content")
    return job.strip()


def parse_quota(
    body: Any, operation: str = AMOUNT_QUERY, *, status: int = 200, redact: Iterable[str] = ()
) -> Quota:
    """'Quota': lowercase envelope, ``code`` ``"0"`` on success, ``leftCount`` a string."""
    if isinstance(body, Mapping) and "code" not in body and "Code" in body:
        check(body, operation, status=status, redact=redact)  # an Action-style envelope
        body = {"code": "0", "data": body.get("Data")}
    if not isinstance(body, Mapping) or body.get("code") is None:
        check(body, operation, status=status, redact=redact)  # raises: no code at all
        raise _bad_response(operation, "the quota answer has no code")  # pragma: no cover
    code = str(body.get("code")).strip()
    if code != "0":
        message = describe(code, body.get("msg"), redact)
        raise ProviderError(PROVIDER, operation, code, message, classify(code))
    data = body.get("data")
    data = data if isinstance(data, Mapping) else {}
    kind = _as_int(data.get("type"))
    left = _as_int(str(data.get("leftCount", "")).replace(",", ""))
    if kind is None or left is None:
        raise _bad_response(operation, "the quota answer lacks type or leftCount")
    return Quota(type=kind, left_count=left, raw=dict(data))

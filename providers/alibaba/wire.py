"""Alibaba Cloud machine translation (alimt 2018-10-12) wire format: parameters,
parsers and error classification for the image and document task operations.

Pure functions only; the spec is ``/work/shared/providers/alibaba-mt.md`` (section
titles below refer to it). Two error channels exist and both are read:

- the POP error shape ('Common response / error format'): HTTP 4xx with a *string* ``Code``
  (``"10025"``,
  ``"Throttling.User"``, ``"InvalidAccountStatus"``);
- the image-task envelope ('CreateImageTranslateTask', 'GetImageTranslateTask'): HTTP 200 with an
  *integer* body ``Code`` that is
  an error whenever it is not 200 — the official SDK never looks, so we do.

Classification: throttling, system errors and "file not accessible" are retryable;
arrears and the daily-call limit (10013, 10029, 113, ``InvalidAccountStatus``) are
quota problems; everything else the request itself got wrong is permanent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.alibaba.spec import CALLBACK_SOURCE_IPS as CALLBACK_SOURCE_IPS
from providers.alibaba.spec import DOC_TYPES as DOC_TYPES
from providers.alibaba.spec import MAX_DOC_BYTES as MAX_DOC_BYTES
from providers.alibaba.spec import SCENES
from providers.alibaba.spec import CallbackNotice as CallbackNotice
from providers.alibaba.spec import parse_callback as parse_callback
from providers.errors import ErrorKind, ProviderError, explain

PROVIDER = "alibaba"
VERSION = "2018-10-12"

CREATE_DOC = "CreateDocTranslateTask"
GET_DOC = "GetDocTranslateTask"
CREATE_IMAGE = "CreateImageTranslateTask"
GET_IMAGE = "GetImageTranslateTask"
METHODS = {CREATE_DOC: "POST", GET_DOC: "GET", CREATE_IMAGE: "POST", GET_IMAGE: "POST"}

MAX_IMAGE_URLS = 20
IMAGE_SOURCES = frozenset({"zh", "en"})
# SCENES, DOC_TYPES, MAX_DOC_BYTES, CALLBACK_SOURCE_IPS and the callback's shape are in
# ``providers.alibaba.spec``: the handlers validate against them too.

DONE, ERROR = "translated", "error"

#: English meaning of every documented code ('GetImageTranslateTask', 'CreateDocTranslateTask',
#: 'GetDocTranslateTask').
MEANINGS: dict[str, str] = {
    "101": "the request timed out",
    "102": "system error",
    "103": "an image URL could not be decoded",
    "104": "a required parameter is missing or wrong",
    "105": "this language pair is not supported",
    "106": "the language could not be detected",
    "107": "translation failed",
    "108": "the text is too long",
    "110": "the account has not activated machine translation",
    "111": "sub-account service failed",
    "112": "the translation service could not be called",
    "113": "the service is not activated or the account is in arrears",
    "10009": "the RAM sub-account lacks permission for machine translation",
    "10010": "the account has not activated machine translation",
    "10011": "sub-account service failed",
    "10012": "the translation service could not be called",
    "10013": "the service is not activated or the account is in arrears",
    "19999": "an unknown error occurred",
    "10021": "a parameter is invalid (check the language pair)",
    "10022": "the file URL is invalid",
    "10023": "Alibaba could not fetch the file",
    "10024": "the callback URL is invalid",
    "10025": "the task does not exist",
    "10029": "the daily call limit is reached",
    "10030": "the file is larger than 50 MB",
    "10031": "this file type cannot be translated",
    "InvalidAccountStatus": "machine translation is not activated on the account",
    "Throttling.User": "too many requests (Alibaba's flow control)",
    "SignatureDoesNotMatch": "the request signature was refused (check the access key secret)",
    "InvalidAccessKeyId.NotFound": "the access key id is unknown",
}
_RETRYABLE = frozenset({"101", "102", "107", "111", "112", "10011", "10012", "19999", "10023"})
# "Not activated" (110, 10010, InvalidAccountStatus) is the same problem as arrears for the
# person: the account must be topped up or the service switched on, so all raise an alert.
_QUOTA = frozenset({"110", "113", "10010", "10013", "10029", "InvalidAccountStatus"})
# Seed 000 names the image-task codes both ways (its table: 101 System.RequestTimeOut …);
# either spelling is classified and explained as the number.
SYSTEM_CODES = {
    "System.RequestTimeOut": "101",
    "System.Error": "102",
    "System.UrlDecodingError": "103",
    "System.ParameterError": "104",
    "System.LanguageNotSupported": "105",
    "System.LanguageDetectError": "106",
    "System.TranslateError": "107",
    "System.StringTooLong": "108",
    "System.AccountNotActivated": "110",
    "System.SubServiceFailed": "111",
    "System.TranslateServiceCallFailed": "112",
    "System.AccountNotActivatedOrInArrears": "113",
}


def classify(code: str | int, status: int = 400) -> ErrorKind:
    code = SYSTEM_CODES.get(str(code), str(code))
    if code in _QUOTA:
        return ErrorKind.QUOTA
    if code in _RETRYABLE or code.startswith(("Throttling", "ServiceUnavailable", "Internal")):
        return ErrorKind.RETRYABLE
    if status >= 500:
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


def describe(code: str, provider_message: Any = None, redact: Iterable[str] = ()) -> str:
    """The code's English meaning plus Alibaba's own words (no secrets, bounded)."""
    meaning = MEANINGS.get(SYSTEM_CODES.get(code, code), "")
    return explain(meaning, provider_message, provider="Alibaba", redact=redact)


def throttle_wait(now: float) -> float:
    """'Common response / error format': once throttled in minute T an API answers again in minute
    T+1."""
    return 60.0 - (now % 60.0) + 0.5


def error_from(
    status: int, body: Any, operation: str, *, now: float = 0.0, redact: Iterable[str] = ()
) -> ProviderError:
    """A ProviderError for a refused call ('Common response / error format'), or for a body that
    makes no sense."""
    code = str(body.get("Code", "")) if isinstance(body, Mapping) else ""
    if not code:
        kind = ErrorKind.RETRYABLE if status >= 500 else ErrorKind.PERMANENT
        return ProviderError(
            PROVIDER, operation, f"http-{status}", f"Alibaba answered HTTP {status}", kind
        )
    kind = classify(code, status)
    retry_after = throttle_wait(now) if code.startswith("Throttling") else None
    message = describe(code, body.get("Message"), redact)
    return ProviderError(PROVIDER, operation, code, message, kind, retry_after)


def _bad(operation: str, detail: str) -> ProviderError:
    return ProviderError(PROVIDER, operation, "bad-response", detail, ErrorKind.RETRYABLE)


def _object(
    status: int, body: Any, operation: str, now: float, redact: Iterable[str] = ()
) -> Mapping[str, Any]:
    if status >= 400:
        raise error_from(status, body, operation, now=now, redact=redact)
    if not isinstance(body, Mapping):
        raise _bad(operation, "Alibaba answered with JSON that is not an object")
    return body


def _envelope(
    status: int, body: Any, operation: str, now: float, redact: Iterable[str] = ()
) -> Mapping[str, Any]:
    """Image-task answers carry an integer body ``Code``; anything but 200 is an error."""
    body = _object(status, body, operation, now, redact)
    code = str(body.get("Code", ""))
    if code != "200":
        if not code:
            raise _bad(operation, "Alibaba's answer has no Code")
        raise error_from(400, body, operation, now=now, redact=redact)
    data = body.get("Data")
    return data if isinstance(data, Mapping) else {}


# ----------------------------------------------------------------------- parameters


def create_doc_params(
    source: str,
    target: str,
    file_url: str,
    *,
    scene: str | None = None,
    callback_url: str | None = None,
    client_token: str | None = None,
) -> dict[str, str]:
    if scene is not None and scene not in SCENES:
        raise ValueError(f"scene must be one of {', '.join(SCENES)}")
    params = {"SourceLanguage": source, "TargetLanguage": target, "FileUrl": file_url}
    optional = {"Scene": scene, "CallbackUrl": callback_url, "ClientToken": client_token}
    return params | {k: v for k, v in optional.items() if v}


def create_image_params(
    urls: Sequence[str],
    source: str,
    target: str,
    *,
    extra: Mapping[str, bool] | None = None,
    client_token: str | None = None,
) -> dict[str, str]:
    if not 1 <= len(urls) <= MAX_IMAGE_URLS:
        raise ValueError(f"an image task takes 1 to {MAX_IMAGE_URLS} URLs")
    if any("," in url for url in urls):
        raise ValueError("image URLs are comma-separated, so a URL cannot contain a comma")
    params = {"UrlList": ",".join(urls), "SourceLanguage": source, "TargetLanguage": target}
    if extra:
        params["Extra"] = json.dumps({k: "true" if v else "false" for k, v in extra.items()})
    if client_token:
        params["ClientToken"] = client_token
    return params


# -------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DocTask:
    task_id: str
    status: str
    file_url: str | None = None
    page_count: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.status == DONE

    @property
    def failed(self) -> bool:
        return self.status == ERROR


@dataclass(frozen=True)
class ImageElement:
    source_url: str
    url: str | None
    success: bool
    error_code: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ImageTask:
    elements: tuple[ImageElement, ...]
    expected: int

    @property
    def done(self) -> bool:
        """'GetImageTranslateTask' (inferred): finished when there is one element per submitted
        URL."""
        return len(self.elements) >= self.expected


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def parse_created_doc(
    status: int, body: Any, *, now: float = 0.0, redact: Iterable[str] = ()
) -> DocTask:
    body = _object(status, body, CREATE_DOC, now, redact)
    task_id = _str(body.get("TaskId"))
    if task_id is None:
        raise _bad(CREATE_DOC, "Alibaba accepted the document but sent no TaskId")
    return DocTask(task_id, str(body.get("Status") or "ready"), raw=body)


def parse_doc_task(
    status: int, body: Any, *, now: float = 0.0, redact: Iterable[str] = ()
) -> DocTask:
    body = _object(status, body, GET_DOC, now, redact)
    task_id, state = _str(body.get("TaskId")), _str(body.get("Status"))
    if state is None:
        raise _bad(GET_DOC, "Alibaba's task status has no Status")
    task = DocTask(
        task_id=task_id or "",
        status=state,
        file_url=_str(body.get("TranslateFileUrl")),
        page_count=body.get("PageCount") if isinstance(body.get("PageCount"), int) else None,
        error_code=_str(body.get("TranslateErrorCode")),
        error_message=_str(body.get("TranslateErrorMessage")),
        raw=body,
    )
    if task.done and not task.file_url:
        raise _bad(GET_DOC, "Alibaba says the document is translated but gave no file URL")
    return task


def parse_created_image(
    status: int, body: Any, *, now: float = 0.0, redact: Iterable[str] = ()
) -> str:
    data = _envelope(status, body, CREATE_IMAGE, now, redact)
    task_id = _str(data.get("TaskId"))
    if task_id is None:
        raise _bad(CREATE_IMAGE, "Alibaba accepted the images but sent no TaskId")
    return task_id


def parse_image_task(
    status: int, body: Any, expected: int, *, now: float = 0.0, redact: Iterable[str] = ()
) -> ImageTask:
    """``Data.ImageData`` is a JSON *string* of an array ('GetImageTranslateTask'); empty while
    pending."""
    data = _envelope(status, body, GET_IMAGE, now, redact)
    raw = data.get("ImageData")
    if raw in (None, ""):
        return ImageTask((), expected)
    try:
        decoded = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        raise _bad(GET_IMAGE, "Alibaba's ImageData is not valid JSON") from None
    if not isinstance(decoded, list):
        raise _bad(GET_IMAGE, "Alibaba's ImageData is not a list")
    elements = tuple(_element(e) for e in decoded if isinstance(e, Mapping))
    return ImageTask(elements, expected)


def _element(obj: Mapping[str, Any]) -> ImageElement:
    code = str(obj.get("errorCode", "200"))
    url = _str(obj.get("url"))
    success = obj.get("success") is True and code == "200" and url is not None
    return ImageElement(str(obj.get("sourceUrl", "")), url, success, code, raw=obj)

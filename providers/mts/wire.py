"""Alibaba Cloud MPS/MTS (2014-06-18) intelligent-production wire format: parameters,
checks, parsers and error classification for SubmitIProductionJob and QueryIProductionJob.

Pure functions only; the spec is ``/work/shared/providers/alibaba-mts.md`` (section titles
below refer to it) plus ``alibaba-mt.md`` ('Request signing', 'Common response / error format') for
the shared POP signing and error shape.

- 'SubmitIProductionJob': Submit takes ``FunctionName``, ``Input``, ``Output`` (an ``oss://``
  *template*),
  optional ``JobParams`` (a JSON string), ``PipelineId``, ``UserData``, ``NotifyUrl`` (an
  ``mns://`` queue, not a webhook), ``ModelId``, ``ScheduleParams``; it answers ``JobId``.
- 'QueryIProductionJob': Query answers strings only; ``Result`` is JSON whose ``Data`` is JSON again
  ('Decoding `Result`'),
  ``{"result": [{"file": "<key in the Output bucket>"}, …]}``. Tolerated quirks: ``UserData``
  ``"null"``, ``JobParams`` that is not strict JSON, an unknown job answered with only
  ``RequestId`` and ``JobId`` (``IProductionJob.missing``: treat as "not yet visible" for a
  grace period after submitting, then as gone — the caller knows when it submitted).
- Both operations are ``POST /`` with every parameter in the query and an empty body, as
  the official SDK sends them ('SubmitIProductionJob', 'QueryIProductionJob' [sdk]) — ``METHODS``
  and ``IN_QUERY``.

Error taxonomy ('Errors', codes [inferred] — general Alibaba/MPS conventions):

- RETRYABLE: ``Throttling*``, ``ServiceUnavailable*``, ``InternalError*``, HTTP 5xx, bodies
  that make no sense. Throttling carries ``retry_after`` 1 s (the limit is per second,
  'SubmitIProductionJob').
- QUOTA: codes naming arrears, quota, an unactivated service or the account status
  (``*Arrears*``, ``*Quota*``, ``*NotActivated*``, ``*NotOpen*``, ``InvalidAccountStatus``…).
- PERMANENT: everything else — ``InvalidParameter*``, ``Missing*``, ``InvalidInput*``,
  ``InvalidOutput*``, ``*.NotFound``, ``Forbidden*``, ``SignatureDoesNotMatch``…
- A job that ends ``State=Fail`` is PERMANENT for that job (QUOTA if its code says so):
  :func:`job_failure`.

Output templates (``ALIBABA_MTS_OUTPUT``): MTS itself expands ``{source}``, ``{timestamp}``,
``{sequenceId}`` and, for CaptionExtraction, ``{resultType}`` ('SubmitIProductionJob'). Tolk adds
two of its own,
expanded before sending by :func:`expand_output`: ``{task}`` (Tolk's task id, made safe for
an object key) and ``{function}`` (the FunctionName). A template ending in ``/`` is a folder:
``{task}/{source}-{timestamp}-{sequenceId}.<ext>`` is appended, ``<ext>`` chosen by function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from providers.errors import ErrorKind, ProviderError, explain
from providers.mts.spec import FUNCTIONS as FUNCTIONS
from providers.mts.spec import (
    check_function,
    check_function_params,
    check_job_params,
    check_location,
)
from providers.oss.presign import OssObject, split_oss_url

PROVIDER = "mts"
VERSION = "2014-06-18"
SUBMIT = "SubmitIProductionJob"
QUERY = "QueryIProductionJob"
METHODS = {SUBMIT: "POST", QUERY: "POST"}  # 'SubmitIProductionJob', 'QueryIProductionJob' [sdk]
IN_QUERY = True  # parameters in the query of the POST, empty body [sdk]

QUEUING, ANALYSING, SUCCESS, FAIL = "Queuing", "Analysing", "Success", "Fail"
STATES = (QUEUING, ANALYSING, SUCCESS, FAIL)  # 'QueryIProductionJob' [seed]

#: The file extension Tolk gives outputs of a folder template, by function [inferred].
EXTENSIONS: dict[str, str] = {
    "ImageCartoonize": "jpg",
    "ImageH2V": "jpg",
    "ImageDelogo": "jpg",
    "ImageMatting": "png",
    "FaceBeauty": "jpg",
    "Cover": "jpg",
    "VideoSplit": "jpg",
    "CaptionExtraction": "srt",
    "VideoGreenScreenMatting": "mp4",
    "AudioMixing": "wav",
    "SpeechDenoise": "wav",
    "MusicSegmentDetect": "json",
    "AudioBeatDetection": "json",
    "AudioQualityAssessment": "json",
}
DEFAULT_EXTENSION = "mp4"
MTS_PLACEHOLDERS = frozenset({"source", "timestamp", "sequenceId", "resultType"})
TOLK_PLACEHOLDERS = frozenset({"task", "function"})
FOLDER_FILE = "{task}/{source}-{timestamp}-{sequenceId}"

MEANINGS: dict[str, str] = {
    "Throttling.User": "too many requests (Alibaba's flow control, 100 per second)",
    "Throttling": "too many requests (Alibaba's flow control)",
    "ServiceUnavailable": "the service is temporarily unavailable",
    "InternalError": "Alibaba had an internal error",
    "InvalidAccountStatus": "media processing is not activated on the account",
    "SignatureDoesNotMatch": "the request signature was refused (check the access key secret)",
    "InvalidAccessKeyId.NotFound": "the access key id is unknown",
    "Forbidden.RAM": "the RAM user may not call media processing",
}
_RETRYABLE_PREFIXES = ("throttling", "serviceunavailable", "internalerror", "internal")
_QUOTA_WORDS = (
    "arrears",
    "quota",
    "notactivated",
    "notopen",
    "accountstatus",
    "insufficientbalance",
    "overdue",
)
_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_OSS_HOST = re.compile(r"^oss-[a-z0-9-]+\.aliyuncs\.com$")


# ----------------------------------------------------------------------- errors


def classify(code: str | int, status: int = 400) -> ErrorKind:
    text = str(code).lower()
    if any(word in text for word in _QUOTA_WORDS):
        return ErrorKind.QUOTA
    if text.startswith(_RETRYABLE_PREFIXES) or status >= 500:
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


def describe(code: str, provider_message: Any = None, redact: Iterable[str] = ()) -> str:
    """The code's meaning plus Alibaba's own words (no secrets, bounded)."""
    return explain(MEANINGS.get(code, ""), provider_message, provider="Alibaba", redact=redact)


def error_from(
    status: int, body: Any, operation: str, *, redact: Iterable[str] = ()
) -> ProviderError:
    """A ProviderError for a refused call (the shape of the Alibaba MT spec's 'Common response /
    error format'), or a senseless body."""
    code = str(body.get("Code", "")) if isinstance(body, Mapping) else ""
    if not code:
        kind = ErrorKind.RETRYABLE if status >= 500 else ErrorKind.PERMANENT
        return ProviderError(
            PROVIDER, operation, f"http-{status}", f"Alibaba answered HTTP {status}", kind
        )
    retry_after = 1.0 if code.lower().startswith("throttling") else None
    message = describe(code, body.get("Message"), redact)
    return ProviderError(PROVIDER, operation, code, message, classify(code, status), retry_after)


def _bad(operation: str, detail: str) -> ProviderError:
    return ProviderError(PROVIDER, operation, "bad-response", detail, ErrorKind.RETRYABLE)


def _object(status: int, body: Any, operation: str, redact: Iterable[str]) -> Mapping[str, Any]:
    if status >= 400:
        raise error_from(status, body, operation, redact=redact)
    if not isinstance(body, Mapping):
        raise _bad(operation, "Alibaba answered with JSON that is not an object")
    return body


# ----------------------------------------------------------------------- checks
# FUNCTIONS and the checks of a command (check_function, check_job_params,
# check_function_params, check_location) are in ``providers.mts.spec``.


def parse_oss_url(text: str) -> OssObject:
    """``oss://bucket[.oss-<region>.aliyuncs.com]/key`` → ``(bucket, key)`` ('SubmitIProductionJob',
    'Getting outputs out of OSS').

    Also reads the ``{"Bucket": …, "Object": …}`` JSON form older MPS operations use
    [inferred: the iProduction pages only show URLs]."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, dict) and value.get("Bucket") and value.get("Object"):
            return OssObject(str(value["Bucket"]), unquote(str(value["Object"])))
        raise ValueError('an OSS location in JSON needs "Bucket" and "Object"')
    bucket, _, key = split_oss_url(stripped, strict=True)
    return OssObject(bucket, key)


def expand_output(
    template: str,
    *,
    task_id: str,
    function: str,
    oss_host: str | None = None,
) -> str:
    """``ALIBABA_MTS_OUTPUT`` for one task: Tolk's ``{task}`` and ``{function}`` filled in,
    MTS's own placeholders left for MTS. A folder template gets a file part; ``oss_host``
    (``oss-<region>.aliyuncs.com``) is added after the bucket when the template names none
    (anything else, such as an emulator's ``http://`` endpoint, is not a host MTS knows and
    is left out)."""
    template = template.strip()
    bucket, host, key = split_oss_url(template, strict=True)
    if not key or key.endswith("/"):
        ext = EXTENSIONS.get(function, DEFAULT_EXTENSION)
        key = f"{key}{FOLDER_FILE}.{ext}"
    unknown = sorted({m for m in _PLACEHOLDER.findall(key)} - MTS_PLACEHOLDERS - TOLK_PLACEHOLDERS)
    if unknown:
        known = ", ".join(f"{{{p}}}" for p in sorted(MTS_PLACEHOLDERS | TOLK_PLACEHOLDERS))
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} in the output; known: {known}")
    safe_task = _SAFE_KEY.sub("-", task_id).strip("-") or "task"
    key = key.replace("{task}", safe_task).replace("{function}", function)
    if not host and oss_host and _OSS_HOST.match(oss_host.strip().lower()):
        host = oss_host.strip().lower()
    return f"oss://{bucket}{'.' + host if host else ''}/{key}"


# ----------------------------------------------------------------------- parameters


def submit_params(
    function_name: str,
    input: str,
    output: str,
    *,
    pipeline_id: str | None = None,
    job_params: Mapping[str, Any] | str | None = None,
    user_data: str | None = None,
    notify_url: str | None = None,
    model_id: str | None = None,
    schedule_params: str | None = None,
) -> dict[str, str]:
    """The parameters of 'SubmitIProductionJob', checked before anything is sent."""
    params = {
        "FunctionName": check_function(function_name),
        "Input": check_location(input, "Input"),
        "Output": check_location(output, "Output"),
    }
    left = TOLK_PLACEHOLDERS & set(_PLACEHOLDER.findall(output))
    if left:
        raise ValueError(f"Output still holds Tolk's {{{min(left)}}}: use expand_output first")
    if job_params is not None:
        if isinstance(job_params, str):
            decoded, text = check_job_params(job_params), job_params.strip()
        else:
            decoded = dict(job_params)
            text = json.dumps(decoded, ensure_ascii=False, separators=(",", ":"))
        check_function_params(function_name, decoded)
        if decoded:
            params["JobParams"] = text
    if notify_url and not notify_url.startswith("mns://"):
        raise ValueError("NotifyUrl must be an MNS queue or topic (mns://…), not a webhook")
    optional = {
        "PipelineId": pipeline_id,
        "UserData": user_data,
        "NotifyUrl": notify_url,
        "ModelId": model_id,
        "ScheduleParams": schedule_params,
    }
    return params | {k: v for k, v in optional.items() if v}


# -------------------------------------------------------------------------- results


@dataclass(frozen=True)
class JobResult:
    """``Result`` decoded ('Decoding `Result`'): the outer ``Code``/``Message`` and the inner
    ``Data``."""

    code: str | None
    message: str | None
    data: Any  # the decoded Data: usually {"result": [{"file": …}]}; None when absent
    raw: Any = field(default=None, repr=False)  # the outer object, or the text it came as


@dataclass(frozen=True)
class IProductionJob:
    job_id: str
    state: str  # Queuing | Analysing | Success | Fail; "" when the job is not found
    function_name: str | None = None
    input: str | None = None
    output: str | None = None
    user_data: str | None = None
    pipeline_id: str | None = None
    job_params: str | None = None
    code: str | None = None
    message: str | None = None
    result: JobResult | None = None
    output_files: tuple[OssObject, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.state == SUCCESS

    @property
    def failed(self) -> bool:
        return self.state == FAIL

    @property
    def pending(self) -> bool:
        return self.state in (QUEUING, ANALYSING)

    @property
    def missing(self) -> bool:
        """Only ``RequestId`` and ``JobId`` came back: not (yet) an iProduction job
        ('Decoding `Result`')."""
        return not self.state


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return None if text in ("", "null") else text


def parse_submitted(status: int, body: Any, *, redact: Iterable[str] = ()) -> str:
    body = _object(status, body, SUBMIT, redact)
    job_id = _str(body.get("JobId"))
    if job_id is None:
        raise _bad(SUBMIT, "Alibaba accepted the job but sent no JobId")
    return job_id


def parse_job(
    status: int, body: Any, job_id: str = "", *, redact: Iterable[str] = ()
) -> IProductionJob:
    body = _object(status, body, QUERY, redact)
    state = _str(body.get("State")) or ""
    if state and state not in STATES:
        raise _bad(QUERY, f"Alibaba's job state {state[:40]!r} is not one the API documents")
    output = _str(body.get("Output"))
    result = decode_result(body.get("Result"))
    return IProductionJob(
        job_id=_str(body.get("JobId")) or job_id,
        state=state,
        function_name=_str(body.get("FunctionName")),
        input=_str(body.get("Input")),
        output=output,
        user_data=_str(body.get("UserData")),
        pipeline_id=_str(body.get("PipelineId")),
        job_params=_str(body.get("JobParams")),
        code=result.code if result else None,
        message=result.message if result else None,
        result=result,
        output_files=output_files(result, output),
        raw=body,
    )


def decode_result(value: Any) -> JobResult | None:
    """Both layers of ``Result`` ('Decoding `Result`'); whatever does not decode is kept as it
    came."""
    if value in (None, "", "null"):
        return None
    outer = _loads(value)
    if not isinstance(outer, Mapping):
        return JobResult(None, None, outer, raw=value)
    return JobResult(
        code=_str(outer.get("Code")),
        message=_str(outer.get("Message")),
        data=_loads(outer.get("Data")),
        raw=outer,
    )


def _loads(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        return value


def output_files(result: JobResult | None, output: str | None) -> tuple[OssObject, ...]:
    """The objects a result names: ``file`` keys live in the bucket of ``Output``
    ('Decoding `Result`');
    a full ``oss://`` or ``https://<bucket>.<host>/<key>`` is read as it is."""
    if result is None or not isinstance(result.data, Mapping):
        return ()
    items = result.data.get("result")
    if not isinstance(items, list):
        return ()
    bucket = None
    if output:
        try:
            bucket = split_oss_url(output)[0]
        except ValueError:
            bucket = None
    found = []
    for item in items:
        name = (item.get("file") or item.get("File")) if isinstance(item, Mapping) else item
        located = _locate(name, bucket) if isinstance(name, str) and name else None
        if located is not None and located.key and not located.key.endswith("/"):
            found.append(located)  # an object: a bucket or a folder is nothing to read
    return tuple(found)


def _locate(name: str, bucket: str | None) -> OssObject | None:
    if name.startswith("oss://"):
        try:
            return OssObject(*split_oss_url(name)[::2])
        except ValueError:
            return None
    if name.startswith(("https://", "http://")):
        try:
            parts = urlsplit(name)
            bucket_name, dot, _ = (parts.hostname or "").partition(".")
        except ValueError:  # an unbalanced or bad [IPv6] host
            return None
        key = unquote(parts.path.lstrip("/"))
        return OssObject(bucket_name, key) if dot and key else None
    return OssObject(bucket, name.lstrip("/")) if bucket else None


def job_failure(job: IProductionJob) -> ProviderError:
    """The error a ``Fail`` job stands for ('Errors'): PERMANENT, or QUOTA if its code says so."""
    code = job.code if job.code and job.code != "Success" else "Fail"
    kind = ErrorKind.QUOTA if classify(code) is ErrorKind.QUOTA else ErrorKind.PERMANENT
    message = describe(code, job.message) if job.message else "the job failed"
    return ProviderError(PROVIDER, QUERY, code, message, kind)

"""A local Alibaba Cloud MPS/MTS intelligent-production server (2014-06-18) for tests, the
sandbox and benchmarks.

It speaks the Alibaba MTS spec (``alibaba-mts.md``) and refuses what its 'What an emulator must
check' says the service refuses. Signatures (ACS3 and V2) are checked by
:mod:`emulators.alibaba_pop_verify` — the emulators' own code, never the client's signing.
Results are written into an :class:`~emulators.oss.OssEmulator`, so a test can fetch them with
presigned URLs.

``GET|POST /`` — SubmitIProductionJob, QueryIProductionJob; parameters from the query (as the
SDK sends them) or a form body.

Order of checks for a call: record → fault plan (delay, bare HTTP, malformed) → signature,
date, nonce → version → action (and method) → QPS → scripted code → the action.

Choices where the spec is silent ([inferred] there):

- Error codes (in the shape of the Alibaba MT spec's 'Common response / error format',
  ``Recommend`` with ``product=mts``): a missing ``FunctionName``/``Input``/``Output``/``JobId``
  is 400 ``Missing<Name>``; an unknown function, a bad ``oss://`` location, JobParams that are
  not a JSON object, a ``NotifyUrl`` that is not ``mns://`` and an unknown pipeline are 400
  ``InvalidParameter.<Name>``; another version 400 ``InvalidVersion``; another action 404
  ``InvalidAction.NotFound``.
- JobParams are parsed leniently ('What an emulator must check', item 3): strict JSON, or the
  seed's ``{mode:"gif"}`` with bare keys; either way it must be an object. ``Input``/``Output``
  must be ``oss://<bucket>.oss-<region>.aliyuncs.com/<path>`` (``require_oss_host=False`` also
  takes ``oss://<bucket>/<path>``). ``PipelineId`` is optional (a default pipeline is used)
  unless ``require_pipeline``; with ``pipelines`` set it must be one of them.
- Throttling ('SubmitIProductionJob', 'QueryIProductionJob', 'What an emulator must check' item
  7): per action and per clock second (``qps``, 100 each), HTTP 400 ``Throttling.User`` "Request
  was denied due to user flow control.".
- States ('Job state machine') advance when the job is queried: with ``job_seconds`` set,
  ``Analysing`` from half-way and finished at ``job_seconds`` (emulator clock); otherwise by
  poll count — the first ``queued_polls`` queries answer ``Queuing``, the next
  ``analysing_polls`` answer ``Analysing`` (``None``: until :meth:`finish`), then the job
  finishes. Every state is already answered in the poll that reaches it.
- Success ('What an emulator must check', item 5): the Output template is expanded (``{source}``
  input stem, ``{timestamp}`` epoch seconds, ``{sequenceId}`` 0, 1, …, ``{resultType}``
  ``zh``/``en``; a second file of a template without ``{sequenceId}`` gets ``-1`` before its
  extension) and the objects are put into the OSS emulator: PNG images for image functions
  (ImageCartoonize: the result and the origin, like the seed), an SRT (or WebVTT for a ``.vtt``
  template) for CaptionExtraction (two with ``"sep": true``), a tiny MP4/WebM for video, a
  silent WAV for audio, JSON for analysis functions — whose values are also inlined in ``Data``
  (``BeatList``/``DownBeatList`` as documented; the other names are made up). ``Result`` is
  ``{"Code":"Success","Data":"<json>","Message":"Successful."}`` with ``Data`` itself a JSON
  string, exactly as in 'QueryIProductionJob'.
- Fail: ``Result`` is ``{"Code": <code>, "Message": <message>}`` without ``Data``. With
  ``require_input`` a job whose Input object is not in the OSS emulator fails
  ``InvalidInput.NotExist``; otherwise a sample input is made up.
- ``UserData`` is echoed, ``"null"`` when none was given (the seed's quirk); ``Output`` is the
  unexpanded template; ``Result`` is absent until the job has finished.
- An unknown JobId answers 200 with only ``RequestId`` and ``JobId`` ('Decoding `Result`',
  ``unknown_job="empty"``) or 404 ``InvalidJobId.NotFound`` (``unknown_job="error"``).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar, Literal

from emulators.alibaba_pop import PopEmulator, PopFaults, new_request_id
from emulators.alibaba_pop import Received as Received  # re-exported
from emulators.alibaba_pop_verify import PopRefusal, Verified
from emulators.oss import DEFAULT_KEY_ID, DEFAULT_SECRET, OssEmulator

SUBMIT = "SubmitIProductionJob"
QUERY = "QueryIProductionJob"
VERSION = "2014-06-18"
QUEUING, ANALYSING, SUCCESS, FAIL = "Queuing", "Analysing", "Success", "Fail"
DEFAULT_QPS = {SUBMIT: 100, QUERY: 100}  # MTS spec, 'SubmitIProductionJob', 'QueryIProductionJob'

#: MTS spec, 'Functions, JobParams and result examples', by the kind of output the emulator writes.
KINDS: dict[str, str] = {
    "ImageCartoonize": "image",
    "ImageH2V": "image",
    "ImageDelogo": "image",
    "ImageMatting": "image",
    "FaceBeauty": "image",
    "Cover": "image",
    "VideoSplit": "image",
    "CaptionExtraction": "subtitle",
    "VideoH2V": "video",
    "VideoDelogo": "video",
    "VideoClip": "video",
    "VideoDetext": "video",
    "VideoGreenScreenMatting": "video",
    "AudioMixing": "audio",
    "SpeechDenoise": "audio",
    "MusicSegmentDetect": "analysis",
    "AudioBeatDetection": "analysis",
    "AudioQualityAssessment": "analysis",
}
_OSS_URL = re.compile(
    r"^oss://([a-z0-9][a-z0-9-]{1,61}[a-z0-9])(\.oss-[a-z0-9-]+\.aliyuncs\.com)?/(.+)$"
)
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")
_PLACEHOLDER = re.compile(r"\{(source|timestamp|sequenceId|resultType)\}")

MESSAGES = {
    "Throttling.User": "Request was denied due to user flow control.",
    "InvalidAction.NotFound": "Specified api is not found, please check your url and method.",
    "InvalidVersion": "Specified parameter Version is not valid.",
    "InvalidJobId.NotFound": "The specified JobId does not exist.",
    "InvalidInput.NotExist": "The input file does not exist.",
    "InternalError": "The request processing has failed due to some unknown error.",
}
DEFAULT_FAIL = ("ProcessFailed", "The algorithm could not process the input.")


def refuse(code: str, status: int = 400, message: str | None = None) -> PopRefusal:
    return PopRefusal(status, code, message or MESSAGES.get(code, MESSAGES["InternalError"]))


def _invalid(name: str, why: str) -> PopRefusal:
    return refuse(f"InvalidParameter.{name}", message=f"The parameter {name} is invalid: {why}")


# -- records ------------------------------------------------------------------------------


@dataclass
class Job:
    job_id: str
    function_name: str
    input: str
    output: str
    job_params: str | None
    params: dict[str, Any]
    pipeline_id: str
    user_data: str | None
    notify_url: str | None
    created_at: float
    planned_failure: tuple[str, str] | None = None
    state: str = QUEUING
    polls: int = 0
    finished_at: float | None = None
    code: str | None = None
    message: str | None = None
    files: list[str] = field(default_factory=list)
    data: dict[str, Any] | None = None

    @property
    def result(self) -> str | None:
        """``Result`` as Query answers it: JSON with ``Data`` JSON again (MTS spec,
        'QueryIProductionJob')."""
        if self.state == SUCCESS:
            data = json.dumps(self.data, separators=(",", ":"))
            outer = {"Code": "Success", "Data": data, "Message": "Successful."}
            return json.dumps(outer, separators=(",", ":"))
        if self.state == FAIL:
            return json.dumps({"Code": self.code, "Message": self.message}, separators=(",", ":"))
        return None


# -- fault plan ---------------------------------------------------------------------------


class Faults(PopFaults):
    """Planned misbehaviour. ``action`` may be ``"*"`` to match both actions."""

    def clear(self) -> None:
        super().clear()
        self._failures: list[tuple[str, str]] = []

    def fail_next(
        self,
        code: str = DEFAULT_FAIL[0],
        message: str = DEFAULT_FAIL[1],
        *,
        times: int = 1,
    ) -> None:
        """The next ``times`` jobs submitted end ``Fail`` with this ``Result`` code/message."""
        self._failures.extend([(code, message)] * times)

    def _take_failure(self) -> tuple[str, str] | None:
        return self._failures.pop(0) if self._failures else None


# -- the server ---------------------------------------------------------------------------


class MtsEmulator(PopEmulator):
    """The MTS iProduction API on a free port. Start with ``await em.start()`` or
    ``async with``; read ``requests``, ``jobs`` and ``oss.objects``; steer with ``faults``,
    ``qps``, ``keys`` and :meth:`finish`."""

    _version = VERSION
    _methods: ClassVar[dict[str, str]] = {SUBMIT: "POST", QUERY: "POST"}
    _default_qps = DEFAULT_QPS
    _product = "mts"
    _refuse = staticmethod(refuse)
    faults: Faults

    def __init__(
        self,
        oss: OssEmulator | None = None,
        access_key_id: str = DEFAULT_KEY_ID,
        access_key_secret: str = DEFAULT_SECRET,
        *,
        clock: Callable[[], float] = time.time,
        queued_polls: int = 1,
        analysing_polls: int | None = 1,
        job_seconds: float | None = None,
        max_skew: float | None = 900,
        nonce_window: float = 900,
        strict_methods: bool = False,
        require_oss_host: bool = True,
        require_pipeline: bool = False,
        pipelines: set[str] | None = None,
        require_input: bool = False,
        unknown_job: Literal["empty", "error"] = "empty",
    ) -> None:
        super().__init__(access_key_id, access_key_secret, clock, max_skew, nonce_window)
        self.faults = Faults()
        self.strict_methods = strict_methods  # True: POST only, as the SDK sends
        self.oss = oss if oss is not None else OssEmulator(clock=clock)
        self.queued_polls = queued_polls
        self.analysing_polls = analysing_polls
        self.job_seconds = job_seconds
        self.require_oss_host = require_oss_host
        self.require_pipeline = require_pipeline
        self.pipelines = pipelines
        self.require_input = require_input
        self.unknown_job = unknown_job
        self.default_pipeline = uuid.uuid4().hex
        self.jobs: dict[str, Job] = {}

    # -- inspection and control -----------------------------------------------------------

    def finish(
        self,
        job_id: str,
        state: str = SUCCESS,
        code: str | None = None,
        message: str | None = None,
    ) -> Job:
        """Finish a job now (``Success`` writes its outputs). A finished job stays as it is."""
        if state not in (SUCCESS, FAIL):
            raise ValueError(f"state must be {SUCCESS!r} or {FAIL!r}")
        job = self.jobs[job_id]
        if state == FAIL:
            self._fail(job, code or DEFAULT_FAIL[0], message or DEFAULT_FAIL[1])
        else:
            self._succeed(job)
        return job

    # -- the API --------------------------------------------------------------------------

    async def _act(self, verified: Verified) -> dict[str, Any]:
        if verified.action == SUBMIT:
            return self._submit(verified.params)
        return self._query(verified.params)

    # -- SubmitIProductionJob -------------------------------------------------------------

    def _submit(self, params: dict[str, str]) -> dict[str, Any]:
        _require(params, "FunctionName", "Input", "Output")
        function = params["FunctionName"].strip()
        if function not in KINDS:
            raise _invalid("FunctionName", f"{function[:60]!r} is not a supported function.")
        self._check_oss("Input", params["Input"])
        self._check_oss("Output", params["Output"])
        job_params = params.get("JobParams") or None
        decoded = _lenient_object(job_params) if job_params else {}
        notify = params.get("NotifyUrl") or None
        if notify is not None and not notify.startswith("mns://"):
            raise _invalid("NotifyUrl", "it must be an MNS queue or topic (mns://…).")
        job = Job(
            job_id=uuid.uuid4().hex,
            function_name=function,
            input=params["Input"].strip(),
            output=params["Output"].strip(),
            job_params=job_params,
            params=decoded,
            pipeline_id=self._pipeline(params.get("PipelineId") or None),
            user_data=params.get("UserData") or None,
            notify_url=notify,
            created_at=self.clock(),
            planned_failure=self.faults._take_failure(),
        )
        self.jobs[job.job_id] = job
        return {"RequestId": new_request_id(), "JobId": job.job_id}

    def _check_oss(self, name: str, value: str) -> None:
        match = _OSS_URL.match(value.strip())
        if match is None or (self.require_oss_host and not match[2]):
            raise _invalid(name, "expected oss://<bucket>.oss-<region>.aliyuncs.com/<object>.")

    def _pipeline(self, pipeline_id: str | None) -> str:
        if pipeline_id is None:
            if self.require_pipeline:
                raise refuse(
                    "MissingPipelineId", message="PipelineId is mandatory for this action."
                )
            return self.default_pipeline
        if self.pipelines is not None and pipeline_id not in self.pipelines:
            raise _invalid("PipelineId", "the pipeline does not exist.")
        return pipeline_id

    # -- QueryIProductionJob --------------------------------------------------------------

    def _query(self, params: dict[str, str]) -> dict[str, Any]:
        _require(params, "JobId")
        job_id = params["JobId"].strip()
        job = self.jobs.get(job_id)
        if job is None:
            if self.unknown_job == "error":
                raise refuse("InvalidJobId.NotFound", 404)
            return {"RequestId": new_request_id(), "JobId": job_id}
        self._advance(job)
        answer = {
            "FunctionName": job.function_name,
            "Input": job.input,
            "RequestId": new_request_id(),
            "UserData": job.user_data if job.user_data is not None else "null",
            "State": job.state,
            "Output": job.output,
            "PipelineId": job.pipeline_id,
            "JobParams": job.job_params or "",
            "JobId": job.job_id,
        }
        result = job.result
        if result is not None:
            answer["Result"] = result
        return answer

    def _advance(self, job: Job) -> None:
        if job.state in (SUCCESS, FAIL):
            return
        job.polls += 1
        if self.job_seconds is not None:
            elapsed = self.clock() - job.created_at
            if elapsed >= self.job_seconds:
                self._settle(job)
            elif elapsed >= self.job_seconds / 2:
                job.state = ANALYSING
            return
        if job.polls <= self.queued_polls:
            return
        if self.analysing_polls is None or job.polls <= self.queued_polls + self.analysing_polls:
            job.state = ANALYSING
            return
        self._settle(job)

    def _settle(self, job: Job) -> None:
        if job.planned_failure is not None:
            self._fail(job, *job.planned_failure)
        elif self.require_input and self._input_bytes(job) is None:
            self._fail(job, "InvalidInput.NotExist", MESSAGES["InvalidInput.NotExist"])
        else:
            self._succeed(job)

    def _fail(self, job: Job, code: str, message: str) -> None:
        if job.state in (SUCCESS, FAIL):
            return
        job.state, job.code, job.message = FAIL, code, message
        job.finished_at = self.clock()

    def _succeed(self, job: Job) -> None:
        if job.state in (SUCCESS, FAIL):
            return
        outputs, extra = render_outputs(job, self._input_bytes(job), int(self.clock()))
        bucket = oss_parts(job.output)[0]
        for key, data, content_type in outputs:
            self.oss.put(bucket, key, data, content_type)
        job.files = [key for key, _, _ in outputs]
        job.data = {"result": [{"file": key} for key in job.files], **extra}
        job.state, job.code, job.message = SUCCESS, "Success", "Successful."
        job.finished_at = self.clock()

    def _input_bytes(self, job: Job) -> bytes | None:
        return self.oss.get(*oss_parts(job.input))


# -- pure helpers ---------------------------------------------------------------------------


def _require(params: dict[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name, "").strip():
            raise refuse(f"Missing{name}", message=f"{name} is mandatory for this action.")


def oss_parts(url: str) -> tuple[str, str]:
    """``(bucket, key)`` of a location that passed the Submit check."""
    match = _OSS_URL.match(url)
    if match is None:
        raise ValueError(f"not an OSS location: {url!r}")
    return match[1], match[3]


def _lenient_object(text: str) -> dict[str, Any]:
    """Strict JSON, or JSON with bare keys (``{mode:"gif"}``, MTS spec, 'Decoding `Result`');
    must be an object."""
    for candidate in (text, _BARE_KEY.sub(r'\1"\2":', text)):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
        raise _invalid("JobParams", "it must be a JSON object.")
    raise _invalid("JobParams", "it is not valid JSON.")


def _fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{placeholder}`` replaced by its value."""
    return _PLACEHOLDER.sub(lambda m: values[m[1]], template)


def output_keys(template_key: str, source: str, timestamp: int, kinds: list[str]) -> list[str]:
    """One object key per output (``kinds`` are ``{resultType}`` values): MTS spec, 'What an
    emulator must check', item 5."""
    keys: list[str] = []
    for sequence, result_type in enumerate(kinds):
        values = {
            "source": source,
            "timestamp": str(timestamp),
            "sequenceId": str(sequence),
            "resultType": result_type,
        }
        key = _fill(template_key, values)
        if key in keys:
            path = PurePosixPath(key)
            key = str(path.with_name(f"{path.stem}-{sequence}{path.suffix}"))
        keys.append(key)
    return keys


def render_outputs(
    job: Job, source: bytes | None, timestamp: int
) -> tuple[list[tuple[str, bytes, str]], dict[str, Any]]:
    """The objects a successful job writes, and what ``Data`` inlines besides ``result``."""
    template_key = oss_parts(job.output)[1]
    stem = PurePosixPath(oss_parts(job.input)[1]).stem
    kind = KINDS[job.function_name]
    seed = int(hashlib.sha256(job.job_id.encode()).hexdigest()[:6], 16)
    if kind == "subtitle":
        types = ["zh", "en"] if job.params.get("sep") is True else ["zh"]
        keys = output_keys(template_key, stem, timestamp, types)
        return [(k, *subtitle(t, k.endswith(".vtt"))) for k, t in zip(keys, types, strict=True)], {}
    if kind == "image":
        count = 2 if job.function_name == "ImageCartoonize" else 1
        keys = output_keys(template_key, stem, timestamp, ["zh"] * count)
        images = [tiny_png(seed), source if source else tiny_png(seed ^ 0xFFFFFF)]
        return [(k, images[i], "image/png") for i, k in enumerate(keys)], {}
    (key,) = output_keys(template_key, stem, timestamp, ["zh"])
    if kind == "video":
        webm = job.function_name == "VideoGreenScreenMatting" and not job.params.get("bgimage")
        return [(key, tiny_video(webm), "video/webm" if webm else "video/mp4")], {}
    if kind == "audio":
        return [(key, silent_wav(), "audio/wav")], {}
    values = analysis(job.function_name, seed)
    return [(key, json.dumps(values).encode(), "application/json")], values


def analysis(function: str, seed: int) -> dict[str, Any]:
    # BeatList, DownBeatList: as in the MTS spec, 'Functions, JobParams and result examples'.
    if function == "AudioBeatDetection":
        beats = [round(0.5 * i + (seed % 7) / 100, 2) for i in range(1, 9)]
        return {"BeatList": beats, "DownBeatList": beats[::4]}
    if function == "MusicSegmentDetect":  # names made up: the spec gives none
        return {"Segments": [{"Start": 30.0, "End": 52.5}]}
    return {"Score": 4.2, "Assessment": "good"}  # AudioQualityAssessment, made up


def subtitle(result_type: str, vtt: bool) -> tuple[bytes, str]:
    line = "按下红色按钮。" if result_type == "zh" else "Press the red button."
    if vtt:
        text = f"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n{line}\n"
        return text.encode(), "text/vtt"
    return f"1\n00:00:01,000 --> 00:00:03,000\n{line}\n".encode(), "application/x-subrip"


def tiny_png(seed: int, width: int = 64, height: int = 48) -> bytes:
    """A small valid PNG: two colour bands picked from ``seed``."""
    top = bytes([seed >> 16 & 255, seed >> 8 & 255, seed & 255])
    bottom = bytes([255, 106, 0])
    rows = [b"\x00" + (top if y < height * 2 // 3 else bottom) * width for y in range(height)]

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def tiny_video(webm: bool) -> bytes:
    if webm:
        return b"\x1a\x45\xdf\xa3" + b"\x00" * 28 + b"webm emulated"
    return struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isommp42" + b"mts emulated"


def silent_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    frames = b"\x00\x00" * int(seconds * rate)
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(frames)) + frames

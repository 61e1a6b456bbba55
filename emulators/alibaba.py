"""A local Alibaba Cloud Machine Translation (alimt 2018-10-12) server for tests and demos.

It speaks the wire format of the Alibaba MT spec (``alibaba-mt.md``) and refuses what the
real service refuses ('What an emulator must check'). Signatures (V3 and V2) are checked by
:mod:`emulators.alibaba_pop_verify` — the emulator's own code, never the client's signing.

Routes on one server (``endpoint``)::

    GET|POST /                          the RPC API: CreateDocTranslateTask (POST),
                                        GetDocTranslateTask (GET), CreateImageTranslateTask
                                        (POST), GetImageTranslateTask (POST)
    GET /files/doc/<task>/<name>        translated documents (signed link, ``file_ttl``)
    GET /files/img/<task>/<index>.png   translated images (signed link, ``file_ttl``)
    GET /samples/<name>                 sample sources (``sample_doc_url``/``sample_image_url``)

Order of checks for an API call: record → fault plan (delay, bare HTTP, malformed) →
signature, date, nonce → version → action and method → QPS → scripted code → the action.

Choices where the spec is silent ([inferred] in the spec):

- POP gateway errors ('Common response / error format', ``Code`` a string): bad signature 400
  ``SignatureDoesNotMatch``; unknown key 404 ``InvalidAccessKeyId.NotFound``; replayed nonce
  400 ``SignatureNonceUsed``; skew 400 ``InvalidTimeStamp.Expired`` (see ``pop_verify`` for
  the rest); other version 400 ``InvalidVersion``; unknown action *or wrong method* 404
  ``InvalidAction.NotFound`` ("…please check your url and method"); a missing required
  parameter of a document operation 400 ``Missing<Name>`` ("<Name> is mandatory for this
  action."), as the POP gateway does for other products.
- Throttling: per action and per clock second (``qps``), HTTP 400 ``Throttling.User``; the
  real service's "blocked until the next minute" is not modelled.
- Document tasks: the Create answer says ``ready``; with ``doc_seconds`` the task turns
  ``translating`` half-way and finishes at ``doc_seconds``; with ``None`` it is
  ``translating`` right after the answer and waits for :meth:`finish`. ``FileUrl`` is
  fetched at creation. The file type comes from the URL path's extension when that is a
  supported type, else from the ``Content-Disposition`` filename. ``auto`` is refused as a
  document or image language (text only, 'Language codes'); ``zh-tw`` pairs only with ``zh``.
- ``ClientToken``: the same token for the same action within ``client_token_window``
  answers the original ``TaskId`` (document: ``Status`` ``ready``) whatever the other
  parameters are, and neither creates nor fetches anything.
- Callback: the JSON of 'Document callback' (``errCode`` 200, or the error code — an int when
  numeric; ``translateFileUrl`` ``""`` on error), ``Content-Type: application/json``, sent once.
- Image operations answer HTTP 200 with an integer body ``Code`` (the table in
  'GetImageTranslateTask'); a task id that does not exist is body ``Code`` 104. ``ImageData`` is
  ``"[]"`` for the first ``image_pending_polls`` polls; the sources are fetched and rendered on
  the poll after that. A failed element carries ``success: false`` and its ``errorCode``,
  without ``url``.
- Seed 000 names every image code twice (101 ``System.RequestTimeOut`` … 113
  ``System.AccountNotActivatedOrInArrears``); which one the service puts on the wire is not
  documented. ``image_codes="system"`` spells every image-operation error — the body
  ``Code`` (still HTTP 200) and a failed element's ``errorCode`` — the ``System.*`` way
  (199 has no such name and stays a number); a scripted ``faults.code`` or
  ``faults.image_item`` given a ``System.*`` name sends that spelling whatever the switch.
- ``Extra``: must be a JSON object; the four documented keys must be ``"true"``/``"false"``
  strings; other keys (``product_id``, ``platform``) are ignored.
- ``hosts`` (host name → base URL, like curl's ``--resolve``): where the emulator really
  connects when a ``FileUrl``, image URL or ``CallbackUrl`` names that host, so a test can
  send the seeds' own examples (``http://fileUrl``, ``https://img.alicdn.com/…``) and have
  them served on loopback. The URLs themselves are kept as sent (answers, records).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import ipaddress
import json
import math
import mimetypes
import re
import secrets
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal, Self
from urllib.parse import quote, unquote, urlsplit

import aiohttp
import yarl
from aiohttp import web

from emulators.alibaba_pop import PopEmulator, PopFaults, _CodeFault, new_request_id
from emulators.alibaba_pop import Received as Received  # re-exported
from emulators.alibaba_pop_verify import PopRefusal, Verified

CREATE_DOC = "CreateDocTranslateTask"
GET_DOC = "GetDocTranslateTask"
CREATE_IMAGE = "CreateImageTranslateTask"
GET_IMAGE = "GetImageTranslateTask"
VERSION = "2018-10-12"
# Alibaba MT spec: methods from 'Endpoints and transport', QPS from 'Limits'.
METHODS = {CREATE_DOC: "POST", GET_DOC: "GET", CREATE_IMAGE: "POST", GET_IMAGE: "POST"}
DEFAULT_QPS = {CREATE_DOC: 5, GET_DOC: 5, CREATE_IMAGE: 3, GET_IMAGE: 3}

_LANGUAGE_CODES = (
    "zh en ja ko fr de es pt it ru ar tr id vi th pl "
    "ms nl hi fil my cs hu ro bg uk he fa sv da fi el yue zh-tw"
)
LANGUAGES = frozenset(_LANGUAGE_CODES.split())  # spec, 'Language codes', without "auto"
IMAGE_SOURCES = frozenset({"zh", "en"})
SCENES = frozenset({"general", "title", "description", "message", "medical", "social", "tech"})
_DOC_TYPES = "doc docx xls xlsx csv ppt pptx txt srt html htm xml xhtml json xliff tmx dita md"
_TEXT_TYPES = "txt md markdown csv html htm xhtml xml json srt xliff tmx dita"
_MARKUP_TYPES = "html htm xhtml xml xliff tmx dita"
DOC_TYPES = frozenset(_DOC_TYPES.split()) | {"markdown", "idml", "pdf"}  # spec, 'Limits'
TEXT_TYPES = frozenset(_TEXT_TYPES.split())  # shown 'translated'; others are copied, pdf -> docx
MARKUP_TYPES = frozenset(_MARKUP_TYPES.split())
MAX_DOC_BYTES = 50 * 1024 * 1024
MAX_DOC_CHARS = 1_000_000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGES = 20
EXTRA_KEYS = frozenset({"have_ocr", "without_text", "have_psd", "ignore_entity"})

# Alibaba MT spec: 'Common response / error format', 'CreateDocTranslateTask',
# 'GetDocTranslateTask'.
MESSAGES = {
    "10009": "子账号没有权限",
    "10010": "账号没有开通服务",
    "10011": "子账号服务失败",
    "10012": "翻译服务调用失败",
    "10013": "账号服务没有开通或者欠费",
    "19999": "An unknown error occurred.",
    "10021": "The parameter is invalid.",
    "10022": "The parameter fileUrl is invalid.",
    "10023": "The parameter fileUrl is not accessible.",
    "10024": "The parameter callbackUrl is invalid.",
    "10025": "The specified task does not exist.",
    "10029": "The number of calls per day exceeds the limit.",
    "10030": "The file size exceeds the limit.",
    "10031": "The specified file type is invalid.",
    "InvalidAccountStatus": "The Machine Translation service has not been activated.",
    "Throttling.User": "Request was denied due to user flow control.",
    "InvalidAction.NotFound": "Specified api is not found, please check your url and method.",
    "InvalidVersion": "Specified parameter Version is not valid.",
    "Error": "Fail to get the page number of document.",
}
IMAGE_MESSAGES = {  # Alibaba MT spec, 'GetImageTranslateTask'
    101: "The request has timed out.",
    102: "A system error occurred.",
    103: "An error occurred while decoding the URL. Verify that the specified URL is encoded.",
    104: "Some required parameters are missing.",
    105: "The specified language pair is not supported.",
    106: "An error occurred while detecting the language.",
    107: "An error occurred while translating.",
    108: "The maximum length of the specified string is exceeded.",
    110: "The account has not activated the service.",
    111: "Sub-account service failed.",
    112: "Failed to call the translation service.",
    113: "The service is not activated or the account has an outstanding balance.",
    199: "An unknown error occurred.",
}
SYSTEM_NAMES = {  # seed 000's 错误码 column: the same codes, spelled as names
    101: "System.RequestTimeOut",
    102: "System.Error",
    103: "System.UrlDecodingError",
    104: "System.ParameterError",
    105: "System.LanguageNotSupported",
    106: "System.LanguageDetectError",
    107: "System.TranslateError",
    108: "System.StringTooLong",
    110: "System.AccountNotActivated",
    111: "System.SubServiceFailed",
    112: "System.TranslateServiceCallFailed",
    113: "System.AccountNotActivatedOrInArrears",
}
SYSTEM_NUMBERS = {name: number for number, name in SYSTEM_NAMES.items()}
ImageCodes = Literal["number", "system"]
READY, TRANSLATING, TRANSLATED, ERROR = "ready", "translating", "translated", "error"


# -- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackSent:
    url: str
    body: dict[str, Any]
    status: int | None
    error: str | None
    at: float


@dataclass
class DocTask:
    task_id: str
    status: str
    source_url: str
    source_language: str
    target_language: str
    scene: str
    callback_url: str | None
    client_token: str | None
    created_at: float
    source_bytes: bytes = field(repr=False)
    source_name: str
    result_name: str
    finished_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    result_bytes: bytes | None = field(default=None, repr=False)
    page_count: int | None = None
    planned_error: tuple[str, str] | None = None


@dataclass
class ImageTask:
    task_id: str
    urls: list[str]
    source_language: str
    target_language: str
    extra: dict[str, str]
    client_token: str | None
    created_at: float
    top_request_id: str
    item_faults: dict[int, str] = field(default_factory=dict)
    polls: int = 0
    finished_at: float | None = None
    items: list[dict[str, Any]] | None = None
    pngs: dict[int, bytes] = field(default_factory=dict, repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


class ImageFailure(Exception):
    """An image-operation error: HTTP 200 with the body ``Code`` (Alibaba MT spec, 'Common
    response / error format', 'GetImageTranslateTask') — the number, or
    its ``System.*`` name when ``spelling`` (else the emulator's ``image_codes``) says so."""

    def __init__(
        self, code: int, message: str | None = None, spelling: ImageCodes | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or IMAGE_MESSAGES.get(code, IMAGE_MESSAGES[199])
        self.spelling = spelling


def spell_image_code(code: int | str, spelling: ImageCodes) -> int | str:
    """An image code as it goes on the wire: ``System.*`` when ``spelling`` is "system" and
    the seed names it (else the number), the number when it is "number". A code given as a
    name stays that name."""
    if isinstance(code, str) and code in SYSTEM_NUMBERS:
        return code
    number = int(code) if str(code).isdigit() else None
    if spelling == "system" and number in SYSTEM_NAMES:
        return SYSTEM_NAMES[number]
    return code


def refuse(code: str, status: int = 400, message: str | None = None) -> PopRefusal:
    return PopRefusal(status, code, message or MESSAGES.get(code, MESSAGES["19999"]))


# -- fault plan ---------------------------------------------------------------------------


class Faults(PopFaults):
    """Planned misbehaviour. ``action`` may be ``"*"`` to match every action. A scripted
    ``code`` of an image operation that is numeric (101–199) comes as HTTP 200 with that
    body ``Code`` (spelled as ``image_codes`` says), one of seed 000's ``System.*`` names
    comes as HTTP 200 with that name; anything else in the shape of 'Common response / error
    format'."""

    def clear(self) -> None:
        super().clear()
        self._doc_errors: list[tuple[str, str]] = []
        self._image_items: dict[int, str] = {}

    def doc_error(
        self, code: str = "Error", message: str = MESSAGES["Error"], times: int = 1
    ) -> None:
        """The next ``times`` documents created end in status ``error``."""
        self._doc_errors.extend([(code, message)] * times)

    def image_item(self, index: int, code: str = "105") -> None:
        """Element ``index`` of the next image task created fails with ``errorCode``
        (a number is spelled as ``image_codes`` says; a ``System.*`` name is sent as is)."""
        self._image_items[index] = code

    def _take_doc_error(self) -> tuple[str, str] | None:
        return self._doc_errors.pop(0) if self._doc_errors else None

    def _take_image_items(self) -> dict[int, str]:
        items, self._image_items = self._image_items, {}
        return items


@dataclass(frozen=True)
class _Fetch:
    status: int | None  # None: no HTTP answer at all
    body: bytes | None  # None: not 200, unreachable or over the limit
    filename: str | None  # from Content-Disposition
    too_big: bool = False


# -- the server ---------------------------------------------------------------------------


class AlibabaMTEmulator(PopEmulator):
    """The alimt API on a free port. Start with ``await em.start()`` or ``async with``; read
    ``requests``, ``docs``, ``images``, ``callbacks``, ``fetched`` and ``downloads``; steer
    with ``faults``, ``qps``, ``keys``, :meth:`finish` and :meth:`drain`."""

    _version = VERSION
    _methods = METHODS
    _default_qps = DEFAULT_QPS
    _max_body = 64 * 1024 * 1024
    _product = "alimt"
    _refuse = staticmethod(refuse)
    faults: Faults

    def __init__(
        self,
        access_key_id: str = "LTAI5tTolkEmulator",
        access_key_secret: str = "emulator-secret",
        *,
        clock: Callable[[], float] = time.time,
        doc_seconds: float | None = 0.3,
        image_pending_polls: int = 1,
        file_ttl: float = 3600,
        client_token_window: float = 180,
        max_skew: float | None = 900,
        nonce_window: float = 900,
        require_domain: bool = False,
        strict_methods: bool = True,
        max_doc_bytes: int = MAX_DOC_BYTES,
        fetch_timeout: float = 5.0,
        offline_samples: bool = False,
        image_codes: ImageCodes = "number",
        hosts: dict[str, str] | None = None,
    ) -> None:
        super().__init__(access_key_id, access_key_secret, clock, max_skew, nonce_window)
        if image_codes not in ("number", "system"):
            raise ValueError('image_codes must be "number" or "system"')
        self.image_codes: ImageCodes = image_codes  # how image errors are spelled (seed 000)
        self.faults = Faults()
        self.strict_methods = strict_methods
        self.doc_seconds = doc_seconds
        self.image_pending_polls = image_pending_polls
        self.file_ttl = file_ttl
        self.client_token_window = client_token_window
        self.require_domain = require_domain
        self.max_doc_bytes = max_doc_bytes
        self.fetch_timeout = fetch_timeout
        self.offline_samples = offline_samples  # sandbox: an unreachable URL yields a sample
        self.hosts = {name.lower(): base.rstrip("/") for name, base in (hosts or {}).items()}
        self.docs: dict[str, DocTask] = {}
        self.images: dict[str, ImageTask] = {}
        self.callbacks: list[CallbackSent] = []
        self.fetched: list[tuple[str, int | None]] = []
        self.downloads: list[str] = []
        self._link_key = secrets.token_bytes(16)
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._actions: dict[str, Callable[[Verified], Awaitable[dict[str, Any]]]] = {
            CREATE_DOC: self._create_doc,
            GET_DOC: self._get_doc,
            CREATE_IMAGE: self._create_image,
            GET_IMAGE: self._get_image,
        }

    # -- lifecycle ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = super().app()  # the API on /
        app.router.add_get("/files/doc/{task}/{name}", self._download_doc)
        app.router.add_get("/files/img/{task}/{index}.png", self._download_image)
        app.router.add_get("/samples/{name}", self._sample)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        self._http = aiohttp.ClientSession()
        return await super().start(host, port)

    async def close(self) -> None:
        for task in [*self._timers.values(), *self._background]:
            task.cancel()
        await asyncio.gather(*self._timers.values(), *self._background, return_exceptions=True)
        self._timers.clear()
        await super().close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def max_skew(self) -> float | None:
        return self.verifier.max_skew

    @max_skew.setter
    def max_skew(self, seconds: float | None) -> None:
        self.verifier.max_skew = seconds

    @property
    def nonce_window(self) -> float | None:
        return self.verifier.nonce_window

    @nonce_window.setter
    def nonce_window(self, seconds: float | None) -> None:
        self.verifier.nonce_window = seconds

    # -- inspection and control -----------------------------------------------------------

    def sample_doc_url(self, name: str = "guide.txt") -> str:
        """A source document served by the emulator itself (content chosen by extension)."""
        return f"{self.endpoint}/samples/{quote(name)}"

    def sample_image_url(self, name: str = "product.png") -> str:
        """A generated source image served by the emulator itself."""
        return f"{self.endpoint}/samples/{quote(name)}"

    def finish(
        self,
        task_id: str,
        status: str | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Complete a document now and fire its callback. ``status`` ``None`` follows the
        plan: ``error`` if a ``faults.doc_error`` was taken at its creation, else
        ``translated``. A finished document stays as it is."""
        doc = self.docs[task_id]
        if status is None:
            status, (code, message) = (
                (ERROR, doc.planned_error) if doc.planned_error else (TRANSLATED, (None, None))
            )
        if status not in (TRANSLATED, ERROR):
            raise ValueError(f"status must be {TRANSLATED!r} or {ERROR!r}")
        timer = self._timers.pop(task_id, None)
        if timer is not None:
            timer.cancel()
        if status == ERROR:
            code = code or "Error"
            message = message or MESSAGES.get(code, MESSAGES["Error"])
        self._complete(doc, status, code, message)

    async def drain(self) -> None:
        """Wait for callbacks in flight (not for document timers)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- the API --------------------------------------------------------------------------

    async def _act(self, verified: Verified) -> dict[str, Any]:
        return await self._actions[verified.action](verified)

    async def _answer(self, verified: Verified) -> dict[str, Any]:
        try:
            return await super()._answer(verified)
        except ImageFailure as failure:
            code = spell_image_code(failure.code, failure.spelling or self.image_codes)
            return {"Code": code, "Message": failure.message, "RequestId": new_request_id()}

    def _scripted_error(self, action: str, fault: _CodeFault) -> Exception:
        if action in (CREATE_IMAGE, GET_IMAGE) and fault.code in SYSTEM_NUMBERS:
            return ImageFailure(SYSTEM_NUMBERS[fault.code], fault.message, spelling="system")
        if action in (CREATE_IMAGE, GET_IMAGE) and fault.code.isdigit():
            number = int(fault.code)
            if 100 <= number < 200:
                return ImageFailure(number, fault.message)
        return super()._scripted_error(action, fault)

    # -- documents ------------------------------------------------------------------------

    async def _create_doc(self, verified: Verified) -> dict[str, Any]:
        params = verified.params
        _require(params, "SourceLanguage", "TargetLanguage", "FileUrl")
        source, target = params["SourceLanguage"], params["TargetLanguage"]
        if not _language_pair_ok(source, target):
            raise refuse("10021")
        scene = params.get("Scene") or "general"
        if scene not in SCENES:
            raise refuse("10021")
        file_url = self._check_url(params["FileUrl"], "10022")
        callback = params.get("CallbackUrl") or None
        if callback is not None:
            callback = self._check_url(callback, "10024")
        token = params.get("ClientToken") or None
        task_id = uuid.uuid4().hex
        original = self._claim_token(CREATE_DOC, token, task_id)
        if original is not None:
            return {"Status": READY, "RequestId": new_request_id(), "TaskId": original}
        try:
            data, name = await self._fetch_document(file_url)
        except PopRefusal:
            self._release_token(CREATE_DOC, token)
            raise
        stem, ext = _split_name(name)
        doc = DocTask(
            task_id=task_id,
            status=READY,
            source_url=file_url,
            source_language=source,
            target_language=target,
            scene=scene,
            callback_url=callback,
            client_token=token,
            created_at=self.clock(),
            source_bytes=data,
            source_name=name,
            result_name=stem + (".docx" if ext == "pdf" else f".{ext}"),
            planned_error=self.faults._take_doc_error(),
        )
        self.docs[task_id] = doc
        answer = {"Status": doc.status, "RequestId": new_request_id(), "TaskId": task_id}
        if self.doc_seconds is None:
            doc.status = TRANSLATING
        else:
            self._timers[task_id] = asyncio.create_task(self._walk(doc, self.doc_seconds))
        return answer

    async def _fetch_document(self, url: str) -> tuple[bytes, str]:
        fetched = await self._fetch(url, self.max_doc_bytes)
        if fetched.too_big:
            raise refuse("10030")
        if fetched.body is None:
            raise refuse("10023")
        name = _document_name(url, fetched.filename)
        if name is None:
            raise refuse("10031")
        text_type = _split_name(name)[1] in TEXT_TYPES
        if text_type and len(fetched.body.decode("utf-8", errors="replace")) > MAX_DOC_CHARS:
            raise refuse("10030")
        return fetched.body, name

    async def _walk(self, doc: DocTask, seconds: float) -> None:
        await asyncio.sleep(seconds / 2)
        if doc.status == READY:
            doc.status = TRANSLATING
        await asyncio.sleep(seconds / 2)
        self._timers.pop(doc.task_id, None)
        self.finish(doc.task_id)

    def _complete(self, doc: DocTask, status: str, code: str | None, message: str | None) -> None:
        if doc.status in (TRANSLATED, ERROR):
            return
        doc.status, doc.finished_at = status, self.clock()
        if status == TRANSLATED:
            ext = _split_name(doc.source_name)[1]
            doc.result_bytes = translate_document(doc.source_bytes, ext, doc.target_language)
            doc.page_count = _page_count(doc.source_bytes, ext)
        else:
            doc.error_code, doc.error_message = code, message
        if doc.callback_url:
            self._spawn(self._send_callback(doc.callback_url, self._callback_body(doc)))

    async def _get_doc(self, verified: Verified) -> dict[str, Any]:
        _require(verified.params, "TaskId")
        doc = self.docs.get(verified.params["TaskId"])
        if doc is None:
            raise refuse("10025", 404)
        answer: dict[str, Any] = {
            "Status": doc.status,
            "RequestId": new_request_id(),
            "TaskId": doc.task_id,
        }
        if doc.status == TRANSLATED:
            answer["TranslateFileUrl"] = self._doc_link(doc)
            answer["PageCount"] = doc.page_count
        elif doc.status == ERROR:
            answer["TranslateErrorCode"] = doc.error_code
            answer["TranslateErrorMessage"] = doc.error_message
        return answer

    def _callback_body(self, doc: DocTask) -> dict[str, Any]:
        ok = doc.status == TRANSLATED
        code = doc.error_code or "Error"
        return {
            "task_id": doc.task_id,
            "status": doc.status,
            "errCode": 200 if ok else (int(code) if code.isdigit() else code),
            "errMsg": "" if ok else (doc.error_message or ""),
            "translateFileUrl": self._doc_link(doc) if ok else "",
        }

    async def _send_callback(self, url: str, body: dict[str, Any]) -> None:
        status: int | None = None
        error: str | None = None
        try:
            async with self._session().post(
                self._reach(url),
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=self.fetch_timeout),
            ) as resp:
                status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        self.callbacks.append(CallbackSent(url, body, status, error, self.clock()))

    # -- images ---------------------------------------------------------------------------

    async def _create_image(self, verified: Verified) -> dict[str, Any]:
        params = verified.params
        if any(
            not params.get(n, "").strip() for n in ("UrlList", "SourceLanguage", "TargetLanguage")
        ):
            raise ImageFailure(104)
        urls = [u.strip() for u in params["UrlList"].split(",")]
        if len(urls) > MAX_IMAGES or any(not u for u in urls):
            raise ImageFailure(104)
        if not all(_is_http_url(u) for u in urls):
            raise ImageFailure(103)
        source, target = params["SourceLanguage"], params["TargetLanguage"]
        if source not in IMAGE_SOURCES or not _language_pair_ok(source, target):
            raise ImageFailure(105)
        extra = _parse_extra(params.get("Extra", ""))
        token = params.get("ClientToken") or None
        task_id = new_request_id()
        original = self._claim_token(CREATE_IMAGE, token, task_id)
        if original is None:
            self.images[task_id] = ImageTask(
                task_id=task_id,
                urls=urls,
                source_language=source,
                target_language=target,
                extra=extra,
                client_token=token,
                created_at=self.clock(),
                top_request_id=secrets.token_hex(6),
                item_faults=self.faults._take_image_items(),
            )
        data = {"TaskId": original or task_id}
        return {"Code": 200, "Message": "ok", "RequestId": new_request_id(), "Data": data}

    async def _get_image(self, verified: Verified) -> dict[str, Any]:
        task = self.images.get(verified.params.get("TaskId", "").strip())
        if task is None:
            raise ImageFailure(104)
        task.polls += 1
        async with task.lock:
            if task.items is None and task.polls > self.image_pending_polls:
                await self._finish_image(task)
        image_data = "[]" if task.items is None else json.dumps(task.items)
        data = {"ImageData": image_data}
        return {"Code": 200, "Message": "ok", "RequestId": new_request_id(), "Data": data}

    async def _finish_image(self, task: ImageTask) -> None:
        fetches = await asyncio.gather(*(self._fetch(u, MAX_IMAGE_BYTES) for u in task.urls))
        expires = int(self.clock() + self.file_ttl)
        items = []
        for index, (url, fetched) in enumerate(zip(task.urls, fetches, strict=True)):
            item: dict[str, Any] = {"sourceUrl": url, "topRequestId": task.top_request_id}
            code = "103" if fetched.body is None else task.item_faults.get(index, "200")
            spelled = str(spell_image_code(code, self.image_codes))
            item.update(errorCode=spelled, success=code == "200")
            if code == "200":
                label = "text removed" if task.extra.get("without_text") == "true" else ""
                task.pngs[index] = await asyncio.to_thread(
                    render_image, fetched.body, task.target_language, task.task_id, label
                )
                item["url"] = self._link("img", task.task_id, f"{index}.png", expires)
            items.append(item)
        task.items, task.finished_at = items, self.clock()

    # -- shared helpers -------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("the emulator is not started")
        return self._http

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _check_url(self, value: str, code: str) -> str:
        if not _is_http_url(value):
            raise refuse(code)
        if self.require_domain and _is_ip(urlsplit(value).hostname or ""):
            raise refuse(code)
        return value

    def _claim_token(self, action: str, token: str | None, task_id: str) -> str | None:
        """The original task id for a token seen within the window, else reserve it."""
        if token is None:
            return None
        now = self.clock()
        seen = self._tokens.get((action, token))
        if seen is not None and now - seen[1] <= self.client_token_window:
            return seen[0]
        self._tokens[(action, token)] = (task_id, now)
        return None

    def _release_token(self, action: str, token: str | None) -> None:
        if token is not None:
            self._tokens.pop((action, token), None)

    def _reach(self, url: str) -> str:
        """Where ``url`` is really fetched: its scheme and authority replaced by ``hosts``'
        base URL for its host name, if there is one."""
        try:
            parts = urlsplit(url)
            base = self.hosts.get((parts.hostname or "").lower())
        except ValueError:
            return url
        if base is None:
            return url
        return base + url[len(f"{parts.scheme}://{parts.netloc}") :]

    async def _fetch(self, url: str, limit: int) -> _Fetch:
        reached = self._reach(url)
        target = yarl.URL(reached, encoded=reached.isascii())  # a presigned URL's bytes as sent
        status: int | None = None
        try:
            async with self._session().get(
                target, timeout=aiohttp.ClientTimeout(total=self.fetch_timeout)
            ) as resp:
                status = resp.status
                disposition = resp.content_disposition
                filename = disposition.filename if disposition is not None else None
                if status != 200:
                    fetched = _Fetch(status, None, filename)
                elif (resp.content_length or 0) > limit:
                    fetched = _Fetch(status, None, filename, too_big=True)
                else:
                    body = await _read_limited(resp, limit)
                    fetched = _Fetch(status, body, filename, too_big=body is None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            fetched = _Fetch(status, None, None)
            if self.offline_samples:  # no internet (the sandbox): make up the file
                fetched = await self._offline_sample(url)
        self.fetched.append((url, fetched.status))
        return fetched

    async def _offline_sample(self, url: str) -> _Fetch:
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "document.txt"
        if _split_name(name)[1] in ("png", "jpg", "jpeg", "gif", "bmp", "webp"):
            return _Fetch(200, await asyncio.to_thread(sample_image, name), None)
        return _Fetch(200, sample_document(name), None)

    # -- files ----------------------------------------------------------------------------

    def _doc_link(self, doc: DocTask) -> str:
        return self._link("doc", doc.task_id, doc.result_name, int(self.clock() + self.file_ttl))

    def _link(self, kind: str, task_id: str, name: str, expires: int) -> str:
        path = f"/files/{kind}/{task_id}/{quote(name)}"
        return f"{self.endpoint}{path}?Expires={expires}&Signature={self._link_sig(path, expires)}"

    def _link_sig(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._link_key, message, hashlib.sha256).hexdigest()[:32]

    def _check_link(self, request: web.Request) -> None:
        expires = request.query.get("Expires", "")
        given = request.query.get("Signature", "")
        path = request.rel_url.raw_path
        if not expires.isdigit() or not hmac.compare_digest(
            self._link_sig(path, int(expires)), given
        ):
            raise _denied("Invalid signature.")
        if self.clock() > int(expires):
            raise _denied("Request has expired.")

    async def _download_doc(self, request: web.Request) -> web.StreamResponse:
        self._check_link(request)
        doc = self.docs.get(request.match_info["task"])
        if doc is None or doc.result_bytes is None or request.match_info["name"] != doc.result_name:
            raise web.HTTPNotFound()
        self.downloads.append(request.path)
        content_type = mimetypes.guess_type(doc.result_name)[0] or "application/octet-stream"
        name = doc.result_name
        plain = f'filename="{name}"; ' if name.isascii() and '"' not in name else ""
        disposition = f"attachment; {plain}filename*=UTF-8''{quote(name)}"
        return web.Response(
            body=doc.result_bytes,
            content_type=content_type,
            headers={"Content-Disposition": disposition},
        )

    async def _download_image(self, request: web.Request) -> web.StreamResponse:
        self._check_link(request)
        task = self.images.get(request.match_info["task"])
        index = request.match_info["index"]
        png = task.pngs.get(int(index)) if task is not None and index.isdigit() else None
        if png is None:
            raise web.HTTPNotFound()
        self.downloads.append(request.path)
        return web.Response(body=png, content_type="image/png")

    async def _sample(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        ext = _split_name(name)[1]
        if ext in ("png", "jpg", "jpeg"):
            body = await asyncio.to_thread(sample_image, name)
            return web.Response(body=body, content_type="image/png")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(body=sample_document(name), content_type=content_type)


# -- pure helpers ---------------------------------------------------------------------------


def _require(params: dict[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name, "").strip():
            raise PopRefusal(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _language_pair_ok(source: str, target: str) -> bool:
    if source not in LANGUAGES or target not in LANGUAGES or source == target:
        return False
    return "zh-tw" not in (source, target) or "zh" in (source, target)


def _is_http_url(value: str) -> bool:
    if not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _split_name(name: str) -> tuple[str, str]:
    path = PurePosixPath(name)
    return path.stem, path.suffix.lower().lstrip(".")


def _document_name(url: str, disposition: str | None) -> str | None:
    """The source's file name: the URL path's if its type is supported, else the header's."""
    from_path = PurePosixPath(unquote(urlsplit(url).path)).name
    for candidate in (from_path, disposition or ""):
        if candidate and _split_name(candidate)[1] in DOC_TYPES:
            return candidate
    return None


def _parse_extra(value: str) -> dict[str, str]:
    if not value.strip():
        return {}
    try:
        extra = json.loads(value)
    except ValueError:
        raise ImageFailure(104) from None
    if not isinstance(extra, dict):
        raise ImageFailure(104)
    for key in EXTRA_KEYS & extra.keys():
        if extra[key] not in ("true", "false"):
            raise ImageFailure(104)
    return {k: v for k, v in extra.items() if k in EXTRA_KEYS}


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _denied(message: str) -> web.HTTPForbidden:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>"
    )
    return web.HTTPForbidden(text=xml, content_type="application/xml")


def _page_count(data: bytes, ext: str) -> int:
    if ext == "pdf":
        return max(1, len(re.findall(rb"/Type\s*/Page(?!s)", data)))
    if ext in TEXT_TYPES:
        return max(1, math.ceil(len(data.decode("utf-8", errors="replace")) / 2000))
    return 1


# -- translated content ---------------------------------------------------------------------


def translate_document(data: bytes, ext: str, target: str) -> bytes:
    """A visibly 'translated' version: text formats tagged ``[target]`` per text unit, in
    their own format; PDF as a small DOCX; other binary formats copied as they are."""
    tag = f"[{target}] "
    if ext == "pdf":
        return minimal_docx(f"{tag}translated PDF ({len(data)} bytes)")
    if ext not in TEXT_TYPES:
        return data
    text = data.decode("utf-8-sig", errors="replace")
    if ext == "json":
        translated = _translate_json(text, tag)
    elif ext in MARKUP_TYPES:
        translated = re.sub(r">(\s*)([^<\s][^<]*)", lambda m: f">{m[1]}{tag}{m[2]}", text)
    elif ext == "csv":
        translated = _translate_csv(text, tag)
    else:
        translated = "".join(_translate_line(line, tag, ext) for line in text.splitlines(True))
    return translated.encode("utf-8")


def _translate_line(line: str, tag: str, ext: str) -> str:
    content = line.rstrip("\r\n")
    if not content.strip():
        return line
    if ext == "srt" and (content.strip().isdigit() or "-->" in content):
        return line
    if ext in ("md", "markdown"):
        marker = re.match(r"\s*(?:#+|[-*+]|\d+\.|>)?\s*", content)
        cut = marker.end() if marker else 0
        return content[:cut] + tag + content[cut:] + line[len(content) :]
    return tag + line


def _translate_json(text: str, tag: str) -> str:
    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return tag + value
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    try:
        return json.dumps(walk(json.loads(text)), ensure_ascii=False, indent=2)
    except ValueError:
        return "".join(_translate_line(line, tag, "txt") for line in text.splitlines(True))


def _translate_csv(text: str, tag: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([tag + cell if cell.strip() else cell for cell in row])
    return out.getvalue()


def minimal_docx(text: str) -> bytes:
    """A tiny, valid Word document holding one paragraph."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{ns}"><w:body><w:p>'
            f"<w:r><w:t>{escaped}</w:t></w:r></w:p></w:body></w:document>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


_SAMPLE_TEXT = {
    "txt": "Tolk sample guide\n\nPress the red button to start.\nHold it to stop.\n",
    "md": "# Tolk guide\n\n- Press the red button.\n- Wait for the green light.\n",
    "csv": "term,definition\nbutton,a thing to press\nlight,a thing that glows\n",
    "json": '{"title": "Guide", "steps": ["Press the red button.", "Wait."], "pages": 1}\n',
    "srt": "1\n00:00:01,000 --> 00:00:03,000\nPress the red button.\n\n"
    "2\n00:00:03,500 --> 00:00:05,000\nWait for the green light.\n",
    "html": "<html><body><h1>Guide</h1><p>Press the red button.</p></body></html>\n",
    "xml": '<?xml version="1.0" encoding="UTF-8"?>\n<guide><step>Press the red button.</step>'
    "</guide>\n",
}
_SAMPLE_ALIASES = {"markdown": "md", "htm": "html", "xhtml": "html"}
_SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type /Catalog /Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type /Pages /Kids [3 0 R] /Count 1>>endobj\n"
    b"3 0 obj<</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def sample_document(name: str) -> bytes:
    ext = _split_name(name)[1]
    ext = _SAMPLE_ALIASES.get(ext, ext)
    if ext in _SAMPLE_TEXT:
        return _SAMPLE_TEXT[ext].encode()
    if ext in MARKUP_TYPES:
        return _SAMPLE_TEXT["xml"].encode()
    if ext == "pdf":
        return _SAMPLE_PDF
    if ext == "docx":
        return minimal_docx("Press the red button.")
    return f"binary sample {name}\n".encode() + bytes(range(256))


# -- images ---------------------------------------------------------------------------------


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def render_image(source: bytes | None, target: str, task_id: str, note: str = "") -> bytes:
    """The source picture (or a canvas) with a band naming the target language."""
    from PIL import Image, ImageDraw

    image = None
    if source:
        try:
            with Image.open(io.BytesIO(source)) as opened:
                image = opened.convert("RGB")
                image.thumbnail((1200, 1200))
        except Exception:  # not a picture: draw on a blank canvas
            image = None
    if image is None:
        image = Image.new("RGB", (480, 320), (236, 240, 244))
    draw = ImageDraw.Draw(image)
    size = max(12, image.width // 24)
    font = _font(size)
    top = image.height - 2 * size - 16
    draw.rectangle((0, top, image.width, image.height), fill=(255, 106, 0))
    label = f"{target} · translated" + (f" · {note}" if note else "")
    draw.text((8, top + 4), label, fill=(255, 255, 255), font=font)
    draw.text(
        (8, top + 8 + size), f"alibaba mt emulator · {task_id[:8]}", fill=(60, 20, 0), font=font
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def sample_image(name: str) -> bytes:
    from PIL import Image, ImageDraw

    seed = int(hashlib.md5(name.encode()).hexdigest()[:6], 16)
    image = Image.new("RGB", (480, 320), (seed >> 16 & 255, seed >> 8 & 255, seed & 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 440, 280), fill=(250, 250, 250))
    draw.text((60, 60), f"NEW ARRIVAL  {name}", fill=(200, 0, 0), font=_font(32))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()

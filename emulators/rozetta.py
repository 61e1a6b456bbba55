"""A local Rozetta file-translation server for tests, the sandbox and benchmarks.

It speaks the wire format of the Rozetta spec (``rozetta.md``) and refuses what the real service
refuses ('What an emulator must check'). It checks signatures with its own HMAC code — it never
imports the client's or the wire module's signing — so a signing bug cannot cancel itself out.

Routes on one server (``base_url``)::

    POST /api/v1/file-translate               multipart upload → translateId
    GET  /api/v1/translate-result/all         every translation of the access key
    GET  /api/v1/translate-result/{id}        one translation
    GET  /api/v1/downloads?ids=["…", …]       a ZIP of the finished items

Every request must carry ``accessKey``, ``nonce`` and ``signature`` (header names in
any case). Refusals use the inferred envelope ``{"status": "failure", "data": {"code":
…, "message": …}}`` with HTTP 401 (key, signature, nonce), 404 (40203) or 400 — or
always HTTP 200 with ``failures_as_200``.

Items walk ``done: false`` → ``true`` after ``done_after_polls`` polls that show them
(``/all`` or their own ``/translate-result/{id}``), or at once with ``finish()``.
Text files come back with every line prefixed ``[<lang>] ``; other files are copied.

Not emulated: the callback endpoints ('Callback URL management'), the field list, and rate
limiting other than ``faults.code(operation, 40103)``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from emulators._server import CodeFaults, LoopbackServer

FILE_TRANSLATE = "file-translate"
TRANSLATE_RESULT = "translate-result"
TRANSLATE_RESULT_ALL = "translate-result/all"
DOWNLOADS = "downloads"
OPERATIONS = (FILE_TRANSLATE, TRANSLATE_RESULT, TRANSLATE_RESULT_ALL, DOWNLOADS)

MAX_NONCE = 9_223_372_036_854_775_807
RETENTION_SECONDS = 14 * 24 * 3600  # Rozetta spec, 'Download': files are kept 14 days

# Rozetta spec, 'Languages': ISO 639-1 except the Chinese variants. The per-engine list
# is not public.
_LANGUAGE_CODES = (
    "ar bg bn cs da de el en es et fa fi fr he hi hr hu id it ja km ko lo lt lv mn ms my "
    "nb ne nl no pl pt ro ru si sk sl sr sv sw ta te th tl tr uk ur vi zh-CN zh-TW"
)
LANGUAGES = frozenset(_LANGUAGE_CODES.split())

MESSAGES = {
    40001: "Authentication failed.",
    40002: "Access key doesn't exist.",
    40003: "The key is invalid.",
    40005: "Please specify a bigger nonce.",
    40006: "The signature is incorrect.",
    40008: "Please specify a smaller nonce.",
    40100: "General error.",
    40101: "Connect to this endpoint using WebSocket",
    40102: "Translation failed (TTT)",
    40103: "Exceeded request frequency limit.",
    40200: "Required argument is missing.",
    40201: "Invalid type.",
    40202: "Missing or invalid parameter(s).",
    40203: "Translation not found.",
    40204: "Not found : Contract with this type",
    40300: "Unable to detect text language: ",
    40301: "Unsupported translation direction",
}
_AUTH_CODES = frozenset({40002, 40003, 40005, 40006, 40008})


def hmac_sha256_hex(secret: str, message: str) -> str:
    """The emulator's own signing primitive (independent of ``wire.sign``)."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Received:
    """One request as it arrived, and what the emulator answered."""

    seq: int  # arrival order
    operation: str  # one of OPERATIONS, or "unknown"
    method: str
    path: str  # decoded path, without the query
    query: dict[str, str]
    headers: dict[str, str]  # accesskey / nonce / signature as sent (names lower-cased)
    at: float
    status: int = 200  # HTTP status answered
    code: int | None = None  # Rozetta code of a refusal, None when it succeeded
    fields: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)  # ("files" parts)

    @property
    def nonce(self) -> str | None:
        return self.headers.get("nonce")


class Refusal(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES.get(code, "General error.")


class Faults(CodeFaults):
    """Planned misbehaviour. ``operation`` is one of ``OPERATIONS`` or ``"*"``.

    HTTP faults, malformed bodies, delays and codes act like a gateway in front of the
    service: they answer before authentication, so they consume no nonce.
    """

    def clear(self) -> None:
        super().clear()
        self._item_errors: dict[str, tuple[int | str, str | None]] = {}
        self._zip_extra: list[tuple[str, bytes]] = []

    # The shared plan, under this emulator's parameter name ``operation``.

    def http(
        self, operation: str, status: int = 502, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next ``times`` calls answer HTTP ``status`` with a text body."""
        super().http(operation, status, times, retry_after)

    def malformed(self, operation: str, times: int = 1) -> None:
        """The next ``times`` calls answer HTTP 200 with a body that is not JSON."""
        super().malformed(operation, times)

    def delay(self, operation: str, seconds: float) -> None:
        """Every call of ``operation`` waits ``seconds`` first (0 removes the delay)."""
        super().delay(operation, seconds)

    def code(self, operation: str, code: int, times: int = 1) -> None:
        """The next ``times`` calls are refused with Rozetta ``code`` (e.g. 40103)."""
        super().code(operation, code, times)

    def item_error(
        self, *targets: str, code: int | str = 40102, message: str | None = None
    ) -> None:
        """Items fail (``error: true``) when they would have finished. A target is an
        item id (an existing item) or an original file name (every item of a file with
        that name uploaded from now on)."""
        for target in targets:
            self._item_errors[target] = (code, message)

    def zip_extra(self, name: str, data: bytes = b"x") -> None:
        """The next download's archive also holds an entry ``name`` (e.g. ``../evil``)."""
        self._zip_extra.append((name, data))


@dataclass
class _Item:
    id: str
    numeric_id: int
    name: str
    lang: str
    content: bytes
    detected: str | None
    word_count: int
    polls_left: int
    outcome: tuple[int | str, str | None] | None = None  # an injected or detected error
    done: bool = False
    error: bool = False
    error_code: int | str | None = None
    error_message: str | None = None
    downloaded: bool = False
    done_at: float | None = None


@dataclass
class _Translation:
    id: str
    access_key: str
    langs: list[str]
    field_id: str
    created_at: float
    items: list[_Item]


class RozettaEmulator(LoopbackServer):
    def __init__(
        self,
        *,
        keys: Mapping[str, str] | None = None,
        contract_id: str | None = "rz-contract",
        require_contract: bool = True,
        field_id: str | Collection[str] = "1",
        languages: Collection[str] = LANGUAGES,
        done_after_polls: int = 2,
        error_done: bool = False,
        item_errors_fail_request: bool = False,
        engine: str = "t4oo",
        history: int = 0,
        retention: float = RETENTION_SECONDS,
        accept_encoded_signature: bool = False,
        created_at_object: bool = False,
        failures_as_200: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``keys``: access key → secret key. ``contract_id``: the contract uploads must
        name (with ``require_contract=False`` it may be left out). ``field_id``: the
        accepted field id(s). ``error_done``: the ``done`` value shown on a failed item
        (undocumented). ``item_errors_fail_request``: answer ``status: failure`` when an
        item failed (the seed's note), data still included. ``engine`` ``"t4oo"`` counts
        words, ``"t3mt"`` characters. ``history``: finished translations seeded for the
        first key, so ``/all`` gets heavy. ``created_at_object``: ``createdAt`` as
        ``{}`` like the seed example instead of an ISO string."""
        self.keys = dict(keys) if keys is not None else {"rz-access": "rz-secret"}
        self.contract_id = contract_id
        self.require_contract = require_contract
        self.field_ids = frozenset({field_id} if isinstance(field_id, str) else field_id)
        self.languages = frozenset(languages)
        self.done_after_polls = done_after_polls
        self.error_done = error_done
        self.item_errors_fail_request = item_errors_fail_request
        self.engine = engine
        self.retention = retention
        self.accept_encoded_signature = accept_encoded_signature
        self.created_at_object = created_at_object
        self.failures_as_200 = failures_as_200
        self.clock = clock
        self.faults = Faults()
        self.requests: list[Received] = []
        self.last_nonce: dict[str, int] = {}
        self.translations: dict[str, _Translation] = {}
        self.base_url = ""
        self._items: dict[str, _Item] = {}
        self._numeric = itertools.count(5507)
        self._seq = itertools.count()
        if history:
            self.seed_history(history)

    # -- lifecycle ----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_post("/api/v1/file-translate", self._entry(FILE_TRANSLATE))
        app.router.add_get("/api/v1/translate-result/all", self._entry(TRANSLATE_RESULT_ALL))
        app.router.add_get("/api/v1/translate-result/{tid}", self._entry(TRANSLATE_RESULT))
        app.router.add_get("/api/v1/downloads", self._entry(DOWNLOADS))
        return app

    # -- inspection and control ---------------------------------------------------

    def requests_for(self, what: str) -> list[Received]:
        """Requests of one operation (``"downloads"``) or one exact path."""
        return [r for r in self.requests if what in (r.operation, r.path)]

    def refusals(self, code: int | None = None) -> list[Received]:
        """Requests that were refused (with ``code``, if given)."""
        return [r for r in self.requests if r.code is not None and code in (None, r.code)]

    def item(self, item_id: str) -> _Item:
        return self._items[item_id]

    def finish(
        self, item_id: str, *, error_code: int | str | None = None, message: str | None = None
    ) -> None:
        """Settle an item now: done, or failed with ``error_code`` (or its injected error)."""
        item = self._items[item_id]
        if error_code is not None:
            item.outcome = (error_code, message)
        self._complete(item)

    def seed_history(self, count: int, access_key: str | None = None) -> None:
        """Add ``count`` finished, downloaded one-file translations (a long history)."""
        key = access_key or next(iter(self.keys))
        start = self.clock() - RETENTION_SECONDS * 2
        for n in range(count):
            name = f"history-{n:05d}.docx"
            item = self._new_item(name, "en", b"history\n", detected="ja", polls=0)
            item.done, item.downloaded, item.done_at = True, True, start + n
            self._add_translation(key, ["ja", "en"], "1", [item], created_at=start + n)

    # -- HTTP plumbing --------------------------------------------------------------

    def _entry(self, operation: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, operation)

        return handler

    async def _handle(self, request: web.Request, operation: str) -> web.StreamResponse:
        seq = next(self._seq)
        headers = {
            name.lower(): value
            for name, value in request.headers.items()
            if name.lower() in {"accesskey", "nonce", "signature"}
        }
        record: dict[str, Any] = {
            "seq": seq,
            "operation": operation,
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": headers,
            "at": self.clock(),
        }
        response = await self._fault(operation, record)
        if response is None:
            try:
                access_key = self._authenticate(request)
                handler = {
                    FILE_TRANSLATE: self._file_translate,
                    TRANSLATE_RESULT_ALL: self._translate_result_all,
                    TRANSLATE_RESULT: self._translate_result,
                    DOWNLOADS: self._downloads,
                }[operation]
                response = await handler(request, access_key, record)
            except Refusal as refusal:
                record["code"] = refusal.code
                response = self._failure(refusal)
        record["status"] = response.status
        self.requests.append(Received(**record))
        return response

    async def _fault(self, operation: str, record: dict[str, Any]) -> web.StreamResponse | None:
        early = await self.faults._gateway(operation)
        if early is not None:
            return early
        code = self.faults._pop(self.faults._codes, operation)
        if code is not None:
            record["code"] = code
            return self._failure(Refusal(code))
        return None

    def _failure(self, refusal: Refusal) -> web.Response:
        if self.failures_as_200:
            status = 200
        elif refusal.code in _AUTH_CODES:
            status = 401
        elif refusal.code == 40203:
            status = 404
        else:
            status = 400
        body = {"status": "failure", "data": {"code": refusal.code, "message": refusal.message}}
        return web.json_response(body, status=status)

    def _success(self, data: Any, *, failed: bool = False) -> web.Response:
        status = "failure" if failed and self.item_errors_fail_request else "success"
        return web.json_response({"status": status, "data": data})

    # -- authentication (Rozetta spec, 'Authentication') ----------------------------

    def _authenticate(self, request: web.Request) -> str:
        access_key = request.headers.get("accessKey", "").strip()
        nonce = request.headers.get("nonce", "").strip()
        signature = request.headers.get("signature", "").strip().lower()
        if not access_key or not nonce or not signature:
            raise Refusal(40200)
        secret = self.keys.get(access_key)
        if secret is None:
            raise Refusal(40002)
        signed = [unquote(request.raw_path)]  # path + query, decoded ('Authentication')
        if self.accept_encoded_signature:
            signed.append(request.raw_path)
        expected = [hmac_sha256_hex(secret, nonce + path) for path in signed]
        if not any(hmac.compare_digest(signature, e) for e in expected):
            raise Refusal(40006)
        if not nonce.isdigit():
            raise Refusal(40201)
        value = int(nonce)
        if value > MAX_NONCE:
            raise Refusal(40008)
        if value <= self.last_nonce.get(access_key, -1):
            raise Refusal(40005)
        self.last_nonce[access_key] = value
        return access_key

    # -- upload ('Upload files') ----------------------------------------------------

    async def _read_multipart(
        self, request: web.Request
    ) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
        if request.content_type != "multipart/form-data":
            raise Refusal(40202, "The request must be multipart/form-data.")
        fields: dict[str, str] = {}
        files: list[tuple[str, bytes]] = []
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                    continue
                payload = bytes(await part.read(decode=True))
                if part.filename is not None:
                    if part.name == "files":
                        files.append((part.filename, payload))
                    else:
                        fields[part.name] = f"<file {part.filename!r}>"
                else:
                    fields[part.name] = payload.decode(part.get_charset("utf-8"))
        except (ValueError, UnicodeDecodeError, aiohttp.ClientError) as exc:
            raise Refusal(40202, "The multipart body could not be parsed.") from exc
        return fields, files

    def _languages(self, fields: Mapping[str, str]) -> tuple[list[str], str | None]:
        if not fields.get("targetLangs", "").strip():
            raise Refusal(40200, "Required argument is missing: targetLangs")
        try:
            targets = json.loads(fields["targetLangs"])
        except ValueError as exc:
            raise Refusal(40201, "targetLangs must be a JSON array.") from exc
        if (
            not isinstance(targets, list)
            or not targets
            or not all(isinstance(t, str) for t in targets)
        ):
            raise Refusal(40201, "targetLangs must be a JSON array of language codes.")
        source = fields.get("sourceLang", "").strip() or None
        for lang in [*targets, *([source] if source else [])]:
            if lang not in self.languages:
                raise Refusal(40301, f"Unsupported translation direction: {lang}")
        if source is not None and source in targets:
            raise Refusal(40301, f"Unsupported translation direction: {source}>{source}")
        return list(dict.fromkeys(targets)), source

    async def _file_translate(
        self, request: web.Request, access_key: str, record: dict[str, Any]
    ) -> web.Response:
        fields, files = await self._read_multipart(request)
        record["fields"], record["files"] = dict(fields), tuple(files)
        if not files:
            raise Refusal(40200, "Required argument is missing: files")
        targets, source = self._languages(fields)
        field_id = fields.get("fieldId", "").strip()
        if not field_id:
            raise Refusal(40200, "Required argument is missing: fieldId")
        if field_id not in self.field_ids:
            raise Refusal(40202, f"Unknown fieldId {field_id}")
        contract = fields.get("contractId", "").strip()
        if contract and contract != self.contract_id:
            raise Refusal(40204)
        if not contract and self.contract_id is not None and self.require_contract:
            raise Refusal(40200, "Required argument is missing: contractId")
        items = []
        for name, content in files:
            if not name.strip():
                raise Refusal(40202, "A file has no name.")
            text = _text_of(content)  # binary files: nothing to detect or to refuse
            detected = source or (_detect(text) if text is not None else None)
            for lang in targets:
                outcome: tuple[int | str, str | None] | None = None
                if text is not None and detected is None:
                    outcome = (40300, MESSAGES[40300] + name)
                elif detected == lang:
                    outcome = (40301, f"{MESSAGES[40301]}: {detected}>{lang}")
                item = self._new_item(name, lang, content, detected=detected, outcome=outcome)
                items.append(item)
        first = source or next((i.detected for i in items if i.detected), None)
        langs = [*([first] if first else []), *targets]
        translation = self._add_translation(access_key, langs, field_id, items)
        return self._success({"translateId": translation.id})

    def _new_item(
        self,
        name: str,
        lang: str,
        content: bytes,
        *,
        detected: str | None,
        polls: int | None = None,
        outcome: tuple[int | str, str | None] | None = None,
    ) -> _Item:
        item = _Item(
            id=str(uuid.uuid4()),
            numeric_id=next(self._numeric),
            name=name,
            lang=lang,
            content=content,
            detected=detected,
            word_count=_count(content, self.engine),
            polls_left=self.done_after_polls if polls is None else polls,
            outcome=self.faults._item_errors.get(name, outcome),
        )
        self._items[item.id] = item
        if item.polls_left <= 0 and not item.done:
            self._complete(item)
        return item

    def _add_translation(
        self,
        access_key: str,
        langs: list[str],
        field_id: str,
        items: list[_Item],
        created_at: float | None = None,
    ) -> _Translation:
        translation = _Translation(
            id=str(uuid.uuid4()),
            access_key=access_key,
            langs=langs,
            field_id=field_id,
            created_at=self.clock() if created_at is None else created_at,
            items=items,
        )
        self.translations[translation.id] = translation
        return translation

    # -- state machine ('State machine (per TranslateItem)') ------------------------

    def _complete(self, item: _Item) -> None:
        if item.done or item.error:
            return
        outcome = self.faults._item_errors.get(item.id, item.outcome)
        item.done_at = self.clock()
        if outcome is None:
            item.done = True
            return
        item.error, item.error_code, item.error_message = True, outcome[0], outcome[1]
        if item.error_message is None:
            item.error_message = MESSAGES.get(_int(outcome[0]) or 0, "Translation failed.")
        item.done = self.error_done

    def _poll(self, translation: _Translation) -> None:
        for item in translation.items:
            if item.done or item.error:
                continue
            item.polls_left -= 1
            if item.polls_left <= 0:
                self._complete(item)

    def _item_json(self, item: _Item) -> dict[str, Any]:
        return {
            "translateItemId": item.id,
            "lang": item.lang,
            "wordCount": item.word_count,
            "detectedLang": item.detected,
            "done": item.done,
            "originalName": item.name,
            "downloaded": item.downloaded,
            "error": item.error,
            "errorCode": item.error_code,
            "errorMessage": item.error_message,
            "id": item.numeric_id,
        }

    def _translation_json(self, translation: _Translation) -> dict[str, Any]:
        created: Any = {}
        if not self.created_at_object:
            created = datetime.fromtimestamp(translation.created_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        field_id = translation.field_id
        return {
            "translateId": translation.id,
            "done": all(i.done or i.error for i in translation.items),
            "langs": translation.langs,
            "fieldId": int(field_id) if field_id.isdigit() else field_id,
            "createdAt": created,
            "items": [self._item_json(i) for i in translation.items],
        }

    # -- results ('One translation's result', 'All results') ------------------------

    async def _translate_result_all(
        self, _request: web.Request, access_key: str, _record: dict[str, Any]
    ) -> web.Response:
        mine = [t for t in self.translations.values() if t.access_key == access_key]
        for translation in mine:
            self._poll(translation)
        failed = any(i.error for t in mine for i in t.items)
        return self._success([self._translation_json(t) for t in mine], failed=failed)

    async def _translate_result(
        self, request: web.Request, access_key: str, _record: dict[str, Any]
    ) -> web.Response:
        tid = request.match_info["tid"]
        translation = self.translations.get(tid)
        if translation is None or translation.access_key != access_key:
            raise Refusal(40203, f"Translation {tid} not found.")
        self._poll(translation)
        failed = any(i.error for i in translation.items)
        return self._success(self._translation_json(translation), failed=failed)

    # -- downloads ('Download') -----------------------------------------------------

    async def _downloads(
        self, request: web.Request, access_key: str, _record: dict[str, Any]
    ) -> web.Response:
        raw = request.query.get("ids", "").strip()
        if not raw:
            raise Refusal(40200, "Required argument is missing: ids")
        try:
            ids = json.loads(raw)
        except ValueError as exc:  # e.g. the legacy comma-separated form
            raise Refusal(40201, "ids must be a JSON array.") from exc
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise Refusal(40201, "ids must be a JSON array of translateItemIds.")
        owner = {i.id: t.access_key for t in self.translations.values() for i in t.items}
        items = []
        for item_id in dict.fromkeys(ids):
            item = self._items.get(item_id)
            if item is None or owner.get(item_id) != access_key:
                raise Refusal(40203, f"Translation {item_id} not found.")
            if not item.done or item.error:
                raise Refusal(40202, f"Translation {item_id} is not finished.")
            if item.done_at is not None and self.clock() - item.done_at > self.retention:
                raise Refusal(40203, f"Translation {item_id} not found (expired).")
            items.append(item)
        archive = self._zip(items)
        for item in items:
            item.downloaded = True
        return web.Response(
            body=archive,
            content_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="translated.zip"'},
        )

    def _zip(self, items: Iterable[_Item]) -> bytes:
        out = io.BytesIO()
        used: set[str] = set()
        extra, self.faults._zip_extra = self.faults._zip_extra, []
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in items:
                name = item.name if item.name not in used else f"{item.lang}/{item.name}"
                used.add(name)
                archive.writestr(name, _translated(item.content, item.lang))
            for name, data in extra:
                archive.writestr(zipfile.ZipInfo(name), data)
        return out.getvalue()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text_of(content: bytes) -> str | None:
    if b"\x00" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")


def _detect(text: str) -> str | None:
    """A crude language detector; None (→ 40300) for empty or letter-less text."""
    for pattern, lang in ((_KANA, "ja"), (_HANGUL, "ko"), (_HAN, "zh-CN"), (_LATIN, "en")):
        if pattern.search(text):
            return lang
    return None


def _count(content: bytes, engine: str) -> int:
    """T-4OO counts words, T-3MT characters (Rozetta spec, 'Data model')."""
    text = _text_of(content)
    if text is None:
        return len(content) // 6 if engine == "t4oo" else len(content) // 2
    if engine == "t4oo":
        return len(text.split())
    return sum(1 for c in text if not c.isspace())


def _translated(content: bytes, lang: str) -> bytes:
    text = _text_of(content)
    if text is None:
        return content
    lines = text.splitlines(keepends=True)
    return "".join(f"[{lang}] {line}" for line in lines).encode("utf-8")

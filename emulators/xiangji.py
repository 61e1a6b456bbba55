"""A local Xiangji (象寄) server for tests and demos.

It speaks the wire format of the Xiangji spec (``xiangji.md``) and refuses what the real service
would refuse ('What an emulator must check / do'). It checks signatures with its own MD5 code —
it never imports the client's signing — so a signing bug cannot cancel itself out.

Routes on one server (``base_url``)::

    /api/                              Action dispatch (GET or POST; query + body merged)
    /api2/                             local-file image translation (Url=local)
    /api2/async-matting                local-file matting
    /account/open/user/amount-query    quota (lowercase envelope)
    /i/<request_id>/<name>.png         result images, rendered lazily with Pillow
                                       (``r<n>``: the n-th refinement saved in an editor)
    /src/<name>.png                    sample source images (``sample_url``, ``add_source``)
    /image-editor/, /koutu/            stand-in refinement editors (``editor.py``)

Every answer is HTTP 200 + ``application/json`` unless a fault says otherwise, or the
request line is longer than nginx's default allows (HTTP 414, see ``MAX_REQUEST_LINE``).

What seed 002 does not say Xiangji accepts is refused, with a code of the seed's table
(104 "parameter error" unless another fits) in the envelope of the endpoint:

* methods: the batch and its two queries are GET only (seed 六); the uploads (三, 七) and
  the quota (五) are POST only; the Action endpoint takes GET or POST with a form body;
* parameters: each Action accepts the ones the seed lists for it (``ACCEPTED``) and
  nothing else; the batch queries also take ``CommitTime``/``Sign``/a key, which public
  clients send and the spec ('Batch result query') says are harmless;
* ``CommitTime`` more than ``commit_skew`` seconds (600) from the emulator's clock;
* batch ``Urls`` items that were not percent-encoded on their own (a raw ``://`` left
  after the form decoding): 103, "URL encoding error".

Engines: the emulator knows one key per quota Type (1, 2, 3, 4, 5, 7, 8, 9). An image
request is translated by the engine whose key arrives in ``ImgTransKey`` (``EngineType=5``
with the Aliyun key: ChatGPT; any other EngineType is ignored, "其他无效"); ``jobs`` keeps
the engine and quota Type of every job, and ``charges`` every quota deduction.

Translations are fake but not blind (issue 21, a glossary has to be tested against them):
``BRAND_WORDS`` are translated wherever they appear, text and image regions alike; each
text engine does its own (inferred) things to placeholder-like tokens
(``PLACEHOLDER_QUIRKS``); anything else comes back as ``[TARGET] text``. An image's
recognised text comes from its ``tolk:regions`` PNG chunk (``png_with_regions``) — read
from an upload, or from the source URL fetched when ``GetImageTranslateBatchQuery`` asks —
and fills ``Orc``; an image without one gets the two fixed regions of the seed's example.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import io
import json
import math
import re
import secrets
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote

import aiohttp
from aiohttp import web

from emulators._server import CodeFaults, LoopbackServer

TRANSLATE = "GetImageTranslate"
TEXT = "GetTextTranslate"
BATCH = "GetImageTranslateBatch"
BATCH_RESULT = "GetImageTranslateBatchResult"
BATCH_QUERY = "GetImageTranslateBatchQuery"
MATTING = "GetImageMatting"
AMOUNT_QUERY = "AmountQuery"  # the quota route has no Action; faults and records use this

_LANGUAGE_CODES = (
    "AR BG BN CHS CHT CKB CSY DA DEU EL ENG ESP ET FA FI FIL FRA GU HE HI HUN ID ITA JPN JW "
    "KOR LT LV MR MS MY NLD NO PLK PT PTB ROM RUS SK SL SV SW TA TE TH TL TRK UK UR VIN"
)
LANGUAGES = frozenset(_LANGUAGE_CODES.split())  # Xiangji spec, 'Language codes'
IMAGE_SOURCES = frozenset({"CHS", "CHT", "ENG", "JPN"})
TEXT_LANGUAGES = LANGUAGES - {"BG"}
MESSAGES = {
    101: "请求超时",
    102: "系统错误",
    103: "URL编码错误",
    104: "参数错误",
    105: "该语向不支持",
    106: "语种识别错误",
    107: "翻译错误",
    108: "字符过长",
    109: "子账号没有权限",
    110: "账号没有开通服务",
    111: "子账号服务失败",
    112: "翻译服务调用失败",
    113: "账号服务没有开通或者欠费",
    114: "任务尚未处理完成",
    115: "请求ID错误",
    116: "任务数据解析失败",
    117: "任务数据已过期",
    120: "余额不足",
    199: "未知错误",
    200: "ok",
}
QUOTA_PARAMS = {
    1: "ImgTransKey",
    2: "TextTransKey",
    3: "ImgTransGoogleKey",
    4: "ImgTransPapagoKey",
    5: "ImgTransBaiduKey",
    7: "ImgTransDeeplKey",
    8: "ImgMattingKey",
    9: "VideoTransKey",
}
PENDING = 114

#: Image-translation key by quota Type → the engine that key selects (seed 一, 五).
IMAGE_KEY_ENGINES = {1: "aliyun", 3: "google", 4: "papago", 5: "baidu", 7: "deepl"}
#: Text ``Type`` → engine (seed 四: Aliyun=0 … GoogleLLM=6).
TEXT_TYPES = {
    0: "aliyun",
    1: "google",
    2: "papago",
    3: "baidu",
    4: "deepl",
    5: "chatgpt",
    6: "googlellm",
}
#: Text quota spent per character, by ``Type``. The seed says Google, Papago and DeepL cost
#: "3 to 4.5 times" the characters (with the exchange rate); the emulator charges the upper
#: bound, so a test of Tolk's estimate sees the worst case. ChatGPT and GoogleLLM are not in
#: the billing note: 1×, like Aliyun and Baidu.
TEXT_COST = {1: 4.5, 2: 4.5, 4: 4.5}

#: nginx's default ``large_client_header_buffers 4 8k``: a request line (with its CRLF) that
#: does not fit in one 8 KiB buffer is answered 414. Xiangji's front server is not named;
#: the emulator takes nginx's default.
MAX_REQUEST_LINE = 8192
_NGINX_414 = (
    "<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n"
    "<center><h1>414 Request-URI Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_SIGNED = frozenset({"Action", "CommitTime", "Sign"})
_IMAGE = _SIGNED | {"SourceLanguage", "TargetLanguage", "Url", "ImgTransKey"}
_IMAGE_OPTIONS = frozenset({"NeedWatermark", "NeedRmUrl", "Qos", "EngineType"})
_MATTING = _SIGNED | {"ImgMattingKey", "Sync", "BgColor"}
_FILES = frozenset({"file-base64", "file-stream"})
_POLL = frozenset({"Action", "RequestIds"})
#: Harmless on the batch queries (Xiangji spec, 'Batch result query': public clients send
#: them; nothing checks them).
_POLL_TOLERATED = frozenset({"CommitTime", "Sign", "ImgTransKey", "ImgMattingKey"})
#: (route, Action) → the parameters seed 002 lists for it; anything else is refused (104).
ACCEPTED: dict[tuple[str, str], frozenset[str]] = {
    ("api", TRANSLATE): _IMAGE | _IMAGE_OPTIONS,  # 二
    ("api2", TRANSLATE): _IMAGE | _IMAGE_OPTIONS | _FILES,  # 三 (Url=local)
    ("api", TEXT): _SIGNED | {"SourceLanguage", "TargetLanguage", "Text", "TextTransKey", "Type"},
    ("api", BATCH): _SIGNED
    | {"SourceLanguage", "TargetLanguage", "Urls", "ImgTransKey", "Sync", "EngineType"},  # 六.1
    ("api", BATCH_RESULT): _POLL | _POLL_TOLERATED,  # 六.2, 七.4
    ("api", BATCH_QUERY): _POLL | _POLL_TOLERATED,  # 六.3
    ("matting", MATTING): _MATTING | _FILES,  # 七 (no Url)
    ("api", MATTING): _MATTING | {"Url"},  # 八
}
#: Actions the seed documents as GET only (六.1, 六.2, 六.3).
GET_ONLY = frozenset({BATCH, BATCH_RESULT, BATCH_QUERY})


def md5_hex(text: str) -> str:
    """The emulator's own signing primitive (independent of ``wire.sign``)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def new_id() -> str:
    return secrets.token_hex(8)  # 16 lowercase hex chars, like the real RequestIds


@dataclass(frozen=True)
class Received:
    path: str
    action: str
    params: dict[str, str]
    at: float
    method: str = "GET"
    files: dict[str, bytes] = field(default_factory=dict, repr=False)


class Refusal(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES.get(code, "未知错误")


class Faults(CodeFaults):
    """Planned misbehaviour. ``action`` may be ``"*"`` to match every action."""

    def clear(self) -> None:
        super().clear()
        self._by_id: dict[str, int] = {}
        self._by_index: dict[int, int] = {}

    def item(self, *targets: str | int, code: int) -> None:
        """Script per-image outcomes: a str is a request id; an int is a position in the
        next batch submission. The outcome shows once the id stops being pending."""
        for target in targets:
            if isinstance(target, int) and not isinstance(target, bool):
                self._by_index[target] = code
            else:
                self._by_id[str(target)] = code


@dataclass(frozen=True)
class Charge:
    """One quota deduction: ``amount`` off quota ``type`` for work by ``engine``."""

    type: int
    amount: int
    engine: str
    request_id: str


@dataclass
class _Job:
    id: str
    kind: str  # "translate" or "matting"
    origin_url: str | None
    upload: bytes | None
    source: str | None = None
    target: str | None = None
    need_rm: bool = False
    watermark: bool = False
    engine: str = "aliyun"  # the engine that translated it (matting: "matting")
    quota_type: int = 1  # the quota Type it is charged to
    bg_color: tuple[int, int, int] | None = None
    polls_left: int = 0
    outcome: int = 200
    state: int = PENDING
    done_at: float | None = None
    #: The regions its source image carries (``read_png_regions``); None: no chunk, or the
    #: source not read yet (``regions_read``).
    regions: list[dict[str, str]] | None = None
    regions_read: bool = False


class XiangjiEmulator(LoopbackServer):
    def __init__(
        self,
        *,
        user_key: str = "xj-user",
        img_trans_key: str = "xj-img",
        text_trans_key: str = "xj-text",
        matting_key: str = "xj-matting",
        aigc_key: str = "xj-aigc",
        img_trans_google_key: str = "xj-img-google",
        img_trans_papago_key: str = "xj-img-papago",
        img_trans_baidu_key: str = "xj-img-baidu",
        img_trans_deepl_key: str = "xj-img-deepl",
        video_trans_key: str = "xj-video",
        quota: dict[int, int] | None = None,
        pending_polls: int = 1,
        bad_sign_code: int = 104,
        accept_legacy_sign: bool = False,
        commit_skew: float | None = 600,
        max_skew: float | None = None,
        result_ttl: float | None = None,
        lenient_urls: bool = False,
        watermark_template: bool = True,
        text_cost: Mapping[int, float] | None = None,
        fetch_sources: bool = True,
        render: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``commit_skew``: how far ``CommitTime`` may be from ``clock`` (seconds; None:
        not checked). The real window is undocumented (spec, 'Standard scheme'); 600 s is a
        guess in the range such APIs use (Alibaba allows 900 s), tight enough that a day-old or
        millisecond ``CommitTime`` is refused. ``max_skew`` is the refinement editor's window
        (``editor.py``); when set it bounds the API's too, as it always did.
        ``watermark_template``: the account has a watermark template on the web console, so
        ``NeedWatermark`` (default 1, seed 二) adds one. ``text_cost``: text quota per character
        by ``Type`` (default ``TEXT_COST``)."""
        self.user_key = user_key
        self.keys = {
            1: img_trans_key,
            2: text_trans_key,
            3: img_trans_google_key,
            4: img_trans_papago_key,
            5: img_trans_baidu_key,
            7: img_trans_deepl_key,
            8: matting_key,
            9: video_trans_key,
        }
        # The image editor's AigcKey (smart eraser): Xiangji spec, 'Refinement-iframe scheme'.
        self.aigc_key = aigc_key
        self.quota: dict[int, int] = (
            dict(quota)
            if quota is not None
            else {1: 80828, 2: 1_000_000, 3: 20000, 4: 20000, 5: 20000, 7: 20000, 8: 5000, 9: 600}
        )
        self.pending_polls = pending_polls
        self.bad_sign_code = bad_sign_code
        self.accept_legacy_sign = accept_legacy_sign
        self.commit_skew = commit_skew
        self.max_skew = max_skew
        self.result_ttl = result_ttl
        self.lenient_urls = lenient_urls
        self.watermark_template = watermark_template
        self.text_cost: dict[int, float] = dict(TEXT_COST if text_cost is None else text_cost)
        self.fetch_sources = fetch_sources
        self.render = render  # False: results are a small fixed PNG, made once per id
        self.clock = clock
        self.requests: list[Received] = []
        self.charges: list[Charge] = []
        self.downloads: list[str] = []
        self.editor_opens: list[dict[str, Any]] = []  # see editor.py
        self.editor_saves: list[dict[str, Any]] = []
        self.faults = Faults()
        self.base_url = ""
        self._jobs: dict[str, _Job] = {}
        self._renders: dict[tuple[str, str], bytes] = {}
        self._refinements: dict[str, int] = {}  # request id -> editor saves so far
        self._sources: dict[str, bytes] = {}  # /src/<name>.png set by ``add_source``
        self._failures = 0

    # -- lifecycle ----------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.base_url + "/api"

    @property
    def upload_url(self) -> str:
        return self.base_url + "/api2"

    @property
    def account_url(self) -> str:
        return self.base_url + "/account"

    def app(self) -> web.Application:
        from emulators.xiangji_editor import add_editor_routes  # it imports this module

        # aiohttp's own request-line limit (8,190 bytes, answered 400) is raised so that
        # the nginx-like check below is the one that answers.
        app = web.Application(
            client_max_size=64 * 1024 * 1024,
            handler_args={"max_line_size": 8 * MAX_REQUEST_LINE},
            middlewares=[_request_line_limit],
        )
        for path, route in (
            ("/api", "api"),
            ("/api/", "api"),
            ("/api2", "api2"),
            ("/api2/", "api2"),
            ("/api2/async-matting", "matting"),
            ("/account/open/user/amount-query", "quota"),
        ):
            app.router.add_route("*", path, self._entry(route))
        app.router.add_get("/i/{rid}/{name}.png", self._image)
        app.router.add_get("/src/{name}.png", self._sample)
        add_editor_routes(app, self)
        return app

    # -- inspection and control ---------------------------------------------------

    @property
    def jobs(self) -> Mapping[str, _Job]:
        """Every image and matting job by request id (read-only): its ``engine``,
        ``quota_type``, state and inputs."""
        return MappingProxyType(self._jobs)

    def requests_for(self, action: str) -> list[Received]:
        return [r for r in self.requests if r.action == action]

    def sample_url(self, name: str = "sample") -> str:
        """URL of a generated source image served by the emulator itself (``SAMPLE_REGIONS``
        names, e.g. ``brand-violation``, carry recognised-text regions)."""
        return f"{self.base_url}/src/{name}.png"

    def add_source(self, name: str, data: bytes) -> str:
        """Serve ``data`` (e.g. ``png_with_regions(...)``) as a source image; its URL."""
        self._sources[name] = data
        return self.sample_url(name)

    def seed_pending(self, count: int, target: str = "KOR") -> list[str]:
        """``count`` asynchronous image jobs, pending until ``finish`` (benchmarks)."""
        jobs = [
            self._new_job(
                "translate",
                {},
                origin_url=self.sample_url(f"seed{n}"),
                upload=None,
                source="CHS",
                target=target,
            )
            for n in range(count)
        ]
        for job in jobs:
            job.polls_left = 10**9
        return [job.id for job in jobs]

    def finish(self, request_id: str, code: int = 200) -> None:
        """Force an id's outcome now (no more pending polls)."""
        job = self._jobs[request_id]
        job.state = PENDING
        self._complete(job, code)

    # -- HTTP plumbing --------------------------------------------------------------

    def _entry(self, route: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, route)

        return handler

    async def _handle(self, request: web.Request, route: str) -> web.StreamResponse:
        try:
            params, files = await self._read(request)
        except Refusal as refusal:
            params, files = {}, {}
            bad_body: Refusal | None = refusal
        else:
            bad_body = None
        action = AMOUNT_QUERY if route == "quota" else params.get("Action", "")
        self.requests.append(
            Received(request.path, action, params, self.clock(), request.method, files)
        )
        fault = await self._fault(action, route)
        if fault is not None:
            return fault
        if route == "quota":
            if request.method != "POST":  # seed 五: 请求类型 POST
                return web.json_response(_quota_failure(104, "仅支持 POST 请求"))
            return web.json_response(self._amount_query(params))
        try:
            if bad_body is not None:
                raise bad_body
            self._admit(route, action, request, params, files)
            if route == "api":
                handlers = {
                    TRANSLATE: self._translate,
                    TEXT: self._text,
                    BATCH: self._batch,
                    BATCH_RESULT: self._batch_result,
                    MATTING: self._matting,
                }
                if action == BATCH_QUERY:  # may fetch sources to read their regions
                    body = await self._batch_query(params, None)
                else:
                    body = handlers[action](params, None)
            else:
                upload = files.get("file-stream") or files.get("file-base64")
                if upload is None:
                    raise Refusal(104, "缺少文件 file-stream / file-base64")
                handler = self._translate if route == "api2" else self._matting
                body = handler(params, upload)
        except Refusal as refusal:
            body = self._failure(refusal.code, refusal.message)
        return web.json_response(body)

    def _admit(
        self,
        route: str,
        action: str,
        request: web.Request,
        params: dict[str, str],
        files: dict[str, bytes],
    ) -> None:
        """Refuse (104) an Action, method, body type or parameter the seed does not list
        for this endpoint."""
        accepted = ACCEPTED.get((route, action))
        if accepted is None:
            raise Refusal(104, f"不支持的 Action: {action}" if action else "缺少 Action")
        if route != "api":
            if request.method != "POST":  # seed 三, 七: 请求类型 POST
                raise Refusal(104, "仅支持 POST 请求")
        elif action in GET_ONLY and request.method != "GET":  # seed 六: 请求类型 GET
            raise Refusal(104, f"{action} 仅支持 GET 请求")
        elif request.method not in {"GET", "POST"}:
            raise Refusal(104, "仅支持 GET 或 POST 请求")
        unknown = sorted((set(params) | set(files)) - accepted)
        if unknown:
            raise Refusal(104, f"参数错误: 不支持的参数 {','.join(unknown)}")
        if route == "api" and request.content_type.startswith("multipart/"):
            raise Refusal(104, "请使用 application/x-www-form-urlencoded")  # seed 二, 四, 八

    async def _read(self, request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
        params: dict[str, str] = dict(request.query)
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            try:
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                        continue
                    payload = bytes(await part.read(decode=True))
                    if part.filename is not None:
                        files[part.name] = payload
                    else:
                        params[part.name] = payload.decode(part.get_charset("utf-8"))
            except (ValueError, UnicodeDecodeError, aiohttp.ClientError) as exc:
                raise Refusal(104, "multipart 解析失败") from exc
        else:
            body = await request.read()
            if body:
                try:
                    params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError as exc:
                    raise Refusal(104) from exc
        if "file-base64" in params:
            encoded = params.pop("file-base64")
            params["file-base64"] = f"<{len(encoded)} chars>"
            files["file-base64"] = _decode_base64(encoded)
        return params, files

    async def _fault(self, action: str, route: str) -> web.StreamResponse | None:
        early = await self.faults._gateway(action)
        if early is not None:
            return early
        code = self.faults._pop(self.faults._codes, action)
        if code is None:
            return None
        if route == "quota":
            return web.json_response(_quota_failure(code))
        return web.json_response(self._failure(code, MESSAGES.get(code, "未知错误")))

    def _ok(self, data: Any, request_id: str | None = None) -> dict[str, Any]:
        return {"Message": "ok", "RequestId": request_id or new_id(), "Data": data, "Code": 200}

    def _failure(self, code: int, message: str) -> dict[str, Any]:
        # The Data shape on failure is undocumented: rotate absent / {} / null.
        self._failures += 1
        body: dict[str, Any] = {"Code": code, "Message": message, "RequestId": new_id()}
        if self._failures % 3 == 1:
            body["Data"] = {}
        elif self._failures % 3 == 2:
            body["Data"] = None
        return body

    # -- checks ---------------------------------------------------------------------

    def _require(self, params: dict[str, str], *names: str) -> None:
        missing = [n for n in names if not params.get(n, "").strip()]
        if missing:
            raise Refusal(104, f"参数错误: {','.join(missing)}")

    def _authorise(self, params: dict[str, str], key_param: str, *quota_types: int) -> int:
        """Check the key, Sign and CommitTime; return the quota Type whose key came."""
        has_time = bool(params.get("CommitTime", "").strip())
        image = key_param == "ImgTransKey"
        legacy = self.accept_legacy_sign and image and not has_time
        self._require(params, key_param, "Sign", *(() if legacy else ("CommitTime",)))
        key = params[key_param]
        quota_type = next((t for t in quota_types if self.keys.get(t) == key), None)
        if quota_type is None:
            raise Refusal(109)
        given = params["Sign"].strip().lower()
        if legacy:
            url = params.get("Url") or params.get("Urls", "")
            text = f"{params.get('SourceLanguage')}_{params.get('TargetLanguage')}_{url}"
            if given != md5_hex(f"{text}_{self.user_key}_{key}"):
                raise Refusal(self.bad_sign_code, "签名错误")
            return quota_type
        commit_time = params["CommitTime"].strip()
        if not (commit_time.isascii() and commit_time.isdigit()):
            raise Refusal(104, "CommitTime 格式错误")
        if given != md5_hex(f"{commit_time}_{self.user_key}_{key}"):
            raise Refusal(self.bad_sign_code, "签名错误")
        windows = [w for w in (self.commit_skew, self.max_skew) if w is not None]
        if windows and abs(self.clock() - int(commit_time)) > min(windows):
            raise Refusal(104, "CommitTime 已过期")
        return quota_type

    def _image_engine(self, params: dict[str, str]) -> tuple[int, str]:
        """The quota Type and engine of an image request: the engine of the key sent in
        ``ImgTransKey``; ``EngineType=5`` with the Aliyun key is ChatGPT, any other
        EngineType is ignored (seed 二: 其他无效)."""
        quota_type = self._authorise(params, "ImgTransKey", *IMAGE_KEY_ENGINES)
        engine = IMAGE_KEY_ENGINES[quota_type]
        engine_type = params.get("EngineType", "").strip()
        if engine_type:
            if not (engine_type.isascii() and engine_type.isdigit()):
                raise Refusal(104, "EngineType 参数错误")
            if quota_type == 1 and int(engine_type) == 5:
                engine = "chatgpt"
        return quota_type, engine

    def _image_languages(self, params: dict[str, str]) -> tuple[str, str]:
        source, target = params["SourceLanguage"], params["TargetLanguage"]
        if source not in IMAGE_SOURCES or target not in LANGUAGES:
            raise Refusal(105)
        return source, target

    def _check_quota(self, quota_type: int) -> None:
        left = self.quota.get(quota_type)
        if left is not None and left <= 0:
            raise Refusal(113)

    def _charge(self, quota_type: int, amount: int = 1, engine: str = "", rid: str = "") -> None:
        self.charges.append(Charge(quota_type, amount, engine, rid))
        if quota_type in self.quota:
            self.quota[quota_type] = max(0, self.quota[quota_type] - amount)

    def _url(self, value: str, *, item: bool = False) -> str:
        url = value.strip()
        if item:
            # Seed 六.1: each URL of Urls is urlencoded on its own, so after the form or
            # query decoding an item still carries "%3A%2F%2F", never a raw "://".
            if "://" in url:
                raise Refusal(103, "Urls 中的图片地址需要单独 urlencode")
            url = unquote(url)
        elif self.lenient_urls and url.lower().startswith(("http%3a", "https%3a")):
            url = unquote(url)  # the once-more encoded single Url some clients send
        if not url.lower().startswith(("http://", "https://")):
            raise Refusal(103)
        return url

    # -- jobs -----------------------------------------------------------------------

    def _new_job(self, kind: str, params: dict[str, str], **kw: Any) -> _Job:
        job = _Job(
            id=new_id(),
            kind=kind,
            polls_left=self.pending_polls,
            need_rm=params.get("NeedRmUrl") == "1",
            watermark=self.watermark_template and params.get("NeedWatermark", "1") != "0",
            **kw,
        )
        self._jobs[job.id] = job
        return job

    def _complete(self, job: _Job, code: int) -> None:
        if code == PENDING or job.state != PENDING:
            return
        job.state, job.done_at = code, self.clock()
        if code == 200:
            self._charge(job.quota_type, 1, job.engine, job.id)

    def _poll(self, job: _Job) -> None:
        if job.id in self.faults._by_id:
            job.outcome = self.faults._by_id.pop(job.id)
        if job.state == PENDING:
            if job.polls_left > 0:
                job.polls_left -= 1
            else:
                self._complete(job, job.outcome)
        if (
            job.state != PENDING
            and self.result_ttl is not None
            and job.done_at is not None
            and self.clock() - job.done_at > self.result_ttl
        ):
            job.state = 117

    def _link(self, job: _Job, name: str) -> str:
        return f"{self.base_url}/i/{job.id}/{name}.png"

    def _origin(self, job: _Job) -> str:
        return job.origin_url or self._link(job, "o")

    def _result(self, job: _Job, *, detail: bool = False) -> dict[str, Any]:
        """The per-item object for a job in its current state."""
        if job.state != 200:
            return {"Code": job.state, "Message": MESSAGES.get(job.state, "未知错误")}
        if job.kind == "matting":
            item = self._matting_data(job)
            return {"RequestId": job.id, "Code": 200, **item}
        item = {"RequestId": job.id, "Code": 200, "OriginUrl": self._origin(job)}
        item.update(self._translate_data(job, rm=job.need_rm or detail))
        item.update(SourceLanguage=job.source, TargetLanguage=job.target)
        if detail:
            del item["Code"]  # seed 六.3: a finished item carries no Code, only its fields
            if job.regions is not None:
                item["Orc"] = [_orc(n, r, job.target or "") for n, r in enumerate(job.regions)]
                return item
            item["Orc"] = [
                {
                    "source": "点缀蜗居生活",
                    "target": _fake_translation("点缀蜗居生活", job.target or ""),
                    "bounding_box": "[[499,272], [681,272], [681,302], [499,302]]",
                    "font_size": "30px",
                    "orientation": "h",
                    "fg": "215,216,215",
                    "bg": "215,217,218",
                },
                {
                    "source": "立即购买!",
                    "target": _fake_translation("立即购买!", job.target or ""),
                    "boundingBox": "134,0,1066,249",
                    "fontSize": "20px",
                    "orientation": "v",
                },
            ]
        return item

    def _translate_data(self, job: _Job, *, rm: bool) -> dict[str, Any]:
        url = self._link(job, "f")
        data: dict[str, Any] = {"Url": url, "SslUrl": url}
        if rm:
            data.update(RmUrl=self._link(job, "i"), SslRmUrl=self._link(job, "i"))
        return data

    def _matting_data(self, job: _Job) -> dict[str, Any]:
        origin, url = self._origin(job), self._link(job, "c")
        return {"OriginUrl": origin, "OriginSslUrl": origin, "Url": url, "SslUrl": url}

    # -- actions --------------------------------------------------------------------

    def _translate(self, params: dict[str, str], upload: bytes | None) -> dict[str, Any]:
        self._require(params, "SourceLanguage", "TargetLanguage", "Url")
        quota_type, engine = self._image_engine(params)
        source, target = self._image_languages(params)
        if upload is None:
            origin: str | None = self._url(params["Url"])
        elif params["Url"].strip() != "local":
            raise Refusal(104, "Url 必须为 local")
        else:
            origin = None
        self._check_quota(quota_type)
        job = self._new_job(
            "translate",
            params,
            origin_url=origin,
            upload=upload,
            source=source,
            target=target,
            engine=engine,
            quota_type=quota_type,
        )
        if upload is not None:
            job.regions, job.regions_read = read_png_regions(upload), True
        self._complete(job, 200)
        data = self._translate_data(job, rm=job.need_rm)
        data["HasWatermark"] = job.watermark
        return self._ok(data, job.id)

    def _text(self, params: dict[str, str], _upload: bytes | None) -> dict[str, Any]:
        self._require(params, "SourceLanguage", "TargetLanguage", "Text")
        self._authorise(params, "TextTransKey", 2)
        source, target, text = params["SourceLanguage"], params["TargetLanguage"], params["Text"]
        if source not in TEXT_LANGUAGES or target not in TEXT_LANGUAGES:
            raise Refusal(105)
        kind = params.get("Type", "0").strip() or "0"
        if not (kind.isascii() and kind.isdigit()) or int(kind) not in TEXT_TYPES:
            raise Refusal(104, "Type 参数错误")
        units = len(text.encode("utf-16-le")) // 2  # Java String.length()
        if units > 5000:
            raise Refusal(108)
        self._check_quota(2)
        request_id = new_id()
        cost = math.ceil(units * self.text_cost.get(int(kind), 1.0))
        self._charge(2, cost, TEXT_TYPES[int(kind)], request_id)
        data = {
            "SourceLanguage": source,
            "TargetLanguage": target,
            "OriginText": text,
            "Text": _fake_translation(text, target, TEXT_TYPES[int(kind)]),
        }
        return self._ok(data, request_id)

    def _batch(self, params: dict[str, str], _upload: bytes | None) -> dict[str, Any]:
        self._require(params, "SourceLanguage", "TargetLanguage", "Urls")
        quota_type, engine = self._image_engine(params)
        source, target = self._image_languages(params)
        sync = params.get("Sync", "1").strip() or "1"
        if sync not in {"1", "2"}:
            raise Refusal(104, "Sync 参数错误")
        items = params["Urls"].split(",")
        if any(not item.strip() for item in items):
            raise Refusal(104, "Urls 参数错误")
        urls = [self._url(item, item=True) for item in items]
        self._check_quota(quota_type)
        scripted, self.faults._by_index = self.faults._by_index, {}
        jobs = []
        for index, url in enumerate(urls):
            job = self._new_job(
                "translate",
                params,
                origin_url=url,
                upload=None,
                source=source,
                target=target,
                engine=engine,
                quota_type=quota_type,
            )
            job.outcome = scripted.get(index, 200)
            jobs.append(job)
        if sync == "2":
            return self._ok({"Content": [job.id for job in jobs]})
        for job in jobs:
            self._complete(job, job.outcome if job.outcome != PENDING else 200)
        return self._ok({"Content": [{"RequestId": j.id, **self._result(j)} for j in jobs]})

    def _ids(self, params: dict[str, str]) -> list[str]:
        self._require(params, "RequestIds")
        return list(dict.fromkeys(i.strip() for i in params["RequestIds"].split(",") if i.strip()))

    def _batch_result(self, params: dict[str, str], _upload: bytes | None) -> dict[str, Any]:
        content: dict[str, Any] = {}
        for rid in self._ids(params):
            job = self._jobs.get(rid)
            if job is None:
                content[rid] = {"Code": 115, "Message": MESSAGES[115]}
                continue
            self._poll(job)
            content[rid] = self._result(job)
        return self._ok({"Content": content})

    async def _batch_query(self, params: dict[str, str], _upload: bytes | None) -> dict[str, Any]:
        content: dict[str, Any] = {}
        jobs: dict[str, _Job | None] = {}
        for rid in self._ids(params):
            job = jobs[rid] = self._jobs.get(rid)
            if job is not None:
                self._poll(job)
        for job in jobs.values():
            if job is not None and job.state == 200:
                await self._read_regions(job)
        for rid, found in jobs.items():
            content[rid] = None if found is None else self._result(found, detail=True)
        return self._ok({"Content": content})

    async def _read_regions(self, job: _Job) -> None:
        """Read the regions a translated image's source carries, once: an upload's bytes,
        or the origin URL fetched (as ``_fetch`` allows)."""
        if job.regions_read or job.kind != "translate":
            return
        if job.upload is None and not self.render:
            return  # benchmarks: no fetch (nor Pillow) behind a detail query; fixed regions
        source = job.upload if job.upload is not None else await self._fetch(job.origin_url)
        job.regions, job.regions_read = read_png_regions(source or b""), True

    def _matting(self, params: dict[str, str], upload: bytes | None) -> dict[str, Any]:
        if upload is None:
            self._require(params, "Url")
        self._authorise(params, "ImgMattingKey", 8)
        origin = self._url(params["Url"]) if upload is None else None
        sync = params.get("Sync", "1").strip() or "1"
        if sync not in {"1", "2"}:
            raise Refusal(104, "Sync 参数错误")
        color = None
        if params.get("BgColor"):
            try:
                r, g, b = (int(c) for c in params["BgColor"].split(","))
            except ValueError as exc:
                raise Refusal(104, "BgColor 参数错误") from exc
            if not all(0 <= c <= 255 for c in (r, g, b)):
                raise Refusal(104, "BgColor 参数错误")
            color = (r, g, b)
        self._check_quota(8)
        job = self._new_job(
            "matting",
            params,
            origin_url=origin,
            upload=upload,
            bg_color=color,
            engine="matting",
            quota_type=8,
        )
        if sync == "2":
            return self._ok({"Content": job.id}, job.id)
        self._complete(job, 200)
        return self._ok({"RequestId": job.id, **self._matting_data(job)})

    def _amount_query(self, params: dict[str, str]) -> dict[str, Any]:
        """Seed 五: ``Type``, the one key parameter of that Type ("当且仅当"), ``Sign``."""
        kind = params.get("Type", "").strip()
        param = QUOTA_PARAMS.get(int(kind)) if kind.isascii() and kind.isdigit() else None
        if param is None or not params.get(param) or not params.get("Sign"):
            return _quota_failure(104)
        unknown = sorted(set(params) - {"Type", "Sign", param})
        if unknown:
            return _quota_failure(104, f"参数错误: 不支持的参数 {','.join(unknown)}")
        if params[param] != self.keys.get(int(kind)):
            return _quota_failure(109)
        if params["Sign"].strip().lower() != md5_hex(f"{kind}_{self.user_key}_{params[param]}"):
            return _quota_failure(self.bad_sign_code, "签名错误")
        left = self.quota.get(int(kind), 0)
        return {"code": "0", "msg": "ok", "data": {"type": int(kind), "leftCount": str(left)}}

    # -- images ---------------------------------------------------------------------

    async def _image(self, request: web.Request) -> web.StreamResponse:
        rid, name = request.match_info["rid"], request.match_info["name"]
        job = self._jobs.get(rid)
        number, saved = name[1:], self._refinements.get(rid, 0)
        refined = name[:1] == "r" and number.isascii() and number.isdigit()
        refined = refined and 0 < int(number) <= saved
        if job is None or (name not in {"o", "f", "i", "c"} and not refined):
            raise web.HTTPNotFound()
        self.downloads.append(request.path)
        if name == "o":
            if job.upload is None:
                raise web.HTTPNotFound()
            return web.Response(body=job.upload, content_type=_sniff(job.upload))
        if job.state != 200 or (not refined and (name == "c") != (job.kind == "matting")):
            raise web.HTTPNotFound()
        if refined and (rid, name) not in self._renders:
            base = await self._rendered(job, "c" if job.kind == "matting" else "f")
            self._renders[rid, name] = await asyncio.to_thread(_refine, base, int(number))
        return web.Response(body=await self._rendered(job, name), content_type="image/png")

    async def _rendered(self, job: _Job, name: str) -> bytes:
        key = (job.id, name)
        if not self.render:  # benchmarks: Tolk's work, not Pillow's, is being measured
            self._renders.setdefault(key, _fixed_png())
        if key not in self._renders:
            source = job.upload if job.upload is not None else await self._fetch(job.origin_url)
            self._renders[key] = await asyncio.to_thread(_render, job, name, source)
        return self._renders[key]

    async def _sample(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name in self._sources:
            data = self._sources[name]
            return web.Response(body=data, content_type=_sniff(data))
        png = await asyncio.to_thread(_sample_png, name)
        return web.Response(body=png, content_type="image/png")

    async def _fetch(self, url: str | None) -> bytes | None:
        if not url or not (self.fetch_sources or url.startswith(self.base_url + "/")):
            return None
        try:
            timeout = aiohttp.ClientTimeout(total=3)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as resp,
            ):
                return await resp.read() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None


def _quota_failure(code: int, message: str | None = None) -> dict[str, Any]:
    """The quota endpoint's lowercase envelope (Xiangji spec, 'Quota'), ``code`` a string."""
    return {"code": str(code), "msg": message or MESSAGES.get(code, "未知错误"), "data": None}


@web.middleware
async def _request_line_limit(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """HTTP 414 with nginx's page when the request line would not fit nginx's buffer."""
    version = f"HTTP/{request.version.major}.{request.version.minor}"
    line = f"{request.method} {request.raw_path} {version}\r\n"
    if len(line.encode("utf-8", "surrogateescape")) > MAX_REQUEST_LINE:
        return web.Response(status=414, text=_NGINX_414, content_type="text/html")
    return await handler(request)


def _decode_base64(value: str) -> bytes:
    text = value.strip()
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise Refusal(104, "file-base64 格式错误")
    text = "".join(text.replace(" ", "+").split())  # a '+' sent unencoded arrives as ' '
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refusal(104, "file-base64 格式错误") from exc


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return "application/octet-stream"


# A few phrases the sandbox can answer for real; anything else comes back tagged.
PHRASES = {
    ("我是中国人", "ENG"): "I am Chinese",
    ("你好", "ENG"): "Hello",
    ("你好", "KOR"): "안녕하세요",
    ("你好", "JPN"): "こんにちは",
    ("谢谢", "ENG"): "Thank you",
    ("早上好", "ENG"): "Good morning",
    ("Hello", "CHS"): "你好",
    ("Thank you", "JPN"): "ありがとうございます",
}


#: Brand-ish words the fake engines translate wherever they meet them (inside longer text
#: too): ``(word, Xiangji target code) → translation``. A target not listed leaves the word
#: alone (``Tolk Pro`` into ENG stays ``Tolk Pro``); ``Xiangji`` is in no entry, so it always
#: stays. Latin words match whole words, in any case; CJK words match anywhere. Applied to
#: ``GetTextTranslate`` (every ``Type``) and to the image regions' targets (every engine),
#: so a protected term the bot does not shield comes back changed.
BRAND_WORDS: dict[tuple[str, str], str] = {
    ("Tolk Pro", "CHS"): "托尔克专业版",
    ("Tolk Pro", "CHT"): "托爾克專業版",
    ("Tolk Pro", "JPN"): "トルクプロ",
    ("Tolk Pro", "KOR"): "톨크 프로",
    ("象寄", "ENG"): "Elephant Mail",
    ("象寄", "JPN"): "象の便り",
    ("象寄", "KOR"): "코끼리 편지",
    ("云朵壶", "ENG"): "Cloud Pot",
    ("云朵壶", "JPN"): "雲のポット",
}


def _word_pattern(word: str) -> re.Pattern[str]:
    """``word`` as a whole word when it starts or ends with a Latin letter or digit."""
    head = r"(?<![A-Za-z0-9])" if word[:1].isascii() and word[:1].isalnum() else ""
    tail = r"(?![A-Za-z0-9])" if word[-1:].isascii() and word[-1:].isalnum() else ""
    return re.compile(head + re.escape(word) + tail, re.IGNORECASE if word.isascii() else 0)


#: target → [(pattern, translation)], longest word first.
_BRAND_PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {}
for (_word, _target), _translation in sorted(BRAND_WORDS.items(), key=lambda e: -len(e[0][0])):
    _BRAND_PATTERNS.setdefault(_target, []).append((_word_pattern(_word), _translation))

Quirk = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]


def _placeholders_last(match: re.Match[str]) -> str:
    """A line with ``⟦n⟧`` marks in it, the marks moved to its end in their order (what an
    LLM does when it rewrites a sentence around a token it does not understand)."""
    line = match.group(0)
    marks = re.findall(r"⟦\d+⟧", line)
    rest = re.sub(r"[ \t]*⟦\d+⟧", "", line).strip()
    return f"{rest} {' '.join(marks)}" if rest else line


_TAG = r"<(/?[A-Za-z][\w:-]*(?:\s[^<>]*?)?/?)>"  # <x id="0"/>, <b>, </b>
_ONE_BRACE = r"(?<!\{)\{(\d+)\}(?!\})"  # {0}, not the inside of {{0}}
_TWO_BRACES = r"\{\{(\d+)\}\}"

#: What each text engine (``Type`` of ``GetTextTranslate``, by ``TEXT_TYPES`` name) does to
#: placeholder-like tokens, applied in order after ``BRAND_WORDS``.
#:
#: INFERRED, NOT DOCUMENTED: Xiangji's spec says nothing about placeholders. These are
#: plausible, deterministic stand-ins for what public machine-translation engines are
#: reported to do (Google's HTML mode escaping tags and spacing braces, LLMs reading
#: ``__x__`` as Markdown or quoting format strings and rewriting a sentence around a token),
#: so a test can prove Tolk's shielding copes. Per form (✓ exact, ≈ recognisable: inner
#: spaces, quotes around or moved, ✗ destroyed)::
#:
#:                 {0}      {{0}}      __0__     %s       <x id="0"/>   [[0]]     ⟦0⟧
#:     aliyun      ✓        ✓          ✓         ✓        ✓             ✓         ✓
#:     google      ≈ { 0 }  ≈ {{ 0 }}  ✓         ✓        ✗ &lt;…&gt;    ✓         ≈ ⟦ 0 ⟧
#:     papago      ≈ { 0 }  ≈ { {0} }  ✓         ≈ % s    ✗ stripped    ✓         ✓
#:     baidu       ✓        ✓          ✓         ✓        ✗ stripped    ≈ [ [0] ] ✓
#:     deepl       ✓        ✗ {0}      ✓         ✓        ✓             ✓         ✓
#:     chatgpt     ✓        ✓          ✗ 0       ≈ "%s"   ✗ stripped    ✓         ≈ at line end
#:     googlellm   ≈ { 0 }  ≈ {{ 0 }}  ✗ **0**   ≈ "%s"   ✗ &lt;…&gt;    ✓         ≈ ⟦ 0 ⟧
#:
#: Aliyun (``Type`` 0, the default) has none: Slack text shielded as ``⟦n⟧`` goes through it
#: untouched, as every test written before this table expects.
PLACEHOLDER_QUIRKS: dict[str, list[Quirk]] = {
    "aliyun": [],
    "google": [
        (re.compile(_ONE_BRACE), r"{ \1 }"),
        (re.compile(_TWO_BRACES), r"{{ \1 }}"),
        (re.compile(_TAG), r"&lt;\1&gt;"),
        (re.compile(r"⟦(\d+)⟧"), r"⟦ \1 ⟧"),
    ],
    "papago": [
        (re.compile(_ONE_BRACE), r"{ \1 }"),
        (re.compile(_TWO_BRACES), r"{ {\1} }"),
        (re.compile(r"%s"), "% s"),
        (re.compile(_TAG), ""),
    ],
    "baidu": [
        (re.compile(r"\[\[(\d+)\]\]"), r"[ [\1] ]"),
        (re.compile(_TAG), ""),
    ],
    "deepl": [
        (re.compile(_TWO_BRACES), r"{\1}"),
    ],
    "chatgpt": [
        (re.compile(r"__(\d+)__"), r"\1"),
        (re.compile(r"%s"), '"%s"'),
        (re.compile(_TAG), ""),
        (re.compile(r"[^\n]*⟦\d+⟧[^\n]*"), _placeholders_last),
    ],
    "googlellm": [
        (re.compile(_ONE_BRACE), r"{ \1 }"),
        (re.compile(_TWO_BRACES), r"{{ \1 }}"),
        (re.compile(r"__(\d+)__"), r"**\1**"),
        (re.compile(r"%s"), '"%s"'),
        (re.compile(_TAG), r"&lt;\1&gt;"),
        (re.compile(r"⟦(\d+)⟧"), r"⟦ \1 ⟧"),
    ],
}


def _fake_translation(text: str, target: str, engine: str | None = None) -> str:
    """A known phrase, or ``[TARGET] text`` with ``BRAND_WORDS`` translated and, for a text
    ``engine``, its ``PLACEHOLDER_QUIRKS`` applied (images pass no engine: words only)."""
    phrase = PHRASES.get((text.strip(), target))
    if phrase is not None:
        return phrase
    for pattern, translation in _BRAND_PATTERNS.get(target, ()):
        text = pattern.sub(translation.replace("\\", "\\\\"), text)
    for pattern, replacement in PLACEHOLDER_QUIRKS.get(engine or "aliyun", ()):
        text = pattern.sub(replacement, text)
    return f"[{target}] {text}"


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


#: Fonts with CJK glyphs, tried in order for region text; Pillow's default has none (CJK
#: text then shows as boxes, which is all an emulator needs).
_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


def _text_font(size: int) -> Any:
    from PIL import ImageFont

    for path in _CJK_FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return _font(size)


# -- regions: the recognised text an image carries ----------------------------------------

#: The PNG text chunk that stands in for OCR: JSON ``[{"source": …, "box": "x,y,w,h"}, …]``.
REGIONS_KEY = "tolk:regions"
_BOX = re.compile(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*")

#: Source images ``/src/<name>.png`` draws with regions (``sample_url(name)``); the same
#: regions as ``sandbox/samples/<name>.png``. ``brand-violation``: "Tolk Pro" (changed into
#: CHS/CHT/JPN/KOR) and "象寄" (changed into ENG/JPN/KOR); ``brand-ok``: no brand word.
SAMPLE_REGIONS: dict[str, dict[str, Any]] = {
    "brand-violation": {
        "size": (1200, 800),
        "regions": [
            {"source": "Tolk Pro 新品上市", "box": "134,0,1066,249"},
            {"source": "象寄 图片翻译", "box": "134,300,900,160"},
            {"source": "限时优惠", "box": "134,560,600,120"},
        ],
    },
    "brand-ok": {
        "size": (1200, 800),
        "regions": [
            {"source": "新品上市", "box": "134,0,1066,249"},
            {"source": "Xiangji 图片翻译", "box": "134,300,900,160"},
            {"source": "限时优惠", "box": "134,560,600,120"},
        ],
    },
}


def _box(value: Any) -> tuple[int, int, int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 4:
        value = ",".join(str(v) for v in value)
    match = _BOX.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    x, y, w, h = (int(g) for g in match.groups())
    return x, y, w, h


def _regions(value: Any) -> list[dict[str, str]] | None:
    """Regions as ``[{"source", "box": "x,y,w,h"}]``; None if ``value`` is not a list of
    them (a region without text or with a bad box makes the whole chunk invalid)."""
    if not isinstance(value, list):
        return None
    out = []
    for region in value:
        box = _box(region.get("box")) if isinstance(region, dict) else None
        if box is None or not isinstance(region.get("source"), str):
            return None
        out.append({"source": region["source"], "box": ",".join(map(str, box))})
    return out


def _png_texts(data: bytes) -> dict[str, str]:
    """The tEXt, zTXt and iTXt chunks of a PNG (without decoding the image)."""
    texts: dict[str, str] = {}
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return texts
    at = 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IEND" or len(body) < length:
            break
        key, _, rest = body.partition(b"\0")
        try:
            if kind == b"tEXt":
                texts[key.decode("latin-1")] = rest.decode("latin-1")
            elif kind == b"zTXt" and rest[:1] == b"\0":
                texts[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
            elif kind == b"iTXt" and len(rest) >= 2:
                compressed, text = rest[0], rest[2:].split(b"\0", 2)[-1]
                texts[key.decode("latin-1")] = (
                    zlib.decompress(text) if compressed else text
                ).decode("utf-8")
        except (zlib.error, UnicodeDecodeError):
            continue
    return texts


def read_png_regions(data: bytes) -> list[dict[str, str]] | None:
    """The regions a PNG carries in its ``tolk:regions`` text chunk, normalised
    (``[{"source", "box": "x,y,w,h"}]``); None when it has none (or they are not valid)."""
    text = _png_texts(data).get(REGIONS_KEY)
    if text is None:
        return None
    try:
        return _regions(json.loads(text))
    except ValueError:
        return None


def png_with_regions(
    regions: list[dict[str, Any]], size: tuple[int, int] = (480, 320), text_on_image: bool = True
) -> bytes:
    """A PNG that 'contains' ``regions`` (``[{"source": "Tolk Pro 新品上市", "box":
    "134,0,1066,249"}]``, box ``x,y,w,h`` as a string or 4 numbers): they are written to its
    ``tolk:regions`` tEXt chunk (ASCII JSON), which the emulator reads in place of OCR, and —
    ``text_on_image`` — each source is drawn in its box (CJK shows as boxes without a CJK
    font)."""
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    normalised = _regions(regions)
    if normalised is None:
        raise ValueError("regions: a list of {'source': str, 'box': 'x,y,w,h'}")
    image = Image.new("RGB", size, (248, 244, 236))
    draw = ImageDraw.Draw(image)
    if text_on_image:
        for region in normalised:
            x, y, w, h = _box(region["box"]) or (0, 0, 0, 0)
            draw.rectangle((x, y, x + w - 1, y + h - 1), outline=(200, 60, 40), width=2)
            _draw_fitted(draw, region["source"], (x, y, w, h), (30, 30, 30))
    info = PngInfo()
    info.add_text(REGIONS_KEY, json.dumps(normalised, ensure_ascii=True))
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _draw_fitted(draw: Any, text: str, box: tuple[int, int, int, int], fill: Any) -> None:
    """``text`` on one line inside ``box``, as large as fits."""
    x, y, w, h = box
    size = max(8, min(h * 3 // 5, 160))
    while True:
        font = _text_font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if (right - left <= w - 8 and bottom - top <= h - 4) or size <= 8:
            break
        size = max(8, size * 4 // 5)
    draw.text((x + 4 - left, y + (h - (bottom - top)) // 2 - top), text, fill=fill, font=font)


def _orc(index: int, region: dict[str, str], target: str) -> dict[str, Any]:
    """One ``Orc`` line for a region, in the seed's two spellings by turn: even lines as its
    example (``bounding_box`` corners, ``font_size``, ``fg``/``bg``), odd lines as its
    description (``boundingBox`` ``x,y,w,h``, ``fontSize``)."""
    x, y, w, h = _box(region["box"]) or (0, 0, 0, 0)
    font_size = f"{max(10, min(h, w) * 3 // 5)}px"
    line: dict[str, Any] = {
        "source": region["source"],
        "target": _fake_translation(region["source"], target),
    }
    if index % 2 == 0:
        corners = f"[[{x},{y}], [{x + w},{y}], [{x + w},{y + h}], [{x},{y + h}]]"
        line.update(bounding_box=corners, font_size=font_size)
        line.update(orientation="v" if h > 2 * w else "h", fg="30,30,30", bg="248,244,236")
    else:
        line.update(boundingBox=region["box"], fontSize=font_size)
        line.update(orientation="v" if h > 2 * w else "h")
    return line


def _render(job: _Job, name: str, source: bytes | None) -> bytes:
    """Draw a visibly 'processed' PNG: the source (or a canvas) plus a label."""
    from PIL import Image, ImageDraw, ImageOps

    image = None
    scale = 1.0
    if source:
        try:
            with Image.open(io.BytesIO(source)) as opened:
                image = opened.convert("RGB")
                width = image.width
                image.thumbnail((1600, 1600))
                scale = image.width / width
        except Exception:  # not an image: fall back to a blank canvas
            image = None
    if image is None:
        image = Image.new("RGB", (480, 320), (226, 232, 240))
    regions = read_png_regions(source) if source and name in {"f", "i"} else None
    if regions:  # the text 'recognised' in the source: replaced (f) or removed (i)
        region_draw = ImageDraw.Draw(image)
        for region in regions:
            x, y, w, h = (round(v * scale) for v in _box(region["box"]) or (0, 0, 0, 0))
            region_draw.rectangle((x, y, x + w - 1, y + h - 1), fill=(248, 244, 236))
            if name == "f":
                text = _fake_translation(region["source"], job.target or "")
                _draw_fitted(region_draw, text, (x, y, w, h), (20, 60, 160))
    if name == "c":  # matting: keep a centred ellipse, replace the rest with the background
        mask = Image.new("L", image.size, 0)
        w, h = image.size
        ImageDraw.Draw(mask).ellipse((w // 8, h // 8, w - w // 8, h - h // 8), fill=255)
        image = Image.composite(
            image, Image.new("RGB", image.size, job.bg_color or (255,) * 3), mask
        )
        label = "matting · background removed"
    elif name == "i":
        image = ImageOps.posterize(image, 2)
        label = f"{job.target} · text removed"
    else:
        label = f"{job.target} · translated"
    draw = ImageDraw.Draw(image)
    size = max(14, image.width // 24)
    font = _font(size)
    top = image.height - 3 * size - 12
    draw.rectangle((0, top, image.width, image.height), fill=(20, 40, 80))
    draw.text((8, top + 4), label, fill=(255, 255, 255), font=font)
    draw.text((8, top + 8 + size), f"xiangji emulator · {job.id}", fill=(180, 200, 255), font=font)
    if job.watermark and name != "c":
        draw.text((8, 8), "WATERMARK", fill=(220, 30, 30), font=_font(size * 2))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _refine(base: bytes, number: int) -> bytes:
    """An editor save: the result image with a 'refined #n' band across the top."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(base)) as opened:
        image = opened.convert("RGB")
    size = max(14, image.width // 24)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 2 * size), fill=(234, 88, 12))
    draw.text(
        (8, size // 2), f"refined #{number} · editor stand-in", fill=(255,) * 3, font=_font(size)
    )
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


@functools.cache
def _fixed_png() -> bytes:
    return _sample_png("result")


def _sample_png(name: str) -> bytes:
    from PIL import Image, ImageDraw

    if name in SAMPLE_REGIONS:
        return png_with_regions(SAMPLE_REGIONS[name]["regions"], size=SAMPLE_REGIONS[name]["size"])
    seed = int(md5_hex(name)[:6], 16)
    image = Image.new("RGB", (640, 400), (seed >> 16 & 255, seed >> 8 & 255, seed & 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 580, 340), fill=(250, 250, 250))
    draw.text((80, 80), f"SALE  {name}", fill=(200, 0, 0), font=_font(40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()

"""A local Xiangji (象寄) server for tests and demos.

It speaks the wire format of ``/work/shared/providers/xiangji.md`` and refuses what
the real service would refuse (§13). It checks signatures with its own MD5 code —
it never imports the client's signing — so a signing bug cannot cancel itself out.

Routes on one server (``base_url``)::

    /api/                              Action dispatch (GET or POST; query + body merged)
    /api2/                             local-file image translation (Url=local)
    /api2/async-matting                local-file matting
    /account/open/user/amount-query    quota (lowercase envelope)
    /i/<request_id>/<name>.png         result images, rendered lazily with Pillow
                                       (``r<n>``: the n-th refinement saved in an editor)
    /src/<name>.png                    sample source images (``sample_url``)
    /image-editor/, /koutu/            stand-in refinement editors (``editor.py``)

Every answer is HTTP 200 + ``application/json`` unless a fault says otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import aiohttp
from aiohttp import web

from providers._emulator import CodeFaults, LoopbackServer

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
LANGUAGES = frozenset(_LANGUAGE_CODES.split())  # §10
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
    bg_color: tuple[int, int, int] | None = None
    polls_left: int = 0
    outcome: int = 200
    state: int = PENDING
    done_at: float | None = None


class XiangjiEmulator(LoopbackServer):
    def __init__(
        self,
        *,
        user_key: str = "xj-user",
        img_trans_key: str = "xj-img",
        text_trans_key: str = "xj-text",
        matting_key: str = "xj-matting",
        aigc_key: str = "xj-aigc",
        quota: dict[int, int] | None = None,
        pending_polls: int = 1,
        bad_sign_code: int = 104,
        accept_legacy_sign: bool = False,
        max_skew: float | None = None,
        result_ttl: float | None = None,
        lenient_urls: bool = False,
        fetch_sources: bool = True,
        render: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.user_key = user_key
        self.keys = {1: img_trans_key, 2: text_trans_key, 8: matting_key}
        self.aigc_key = aigc_key  # the image editor's AigcKey (smart eraser), spec §3.3
        self.quota: dict[int, int] = (
            dict(quota) if quota is not None else {1: 80828, 2: 1_000_000, 8: 5000}
        )
        self.pending_polls = pending_polls
        self.bad_sign_code = bad_sign_code
        self.accept_legacy_sign = accept_legacy_sign
        self.max_skew = max_skew
        self.result_ttl = result_ttl
        self.lenient_urls = lenient_urls
        self.fetch_sources = fetch_sources
        self.render = render  # False: results are a small fixed PNG, made once per id
        self.clock = clock
        self.requests: list[Received] = []
        self.downloads: list[str] = []
        self.editor_opens: list[dict[str, Any]] = []  # see editor.py
        self.editor_saves: list[dict[str, Any]] = []
        self.faults = Faults()
        self.base_url = ""
        self._jobs: dict[str, _Job] = {}
        self._renders: dict[tuple[str, str], bytes] = {}
        self._refinements: dict[str, int] = {}  # request id -> editor saves so far
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
        from providers.xiangji.editor import add_editor_routes  # it imports this module

        app = web.Application(client_max_size=64 * 1024 * 1024)
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

    def requests_for(self, action: str) -> list[Received]:
        return [r for r in self.requests if r.action == action]

    def sample_url(self, name: str = "sample") -> str:
        """URL of a generated source image served by the emulator itself."""
        return f"{self.base_url}/src/{name}.png"

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
            return web.json_response(self._amount_query(params))
        try:
            if bad_body is not None:
                raise bad_body
            if route == "api":
                handlers = {
                    TRANSLATE: self._translate,
                    TEXT: self._text,
                    BATCH: self._batch,
                    BATCH_RESULT: self._batch_result,
                    BATCH_QUERY: self._batch_query,
                    MATTING: self._matting,
                }
                if action not in handlers:
                    raise Refusal(104)
                body = handlers[action](params, None)
            else:
                expected = TRANSLATE if route == "api2" else MATTING
                if action != expected:
                    raise Refusal(104)
                upload = files.get("file-stream") or files.get("file-base64")
                if upload is None:
                    raise Refusal(104, "缺少文件 file-stream / file-base64")
                handler = self._translate if route == "api2" else self._matting
                body = handler(params, upload)
        except Refusal as refusal:
            body = self._failure(refusal.code, refusal.message)
        return web.json_response(body)

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
            return web.json_response({"code": str(code), "msg": MESSAGES.get(code), "data": None})
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

    def _authorise(self, params: dict[str, str], key_param: str, quota_type: int) -> None:
        has_time = bool(params.get("CommitTime", "").strip())
        legacy = self.accept_legacy_sign and quota_type == 1 and not has_time
        self._require(params, key_param, "Sign", *(() if legacy else ("CommitTime",)))
        key = params[key_param]
        if key != self.keys[quota_type]:
            raise Refusal(109)
        given = params["Sign"].strip().lower()
        if legacy:
            url = params.get("Url") or params.get("Urls", "")
            text = f"{params.get('SourceLanguage')}_{params.get('TargetLanguage')}_{url}"
            if given != md5_hex(f"{text}_{self.user_key}_{key}"):
                raise Refusal(self.bad_sign_code, "签名错误")
            return
        commit_time = params["CommitTime"].strip()
        if not commit_time.isdigit():
            raise Refusal(104, "CommitTime 格式错误")
        if given != md5_hex(f"{commit_time}_{self.user_key}_{key}"):
            raise Refusal(self.bad_sign_code, "签名错误")
        if self.max_skew is not None and abs(self.clock() - int(commit_time)) > self.max_skew:
            raise Refusal(104, "CommitTime 已过期")

    def _image_languages(self, params: dict[str, str]) -> tuple[str, str]:
        source, target = params["SourceLanguage"], params["TargetLanguage"]
        if source not in IMAGE_SOURCES or target not in LANGUAGES:
            raise Refusal(105)
        return source, target

    def _check_quota(self, quota_type: int) -> None:
        left = self.quota.get(quota_type)
        if left is not None and left <= 0:
            raise Refusal(113)

    def _charge(self, quota_type: int, amount: int = 1) -> None:
        if quota_type in self.quota:
            self.quota[quota_type] = max(0, self.quota[quota_type] - amount)

    def _url(self, value: str, *, item: bool = False) -> str:
        url = value.strip()
        lowered = url.lower()
        if (item or self.lenient_urls) and lowered.startswith(("http%3a", "https%3a")):
            url = unquote(url)  # batch items arrive percent-encoded once more
            lowered = url.lower()
        if not lowered.startswith(("http://", "https://")):
            raise Refusal(103)
        return url

    # -- jobs -----------------------------------------------------------------------

    def _new_job(self, kind: str, params: dict[str, str], **kw: Any) -> _Job:
        job = _Job(
            id=new_id(),
            kind=kind,
            polls_left=self.pending_polls,
            need_rm=params.get("NeedRmUrl") == "1",
            watermark=params.get("NeedWatermark", "1") != "0",
            **kw,
        )
        self._jobs[job.id] = job
        return job

    def _complete(self, job: _Job, code: int) -> None:
        if code == PENDING or job.state != PENDING:
            return
        job.state, job.done_at = code, self.clock()
        if code == 200:
            self._charge(1 if job.kind == "translate" else 8)

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
        self._authorise(params, "ImgTransKey", 1)
        source, target = self._image_languages(params)
        if upload is None:
            origin: str | None = self._url(params["Url"])
        elif params["Url"].strip() != "local":
            raise Refusal(104, "Url 必须为 local")
        else:
            origin = None
        self._check_quota(1)
        job = self._new_job(
            "translate", params, origin_url=origin, upload=upload, source=source, target=target
        )
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
        engine = params.get("Type", "0").strip() or "0"
        if not engine.isdigit() or int(engine) > 6:
            raise Refusal(104, "Type 参数错误")
        units = len(text.encode("utf-16-le")) // 2  # Java String.length()
        if units > 5000:
            raise Refusal(108)
        self._check_quota(2)
        self._charge(2, units)
        data = {
            "SourceLanguage": source,
            "TargetLanguage": target,
            "OriginText": text,
            "Text": _fake_translation(text, target),
        }
        return self._ok(data)

    def _batch(self, params: dict[str, str], _upload: bytes | None) -> dict[str, Any]:
        self._require(params, "SourceLanguage", "TargetLanguage", "Urls")
        self._authorise(params, "ImgTransKey", 1)
        source, target = self._image_languages(params)
        sync = params.get("Sync", "1").strip() or "1"
        if sync not in {"1", "2"}:
            raise Refusal(104, "Sync 参数错误")
        items = params["Urls"].split(",")
        if any(not item.strip() for item in items):
            raise Refusal(104, "Urls 参数错误")
        urls = [self._url(item, item=True) for item in items]
        self._check_quota(1)
        scripted, self.faults._by_index = self.faults._by_index, {}
        jobs = []
        for index, url in enumerate(urls):
            job = self._new_job(
                "translate", params, origin_url=url, upload=None, source=source, target=target
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

    def _batch_query(self, params: dict[str, str], _upload: bytes | None) -> dict[str, Any]:
        content: dict[str, Any] = {}
        for rid in self._ids(params):
            job = self._jobs.get(rid)
            if job is not None:
                self._poll(job)
            content[rid] = None if job is None else self._result(job, detail=True)
        return self._ok({"Content": content})

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
        job = self._new_job("matting", params, origin_url=origin, upload=upload, bg_color=color)
        if sync == "2":
            return self._ok({"Content": job.id}, job.id)
        self._complete(job, 200)
        return self._ok({"RequestId": job.id, **self._matting_data(job)})

    def _amount_query(self, params: dict[str, str]) -> dict[str, Any]:
        def fail(code: int, message: str | None = None) -> dict[str, Any]:
            return {"code": str(code), "msg": message or MESSAGES[code], "data": None}

        kind = params.get("Type", "").strip()
        param = QUOTA_PARAMS.get(int(kind)) if kind.isdigit() else None
        if param is None or not params.get(param) or not params.get("Sign"):
            return fail(104)
        if params[param] != self.keys.get(int(kind)):
            return fail(109)
        if params["Sign"].strip().lower() != md5_hex(f"{kind}_{self.user_key}_{params[param]}"):
            return fail(self.bad_sign_code, "签名错误")
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
        png = await asyncio.to_thread(_sample_png, request.match_info["name"])
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


def _fake_translation(text: str, target: str) -> str:
    return PHRASES.get((text.strip(), target), f"[{target}] {text}")


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _render(job: _Job, name: str, source: bytes | None) -> bytes:
    """Draw a visibly 'processed' PNG: the source (or a canvas) plus a label."""
    from PIL import Image, ImageDraw, ImageOps

    image = None
    if source:
        try:
            with Image.open(io.BytesIO(source)) as opened:
                image = opened.convert("RGB")
                image.thumbnail((1600, 1600))
        except Exception:  # not an image: fall back to a blank canvas
            image = None
    if image is None:
        image = Image.new("RGB", (480, 320), (226, 232, 240))
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

    seed = int(md5_hex(name)[:6], 16)
    image = Image.new("RGB", (640, 400), (seed >> 16 & 255, seed >> 8 & 255, seed & 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 580, 340), fill=(250, 250, 250))
    draw.text((80, 80), f"SALE  {name}", fill=(200, 0, 0), font=_font(40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()

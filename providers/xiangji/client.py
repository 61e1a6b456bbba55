"""Thin async client for Xiangji (象寄) on a caller-owned ``aiohttp.ClientSession``.

Language arguments are Xiangji's own codes (``CHS``, ``KOR`` …). Every failure is a
``ProviderError``; messages never contain the user key, a service key or a Sign.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import aiohttp
from yarl import URL

from providers._http import DEFAULT_TIMEOUT, request_json
from providers.errors import ErrorKind, ProviderError
from providers.xiangji import wire
from providers.xiangji.wire import (
    BatchDetail,
    BatchItem,
    ImageResult,
    MattingResult,
    Quota,
    TextTranslation,
)

QUERY_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)


@dataclass(frozen=True, repr=False)
class XiangjiKeys:
    """The account's keys. ``img_trans_key`` is the Aliyun image-translation key (quota
    Type 1); each other image engine has its own key (Types 3, 4, 5, 7)."""

    user_key: str
    img_trans_key: str | None = None
    text_trans_key: str | None = None
    matting_key: str | None = None
    img_trans_google_key: str | None = None
    img_trans_papago_key: str | None = None
    img_trans_baidu_key: str | None = None
    img_trans_deepl_key: str | None = None
    video_trans_key: str | None = None

    def __repr__(self) -> str:  # never show a key, only whether it is configured
        shown = [f.name for f in fields(self) if f.name != "user_key"]
        parts = ", ".join(f"{n}={'set' if getattr(self, n) else 'unset'}" for n in shown)
        return f"XiangjiKeys(user_key=***, {parts})"

    def secrets(self) -> tuple[str, ...]:
        """Every configured key, the user key first (for redaction)."""
        values = (getattr(self, f.name) for f in fields(self))
        return tuple(v for v in values if v)

    def image_engines(self) -> list[str]:
        """Names of the image engines whose key is set, in default-preference order
        (``chatgpt`` whenever ``aliyun`` is: it runs on the Aliyun key)."""
        return [e.name for e in wire.IMAGE_ENGINES.values() if getattr(self, e.key_attr)]

    def quota_types(self) -> list[int]:
        """Quota Types (seed part 五) whose key is set, in Type order."""
        return [t for t, attr in wire.QUOTA_KEY_ATTRS.items() if getattr(self, attr)]


class XiangjiClient:
    provider = "xiangji"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        keys: XiangjiKeys,
        *,
        api_url: str = "http://api.tosoiot.com",
        upload_url: str = "http://api2.tosoiot.com",
        account_url: str = "http://www.tosoiot.com",
        clock: Callable[[], float] = time.time,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        query_timeout: aiohttp.ClientTimeout = QUERY_TIMEOUT,
    ) -> None:
        self._session = session
        self._keys = keys
        self._clock = clock
        self.timeout = timeout  # per call; status and quota queries use ``query_timeout``
        self.query_timeout = query_timeout
        self._api = api_url.rstrip("/") + "/"
        self._upload = upload_url.rstrip("/") + "/"
        self._matting_upload = upload_url.rstrip("/") + "/async-matting"
        self._quota = account_url.rstrip("/") + "/open/user/amount-query"

    def __repr__(self) -> str:
        return f"XiangjiClient(api_url={self._api!r})"

    # -- plumbing ------------------------------------------------------------------

    def _key(self, operation: str, attr: str, what: str) -> str:
        value: str | None = getattr(self._keys, attr, None)
        if not value:
            message = f"no {what} is configured ({wire.key_env(attr)})"
            raise ProviderError(
                self.provider, operation, "not-configured", message, ErrorKind.PERMANENT
            )
        return value

    def _common(self, operation: str, attr: str, what: str) -> wire.Signing:
        key = self._key(operation, attr, what)
        return {"key": key, "user_key": self._keys.user_key, "commit_time": int(self._clock())}

    def _image(self, operation: str, engine: str) -> tuple[wire.ImageEngine, wire.Signing]:
        """The engine called ``engine`` and the signing inputs for its key."""
        chosen = wire.image_engine(engine)
        what = f"ImgTransKey for the {chosen.label} engine"
        if chosen.name == "chatgpt":  # seed: EngineType=5 runs on the Aliyun key only
            what = "ImgTransKey for the Aliyun engine (ChatGPT runs on it)"
        return chosen, self._common(operation, chosen.key_attr, what)

    def _secrets(self, params: dict[str, str]) -> tuple[str, ...]:
        sign = params.get("Sign")
        return self._keys.secrets() + ((sign,) if sign else ())

    async def _call(
        self, operation: str, method: str, url: str | URL, params: dict[str, str], **kwargs: Any
    ) -> Any:
        """Send; return the body once its ``Code`` is 200 (the quota body unchecked).

        ``params`` go in the query string of a GET, in the form body of a POST — unless
        ``url`` already carries them (a ``yarl.URL``, see the batch)."""
        if not isinstance(url, URL):
            kwargs.setdefault("params" if method == "GET" else "data", params)
        kwargs.setdefault("timeout", self.timeout)
        status, body = await request_json(
            self._session, method, url, provider=self.provider, operation=operation, **kwargs
        )
        if operation == wire.AMOUNT_QUERY:
            return status, body
        return wire.check(body, operation, status=status, redact=self._secrets(params))

    def _multipart(self, params: dict[str, str], data: bytes, filename: str) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in params.items():
            form.add_field(name, value)
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        form.add_field("file-stream", data, filename=filename, content_type=ctype)
        return form

    # -- translation ---------------------------------------------------------------

    async def get_text_translate(
        self, text: str, source: str, target: str, *, engine: str | int | None = None
    ) -> TextTranslation:
        """Seed part 四. ``engine``: a name of ``wire.TEXT_ENGINES`` or its ``Type``
        number (older stored tasks carry numbers); None sends no ``Type`` (Aliyun)."""
        op = wire.GET_TEXT_TRANSLATE
        code = wire.text_engine(engine)
        common = self._common(op, "text_trans_key", "TextTransKey")
        params = wire.text_translate_params(text, source, target, engine=code, **common)
        return wire.parse_text_translation(await self._call(op, "POST", self._api, params), op)

    async def get_image_translate(
        self,
        url: str,
        source: str,
        target: str,
        *,
        engine: str = "aliyun",
        need_watermark: bool = False,
        need_rm_url: bool = False,
        qos: str | None = None,
    ) -> ImageResult:
        """Seed part 二. ``engine`` picks the key sent as ``ImgTransKey``."""
        op = wire.GET_IMAGE_TRANSLATE
        chosen, common = self._image(op, engine)
        params = wire.image_translate_params(
            url,
            source,
            target,
            need_watermark=need_watermark,
            need_rm_url=need_rm_url,
            qos=qos,
            engine_type=chosen.engine_type,
            **common,
        )
        return wire.parse_image_result(await self._call(op, "POST", self._api, params), op)

    async def upload_image_translate(
        self,
        data: bytes,
        filename: str,
        source: str,
        target: str,
        *,
        engine: str = "aliyun",
        need_watermark: bool = False,
        need_rm_url: bool = False,
        qos: str | None = None,
    ) -> ImageResult:
        """Seed part 三 (``Url=local``, the file in ``file-stream``)."""
        op = wire.GET_IMAGE_TRANSLATE
        chosen, common = self._image(op, engine)
        params = wire.image_translate_params(
            "local",
            source,
            target,
            need_watermark=need_watermark,
            need_rm_url=need_rm_url,
            qos=qos,
            engine_type=chosen.engine_type,
            **common,
        )
        form = self._multipart(params, data, filename)
        return wire.parse_image_result(
            await self._call(op, "POST", self._upload, params, data=form), op
        )

    async def get_image_translate_batch(
        self, urls: Sequence[str], source: str, target: str, *, engine: str = "aliyun"
    ) -> list[str]:
        """Seed part 六.1, asynchronous (``Sync=2``): one request id per URL, in order.

        Sent as the seed says, a GET; a list too long for one GET goes as several (see
        ``wire.batch_urls``) and their ids are joined in order. Should a later GET fail,
        the error is raised and the ids of the GETs before it are lost with it.
        """
        op = wire.GET_IMAGE_TRANSLATE_BATCH
        chosen, common = self._image(op, engine)
        requests = wire.batch_urls(
            self._api, list(urls), source, target, engine_type=chosen.engine_type, **common
        )
        sign = wire.sign(common["commit_time"], common["user_key"], common["key"])
        ids: list[str] = []
        for chunk, full in requests:  # the parameters are in ``full``; Sign is for redaction
            body = await self._call(op, "GET", URL(full, encoded=True), {"Sign": sign})
            got = wire.parse_submit_ids(body, op)
            if len(got) != len(chunk):
                message = f"sent {len(chunk)} URLs but got {len(got)} request ids back"
                raise ProviderError(self.provider, op, "bad-response", message, ErrorKind.PERMANENT)
            ids.extend(got)
        return ids

    async def get_image_translate_batch_result(
        self, request_ids: Sequence[str]
    ) -> dict[str, BatchItem]:
        op = wire.GET_IMAGE_TRANSLATE_BATCH_RESULT
        if not request_ids:
            return {}
        params = wire.batch_result_params(request_ids)
        body = await self._call(op, "GET", self._api, params, timeout=self.query_timeout)
        return wire.parse_batch_result(body, op)

    async def get_image_translate_batch_query(
        self, request_ids: Sequence[str]
    ) -> dict[str, BatchDetail | None]:
        op = wire.GET_IMAGE_TRANSLATE_BATCH_QUERY
        if not request_ids:
            return {}
        params = wire.batch_query_params(request_ids)
        body = await self._call(op, "GET", self._api, params, timeout=self.query_timeout)
        return wire.parse_batch_query(body, op)

    # -- matting -------------------------------------------------------------------

    async def get_image_matting(
        self, url: str, *, bg_color: tuple[int, int, int] | None = None
    ) -> MattingResult:
        op = wire.GET_IMAGE_MATTING
        common = self._common(op, "matting_key", "ImgMattingKey")
        params = wire.matting_params(url=url, bg_color=bg_color, sync=True, **common)
        return wire.parse_matting(await self._call(op, "POST", self._api, params), op)

    async def submit_image_matting(
        self, url: str, *, bg_color: tuple[int, int, int] | None = None
    ) -> str:
        """Async matting; poll the id with ``get_image_translate_batch_result``."""
        op = wire.GET_IMAGE_MATTING
        common = self._common(op, "matting_key", "ImgMattingKey")
        params = wire.matting_params(url=url, bg_color=bg_color, sync=False, **common)
        return wire.parse_matting_submit(await self._call(op, "POST", self._api, params), op)

    async def upload_image_matting(
        self,
        data: bytes,
        filename: str,
        *,
        bg_color: tuple[int, int, int] | None = None,
        sync: bool = True,
    ) -> MattingResult | str:
        op = wire.GET_IMAGE_MATTING
        common = self._common(op, "matting_key", "ImgMattingKey")
        params = wire.matting_params(bg_color=bg_color, sync=sync, **common)
        form = self._multipart(params, data, filename)
        body = await self._call(op, "POST", self._matting_upload, params, data=form)
        return wire.parse_matting(body, op) if sync else wire.parse_matting_submit(body, op)

    # -- account -------------------------------------------------------------------

    async def amount_query(self, service_type: int) -> Quota:
        """Seed part 五: the quota left on the key of ``service_type`` (any Type of
        ``wire.QUOTA_KEY_ATTRS``), signed ``md5(Type_UserKey_Key)``."""
        op = wire.AMOUNT_QUERY
        attr = wire.QUOTA_KEY_ATTRS.get(service_type)
        if attr is None:
            known = ", ".join(str(t) for t in wire.QUOTA_KEY_ATTRS)
            raise ValueError(f"quota Type {service_type} has no key parameter (known: {known})")
        what = f"{wire.QUOTA_KEY_PARAMS[service_type]} (quota Type {service_type})"
        key = self._key(op, attr, what)
        params = wire.quota_params(service_type, user_key=self._keys.user_key, key=key)
        status, body = await self._call(op, "POST", self._quota, params, timeout=self.query_timeout)
        return wire.parse_quota(body, op, status=status, redact=self._secrets(params))

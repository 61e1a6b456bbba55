"""Thin async client for Xiangji (象寄) on a caller-owned ``aiohttp.ClientSession``.

Language arguments are Xiangji's own codes (``CHS``, ``KOR`` …). Every failure is a
``ProviderError``; messages never contain the user key, a service key or a Sign.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

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
_QUOTA_KEYS = {
    wire.QUOTA_IMAGE: "img_trans_key",
    wire.QUOTA_TEXT: "text_trans_key",
    wire.QUOTA_MATTING: "matting_key",
}


@dataclass(frozen=True, repr=False)
class XiangjiKeys:
    user_key: str
    img_trans_key: str | None = None
    text_trans_key: str | None = None
    matting_key: str | None = None

    def __repr__(self) -> str:  # never show a key, only whether it is configured
        shown = ("img_trans_key", "text_trans_key", "matting_key")
        parts = ", ".join(f"{n}={'set' if getattr(self, n) else 'unset'}" for n in shown)
        return f"XiangjiKeys(user_key=***, {parts})"


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

    def _key(self, operation: str, attr: str, param: str) -> str:
        value = getattr(self._keys, attr, None)
        if not value:
            message = f"no {param} is configured for Xiangji"
            raise ProviderError(
                self.provider, operation, "not-configured", message, ErrorKind.PERMANENT
            )
        return value

    def _common(self, operation: str, attr: str, param: str) -> dict[str, Any]:
        key = self._key(operation, attr, param)
        return {"key": key, "user_key": self._keys.user_key, "commit_time": int(self._clock())}

    def _secrets(self, params: dict[str, str]) -> tuple[str, ...]:
        k = self._keys
        values = (k.user_key, k.img_trans_key, k.text_trans_key, k.matting_key, params.get("Sign"))
        return tuple(v for v in values if v)

    async def _call(
        self, operation: str, method: str, url: str, params: dict[str, str], **kwargs: Any
    ) -> Any:
        """Send; return the body once its ``Code`` is 200 (the quota body unchecked)."""
        if method == "GET":
            kwargs.setdefault("params", params)
        else:
            kwargs.setdefault("data", params)
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
        self, text: str, source: str, target: str, *, engine: int | None = None
    ) -> TextTranslation:
        op = wire.GET_TEXT_TRANSLATE
        common = self._common(op, "text_trans_key", "TextTransKey")
        params = wire.text_translate_params(text, source, target, engine=engine, **common)
        return wire.parse_text_translation(await self._call(op, "POST", self._api, params), op)

    async def get_image_translate(
        self,
        url: str,
        source: str,
        target: str,
        *,
        need_watermark: bool = False,
        need_rm_url: bool = False,
        qos: str | None = None,
    ) -> ImageResult:
        op = wire.GET_IMAGE_TRANSLATE
        common = self._common(op, "img_trans_key", "ImgTransKey")
        opts = {"need_watermark": need_watermark, "need_rm_url": need_rm_url, "qos": qos}
        params = wire.image_translate_params(url, source, target, **opts, **common)
        return wire.parse_image_result(await self._call(op, "POST", self._api, params), op)

    async def upload_image_translate(
        self,
        data: bytes,
        filename: str,
        source: str,
        target: str,
        *,
        need_watermark: bool = False,
        need_rm_url: bool = False,
        qos: str | None = None,
    ) -> ImageResult:
        op = wire.GET_IMAGE_TRANSLATE
        common = self._common(op, "img_trans_key", "ImgTransKey")
        opts = {"need_watermark": need_watermark, "need_rm_url": need_rm_url, "qos": qos}
        params = wire.image_translate_params("local", source, target, **opts, **common)
        form = self._multipart(params, data, filename)
        return wire.parse_image_result(
            await self._call(op, "POST", self._upload, params, data=form), op
        )

    async def get_image_translate_batch(
        self,
        urls: Sequence[str],
        source: str,
        target: str,
        *,
        need_watermark: bool = False,
        need_rm_url: bool = False,
        qos: str | None = None,
    ) -> list[str]:
        op = wire.GET_IMAGE_TRANSLATE_BATCH
        common = self._common(op, "img_trans_key", "ImgTransKey")
        opts = {"need_watermark": need_watermark, "need_rm_url": need_rm_url, "qos": qos}
        params = wire.batch_params(list(urls), source, target, sync=2, **opts, **common)
        ids = wire.parse_submit_ids(await self._call(op, "POST", self._api, params), op)
        if len(ids) != len(urls):
            message = f"sent {len(urls)} URLs but got {len(ids)} request ids back"
            raise ProviderError(self.provider, op, "bad-response", message, ErrorKind.PERMANENT)
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
        op = wire.AMOUNT_QUERY
        param = wire.QUOTA_KEY_PARAMS.get(service_type, f"key for quota type {service_type}")
        key = self._key(op, _QUOTA_KEYS.get(service_type, "-"), param)
        params = wire.quota_params(service_type, user_key=self._keys.user_key, key=key)
        status, body = await self._call(op, "POST", self._quota, params, timeout=self.query_timeout)
        return wire.parse_quota(body, op, status=status, redact=self._secrets(params))

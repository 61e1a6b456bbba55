"""Thin async client for Alibaba Cloud machine translation's task operations, on the
application's shared ``aiohttp.ClientSession`` (the official SDK opens a session per
call and retries nothing). Language arguments are Alibaba's own codes (``zh``, ``en``).

Every failure is a ``ProviderError``; messages never contain a key or a signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import aiohttp

from providers.alibaba import wire
from providers.alibaba.rpc import PopClient
from providers.alibaba.signing import Credentials, new_nonce
from providers.alibaba.wire import DocTask, ImageTask


class AlibabaMTClient(PopClient):
    provider = wire.PROVIDER
    _version = wire.VERSION

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        *,
        endpoint: str = "mt.cn-hangzhou.aliyuncs.com",
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        super().__init__(session, credentials, endpoint, clock, nonce)
        self._clock = clock

    async def _call(self, action: str, params: Mapping[str, str]) -> tuple[int, object]:
        return await self._rpc.call(action, params, method=wire.METHODS[action])

    async def create_doc_translate_task(
        self,
        source: str,
        target: str,
        file_url: str,
        *,
        scene: str | None = None,
        callback_url: str | None = None,
        client_token: str | None = None,
    ) -> DocTask:
        params = wire.create_doc_params(
            source,
            target,
            file_url,
            scene=scene,
            callback_url=callback_url,
            client_token=client_token,
        )
        status, body = await self._call(wire.CREATE_DOC, params)
        return wire.parse_created_doc(status, body, now=self._clock(), redact=self._redact)

    async def get_doc_translate_task(self, task_id: str) -> DocTask:
        status, body = await self._call(wire.GET_DOC, {"TaskId": task_id})
        return wire.parse_doc_task(status, body, now=self._clock(), redact=self._redact)

    async def create_image_translate_task(
        self,
        urls: Sequence[str],
        source: str,
        target: str,
        *,
        extra: Mapping[str, bool] | None = None,
        client_token: str | None = None,
    ) -> str:
        params = wire.create_image_params(
            urls, source, target, extra=extra, client_token=client_token
        )
        status, body = await self._call(wire.CREATE_IMAGE, params)
        return wire.parse_created_image(status, body, now=self._clock(), redact=self._redact)

    async def get_image_translate_task(self, task_id: str, expected: int) -> ImageTask:
        status, body = await self._call(wire.GET_IMAGE, {"TaskId": task_id})
        return wire.parse_image_task(status, body, expected, now=self._clock(), redact=self._redact)

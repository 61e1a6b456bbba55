"""Thin async client for Alibaba Cloud MPS/MTS intelligent production (2014-06-18), on the
application's shared ``aiohttp.ClientSession`` and the shared Alibaba POP signing
(``providers.alibaba.rpc.AlibabaRpc``, ACS3-HMAC-SHA256). Both operations are a ``POST /``
with the parameters in the query and an empty body, as the official SDK sends them (MTS spec,
'SubmitIProductionJob', 'QueryIProductionJob').

Everything is checked before it is sent (function name, ``oss://`` locations, JobParams
JSON): a mistake costs no call. ``pace`` is awaited before every call — pass a token
bucket's ``acquire`` to stay under the 100-per-second limit (MTS spec, 'SubmitIProductionJob',
'QueryIProductionJob').

Every failure is a ``ProviderError`` (taxonomy in ``providers.mts.wire``); messages never
contain a key or a signature.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from providers.alibaba.rpc import PopClient
from providers.alibaba.signing import Credentials, new_nonce
from providers.mts import wire
from providers.mts.wire import IProductionJob


class MtsClient(PopClient):
    provider = wire.PROVIDER
    _version = wire.VERSION

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        *,
        endpoint: str = "mts.cn-hangzhou.aliyuncs.com",
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(session, credentials, endpoint, clock, nonce)
        self._pace = pace

    async def _call(self, action: str, params: Mapping[str, str]) -> tuple[int, Any]:
        if self._pace is not None:
            await self._pace()
        return await self._rpc.call(
            action, params, method=wire.METHODS[action], in_query=wire.IN_QUERY
        )

    async def submit_iproduction_job(
        self,
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
    ) -> str:
        """Queue a job; return its JobId. ValueError if a parameter is wrong (nothing sent)."""
        params = wire.submit_params(
            function_name,
            input,
            output,
            pipeline_id=pipeline_id,
            job_params=job_params,
            user_data=user_data,
            notify_url=notify_url,
            model_id=model_id,
            schedule_params=schedule_params,
        )
        status, body = await self._call(wire.SUBMIT, params)
        return wire.parse_submitted(status, body, redact=self._redact)

    async def query_iproduction_job(self, job_id: str) -> IProductionJob:
        if not job_id.strip():
            raise ValueError("a JobId is needed")
        status, body = await self._call(wire.QUERY, {"JobId": job_id.strip()})
        return wire.parse_job(status, body, job_id.strip(), redact=self._redact)

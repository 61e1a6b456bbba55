"""The transport every Alibaba RPC client shares: sign one call, send it, return
``(status, JSON)``. GET carries the parameters in the query, POST in a form body (or,
for MTS, in the query with an empty body) — as the official SDKs send them.

Transport failures, 5xx and bodies that are not JSON become RETRYABLE
``ProviderError``s (``providers/_http.py``); 4xx bodies come back for the caller's wire
module to read the provider's ``Code``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from providers._http import DEFAULT_TIMEOUT, request_json
from providers.alibaba.signing import (
    FORM,
    Credentials,
    acs_date,
    encode_params,
    new_nonce,
    sign_v3,
)


def base_url(endpoint: str) -> str:
    """``mt.cn-hangzhou.aliyuncs.com`` → ``https://mt.cn-hangzhou.aliyuncs.com``; a full
    URL (an emulator, a regional override) is kept as it is."""
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if "://" in endpoint else f"https://{endpoint}"


class AlibabaRpc:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        *,
        endpoint: str,
        version: str,
        provider: str,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._session = session
        self._credentials = credentials
        self.base_url = base_url(endpoint)
        self._host = URL(self.base_url).raw_authority
        self.version = version
        self.provider = provider
        self._clock = clock
        self._nonce = nonce
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"AlibabaRpc(base_url={self.base_url!r}, version={self.version!r})"

    async def call(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        method: str = "POST",
        in_query: bool = False,
    ) -> tuple[int, Any]:
        """``in_query``: a POST whose parameters travel in the query with an empty body
        (MTS, as its SDK sends it); otherwise a POST carries them as a form body."""
        params = {k: v for k, v in params.items() if v is not None}
        query = params if method == "GET" or in_query else {}
        body = b"" if query else encode_params(params).encode()
        headers = sign_v3(
            self._credentials,
            method=method,
            host=self._host,
            action=action,
            version=self.version,
            query=query,
            body=body,
            content_type=FORM if body else None,
            date=acs_date(self._clock()),
            nonce=self._nonce(),
            extra_headers={"accept": "application/json"},
        )
        url = self.base_url + "/"
        if query:
            url += "?" + encode_params(query)
        return await request_json(
            self._session,
            method,
            URL(url, encoded=True),  # sent exactly as signed
            provider=self.provider,
            operation=action,
            timeout=self._timeout,
            data=body or None,
            headers=headers,
        )


class PopClient:
    """What a product's client keeps: its :class:`AlibabaRpc` (``_rpc``) for the product's
    ``provider`` and API ``_version``, the secrets its error messages must never show
    (``_redact``) and the limit of one call (``timeout``)."""

    provider: ClassVar[str]
    _version: ClassVar[str]

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        endpoint: str,
        clock: Callable[[], float],
        nonce: Callable[[], str],
    ) -> None:
        self._redact = (credentials.access_key_id, credentials.access_key_secret)
        self._rpc = AlibabaRpc(
            session,
            credentials,
            endpoint=endpoint,
            version=self._version,
            provider=self.provider,
            clock=clock,
            nonce=nonce,
        )

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        """The limit of one call (default ``providers._http.DEFAULT_TIMEOUT``)."""
        return self._rpc._timeout

    @timeout.setter
    def timeout(self, value: aiohttp.ClientTimeout) -> None:
        self._rpc._timeout = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self._rpc.base_url!r})"

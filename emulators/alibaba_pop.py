"""What the Alibaba POP (RPC-style) emulators share — machine translation
(:mod:`emulators.alibaba`) and MTS (:mod:`emulators.mts`).

``GET|POST /`` carries every action. Order of checks for a call: record → fault plan (delay,
bare HTTP, malformed) → signature, date, nonce (:class:`PopVerifier`) → version → action and
method → QPS → scripted code → the action. Refusals come in the POP error shape (Alibaba MT
spec, 'Common response / error format'), ``Recommend`` naming the product; throttling is per
action and per clock second (``qps``), HTTP 400 ``Throttling.User``.

A subclass names its ``_version``, ``_methods`` (action → HTTP method), ``_default_qps``,
``_product`` and ``_refuse`` (its own messages); sets ``faults`` (a :class:`PopFaults`) and
``strict_methods``; and answers the actions in ``_act``.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

from aiohttp import web

from emulators._server import GatewayFaults, LoopbackServer
from emulators.alibaba_pop_verify import (
    V2_COMMON,
    PopRefusal,
    PopVerifier,
    Verified,
    header_map,
    request_params,
)


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


@dataclass(frozen=True)
class Received:
    action: str
    method: str
    params: dict[str, str]  # business parameters (query + form; V2 common ones left out)
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    signature: str  # "v3" or "v2"
    at: float


@dataclass(frozen=True)
class _CodeFault:
    code: str
    status: int
    message: str | None


class PopFaults(GatewayFaults):
    """Planned misbehaviour. ``action`` may be ``"*"`` to match every action."""

    def code(
        self,
        action: str,
        code: str,
        *,
        status: int = 400,
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls answer error ``code`` in the POP error shape."""
        self._codes.setdefault(action, []).extend([_CodeFault(code, status, message)] * times)

    def throttle(self, action: str, times: int = 1) -> None:
        """The next ``times`` calls answer HTTP 400 ``Throttling.User``."""
        self.code(action, "Throttling.User", times=times)

    def http(
        self, action: str, status: int, *, times: int = 1, retry_after: float | None = None
    ) -> None:
        """The next ``times`` calls answer a bare HTTP ``status`` (no JSON)."""
        self._http.setdefault(action, []).extend([(status, retry_after)] * times)

    def _bare_http(self, planned: tuple[int, float | None]) -> tuple[int, str | None]:
        status, retry_after = planned
        return status, f"{retry_after:g}" if retry_after is not None else None


class PopEmulator(LoopbackServer):
    """An RPC API on ``endpoint``; read ``requests``, steer with ``faults``, ``qps`` and
    ``keys`` (access key id → secret, read at every request)."""

    _url_name = "endpoint"
    _version: ClassVar[str]
    _methods: ClassVar[dict[str, str]]  # action -> its HTTP method (``strict_methods``)
    _default_qps: ClassVar[dict[str, int]]
    _product: ClassVar[str]
    _refuse: ClassVar[Callable[..., PopRefusal]]
    _max_body: ClassVar[int] = 1024**2  # aiohttp's default
    # set by the subclass:
    faults: PopFaults
    strict_methods: bool  # True: an action only with its method in ``_methods``

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        clock: Callable[[], float],
        max_skew: float | None,
        nonce_window: float,
    ) -> None:
        self.keys: dict[str, str] = {access_key_id: access_key_secret}
        self.clock = clock
        self.verifier = PopVerifier(
            lambda key: self.keys.get(key),
            clock=lambda: self.clock(),
            max_skew=max_skew,
            nonce_window=nonce_window,
        )
        self.qps: dict[str, int] = dict(self._default_qps)
        self.requests: list[Received] = []
        self.endpoint = ""
        self._window: dict[tuple[str, int], int] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body)
        app.router.add_route("GET", "/", self._api)
        app.router.add_route("POST", "/", self._api)
        return app

    def requests_for(self, action: str) -> list[Received]:
        return [r for r in self.requests if r.action == action]

    # -- one call -------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        query = request.rel_url.raw_query_string
        headers = list(request.headers.items())
        received = self._record(request, query, headers, body)
        early = await self.faults._gateway(received.action)
        if early is not None:
            return early
        try:
            verified = self.verifier.verify(request.method, request.path, query, headers, body)
            self._route(verified, request.method)
            self._throttle(verified.action)
            payload = await self._answer(verified)
        except PopRefusal as refusal:
            return self._error(refusal, request.host)
        headers_out = {"x-acs-request-id": str(payload.get("RequestId", ""))}
        return web.json_response(payload, headers=headers_out)

    async def _answer(self, verified: Verified) -> dict[str, Any]:
        self._scripted_code(verified.action)
        return await self._act(verified)

    @abstractmethod
    async def _act(self, verified: Verified) -> dict[str, Any]:
        """The action's answer (a verified, routed, unthrottled call)."""

    def _record(
        self, request: web.Request, query: str, headers: list[tuple[str, str]], body: bytes
    ) -> Received:
        lowered = header_map(headers)
        params = request_params(query, headers, body)
        v3 = bool(lowered.get("authorization"))
        action = lowered.get("x-acs-action", "") if v3 else params.get("Action", "")
        if not v3:
            params = {k: v for k, v in params.items() if k not in V2_COMMON}
        received = Received(
            action=action.strip(),
            method=request.method,
            params=params,
            headers=dict(request.headers),
            body=body,
            signature="v3" if v3 else "v2",
            at=self.clock(),
        )
        self.requests.append(received)
        return received

    def _route(self, verified: Verified, method: str) -> None:
        if verified.version != self._version:
            raise self._refuse("InvalidVersion")
        expected = self._methods.get(verified.action)
        if expected is None or (self.strict_methods and method != expected):
            raise self._refuse("InvalidAction.NotFound", 404)

    def _throttle(self, action: str) -> None:
        limit = self.qps.get(action)
        if limit is None:
            return
        second = int(self.clock())
        self._window = {k: n for k, n in self._window.items() if k[1] == second}
        count = self._window.get((action, second), 0)
        if count >= limit:
            raise self._refuse("Throttling.User")
        self._window[(action, second)] = count + 1

    def _scripted_code(self, action: str) -> None:
        fault: _CodeFault | None = self.faults._pop(self.faults._codes, action)
        if fault is not None:
            raise self._scripted_error(action, fault)

    def _scripted_error(self, action: str, fault: _CodeFault) -> Exception:
        return self._refuse(fault.code, fault.status, fault.message)

    def _error(self, refusal: PopRefusal, host: str) -> web.Response:
        request_id = new_request_id()
        recommend = "https://api.alibabacloud.com/troubleshoot"
        body = {
            "RequestId": request_id,
            "HostId": host,
            "Code": refusal.code,
            "Message": refusal.message,
            "Recommend": f"{recommend}?q={quote(refusal.code)}&product={self._product}",
        }
        return web.json_response(
            body, status=refusal.status, headers={"x-acs-request-id": request_id}
        )

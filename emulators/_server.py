"""What every bundled provider emulator shares: an aiohttp app served on loopback, and the
fault plan that acts like a gateway in front of it.

:class:`LoopbackServer` starts ``app()`` on a free port (``start``/``close`` or ``async
with``) and keeps ``http://host:port`` in the attribute named by ``_url_name``
(``base_url``, or ``endpoint`` for the Alibaba-style emulators).

:class:`GatewayFaults` holds the "next ``times`` calls of ``action``" tables (``"*"``
matches every action) and answers what comes before the service: a delay, a bare HTTP
status, a body that is not JSON. :class:`CodeFaults` adds provider codes as plain values
and one ``retry_after`` setting (Xiangji, Rozetta).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from aiohttp import web


class LoopbackServer(ABC):
    """``app()`` on ``host:port`` (port 0: a free one)."""

    _url_name: ClassVar[str] = "base_url"  # the attribute that gets "http://host:port"
    _runner: web.AppRunner | None = None

    @abstractmethod
    def app(self) -> web.Application: ...

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        self._runner = web.AppRunner(self.app())
        try:
            await self._runner.setup()
            await web.TCPSite(self._runner, host, port).start()
        except BaseException:
            await self.close()
            raise
        setattr(self, self._url_name, f"http://{host}:{self._runner.addresses[0][1]}")
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class GatewayFaults:
    """Planned misbehaviour. ``action`` may be ``"*"`` to match every action."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._codes: dict[str, list[Any]] = {}
        self._http: dict[str, list[Any]] = {}
        self._malformed: dict[str, int] = {}
        self._delays: dict[str, float] = {}

    def malformed(self, action: str, times: int = 1) -> None:
        """The next ``times`` calls answer HTTP 200 with a body that is not JSON."""
        self._malformed[action] = self._malformed.get(action, 0) + times

    def delay(self, action: str, seconds: float) -> None:
        """Every call of ``action`` waits ``seconds`` first (0 removes the delay)."""
        if seconds > 0:
            self._delays[action] = seconds
        else:
            self._delays.pop(action, None)

    def _pop(self, table: dict[str, list[Any]], action: str) -> Any:
        for key in (action, "*"):
            if table.get(key):
                value = table[key].pop(0)
                if not table[key]:
                    del table[key]
                return value
        return None

    def _take_malformed(self, action: str) -> bool:
        for key in (action, "*"):
            if self._malformed.get(key):
                self._malformed[key] -= 1
                return True
        return False

    def _delay_for(self, action: str) -> float:
        return self._delays.get(action, self._delays.get("*", 0.0))

    def _bare_http(self, planned: Any) -> tuple[int, str | None]:
        """The status and ``Retry-After`` value of an entry of the ``_http`` table."""
        raise NotImplementedError

    async def _gateway(self, action: str) -> web.StreamResponse | None:
        """Wait the planned delay; then a planned bare HTTP answer or malformed body."""
        seconds = self._delay_for(action)
        if seconds:
            await asyncio.sleep(seconds)
        planned = self._pop(self._http, action)
        if planned is not None:
            status, retry_after = self._bare_http(planned)
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            text = f"HTTP {status} from the emulator"
            return web.Response(status=status, text=text, headers=headers)
        if self._take_malformed(action):
            return web.Response(text="<html>upstream error</html>", content_type="application/json")
        return None


class CodeFaults(GatewayFaults):
    """Codes are the provider's own numbers; ``retry_after`` goes with every bare HTTP
    answer from the moment it is set."""

    def clear(self) -> None:
        super().clear()
        self.retry_after: int | None = None

    def http(
        self, action: str, status: int = 502, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next ``times`` calls answer HTTP ``status`` (with ``Retry-After`` if given)."""
        self._http.setdefault(action, []).extend([status] * times)
        if retry_after is not None:
            self.retry_after = retry_after

    def code(self, action: str, code: int, times: int = 1) -> None:
        """The next ``times`` calls of ``action`` answer with provider code ``code``."""
        self._codes.setdefault(action, []).extend([code] * times)

    def _bare_http(self, planned: int) -> tuple[int, str | None]:
        return planned, str(self.retry_after) if self.retry_after else None

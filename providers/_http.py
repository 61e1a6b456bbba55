"""The transport shared by every provider client: one request, JSON back, or a
``ProviderError`` that says whether trying again may help."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from yarl import URL

from providers.errors import ErrorKind, ProviderError

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10)


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    provider: str,
    operation: str,
    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - aiohttp's own timeout
    **kwargs: Any,
) -> tuple[int, Any]:
    """Send one request; return ``(status, parsed JSON)``.

    Transport failures, 5xx, 408, 429 and 2xx bodies that are not JSON become RETRYABLE
    errors; a 4xx that is not JSON (a gateway's HTML page, an empty body) is PERMANENT;
    other 4xx bodies are returned so the caller's wire module can read the provider code.
    """

    def fail(code: str, message: str, retry_after: float | None = None) -> ProviderError:
        return ProviderError(provider, operation, code, message, ErrorKind.RETRYABLE, retry_after)

    try:
        async with session.request(method, url, timeout=timeout, **kwargs) as resp:
            body = await resp.read()
            status = resp.status
            retry_after = _retry_after(resp.headers.get("Retry-After"))
    except TimeoutError as exc:
        raise fail("timeout", "the provider did not answer in time") from exc
    except (aiohttp.ClientError, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise fail("transport", f"could not reach the provider ({type(exc).__name__})") from exc
    if status >= 500 or status in (408, 429):
        raise fail(f"http-{status}", "the provider is temporarily unavailable", retry_after)
    try:
        return status, json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past any sense
        if status >= 400:  # a gateway's page or nothing: asking again gets the same answer
            raise ProviderError(
                provider,
                operation,
                f"http-{status}",
                f"the provider's address answered HTTP {status} without its API's answer "
                "(a gateway, a proxy or a wrong base URL?)",
                ErrorKind.PERMANENT,
            ) from exc
        message = f"the provider answered HTTP {status} with a body that is not JSON"
        raise fail("bad-json", message) from exc


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None

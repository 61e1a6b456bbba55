"""Slack 429 handling that honours the whole ``Retry-After`` value.

slack_sdk's ``AsyncRateLimitErrorRetryHandler`` reads ``headers.get(name)[0]``; with
aiohttp's headers that is the first *character*, so ``Retry-After: 30`` waits 3 s and
is rate-limited again. This policy parses the full number (capped, so one step never
sleeps for minutes: the task is rescheduled instead once retries run out).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

MAX_WAIT_SECONDS = 60.0


def retry_after_seconds(headers: object) -> float:
    """``Retry-After`` in seconds from a header mapping (values str or list); 1 if absent."""
    items = headers.items() if hasattr(headers, "items") else []
    for name, value in items:
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return min(MAX_WAIT_SECONDS, max(0.0, float(str(raw).strip())))
            except ValueError:
                return 1.0
    return 1.0


class RateLimitRetry(AsyncRetryHandler):
    # How a wait is spent; a test swaps it to see each wait without spending it.
    sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("429 retry without a response")
        state.next_attempt_requested = True
        await self.sleep(retry_after_seconds(response.headers) + random.random() * 0.1)
        state.increment_current_attempt()


def rate_limited_for(exc: BaseException) -> float | None:
    """The ``Retry-After`` of a 429 the in-call retries gave up on (the step then waits
    that long before trying again); None for any other error."""
    if not isinstance(exc, SlackApiError):
        return None
    response = exc.response  # a SlackResponse; None where a test built the error bare
    if response is None or getattr(response, "status_code", None) != 429:
        return None
    return retry_after_seconds(response.headers)

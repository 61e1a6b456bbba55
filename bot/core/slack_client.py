"""Tolk's Slack Web API client, and what a Slack error means for the work.

``TolkWebClient`` is slack_sdk's ``AsyncWebClient`` with one change: every call's
arguments pass through ``bot.core.mrkdwn.fit_call`` first, so nothing Tolk posts can ping a
channel or break a Block Kit limit, whichever code built it.

``slack_failure`` sorts a Slack error the way ``providers.errors`` sorts a provider's:

- ``ELSEWHERE``: Tolk cannot write where the work came from (not invited, archived):
  the answer goes through the command's ``response_url`` or a DM instead.
- ``REFUSED``: Slack refused the message itself (``invalid_blocks``, ``msg_too_long``):
  a plainer message is sent instead; the same one would be refused forever.
- ``REVOKED``: the token no longer works in this workspace: nothing more can be said.
- ``RETRY``: 429, 5xx, timeouts and answers that are not JSON at all (a load balancer's
  HTML page): the step runs again later.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.core.mrkdwn import fit_call
from bot.core.slack_retry import RateLimitRetry


class TolkWebClient(AsyncWebClient):
    async def api_call(
        self,
        api_method: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncSlackResponse:
        if json is not None:
            json = fit_call(api_method, json)
        if params is not None:
            params = fit_call(api_method, params)
        return await super().api_call(api_method, json=json, params=params, **kwargs)


def slack_client(
    token: str | None, base_url: str, session: aiohttp.ClientSession | None = None
) -> TolkWebClient:
    return TolkWebClient(
        token=token,
        base_url=base_url,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitRetry(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class SlackFailure(StrEnum):
    ELSEWHERE = "elsewhere"
    REFUSED = "refused"
    REVOKED = "revoked"
    RETRY = "retry"


NOT_JSON = "not_json"  # the code given to an answer that carried no Slack error at all

_ELSEWHERE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "thread_not_found",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "ekm_access_denied",
        "cannot_reply_to_message",
        "user_not_in_channel",
    }
)
_REFUSED = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "too_many_attachments",
        "invalid_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "no_text",
        "invalid_arguments",
        "file_deleted",
        "file_not_found",
    }
)
_REVOKED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "org_login_required",
        "team_access_not_granted",
        "missing_scope",
        "not_allowed_token_type",
    }
)


def slack_error_code(exc: BaseException) -> str:
    """The ``error`` of a Slack answer; ``not_json`` when the answer was not Slack's JSON
    (slack_sdk then carries the raw HTTP response or a string, not a dict)."""
    response = getattr(exc, "response", None)
    data = getattr(response, "data", response)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return NOT_JSON


def slack_failure(exc: BaseException) -> SlackFailure | None:
    """What a failed Slack call means for the task (module docstring); None when
    ``exc`` is not a Slack failure at all."""
    if isinstance(exc, SlackApiError):
        code = slack_error_code(exc)
        if code in _ELSEWHERE:
            return SlackFailure.ELSEWHERE
        if code in _REFUSED:
            return SlackFailure.REFUSED
        if code in _REVOKED:
            return SlackFailure.REVOKED
        return SlackFailure.RETRY
    if isinstance(exc, SlackRequestError | aiohttp.ClientError | TimeoutError):
        return SlackFailure.RETRY
    return None

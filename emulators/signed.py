"""Requests as Slack sends them: signed slash commands, events and interactions.

Used by the sandbox console, the tests and the benchmarks. The signature is computed
here, independently of Bolt's verifier, so a bug on one side cannot hide the other.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

_counter = itertools.count(1)


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: str, *, timestamp: float | None = None, **extra: str
) -> dict[str, str]:
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
        **extra,
    }


def command_body(
    command: str,
    text: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0GENERAL",
    team: str = "T0TOLK",
    response_url: str = "https://hooks.slack.com/commands/T0TOLK/1/x",
    trigger_id: str | None = None,
) -> str:
    n = next(_counter)
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "tolk",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0TOLK",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or f"{n}.{int(time.time())}.{n:032x}",
        }
    )


def event_body(event: dict[str, Any], *, team: str = "T0TOLK", event_id: str | None = None) -> str:
    n = next(_counter)
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "api_app_id": "A0TOLK",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{n:010d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": "U0TOLKBOT", "is_bot": True}],
        }
    )


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    body: str,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    timestamp: float | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    all_headers = {
        "Content-Type": content_type,
        **signed_headers(secret, body, timestamp=timestamp),
    }
    all_headers.update(headers or {})
    async with session.post(url, data=body.encode(), headers=all_headers) as resp:
        return resp.status, await resp.text()


def interaction_body(payload: dict[str, Any]) -> str:
    """Shortcuts, button clicks and modal submissions: form-encoded ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload)})


def block_actions_payload(
    message: dict[str, Any],
    action: dict[str, Any],
    *,
    user: str,
    channel: str,
    trigger_id: str,
    response_url: str,
    team: str = "T0TOLK",
) -> dict[str, Any]:
    """A press on ``action`` (a button or menu choice) of ``message``, as Slack reports it."""
    container = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": False,
        **({"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}),
    }
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0TOLK",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": trigger_id,
        "team": {"id": team, "domain": "tolk"},
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "response_url": response_url,
        "actions": [{"block_id": "actions", "action_ts": f"{time.time():.6f}", **action}],
    }

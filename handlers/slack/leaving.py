"""A workspace removes Tolk: ``app_uninstalled``, or ``tokens_revoked`` naming its bot.

Slack sends both (in no promised order) when an admin removes the app. Either one is
enough: the workspace's installation and provider keys are deleted and its unsettled
tasks end without a message (``handlers.ports.Departures``). With one workspace
(``SLACK_BOT_TOKEN``) there is nothing stored to delete, and the events are only
acknowledged.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers import ports

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    app.event("app_uninstalled")(on_uninstalled)
    app.event("tokens_revoked")(on_tokens_revoked)


async def on_uninstalled(body: dict[str, Any], context: dict[str, Any]) -> None:
    await _leave(body, context, "app_uninstalled")


async def on_tokens_revoked(
    event: dict[str, Any], body: dict[str, Any], context: dict[str, Any]
) -> None:
    if (event.get("tokens") or {}).get("bot"):  # user tokens: Tolk holds none
        await _leave(body, context, "tokens_revoked")


async def _leave(body: dict[str, Any], context: dict[str, Any], why: str) -> None:
    departures = ports.departures(context)
    team = body.get("team_id") or context.get("team_id")
    if departures is None or not isinstance(team, str):
        log.info("%s: one workspace, nothing stored to delete", why)
        return
    ended = await departures.leave(team)
    log.info("%s: workspace %s left; %d unsettled tasks ended", why, team, ended)

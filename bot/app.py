"""The one place that builds the Bolt ``AsyncApp``; nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.core import messages
from bot.core.logs import quiet_loggers
from bot.wiring import Services, slack_ports, workspace_ports
from handlers.slack import register_all
from handlers.slack.spending import bind_request

#: Set in a request's context by the first middleware of Tolk's own, which runs only after
#: every built-in one — signature verification among them — let the request through.
CHECKED = "tolk_checked"


def build_app(
    services: Services, *, signing_secret: str | None = None, verified_upstream: bool = False
) -> AsyncApp:
    """A Bolt app on the shared Slack client. ``process_before_response`` makes Bolt
    answer when the listener returns — our listeners only parse, record and ack, so
    that is fast, and it avoids Bolt's 10 ms ack-polling loop.

    ``verified_upstream``: whoever hands requests to this app has checked their signatures
    on the raw bytes already (``bot.runtime``'s ``/slack/events``), so Bolt's own
    verification — the same check a second time — is off. Otherwise Bolt verifies."""
    secret = signing_secret or services.settings.slack_signing_secret
    many = services.workspaces is not None  # each request carries its workspace's token
    app = AsyncApp(
        client=services.slack,
        signing_secret=secret,
        request_verification_enabled=secret is not None and not verified_upstream,
        process_before_response=True,
        logger=logging.getLogger("bolt"),
        authorize=services.workspaces.authorize if services.workspaces is not None else None,  # type: ignore[arg-type]  # Bolt handles None: not installed
        user_facing_authorize_error_message=(
            messages.not_installed(services.links.public_url) if many else None
        ),
    )
    quiet_loggers()  # Bolt just gave its verification logger the base logger's level

    async def on_error(error: Exception, body: dict[str, Any], context: dict[str, Any]) -> None:
        """A listener failed (the store was locked past its wait, say): nothing was
        recorded, so tell the person to try again rather than leave Slack's bare error.
        Only for a request that passed every check: an error before that (in a built-in
        middleware) is about a body nobody vouched for, and its ``response_url`` could be
        anyone's — nothing is sent there."""
        logging.getLogger("bolt").error("listener failed: %r", error)
        if not context.get(CHECKED):
            return
        url = body.get("response_url") if isinstance(body, dict) else None
        if url:
            try:
                await services.slack_webhook(url, messages.try_again())
            except Exception:
                logging.getLogger("bolt").warning("could not tell the person to try again")

    app.use(InjectPorts(services, many=many))
    app.error(on_error)
    register_all(app)
    return app


class InjectPorts(AsyncMiddleware):
    """Each listener's ports (``handlers.ports``), read from what the wiring built — with
    many workspaces, as the request's workspace sees them — and the request bound for
    ``within_spend`` (``bind_request``). A middleware class of its own, not a function:
    Bolt calls a function middleware through its argument injection, which for every
    request cost more than the ports themselves."""

    def __init__(self, services: Services, *, many: bool) -> None:
        self.services, self.many = services, many

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        context = req.context
        team = context.get("team_id") or context.get("enterprise_id")
        if self.many and team:
            context.update(await workspace_ports(self.services, team))
        else:
            context.update(slack_ports(self.services))
        context[CHECKED] = True
        bind_request(context)
        return await next()

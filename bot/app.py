"""The one place that builds the Bolt ``AsyncApp``; nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import messages
from bot.services import Services
from handlers import register_all


def build_app(services: Services, *, signing_secret: str | None = None) -> AsyncApp:
    """A Bolt app on the shared Slack client. ``process_before_response`` makes Bolt
    answer when the listener returns — our listeners only parse, record and ack, so
    that is fast, and it avoids Bolt's 10 ms ack-polling loop."""
    secret = signing_secret or services.settings.slack_signing_secret
    app = AsyncApp(
        client=services.slack,
        signing_secret=secret,
        request_verification_enabled=secret is not None,
        process_before_response=True,
        logger=logging.getLogger("bolt"),
    )

    async def inject_services(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context["services"] = services
        await next()

    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        """A listener failed (the store was locked past its wait, say): nothing was
        recorded, so tell the person to try again rather than leave Slack's bare error."""
        logging.getLogger("bolt").error("listener failed: %r", error)
        url = body.get("response_url") if isinstance(body, dict) else None
        if url:
            try:
                await services.slack_webhook(url, messages.try_again())
            except Exception:
                logging.getLogger("bolt").warning("could not tell the person to try again")

    app.use(inject_services)
    app.error(on_error)
    register_all(app)
    return app

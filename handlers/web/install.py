"""Installing Tolk: ``GET /slack/install`` and ``GET /slack/oauth_redirect``, Slack's OAuth
v2 flow (``bot.install``) served on the web app.

``/slack/install`` redirects (302) to Slack's consent page, with a state that is good
once for ten minutes and a cookie that ties it to this browser; Slack sends the browser
back to ``/slack/oauth_redirect``, which finishes the install and answers with a page
that says it is done, or why it is not. Neither route answers ``HEAD`` (a state would
be issued for nothing).
"""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow


def add_install_routes(web_app: web.Application, flow: AsyncOAuthFlow) -> None:
    """Mount the install routes of ``flow`` (its ``install_path`` and
    ``redirect_uri_path``) on ``web_app``."""

    async def install(request: web.Request) -> web.Response:
        response = await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )
        response.headers["Cache-Control"] = "no-store"  # a new state every time
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def redirect(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    web_app.router.add_get(flow.install_path, install, allow_head=False)
    web_app.router.add_get(flow.redirect_uri_path, redirect, allow_head=False)

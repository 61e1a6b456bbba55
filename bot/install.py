"""Installing Tolk in a workspace: Slack's OAuth v2 flow, on Bolt's ``AsyncOAuthFlow``.

``GET /slack/install`` redirects (302) to Slack's consent page with a fresh state, and
sets the state's cookie (Bolt's check that the browser coming back is the one that
started). ``GET /slack/oauth_redirect`` checks the state (``TolkStateStore``: ten
minutes, once), exchanges the code with ``oauth.v2.access`` through ``SLACK_API_URL``,
and stores the installation sealed (``TolkInstallationStore``) with its refresh token
and expiry when the app rotates tokens. The pages it answers with say what happened;
a failure says why (the state expired, was used, was never issued here; Slack's
refusal by its code) and links back to the start.

Bolt's ``handle_callback`` is replaced by one that tells those reasons apart (Bolt's
gives ``invalid_state`` for all three and ``invalid_code`` for every refusal of
``oauth.v2.access``); the code exchange sends the app's credentials in the form
rather than with HTTP Basic auth, and dates the token's expiry by the token service's
clock; a ``?team=`` on the install link reaches Slack's URL only when it is a Slack id.
The rest — settings, the authorize URL, the install redirect and its cookie, the
callback options — is Bolt's.

Give Bolt's ``AsyncApp`` the token service's ``authorize`` (``Workspaces.authorize``),
not this flow: Bolt refuses both at once, and the routes are mounted on the web app
(``handlers.web.install``).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import DEFAULT_SLACK_API_URL, Settings
from bot.core import messages
from bot.core.installations import STATE_SECONDS, StateCheck, TolkStateStore
from bot.core.slack_client import slack_error_code
from bot.core.workspaces import REFRESH_MARGIN, Workspaces

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
_SLACK_ID = re.compile(r"[TE][A-Z0-9]{2,30}")

# manifest.yml's oauth_config.scopes.bot, in its order (tests/handlers/web/test_install.py keeps
# them equal: the manifest is not shipped with the package, so it is not read here).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "files:read",
    "channels:history",
    "groups:history",
    "reactions:read",
    "users:read",
    "im:write",
    "im:history",
)

# --- what the pages say: ``bot.core.messages.install`` ------------------------------------


def failure(reason: str) -> tuple[int, str]:
    """The status and sentence of a failed install; an unknown ``reason`` is Slack's
    error code (from the redirect's ``error`` or from ``oauth.v2.access``)."""
    return messages.install_failure(
        reason, minutes=STATE_SECONDS // 60, redirect=f"TOLK_PUBLIC_URL{REDIRECT_PATH}"
    )


# --- the flow -----------------------------------------------------------------------------


def authorization_url(slack_api_url: str) -> str:
    """Slack's consent page; with ``SLACK_API_URL`` elsewhere (an emulator), the same
    host's ``/oauth/v2/authorize``."""
    parts = urlsplit(slack_api_url)
    if parts.hostname in (None, "slack.com") or slack_api_url == DEFAULT_SLACK_API_URL:
        return SLACK_AUTHORIZE_URL
    return f"{parts.scheme}://{parts.netloc}/oauth/v2/authorize"


def oauth_flow(settings: Settings, workspaces: Workspaces) -> TolkOAuthFlow:
    """The install flow of ``settings`` (``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``),
    storing into ``workspaces``' installations."""
    if not settings.slack_client_id or not settings.slack_client_secret:
        raise ValueError("installing needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
    redirect_uri = None
    if settings.public_url:
        redirect_uri = settings.public_url.rstrip("/") + REDIRECT_PATH
    oauth_settings = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=redirect_uri,
        install_path=INSTALL_PATH,
        install_page_rendering_enabled=False,  # straight to Slack's page: one click less
        redirect_uri_path=REDIRECT_PATH,
        callback_options=AsyncCallbackOptions(success=_success, failure=_failure),
        authorization_url=authorization_url(settings.slack_api_url),
        installation_store=workspaces.installations,
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=REFRESH_MARGIN // 60,
        state_store=TolkStateStore(workspaces.store, clock=workspaces.clock),
        state_expiration_seconds=STATE_SECONDS,
        logger=log,
    )
    return TolkOAuthFlow(
        settings=oauth_settings, client=workspaces.oauth_client, clock=workspaces.clock
    )


class TolkOAuthFlow(AsyncOAuthFlow):
    """Bolt's flow with the callback's reasons told apart (module docstring)."""

    def __init__(
        self,
        *,
        settings: AsyncOAuthSettings,
        client: AsyncWebClient,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(client=client, logger=log, settings=settings)
        self._clock = clock

    async def build_authorize_url(self, state: str, request: AsyncBoltRequest) -> str:
        """Slack's consent page for ``state``; ``?team=T…`` on the install link picks the
        workspace, and is dropped unless it is a Slack id (Bolt puts it in the URL as
        it comes)."""
        teams = request.query.get("team") or []
        team = teams[0] if teams and _SLACK_ID.fullmatch(teams[0]) else None
        return self.settings.authorize_url_generator.generate(state=state, team=team)

    async def handle_callback(self, request: AsyncBoltRequest) -> BoltResponse:
        def first(name: str) -> str | None:
            values = request.query.get(name)
            return values[0] if values else None

        error = first("error")
        if error is not None:
            return await self._fail(request, error[:100])
        state = first("state")
        if not self.settings.state_utils.is_valid_browser(state, request.headers):
            return await self._fail(request, "invalid_browser")
        store = self.settings.state_store
        if isinstance(store, TolkStateStore):
            checked = await store.check(state)
        else:
            valid = await store.async_consume(state or "")
            checked = StateCheck.VALID if valid else StateCheck.UNKNOWN
        if checked is not StateCheck.VALID:
            return await self._fail(request, f"state_{checked}")
        code = first("code")
        if not code:
            return await self._fail(request, "missing_code")
        installation = await self.exchange(code)
        if isinstance(installation, str):
            return await self._fail(request, installation)
        try:
            await self.store_installation(request, installation)
        except BoltError as exc:  # the page says so; the log has the cause
            log.error("A Slack installation could not be stored", exc_info=exc.__cause__)
            return await self._fail(request, "storage_error", exc)
        log.info(
            "Tolk installed in %s (enterprise %s, org-wide %s)",
            installation.team_id,
            installation.enterprise_id,
            installation.is_enterprise_install,
        )
        return await self.success_handler(
            AsyncSuccessArgs(
                request=request,
                installation=installation,
                settings=self.settings,
                default=self.default_callback_options,
            )
        )

    async def _fail(
        self, request: AsyncBoltRequest, reason: str, error: Exception | None = None
    ) -> BoltResponse:
        return await self.failure_handler(
            AsyncFailureArgs(
                request=request,
                reason=reason,
                error=error,
                suggested_status_code=failure(reason)[0],
                settings=self.settings,
                default=self.default_callback_options,
            )
        )

    async def run_installation(self, code: str) -> Installation | None:
        installation = await self.exchange(code)
        return None if isinstance(installation, str) else installation

    async def exchange(self, code: str) -> Installation | str:
        """``oauth.v2.access`` for ``code``: the installation, or why not (Slack's error
        code, or ``slack_unreachable``). The app's credentials go in the form."""
        form = {
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
            "code": code,
        }
        if self.settings.redirect_uri:
            form["redirect_uri"] = self.settings.redirect_uri
        try:
            answer = await self.client.api_call("oauth.v2.access", data=form)
            bot_token = answer.get("access_token")
            is_enterprise_install = bool(answer.get("is_enterprise_install"))
            who: dict[str, Any] = {}
            if bot_token:  # oauth.v2.access does not say the bot id
                who = dict((await self.client.auth_test(token=bot_token)).data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            reason = slack_error_code(exc)
            log.warning("Slack refused an install: oauth.v2.access said %s", reason)
            return reason
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("An install could not reach Slack: %s", type(exc).__name__)
            return "slack_unreachable"
        enterprise = answer.get("enterprise") or {}
        team = answer.get("team") or {}
        installer = answer.get("authed_user") or {}
        expires_in = answer.get("expires_in")
        return Installation(
            app_id=answer.get("app_id"),
            enterprise_id=enterprise.get("id"),
            enterprise_name=enterprise.get("name"),
            enterprise_url=who.get("url") if is_enterprise_install else None,
            team_id=team.get("id"),
            team_name=team.get("name"),
            bot_token=bot_token,
            bot_id=who.get("bot_id"),
            bot_user_id=answer.get("bot_user_id"),
            bot_scopes=answer.get("scope") or "",
            bot_refresh_token=answer.get("refresh_token"),
            bot_token_expires_at=(
                int(self._clock() + float(expires_in)) if expires_in is not None else None
            ),
            user_id=installer.get("id") or "",
            user_token=installer.get("access_token"),
            user_scopes=installer.get("scope") or "",
            user_refresh_token=installer.get("refresh_token"),
            user_token_expires_at=(
                int(self._clock() + float(installer["expires_in"]))
                if installer.get("expires_in") is not None
                else None
            ),
            is_enterprise_install=is_enterprise_install,
            token_type=answer.get("token_type"),
            installed_at=self._clock(),
        )

    async def store_installation(
        self, request: AsyncBoltRequest, installation: Installation
    ) -> None:
        try:
            await self.settings.installation_store.async_save(installation)
        except Exception as exc:
            raise BoltError("the installation could not be stored") from exc


# --- the pages ----------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Tolk</title></head>
<body><h1>{title}</h1>
<p id="tolk-install-{kind}">{text}</p>
<p>{links}</p></body></html>
"""


def _page(
    settings: AsyncOAuthSettings, status: int, kind: str, title: str, text: str, links: str
) -> BoltResponse:
    body = _PAGE.format(title=html.escape(title), kind=kind, text=html.escape(text), links=links)
    return BoltResponse(
        status=status,
        body=body,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # the URL carries the code and the state
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Set-Cookie": settings.state_utils.build_set_cookie_for_deletion(),
        },
    )


def _link(url: str, text: str) -> str:
    return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'


async def _success(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    where = installation.team_name or installation.enterprise_name or "your workspace"
    team, app = installation.team_id, installation.app_id
    links = []
    if team and app:
        links.append(_link(f"slack://app?team={team}&id={app}", messages.OPEN_SLACK))
        links.append(_link(f"https://app.slack.com/client/{team}", messages.OPEN_IN_BROWSER))
    elif installation.enterprise_url:
        links.append(_link(installation.enterprise_url, messages.OPEN_IN_BROWSER))
    else:
        links.append(_link("slack://open", messages.OPEN_SLACK))
    return _page(
        args.settings,
        200,
        "done",
        messages.INSTALLED_TITLE,
        messages.installed_text(where),
        " or ".join(links),
    )


async def _failure(args: AsyncFailureArgs) -> BoltResponse:
    status, text = failure(args.reason)
    log.info("An install failed: %s", args.reason)
    again = _link(args.settings.install_path, messages.START_AGAIN)
    return _page(args.settings, status, "failed", messages.FAILED_TITLE, text, again)

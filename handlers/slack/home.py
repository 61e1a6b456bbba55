"""App Home: the person's pending and recent tasks, the quota left per service, and the
settings of the channels they work in — published each time they open the Home tab.
Tolk's admins also see the workspace's own provider keys (when and by whom each was set,
never a key) and the button to the form that sets them (``provider_keys.py``).

Links to a task's thread use Slack's archive permalink form
``https://<workspace>.slack.com/archives/C…/p<ts without the dot>``, which the desktop
and mobile apps open at the message. It needs the workspace URL, which no event
carries: it comes from ``auth.test`` — Bolt's own answer when the app is installed
with OAuth (``context.authorize_result.url``), else one ``auth.test`` call per process
and workspace, kept for the life of the process. So a link costs no call per task or
per opening (``chat.getPermalink`` would be one per task). If that fails, the link is
the documented ``https://slack.com/app_redirect?channel=C…&team=T…``, which opens the
channel (``app_redirect`` has no parameter for a message).

Publishing is a full replace, so a Slack redelivery of the event publishes the same
view again, which is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import messages
from bot.core.review import reviewers
from bot.core.tasks import Task
from handlers import ports
from handlers.ports import ChannelSettings, QuotaReader, SlackConfig, TaskDesk
from handlers.slack.tolk import workspace_admin

log = logging.getLogger(__name__)

TASKS_READ = 100  # the user's newest tasks, of which are shown:
PENDING_SHOWN = 20
RECENT_SHOWN = 10
CHANNELS_SHOWN = 10
QUOTA_SECONDS = 1.5  # Slack wants the event answered within 3 s; then the last reading

_workspace_urls: dict[tuple[str, str], str] = {}  # (Slack API base, team id) → workspace URL


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(on_home_opened)


async def on_home_opened(event: dict[str, Any], context: dict[str, Any]) -> None:
    if event.get("tab", "home") != "home":  # the Messages tab opens this event too
        return
    await publish(context, event["user"])


async def publish(context: dict[str, Any], user: str, *, live_quota: bool = True) -> None:
    """Publish ``user``'s Home tab. ``live_quota=False``: with the last quota reading,
    asking no provider (a refresh after a change, inside a request Slack times)."""
    slack, config = ports.slack(context), ports.config(context)
    url = await find_workspace_url(slack, context)
    view = await home_view(
        ports.desk(context),
        ports.channels(context),
        config,
        ports.quota(context),
        user,
        workspace_url=url,
        live_quota=live_quota,
        keys=await keys_section(context, user),
        review=await review_lines(context, user, url),
    )
    await slack.views_publish(user_id=user, view=view)


async def review_lines(context: dict[str, Any], user: str, url: str | None) -> list[str]:
    """What waits for ``user``'s decision: results of their own tasks, of tasks they
    review, or, for an admin, every task under review in the workspace."""
    waiting = await ports.desk(context).awaiting_review(team_of(context) or "")
    if not waiting:
        return []
    admin = await is_admin(ports.slack(context), ports.config(context), user)
    return [
        messages.home_review_line(task.id, len(left), task.place.channel, thread_link(task, url))
        for task, left in waiting
        if admin or user == task.place.user or user in reviewers(task)
    ][:PENDING_SHOWN]


async def is_admin(slack: AsyncWebClient, config: SlackConfig, user: str) -> bool:
    """Tolk's admins: the ``TOLK_ADMINS`` list when it is set, else the workspace's admins
    and owners (``users.info``; no when Slack cannot say)."""
    if config.admins:
        return user in config.admins
    return await workspace_admin(slack, user)


def team_of(context: dict[str, Any], body: dict[str, Any] | None = None) -> str | None:
    """The workspace a request came from (Bolt read it from the signed body)."""
    team = context.get("team_id") or ((body or {}).get("user") or {}).get("team_id")
    return str(team) if team else None


def shared_providers(config: SlackConfig) -> list[str]:
    """Providers whose operator keys serve a workspace that has not set its own."""
    if not config.shared_provider_keys:
        return []
    on = {"xiangji": config.xiangji, "alibaba": config.alibaba, "rozetta": config.rozetta}
    return [provider for provider, is_on in on.items() if is_on]


async def keys_section(context: dict[str, Any], user: str) -> list[dict[str, Any]]:
    """The provider keys section, for an admin of a workspace Tolk keeps keys for."""
    keyring, team = ports.provider_keys(context), team_of(context)
    config = ports.config(context)
    if keyring is None or team is None or not await is_admin(ports.slack(context), config, user):
        return []
    try:
        summary = await keyring.summary(team)
    except Exception:  # the Home tab still shows the tasks
        log.warning("App Home: the provider keys of %s could not be read", team, exc_info=True)
        return []
    return messages.provider_keys_home(summary, shared_providers(config))


async def home_view(
    desk: TaskDesk,
    channels: ChannelSettings,
    config: SlackConfig,
    quota: QuotaReader | None,
    user: str,
    *,
    workspace_url: str | None,
    live_quota: bool = True,
    keys: list[dict[str, Any]] | None = None,
    review: list[str] | None = None,
) -> dict[str, Any]:
    now = desk.now()
    tasks = await desk.for_person(user, limit=TASKS_READ)
    pending = [t for t in tasks if not t.final][:PENDING_SHOWN]
    recent = [t for t in tasks if t.final][:RECENT_SHOWN]
    shown = list(dict.fromkeys(t.place.channel for t in [*pending, *recent]))[:CHANNELS_SHOWN]
    channel_lines = [
        messages.home_channel_line(
            channel, await channels.channel_config(channel), config.quota_threshold
        )
        for channel in shown
    ]
    return messages.home_view(
        pending=[_line(t, now, workspace_url) for t in pending],
        recent=[_line(t, now, workspace_url) for t in recent],
        quota=messages.home_quota_lines(await _quota(quota, live=live_quota)),
        channels=channel_lines,
        updated_at=now,
        keys=keys or (),
        review=review or (),
    )


async def _quota(quota: QuotaReader | None, *, live: bool = True) -> dict[str, int | None] | None:
    """Service → count left, read now; the last reading if the provider is slow (or
    ``live`` is false)."""
    if quota is None:
        return None
    try:
        if live:
            return await asyncio.wait_for(quota.read_all(), QUOTA_SECONDS)
    except TimeoutError:
        log.warning(
            "App Home: the quota read took over %.1f s; showing the last one", QUOTA_SECONDS
        )
    except Exception:  # the Home tab still shows the tasks
        log.warning("App Home: reading the quota failed", exc_info=True)
    try:
        last = await quota.last_reading()
        return {name: _count(reading.get("left")) for name, reading in last.items()}
    except Exception:
        log.warning("App Home: the last quota reading is not available", exc_info=True)
        return None


def _line(task: Task, now: float, workspace_url: str | None) -> str:
    return messages.home_task_line(
        task.id,
        task.operation.split(".")[-1].replace("_", " "),
        str(task.state),
        max(0.0, now - task.created_at),
        task.place.channel,
        thread_link(task, workspace_url),
        removed=bool(task.notes.get("deleted_by")),
    )


def thread_link(task: Task, workspace_url: str | None) -> str | None:
    """Where the task's answers are: its parent message, or the answer itself."""
    sent = task.notes.get("sent", {})
    ts = task.place.thread_ts or sent.get(f"{task.id}:message")
    channel = task.place.channel
    if not ts or ts == "response_url":  # an answer Slack posted for Tolk has no link
        return None
    if workspace_url:
        return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    query = {"channel": channel, **({"team": task.place.team} if task.place.team else {})}
    return f"https://slack.com/app_redirect?{urlencode(query)}"


def _count(left: float | None) -> int | None:
    return None if left is None else int(left)


async def find_workspace_url(slack: AsyncWebClient, context: Any) -> str | None:
    """``https://<workspace>.slack.com/``: from Bolt's authorization when it has it, else
    from one ``auth.test`` per process and workspace."""
    known = getattr(context.get("authorize_result"), "url", None)
    if isinstance(known, str) and known.startswith(("https://", "http://")):
        return known
    key = (slack.base_url, str(context.get("team_id") or ""))
    if key not in _workspace_urls:
        try:
            resp = await slack.auth_test()
        except SlackApiError as exc:
            log.warning("App Home: auth.test failed (%s); linking to channels", exc)
            return None
        url = resp.get("url")
        if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            return None
        _workspace_urls[key] = url
    return _workspace_urls[key]

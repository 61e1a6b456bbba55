"""A workspace's own provider keys, set by Tolk's admins from the Home tab.

The Home tab's "Provider keys" button (``PROVIDER_KEYS_OPEN``) opens the form
(``views.open``); its submission (``PROVIDER_KEYS_MODAL``) stores the keys of every
provider whose boxes were filled, each provider's replacing what it had, or — when any
box is wrong — stores nothing and marks the boxes (``response_action: errors``). A
provider's Remove (``PROVIDER_KEYS_REMOVE``, in the form) forgets its keys and redraws
the form. After a change the admin's Home tab is published again, with the last quota
reading so no provider is asked inside Slack's 3 seconds.

Tolk's admins only (``home.is_admin``: ``TOLK_ADMINS`` when set, else the workspace's
admins and owners), checked on every request: anyone else's click opens a form saying
so, and their submission or Remove changes nothing. The workspace is the one Bolt read
from the signed request, never something the form carries.

A stored key never comes back: the form and the Home tab show only when and by whom a
provider's keys were set; log lines name providers and fields, never a value.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.core import messages
from bot.core.provider_keys import PROVIDERS, KeysRefused, check_keys
from handlers import ports
from handlers.slack.home import is_admin, publish, shared_providers, team_of

log = logging.getLogger(__name__)

FIRST_BOX = "xiangji.user_key"  # where an error about the whole form is shown


def register(app: AsyncApp) -> None:
    app.action(messages.PROVIDER_KEYS_OPEN)(on_open)
    app.view(messages.PROVIDER_KEYS_MODAL)(on_submit)
    app.action(messages.PROVIDER_KEYS_REMOVE)(on_remove)


async def on_open(ack: AsyncAck, body: dict[str, Any], context: dict[str, Any]) -> None:
    await ack()  # nothing is recorded here: the form opens, its submission records
    slack, config = ports.slack(context), ports.config(context)
    keyring, team, user = ports.provider_keys(context), team_of(context, body), body["user"]["id"]
    if keyring is None or team is None:
        log.warning("provider keys: %s pressed the button, but Tolk keeps no keys here", user)
        return
    if await is_admin(slack, config, user):
        view = messages.provider_keys_modal(await keyring.summary(team), shared_providers(config))
    else:
        log.warning("provider keys: %s of %s is not an admin; the form was refused", user, team)
        view = messages.provider_keys_admins_only(sorted(config.admins))
    await slack.views_open(trigger_id=body["trigger_id"], view=view)


async def on_submit(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]
) -> None:
    keyring, team, user = ports.provider_keys(context), team_of(context, body), body["user"]["id"]
    if (
        keyring is None
        or team is None
        or not await is_admin(ports.slack(context), ports.config(context), user)
    ):
        log.warning("provider keys: a submission by %s of %s was refused", user, team)
        await ack(response_action="errors", errors={FIRST_BOX: messages.provider_keys_not_admin()})
        return
    checked: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    for provider, typed in _typed(view).items():
        try:
            checked[provider] = check_keys(provider, typed)
        except KeysRefused as exc:
            for field, problem in exc.errors.items():
                errors[f"{provider}.{field}"] = messages.provider_key_problem(
                    provider, field, problem
                )
    if errors:
        log.info("provider keys: a submission by %s was refused: %s", user, ", ".join(errors))
        await ack(response_action="errors", errors=errors)
        return
    at = ports.desk(context).now()
    for provider, values in checked.items():
        await keyring.set(team, provider, values, by=user, at=at)
    await ack()  # the form closes once the keys are stored
    if checked:
        await _refresh_home(context, user)


def _typed(view: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Provider → field → what was typed, for the providers with any box filled."""
    values = (view.get("state") or {}).get("values") or {}
    typed: dict[str, dict[str, str]] = {}
    for provider, spec in PROVIDERS.items():
        boxes = {
            field: str(
                (values.get(f"{provider}.{field}") or {}).get("value", {}).get("value") or ""
            )
            for field in spec.fields
        }
        if any(v.strip() for v in boxes.values()):
            typed[provider] = boxes
    return typed


async def on_remove(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: dict[str, Any]
) -> None:
    slack, config = ports.slack(context), ports.config(context)
    keyring, team, user = ports.provider_keys(context), team_of(context, body), body["user"]["id"]
    provider = str(action.get("value") or "")
    if (
        keyring is None
        or team is None
        or provider not in PROVIDERS
        or not await is_admin(slack, config, user)
    ):
        log.warning("provider keys: %s of %s may not remove %r; refused", user, team, provider)
        await ack()
        return
    removed = await keyring.remove(team, provider)
    await ack()
    log.info("provider keys: %s removed %s of %s (%s)", user, provider, team, removed)
    shown = body.get("view") or {}
    if shown.get("id"):
        modal = messages.provider_keys_modal(await keyring.summary(team), shared_providers(config))
        try:
            await slack.views_update(view_id=shown["id"], hash=shown.get("hash"), view=modal)
        except SlackApiError as exc:  # the form was closed, or changed meanwhile
            log.warning("provider keys: the form could not be redrawn: %s", exc)
    await _refresh_home(context, user)


async def _refresh_home(context: dict[str, Any], user: str) -> None:
    try:
        await publish(context, user, live_quota=False)
    except SlackApiError as exc:  # the keys are stored; the next opening shows them
        log.warning("provider keys: the Home tab of %s could not be refreshed: %s", user, exc)

"""What every handler does after parsing: record the task once, and nudge the poller."""

from __future__ import annotations

from typing import Any

from bot.services import Services
from bot.tasks import Item, Place, Task, new_task_id


async def record_task(
    services: Services,
    *,
    dedupe_key: str,
    place: Place,
    provider: str,
    operation: str,
    request: dict[str, Any],
    items: tuple[Item, ...],
) -> tuple[Task, bool]:
    """Create the task unless its dedupe key exists; start work at once if new."""
    now = services.clock()
    task = Task(
        id=new_task_id(),
        dedupe_key=dedupe_key,
        place=place,
        provider=provider,
        operation=operation,
        request=request,
        items=items,
        created_at=now,
        updated_at=now,
        next_poll_at=now,
        deadline=now + services.settings.task_timeout_seconds,
    )
    task, created = await services.store.create_if_absent(task)
    if created:
        services.poller.nudge()
    return task, created


def command_place(command: dict[str, Any]) -> Place:
    return Place(
        team=command.get("team_id", ""),
        channel=command["channel_id"],
        user=command["user_id"],
    )


def command_key(command: dict[str, Any]) -> str:
    """Slack gives each invocation its own trigger id; a redelivery carries the same one."""
    return f"command:{command.get('team_id', '')}:{command['trigger_id']}"

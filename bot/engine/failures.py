"""What a failed step does to its task: wait and try again, or give up with a reason.

``after_failure`` is pure but for its log lines: the task and the failure in, the task
out, with the time and the delays passed in. Provider errors carry their kind
(``providers/errors.py``):

- PENDING: the work is not done yet; poll again after the poll back-off.
- RETRYABLE: try again after the retry back-off (a ``Retry-After`` wins), at most
  ``MAX_ATTEMPTS`` times and never past the task's deadline; then the task fails.
- PERMANENT, QUOTA: the task fails with the provider's code and message; a quota
  failure is noted (``notes["quota_error"]``) for the quota watcher.

Slack and download failures: a revoked token, or Slack refusing the last word, settles
the task without it (nothing more can be said); Slack refusing a message, or a
download that can never succeed, fails the task; anything else (Slack or a download
unreachable, a timeout, a bug) is tried again after the retry back-off, until
``DELIVERY_GRACE`` past the deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.core import messages
from bot.core.fetch import DownloadFailed
from bot.core.slack_client import SlackFailure, slack_error_code, slack_failure
from bot.core.slack_retry import rate_limited_for
from bot.core.tasks import State, Task
from providers.errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # retryable failures before a task gives up (the deadline may come first)
DELIVERY_GRACE = 600.0  # seconds past the deadline that Slack may stay unreachable

_EXPECTED = (SlackApiError, SlackRequestError, DownloadFailed, aiohttp.ClientError, TimeoutError)


def after_failure(
    task: Task,
    exc: BaseException,
    now: float,
    *,
    retry_in: Callable[[int, float | None], float],
    poll_in: Callable[[Task], float],
) -> Task:
    """``task`` after ``exc`` ended its step at ``now``. ``retry_in(attempts,
    retry_after)`` is the retry back-off's delay, ``poll_in(task)`` the poll back-off's."""
    if isinstance(exc, ProviderError):
        return _after_provider_error(task, exc, now, retry_in, poll_in)
    failure = slack_failure(exc)
    if failure is SlackFailure.REVOKED or (task.final and failure is SlackFailure.REFUSED):
        log.error("task %s: Slack refused its answer (%s); giving up", task.id, exc)
        return task.but(settled=True, updated_at=now)
    if failure is SlackFailure.REFUSED or (isinstance(exc, DownloadFailed) and exc.permanent):
        log.error("task %s: %s; the task fails", task.id, exc)
        code = slack_error_code(exc) if failure else "download"
        reason = messages.cannot_post(code) if failure else str(exc)
        return task.to(State.FAILED, now, error={"code": code, "message": reason})
    if isinstance(exc, _EXPECTED):
        log.warning("task %s: delivery failed, will retry: %s", task.id, exc)
    else:
        log.exception("task %s: unexpected error in step", task.id, exc_info=exc)
    if now > task.deadline + DELIVERY_GRACE:  # Slack (or a download) down for too long
        log.error("task %s: still failing past its deadline; giving up", task.id)
        if task.final:
            return task.but(settled=True, updated_at=now)
        return task.to(State.EXPIRED, now, error={"code": "expired", "kind": "expired"})
    delay = retry_in(task.attempts, rate_limited_for(exc))
    return task.but(attempts=task.attempts + 1, next_poll_at=now + delay)


def _after_provider_error(
    task: Task,
    exc: ProviderError,
    now: float,
    retry_in: Callable[[int, float | None], float],
    poll_in: Callable[[Task], float],
) -> Task:
    log.warning("task %s: %s", task.id, exc)
    if exc.kind is ErrorKind.PENDING:
        return task.but(next_poll_at=now + poll_in(task))
    if exc.kind is ErrorKind.RETRYABLE and task.attempts + 1 < MAX_ATTEMPTS:
        delay = retry_in(task.attempts, exc.retry_after)
        if now + delay < task.deadline:
            return task.but(attempts=task.attempts + 1, next_poll_at=now + delay)
    error = {"code": exc.code, "message": exc.message, "kind": str(exc.kind)}
    if not task.final:
        task = task.to(State.FAILED, now, error=error, attempts=task.attempts + 1)
    if exc.kind is ErrorKind.QUOTA:
        task = task.but(notes={**task.notes, "quota_error": error})
    return task

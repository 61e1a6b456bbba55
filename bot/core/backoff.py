"""Retry and poll delays as data: a pure function of the attempt and a random draw.

The poller writes the result onto the task (``next_poll_at``), so a restart carries on
where it was; a provider's or Slack's ``Retry-After`` beats the computed delay.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    minimum: float
    maximum: float
    factor: float = 2.0

    def delay(self, attempt: int, rand: float, *, retry_after: float | None = None) -> float:
        """Exponential delay for ``attempt`` (0-based) with "equal jitter": half fixed,
        half drawn from ``rand`` in [0, 1), clamped to [minimum, maximum]."""
        ceiling = min(self.maximum, self.minimum * self.factor ** min(attempt, 32))
        value = max(self.minimum, ceiling / 2 + ceiling / 2 * rand)
        if retry_after is not None:
            value = max(value, retry_after)
        return value

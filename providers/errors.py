"""The one error type every provider client raises.

Taxonomy (``ErrorKind``), decided by each provider's ``wire.classify``:

- ``RETRYABLE``: transient — timeouts, 5xx, throttling, "system error". The poller
  retries with back-off until the task's deadline.
- ``PENDING``: the provider has not finished yet (Xiangji 114). Not a failure and
  never counted as an attempt.
- ``PERMANENT``: the request itself is wrong or the result is gone (bad parameter,
  unsupported pair, expired). Reported to the person at once.
- ``QUOTA``: arrears, exhausted balance, service not activated. Reported like a
  permanent error and also raises a quota alert.

Messages carry the provider's code and meaning, never a key, token or signature.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    RETRYABLE = "retryable"
    PENDING = "pending"
    PERMANENT = "permanent"
    QUOTA = "quota"


@dataclass(eq=False)  # not frozen: Python sets __traceback__ and __notes__ on exceptions
class ProviderError(Exception):
    provider: str
    operation: str
    code: str
    message: str
    kind: ErrorKind
    retry_after: float | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        return f"{self.provider} {self.operation} failed with {self.code}: {self.message}"

    @property
    def retryable(self) -> bool:
        return self.kind is ErrorKind.RETRYABLE


def explain(
    meaning: str, provider_message: Any, *, provider: str, redact: Iterable[str] = ()
) -> str:
    """A code's English ``meaning`` plus the provider's own words — on one line, at most
    200 characters, every secret in ``redact`` replaced — unless they say the same."""
    said = "" if provider_message is None else " ".join(str(provider_message).split())
    for secret in redact:
        if secret:
            said = said.replace(secret, "[redacted]")
    said = said[:200] + "…" if len(said) > 200 else said
    if not meaning:
        return said or "no detail given"
    if said and said.lower().rstrip(".") != meaning.lower().rstrip("."):
        return f"{meaning} ({provider}: {said})"
    return meaning

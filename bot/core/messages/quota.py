"""Quota alerts and ``/tolk quota``: the only messages that say "quota".

Spend is counted in images, or in characters of text quota; a ``[low, high]`` pair is an
estimate (Xiangji bills some engines' text at a multiple of the characters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

from bot.core.messages._common import duration
from bot.core.mrkdwn import escape

_QUOTA_UNITS = {"text translation": "characters"}  # every other service counts images

#: A spend as stored (JSON): a number (exact), or ``[low, high]`` (an estimate).
Spend: TypeAlias = float | list[float] | tuple[float, float] | None


def quota_alert(service: str, left: int, threshold: int) -> str:
    return (
        f":warning: Xiangji quota low: {service} has {left} left (threshold {threshold}). "
        "Top up the Xiangji account before it runs out."
    )


def quota_error_alert(
    service: str, code: str, meaning: str, *, left: int | None = None, provider: str = "Xiangji"
) -> str:
    count = f"{left} left" if left is not None else "remaining count unknown"
    return (
        f":rotating_light: {provider} quota: {service} was refused with error {escape(code)} — {escape(meaning)} "
        f"({count}). Top up or activate the service, then `/tolk retry` the task."
    )


#: How `/tolk quota` says text spend that is a range: Google, Papago and DeepL text (seed 002
#: part 四 (text translation), item 4, characters and billing).
QUOTA_ESTIMATE_NOTE = (
    "(an estimate: Xiangji bills Google, Papago and DeepL text at 3–4.5× the characters)"
)


def _units(value: Spend) -> tuple[int, int]:
    """A spend as stored: a number (exact), or ``[low, high]`` (an estimate)."""
    if isinstance(value, list | tuple):
        if len(value) == 2:
            return int(value[0]), int(value[1])
        if value:
            raise TypeError(f"a spend range is [low, high], not {value!r}")
        return 0, 0
    return int(value or 0), int(value or 0)


def _quota_amount(service: str, value: Spend) -> str:
    low, high = _units(value)
    unit = _QUOTA_UNITS.get(service, "images")
    if low == high:
        return f"{service} {low:,} {unit}"
    return f"{service} ~{low:,}–{high:,} {unit} of quota {QUOTA_ESTIMATE_NOTE}"


def _quota_spent(row: Mapping[str, Spend]) -> str:
    return " · ".join(_quota_amount(service, units) for service, units in sorted(row.items()))


def _quota_spenders(rows: Mapping[str, Mapping[str, Spend]], mention: str) -> list[str]:
    def total(row: Mapping[str, Spend]) -> int:
        return sum(_units(v)[1] for v in row.values())

    ordered = sorted(rows.items(), key=lambda kv: (-total(kv[1]), kv[0]))
    return [f"• {mention.format(who)}: {_quota_spent(row)}" for who, row in ordered if row]


def quota_report(
    rows: Sequence[tuple[str, int | None, int | None, float | None]],
    by_channel: Mapping[str, Mapping[str, Spend]],
    by_user: Mapping[str, Mapping[str, Spend]],
    *,
    threshold: int | None,
    shown_only: Sequence[str] = (),
) -> str:
    """``rows``: (service, left now or None, last known left, seconds since it was read),
    one per configured key; ``shown_only``: services Tolk never spends (no alerts).
    Spend: images, or characters of text quota (a ``[low, high]`` range is an estimate)."""
    if not rows:
        lines = ["*Xiangji quota*: no Xiangji service is configured, so there is nothing to count."]
    else:
        lines = [f"*Xiangji quota* (alerts below {threshold} unless a channel sets its own)"]
        for service, left, last, age in rows:
            note = " (not used by Tolk; no alerts)" if service in shown_only else ""
            if left is not None:
                lines.append(f"• {service}: {left} left{note}")
            elif last is not None and age is not None:
                lines.append(
                    f"• {service}: could not be read just now; {last} left {duration(age)} ago{note}"
                )
            else:
                lines.append(f"• {service}: could not be read just now{note}")
    channels = _quota_spenders(by_channel, "<#{}>")
    users = _quota_spenders(by_user, "<@{}>")
    if not channels and not users:
        lines.append("Nothing spent through Tolk yet.")
    else:
        lines += ["*Spent through Tolk, by channel*", *channels, "*By person*", *users]
    return "\n".join(lines)


def quota_unavailable() -> str:
    return "Remaining counts are not available: no Xiangji keys are configured."

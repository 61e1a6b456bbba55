"""Slack message text through a translator without breaking it.

Mentions (``<@U…>``), channel and user-group links, URLs (``<https://…|label>``), emoji
(``:tada:``), inline code and code blocks are swapped for numbered placeholders before
translation and put back after, so a translator can move them but not rewrite them.
"""

from __future__ import annotations

import re

from bot.core.mrkdwn import escape, neutralise, unescape

_PROTECTED = re.compile(
    r"```.*?```"  # code block
    r"|`[^`\n]+`"  # inline code
    r"|<[@#!][^>]*>"  # user mention, channel link, special mention (<!here>)
    r"|<(?:https?|mailto):[^>]*>"  # link, with or without |label
    r"|:[a-z0-9_+\-']+(?:::skin-tone-\d)?:",  # emoji
    re.DOTALL,
)
_PLACEHOLDER = re.compile(r"⟦(\d+)⟧")


def protect(text: str) -> tuple[str, list[str]]:
    """``text`` with protected spans replaced by ``⟦0⟧``, ``⟦1⟧`` …, and the spans."""
    spans: list[str] = []

    def swap(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"⟦{len(spans) - 1}⟧"

    return _PROTECTED.sub(swap, text), spans


def restore(text: str, spans: list[str]) -> str:
    """Put the spans back; any the translator dropped are appended so nothing is lost."""
    used: set[int] = set()

    def back(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(spans):
            return match.group(0)
        used.add(index)
        return spans[index]

    restored = _PLACEHOLDER.sub(back, text)
    missing = [span for i, span in enumerate(spans) if i not in used]
    return " ".join([restored, *missing]) if missing else restored


def for_translation(text: str) -> tuple[str, list[str]]:
    """Slack text (escaped by Slack) as plain words for a translator, and its spans:
    ``x &lt; 3`` is sent as ``x < 3``."""
    masked, spans = protect(text)
    return unescape(masked), spans


def from_translation(translated: str, spans: list[str]) -> str:
    """A translator's plain words back as Slack mrkdwn: escaped, so nothing it wrote can
    become a link or a ping; the person's own spans restored, channel-wide pings not."""
    return neutralise(restore(escape(translated), spans))


def has_words(text: str) -> bool:
    """Whether anything is left to translate once the protected spans are taken out."""
    masked, _ = protect(text)
    return bool(re.search(r"\w", _PLACEHOLDER.sub("", masked)))

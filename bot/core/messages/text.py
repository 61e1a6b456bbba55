"""Text translation: ``/translate``'s acknowledgement and answer, and a message's
translation in its thread (flags, the Translate… shortcut). Past ``LONG_TEXT`` characters
the whole translation also comes as a text file, with a preview in the message.
"""

from __future__ import annotations

from typing import Any

from bot.core.messages._common import language
from bot.core.messages.results import result_blocks
from bot.core.mrkdwn import clip, person, sections, split, unescape

NOTHING_CAME_BACK = "_(the translator sent back no text)_"
LONG_TEXT = 12_000  # past this a translation comes as a text file, with a preview


def ack_text(task_id: str, source: str | None, target: str) -> str:
    return f"Translating {language(source)}→{target}… (task `{task_id}`)"


def translation_blocks(
    task_id: str, user: str, original: str, translated: str, source: str | None, target: str
) -> dict[str, Any]:
    """``/translate``'s answer. ``original`` is the person's Slack text, ``translated``
    Slack mrkdwn (``bot.core.slacktext.from_translation``)."""
    about = f"{language(source)}→{target} for <@{user}> · original: {_quote(original)} · task `{task_id}`"
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": about}]}
    body, attachment = _long_text(translated, task_id, target)
    fallback = f"{clip(translated, 3000)}\n({language(source)}→{target} for <@{user}>)"
    return {"text": fallback, "blocks": [*sections(body), context], **attachment}


def message_translation(
    translated: str,
    source: str | None,
    target: str,
    task_id: str,
    origin: dict[str, str] | None,
    user: str,
) -> dict[str, Any]:
    """A message's translation in its thread; ``translated`` is Slack mrkdwn."""
    body, attachment = _long_text(translated, task_id, target)
    text = f"{body}\n_{language(source)}→{target} for <@{user}>_"
    return {"text": clip(text, 3000), "blocks": result_blocks(text, task_id, origin), **attachment}


def _long_text(text: str, task_id: str, target: str) -> tuple[str, dict[str, Any]]:
    """Text to show, and the whole text as a file when it is too long to read in Slack
    (Slack folds long messages, and a file is easier to take into a CMS)."""
    if not text.strip():
        return NOTHING_CAME_BACK, {}
    if len(text) <= LONG_TEXT:
        return text, {}
    preview = split(text, 2800)[0]
    shown = f"{preview}\n… _({len(text):,} characters in all: the whole translation is in the text file in this thread)_"
    name = f"translation-{target}-{task_id}.txt"
    return shown, {"attachment": {"name": name, "text": unescape(text)}}


def _quote(text: str, limit: int = 200) -> str:
    return f"“{clip(person(' '.join(text.split())), limit)}”"


def long_text_comment(length: int) -> str:
    return f":page_facing_up: The whole translation ({length:,} characters), as a text file."

"""Text translation: ``/translate``'s acknowledgement and answer, and a message's
translation in its thread (flags, the Translate… shortcut). Past ``LONG_TEXT`` characters
the whole translation also comes as a text file, with a preview in the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.messages._common import language, languages
from bot.core.messages.results import result_blocks
from bot.core.mrkdwn import clip, escape, person, sections, split, unescape

NOTHING_CAME_BACK = "_(the translator sent back no text)_"
LONG_TEXT = 12_000  # past this a translation comes as a text file, with a preview


# One language's part of an answer in several: (language, the translation as Slack
# mrkdwn or None when it failed, why it failed).
_Translation = tuple[str, str | None, str]
_PREVIEW = 2800  # characters of each language shown when the whole answer is too long


def ack_text(task_id: str, source: str | None, target: str | Sequence[str]) -> str:
    return f"Translating {language(source)}→{languages(target)}… (task `{task_id}`)"


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


def translations_blocks(
    task_id: str,
    user: str,
    original: str,
    translations: Sequence[_Translation],
    source: str | None,
) -> dict[str, Any]:
    """``/translate``'s answer in several languages: one message, a section per
    language labelled with it (a language that failed says why)."""
    targets = [lang for lang, _, _ in translations]
    about = (
        f"{language(source)}→{languages(targets)} for <@{user}> · "
        f"original: {_quote(original)} · task `{task_id}`"
    )
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": about}]}
    parts, attachment = _by_language(translations, task_id)
    blocks = sections("\n\n".join(parts))  # packed: a long language set stays in 50 blocks
    shown = clip("\n\n".join(parts), 3000)
    fallback = f"{shown}\n({language(source)}→{languages(targets)} for <@{user}>)"
    return {"text": fallback, "blocks": [*blocks, context], **attachment}


def message_translations(
    translations: Sequence[_Translation],
    source: str | None,
    task_id: str,
    origin: dict[str, str] | None,
    user: str,
) -> dict[str, Any]:
    """A message's translation into several languages, in its thread: one message, a
    part per language labelled with it."""
    parts, attachment = _by_language(translations, task_id)
    targets = [lang for lang, _, _ in translations]
    text = "\n\n".join(parts) + f"\n_{language(source)}→{languages(targets)} for <@{user}>_"
    return {"text": clip(text, 3000), "blocks": result_blocks(text, task_id, origin), **attachment}


def _by_language(
    translations: Sequence[_Translation], task_id: str
) -> tuple[list[str], dict[str, Any]]:
    """Each language's part (``*ko*`` and its text), and, when all of them together are
    too long to read in Slack, previews (sharing ``LONG_TEXT`` characters) and every
    translation whole in one text file."""
    long = sum(len(text or "") for _, text, _ in translations) > LONG_TEXT
    preview = min(_PREVIEW, max(200, LONG_TEXT // max(1, len(translations))))
    parts = []
    for lang, text, why in translations:
        label = f"*{escape(lang)}*"
        if text is None:
            parts.append(f"{label} — _not translated: {escape(clip(why, 300).rstrip('.'))}_")
        elif not text.strip():
            parts.append(f"{label}\n{NOTHING_CAME_BACK}")
        elif long and len(text) > preview:
            parts.append(f"{label}\n{split(text, preview)[0]}\n… _({len(text):,} characters)_")
        else:
            parts.append(f"{label}\n{text}")
    if not long:
        return parts, {}
    parts.append("_(the whole translations are in the text file in this thread)_")
    whole = "\n\n".join(
        f"[{lang}]\n{unescape(text)}" for lang, text, _ in translations if text is not None
    )
    return parts, {"attachment": {"name": f"translation-{task_id}.txt", "text": whole}}


def already_in_language(code: str) -> str:
    """A message's text already in one of the languages it was asked into."""
    return f"the text is already in {code}"


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

"""The Translate… shortcut's form (a Block Kit modal) and its validation errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core.messages._common import engine_label
from bot.core.mrkdwn import clip

MODAL_LANGUAGES = (
    "en",
    "zh",
    "zh-TW",
    "ja",
    "ko",
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "ru",
    "ar",
    "th",
    "vi",
    "id",
    "ms",
    "tr",
    "pl",
    "nl",
)


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": clip(label, 75)}, "value": value}


_MAX_PICKED = 10  # as in a command (bot.core.languages.MAX_TARGETS)
SET_VALUE = "set:"  # an option's value that names a language set: "set:sea"


def translate_modal(
    metadata: str,
    languages: Sequence[tuple[str, str]],
    target: str | Sequence[str],
    source: str | None,
    *,
    engines: Sequence[str] = (),
    engine: str | None = None,
    sets: Sequence[tuple[str, Sequence[str]]] = (),
) -> dict[str, Any]:
    """The "Translate…" form. ``languages``: (code, English name) pairs; ``target``: the
    language (or languages) picked at first; ``sets``: the workspace's language sets
    (name, codes), offered beside the languages; ``engines``: the Xiangji image engines to
    offer (an "Image engine" select, starting at ``engine``), empty when there is no
    choice to make."""
    options = [_option(code, f"{name} ({code})") for code, name in languages][:99]  # + "auto"
    by_code = {o["value"]: o for o in options}
    source_options = [_option("auto", "Detect (text) / Chinese (images)"), *options]
    source_initial = by_code.get(source or "", source_options[0])
    picked = [target] if isinstance(target, str) else list(target)
    initial = [by_code[c] for c in picked if c in by_code][:_MAX_PICKED] or options[:1]
    return {
        "type": "modal",
        "callback_id": "tolk_translate_modal",
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Translate"},
        "submit": {"type": "plain_text", "text": "Translate"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "target",
                "label": {"type": "plain_text", "text": "Into"},
                "hint": {
                    "type": "plain_text",
                    "text": f"One language or several (up to {_MAX_PICKED}), or a "
                    "language set: one thread, each result names its language.",
                },
                "element": {
                    "type": "multi_static_select",
                    "action_id": "value",
                    **_target_options(options, sets),
                    "initial_options": initial,
                    "max_selected_items": _MAX_PICKED,
                },
            },
            {
                "type": "input",
                "block_id": "source",
                "label": {"type": "plain_text", "text": "From"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": source_options,
                    "initial_option": source_initial,
                },
            },
            {
                "type": "input",
                "block_id": "provider",
                "label": {"type": "plain_text", "text": "Provider"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [_option("xiangji", "Xiangji")],
                    "initial_option": _option("xiangji", "Xiangji"),
                },
            },
            *_engine_block(engines, engine),
            {
                "type": "input",
                "block_id": "documents",
                "optional": True,
                "label": {"type": "plain_text", "text": "Documents"},
                "hint": {
                    "type": "plain_text",
                    "text": "Who translates the message's documents (Word, PDF …).",
                },
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [_option("alibaba", "Alibaba"), _option("rozetta", "Rozetta")],
                    "initial_option": _option("alibaba", "Alibaba"),
                },
            },
            {
                "type": "input",
                "block_id": "quality",
                "optional": True,
                "label": {"type": "plain_text", "text": "Images"},
                "element": {
                    "type": "radio_buttons",
                    "action_id": "value",
                    "options": [
                        _option("default", "Standard"),
                        _option("fast", "Fast"),
                        _option("best", "Best quality"),
                    ],
                    "initial_option": _option("default", "Standard"),
                },
            },
            {
                "type": "input",
                "block_id": "options",
                "optional": True,
                "label": {"type": "plain_text", "text": "Also post"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [_option("removed", "the image with its text removed")],
                },
            },
        ],
    }


def _target_options(
    options: list[dict[str, Any]], sets: Sequence[tuple[str, Sequence[str]]]
) -> dict[str, Any]:
    """The languages; with language sets, two groups: the sets, then the languages."""
    if not sets:
        return {"options": options}
    named = [_option(f"{SET_VALUE}{name}", f"{name}: {', '.join(codes)}") for name, codes in sets]
    return {
        "option_groups": [
            {"label": {"type": "plain_text", "text": "Language sets"}, "options": named[:100]},
            {"label": {"type": "plain_text", "text": "Languages"}, "options": options},
        ]
    }


def _engine_block(engines: Sequence[str], engine: str | None) -> list[dict[str, Any]]:
    if not engines:
        return []
    options = [_option(name, engine_label(name)) for name in engines]
    initial = next((o for o in options if o["value"] == engine), options[0])
    return [
        {
            "type": "input",
            "block_id": "engine",
            "optional": True,
            "label": {"type": "plain_text", "text": "Image engine"},
            "hint": {
                "type": "plain_text",
                "text": "Which of Xiangji's engines translates the message's images.",
            },
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": options,
                "initial_option": initial,
            },
        }
    ]


def modal_error(detail: str) -> str:
    return clip(detail, 150)

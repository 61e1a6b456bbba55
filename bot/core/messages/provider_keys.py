"""A workspace's own provider keys: their section of the Home tab (for admins), the form
that sets them, and what is wrong with keys as typed. A stored key is never shown:
only when it was set and by whom (``bot.core.provider_keys``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from bot.core import provider_keys as keyring
from bot.core.mrkdwn import clip, escape

# The ids the handler (``handlers/slack/provider_keys.py``) listens for.
PROVIDER_KEYS_OPEN = "tolk_provider_keys_open"  # the Home tab's button
PROVIDER_KEYS_REMOVE = "tolk_provider_keys_remove"  # a provider's Remove (value: provider)
PROVIDER_KEYS_MODAL = "tolk_provider_keys"  # the form's callback_id

PROVIDER_LABELS = {"xiangji": "Xiangji", "alibaba": "Alibaba Cloud", "rozetta": "Rozetta"}
KEY_FIELD_LABELS: dict[str, dict[str, str]] = {
    "xiangji": {
        "user_key": "User key",
        "img_trans_key": "Image translation key (Aliyun engine)",
        "text_trans_key": "Text translation key",
        "matting_key": "Background removal key",
        "img_trans_google_key": "Image translation key (Google engine)",
        "img_trans_papago_key": "Image translation key (Papago engine)",
        "img_trans_baidu_key": "Image translation key (Baidu engine)",
        "img_trans_deepl_key": "Image translation key (DeepL engine)",
    },
    "alibaba": {"access_key_id": "AccessKey ID", "access_key_secret": "AccessKey secret"},
    "rozetta": {
        "access_key": "Access key",
        "secret_key": "Secret key",
        "contract_id": "Contract ID (optional)",
    },
}
_ERROR_MAX = 150  # a form error's text


def _provider(provider: str) -> str:
    return PROVIDER_LABELS.get(provider, provider)


def _field(provider: str, field: str) -> str:
    return KEY_FIELD_LABELS.get(provider, {}).get(field, field.replace("_", " "))


def _variable(provider: str, field: str) -> str:
    """The operator's variable for the same key (``XIANGJI_USER_KEY``)."""
    return f"{provider}_{field}".upper()


def provider_key_set(at: float, user: str) -> str:
    """``set on 5 Dec 2026 by @someone`` — in the reader's own time zone where Slack
    can, the date in UTC where it cannot."""
    day = time.gmtime(at)
    fallback = f"{day.tm_mday} {time.strftime('%b %Y', day)}"
    return f"set on <!date^{int(at)}^{{date}}|{fallback}> by <@{user}>"


def provider_key_not_set(shared: bool) -> str:
    return "not set — using the operator's keys" if shared else "not set"


def _status(provider: str, summary: Mapping[str, tuple[float, str]], shared: Sequence[str]) -> str:
    if provider in summary:
        at, by = summary[provider]
        return provider_key_set(at, by)
    return provider_key_not_set(provider in shared)


def provider_keys_home(
    summary: Mapping[str, tuple[float, str]] | None = None, shared: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The Home tab's section for admins: each provider's keys set (when, by whom) or
    not, and the button to the form. ``summary``: provider → (set at, by);
    ``shared``: providers whose operator keys serve a workspace without its own."""
    summary = summary or {}
    lines = [f"• {_provider(p)}: {_status(p, summary, shared)}" for p in keyring.PROVIDERS]
    text = "*Provider keys of this workspace*\n" + "\n".join(lines)
    return [
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(text, 3000)},
            "accessory": {
                "type": "button",
                "action_id": PROVIDER_KEYS_OPEN,
                "text": {"type": "plain_text", "text": "Provider keys"},
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Only Tolk's admins see this. Keys are stored sealed and never "
                    "shown again.",
                }
            ],
        },
    ]


def provider_keys_modal(
    summary: Mapping[str, tuple[float, str]] | None = None, shared: Sequence[str] = ()
) -> dict[str, Any]:
    """The form: per provider, what is set (with Remove) and a box per key. Blank boxes
    leave a provider as it is; filling any replaces that provider's keys whole."""
    summary = summary or {}
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Keys are stored sealed and never shown again. Leave a provider's "
                    "boxes blank to keep what is set; filling any of them replaces all of "
                    "that provider's keys, so fill in every key it should use.",
                }
            ],
        }
    ]
    for provider, spec in keyring.PROVIDERS.items():
        status: dict[str, Any] = {
            "type": "section",
            "block_id": f"{provider}.status",
            "text": {
                "type": "mrkdwn",
                "text": clip(
                    f"*{_provider(provider)}*: {_status(provider, summary, shared)}", 3000
                ),
            },
        }
        if provider in summary:
            status["accessory"] = _remove_button(provider)
        blocks += [{"type": "divider"}, status]
        for field in spec.fields:
            blocks.append(_key_input(provider, field, field in spec.required))
    return {
        "type": "modal",
        "callback_id": PROVIDER_KEYS_MODAL,
        "title": {"type": "plain_text", "text": "Provider keys"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _remove_button(provider: str) -> dict[str, Any]:
    label = _provider(provider)
    return {
        "type": "button",
        "action_id": PROVIDER_KEYS_REMOVE,
        "text": {"type": "plain_text", "text": "Remove"},
        "value": provider,
        "style": "danger",
        "confirm": {
            "title": {"type": "plain_text", "text": clip(f"Remove the {label} keys?", 100)},
            "text": {
                "type": "plain_text",
                "text": clip(
                    f"Tolk stops using this workspace's {label} keys at once. "
                    "They cannot be shown or brought back.",
                    300,
                ),
            },
            "confirm": {"type": "plain_text", "text": "Remove"},
            "deny": {"type": "plain_text", "text": "Keep"},
        },
    }


def _key_input(provider: str, field: str, required: bool) -> dict[str, Any]:
    needed = "required" if required else "optional"
    if provider == "xiangji" and field != "user_key":
        needed = "at least one service key is required"
    return {
        "type": "input",
        "block_id": f"{provider}.{field}",
        "optional": True,  # blank: the provider stays as it is
        "label": {"type": "plain_text", "text": _field(provider, field)},
        "hint": {
            "type": "plain_text",
            "text": f"The operator's {_variable(provider, field)}; {needed}.",
        },
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "max_length": keyring.MAX_LENGTH + 50,  # a little over, so "too long" can be said
        },
    }


def provider_keys_admins_only(admins: Sequence[str]) -> dict[str, Any]:
    """The form a person who is not an admin gets instead of the keys."""
    who = (
        "Tolk's admins (" + ", ".join(f"<@{escape(a)}>" for a in sorted(admins)[:20]) + ")"
        if admins
        else "this workspace's admins and owners"
    )
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Provider keys"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": clip(f"Only {who} can set this workspace's provider keys.", 3000),
                },
            }
        ],
    }


def provider_key_problem(provider: str, field: str, problem: str) -> str:
    """What is wrong with one box of the form, and how to write it (``problem``: a
    ``bot.core.provider_keys.PROBLEMS`` code). Never repeats what was typed."""
    label, name = _provider(provider), _field(provider, field)
    texts = {
        "missing": f"Needed too: paste the {name}, or leave every {label} box blank to keep "
        "what is set.",
        "needs_service": "Add at least one service key (image or text translation, background "
        "removal): the user key alone translates nothing.",
        "space": "There is a space or line break in it: paste the key alone, nothing before "
        "or after it.",
        "quotes": "Paste the key alone, without the quotes or brackets around it.",
        "env_line": "Paste only the key, not the whole line: what comes after "
        f"{_variable(provider, field)}=.",
        "characters": f"This has a character no key has (perhaps … or a full-width letter): "
        f"copy the key again from your {label} console.",
        "too_long": f"Too long for a key (at most {keyring.MAX_LENGTH} characters): paste the key "
        "alone.",
    }
    return clip(texts.get(problem, f"This {name} cannot be used: paste the key alone."), _ERROR_MAX)


def provider_keys_not_admin() -> str:
    """The form's error when its sender is no longer an admin."""
    return "Only Tolk's admins can set this workspace's provider keys; nothing was saved."

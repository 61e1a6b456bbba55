"""Text Tolk posts to Slack: escaped, never pinging a channel, within Block Kit's limits.

Two layers. The message builders (``bot/core/messages/``) ``escape`` every value that did
not come from Tolk (file names, provider messages, translations) and keep a person's own
Slack markup (``person``). ``fit_call`` is the last word on every Web API call Tolk makes
(``bot.core.slack_client.TolkWebClient`` runs it), so no message, whoever built it, can ping
``@channel`` or break a limit: over-long sections are split at paragraph or sentence
boundaries, and anything that must be cut is cut visibly with "…".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SECTION = 3000  # characters in a section's text
FIELD = 2000  # a section field
HEADER = 150  # a header's plain text
CONTEXT_ELEMENTS = 10
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
TEXT = 40_000  # a message's ``text``
LABEL = 75  # button and option text
CUT = "…"

# <!channel>, <!here>, <!everyone> (optionally |label) and user-group pings <!subteam^ID|@x>
_PINGS = re.compile(
    r"<!(channel|here|everyone|group)(?:\|[^>]*)?>|<!subteam\^[^>|]*(?:\|([^>]*))?>"
)
_SENTENCE = re.compile(r"[.!?。！？](?=\s|$)|[。！？]")


def escape(text: str) -> str:
    """Plain text as Slack mrkdwn: ``&``, ``<`` and ``>`` become entities, so nothing in
    it can become a link, a mention or a ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack's escaping undone (slash-command and message text arrive escaped)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def neutralise(text: str) -> str:
    """``<!here>`` and friends as plain words that notify nobody."""

    def plain(match: re.Match[str]) -> str:
        if match.group(1):
            return f"@{match.group(1)}"
        label = (match.group(2) or "@group").lstrip("@")
        return f"@{label}"

    return _PINGS.sub(plain, text)


def person(text: str) -> str:
    """Text a person wrote in Slack (already escaped by Slack), to be shown again by
    Tolk: their mentions, links, emoji and code stay; channel-wide pings do not."""
    return neutralise(text)


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut visibly ("…") at a word boundary and
    never inside a ``<…>`` link or an ``&…;`` entity."""
    if len(text) <= limit:
        return text
    cut = _safe_cut(text, _last_space(text, limit - len(CUT)))
    return text[:cut].rstrip() + CUT


def split(text: str, limit: int = SECTION) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at a paragraph, else a
    line, else a sentence, else a word boundary; a code block cut in two is closed and
    reopened so both parts render."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _boundary(rest, limit - 4)  # room to close a code block
        part, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if part.count("```") % 2:
            part, rest = part + "\n```", "```\n" + rest
        parts.append(part)
    if rest or not parts:
        parts.append(rest)
    return parts


def sections(text: str) -> list[dict[str, Any]]:
    """``text`` as mrkdwn section blocks, each within Slack's 3,000 characters (none for
    blank text: Slack refuses an empty section)."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in split(text)
        if part.strip()
    ]


def _boundary(text: str, limit: int) -> int:
    window = text[:limit]
    floor = limit // 2
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at > floor:
            return _safe_cut(text, at + len(separator))
    ends = [m.end() for m in _SENTENCE.finditer(window) if m.end() > floor]
    if ends:
        return _safe_cut(text, ends[-1])
    return _safe_cut(text, _last_space(text, limit))


def _last_space(text: str, limit: int) -> int:
    at = text.rfind(" ", 0, limit + 1)
    return at if at > limit // 2 else limit


def _safe_cut(text: str, cut: int) -> int:
    """Move ``cut`` back before a ``<…>`` or ``&…;`` that it would split."""
    opened = text.rfind("<", 0, cut)
    if opened > text.rfind(">", 0, cut) and opened > 0:
        cut = opened
    amp = text.rfind("&", max(0, cut - 8), cut)
    if amp >= 0 and ";" not in text[amp:cut] and re.match(r"&\w+;", text[amp:]):
        cut = amp
    return max(cut, 1)


# --- the last word on every call -----------------------------------------------------

_MESSAGE_METHODS = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage"}
)
_VIEW_METHODS = frozenset({"views.open", "views.update", "views.publish", "views.push"})


def fit_call(method: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a Web API call with every text Tolk sends made safe and within
    limits (see the module docstring). Other methods pass unchanged."""
    if method in _MESSAGE_METHODS:
        return fit_message(args)
    if method == "files.completeUploadExternal" and args.get("initial_comment"):
        return {**args, "initial_comment": clip(neutralise(str(args["initial_comment"])), TEXT)}
    if method in _VIEW_METHODS and isinstance(args.get("view"), dict):
        view = args["view"]
        return {**args, "view": {**view, "blocks": fit_blocks(view.get("blocks"), VIEW_BLOCKS)}}
    return args


def fit_message(args: dict[str, Any]) -> dict[str, Any]:
    fitted = dict(args)
    if isinstance(fitted.get("text"), str):
        fitted["text"] = clip(neutralise(fitted["text"]), TEXT)
    if isinstance(fitted.get("blocks"), list):
        fitted["blocks"] = fit_blocks(fitted["blocks"], MESSAGE_BLOCKS)
    return fitted


def fit_blocks(blocks: Any, most: int) -> Any:
    if not isinstance(blocks, list):
        return blocks
    fitted: list[Any] = []
    for block in blocks:
        fitted.extend(_fit_block(block))
    if len(fitted) > most:
        log.warning("a message had %d blocks; the rest is cut with a note", len(fitted))
        note = {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"{CUT} {len(fitted) - most + 1} more parts not shown"}
            ],
        }
        fitted = [*fitted[: most - 1], note]
    return fitted


def _text(obj: Any, fit: Callable[[str], str]) -> Any:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return {**obj, "text": fit(neutralise(obj["text"]))}
    return obj


def _fit_block(block: Any) -> list[Any]:
    if not isinstance(block, dict):
        return [block]
    kind = block.get("type")
    if kind == "section":
        text = block.get("text")
        fields = block.get("fields")
        fitted = dict(block)
        if isinstance(fields, list):
            fitted["fields"] = [_text(f, lambda t: clip(t, FIELD)) for f in fields[:10]]
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            if not text["text"].strip() and not fields:
                return []  # Slack refuses an empty section; the message's text remains
            parts = split(neutralise(text["text"]), SECTION)
            if len(parts) > 1:
                log.warning(
                    "a section of %d characters was split in %d", len(text["text"]), len(parts)
                )
                first = {**fitted, "text": {**text, "text": parts[0]}}
                rest = [{"type": "section", "text": {**text, "text": part}} for part in parts[1:]]
                return [first, *rest]
            fitted["text"] = {**text, "text": parts[0]}
        return [fitted]
    if kind == "header":
        return [{**block, "text": _text(block.get("text"), lambda t: clip(t, HEADER))}]
    if kind == "context":
        elements = [_text(e, lambda t: clip(t, SECTION)) for e in block.get("elements", [])]
        return [{**block, "elements": elements[:CONTEXT_ELEMENTS]}]
    if kind == "actions":
        return [{**block, "elements": [_fit_element(e) for e in block.get("elements", [])]}]
    return [block]


def _fit_element(element: Any) -> Any:
    if not isinstance(element, dict):
        return element
    fitted = {**element, "text": _text(element.get("text"), lambda t: clip(t, LABEL))}
    if element.get("text") is None:
        fitted.pop("text")
    if isinstance(element.get("options"), list):
        fitted["options"] = [
            {**o, "text": _text(o.get("text"), lambda t: clip(t, LABEL))}
            for o in element["options"][:100]
        ]
    return fitted

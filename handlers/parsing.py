"""Pure parsing of slash-command text into typed commands.

Every bad input raises ``UsageError`` whose message says what was wrong and how to
write it; nothing here performs I/O, so a bad command never reaches a provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot import messages
from bot.languages import Language, LanguageError, parse_pair
from providers.alibaba.wire import SCENES
from providers.mts.wire import (
    check_function,
    check_function_params,
    check_job_params,
    check_location,
)

MAX_TEXT_CHARS = 5000  # Xiangji's Aliyun engine limit (UTF-16 units)
MAX_IMAGES = 20
TEXT_ENGINES = ("aliyun", "google", "papago", "baidu", "deepl", "chatgpt")
IMAGE_PROVIDERS = ("xiangji", "alibaba")
DOC_PROVIDERS = ("alibaba", "rozetta")


class UsageError(ValueError):
    """What the person typed cannot be run; ``str()`` is the message to show them."""


@dataclass(frozen=True)
class TextCommand:
    source: Language | None
    target: Language
    text: str
    engine: str | None = None
    private: bool = False


@dataclass(frozen=True)
class ImageCommand:
    source: Language | None
    target: Language
    urls: tuple[str, ...]
    removed: bool = False
    ocr: bool = False
    qos: str | None = None
    provider: str = "xiangji"


@dataclass(frozen=True)
class DocCommand:
    source: Language | None
    target: Language
    url: str
    scene: str | None = None
    provider: str = "alibaba"


@dataclass(frozen=True)
class MediaJobCommand:
    function: str
    input: str
    params: dict[str, Any]


@dataclass(frozen=True)
class MediaStatusCommand:
    job_id: str


@dataclass(frozen=True)
class _Options:
    flags: frozenset[str]
    values: dict[str, str]
    rest: list[str]


def _options(tokens: list[str], *, flags: set[str], valued: set[str], usage: str) -> _Options:
    """Pull ``--flag`` and ``--name value`` (or ``--name=value``) options out of ``tokens``."""
    seen: set[str] = set()
    values: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            rest.append(token)
            i += 1
            continue
        name, eq, inline = token[2:].partition("=")
        if name in flags and not eq:
            seen.add(name)
        elif name in valued and eq:
            values[name] = inline
        elif name in valued:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise UsageError(messages.option_needs_value(name, usage))
            values[name] = tokens[i + 1]
            i += 1
        else:
            raise UsageError(messages.unknown_option(token, usage))
        i += 1
    return _Options(frozenset(seen), values, rest)


def _pair(token: str | None, usage: str) -> tuple[Language | None, Language]:
    if not token:
        raise UsageError(messages.missing_language(usage))
    try:
        return parse_pair(token)
    except LanguageError as exc:
        raise UsageError(f"{exc}\n{usage}") from None


def parse_translate(text: str) -> TextCommand:
    """``[--engine E] [--private] [SRC>]TGT TEXT [--engine E] [--private]``.

    Options are read before the language and at the very end, so the text itself may
    contain ``--``; the text keeps the person's own spacing and line breaks."""
    usage = messages.USAGE["translate"]
    body = text.strip()
    lead: list[str] = []
    while body.startswith("--"):
        token, body = _first_word(body)
        lead.append(token)
        if token == "--engine":
            value, body = _first_word(body)
            lead.append(value)
        body = body.lstrip()
    pair_token, body = _first_word(body)
    trail: list[str] = []
    while True:
        words = body.rsplit(None, 2)
        if len(words) >= 2 and words[-2] == "--engine":
            trail[:0] = words[-2:]
            body = body[: body.rstrip().rfind("--engine")]
        elif words and words[-1].startswith("--") and words[-1] != "--":
            trail.insert(0, words[-1])
            body = body.rstrip()[: -len(words[-1])]
        else:
            break
    opts = _options(lead + trail, flags={"private"}, valued={"engine"}, usage=usage)
    source, target = _pair(pair_token or None, usage)
    body = slack_unescape(body.strip())
    if not body:
        raise UsageError(messages.missing_text(usage))
    if _utf16_len(body) > MAX_TEXT_CHARS:
        raise UsageError(f"{messages.text_too_long(_utf16_len(body), MAX_TEXT_CHARS)}\n{usage}")
    engine = opts.values.get("engine")
    if engine is not None and engine.lower() not in TEXT_ENGINES:
        raise UsageError(messages.unknown_choice("--engine", engine, TEXT_ENGINES, usage))
    return TextCommand(
        source=source,
        target=target,
        text=body,
        engine=engine.lower() if engine else None,
        private="private" in opts.flags,
    )


def parse_translate_image(text: str) -> ImageCommand:
    usage = messages.USAGE["translate-image"]
    opts = _options(
        text.split(),
        flags={"removed", "ocr", "fast", "best"},
        valued={"provider"},
        usage=usage,
    )
    if not opts.rest:
        raise UsageError(usage)
    source, target = _pair(opts.rest[0], usage)
    urls = tuple(_strip_slack_link(u) for u in opts.rest[1:])
    if not urls:
        raise UsageError(messages.missing_urls(usage))
    for url in urls:
        check_url(url, usage)
    if len(urls) > MAX_IMAGES:
        raise UsageError(f"{messages.too_many_images(len(urls), MAX_IMAGES)}\n{usage}")
    if {"fast", "best"} <= opts.flags:
        raise UsageError(messages.conflicting_options("--fast", "--best", usage))
    provider = opts.values.get("provider", "xiangji").lower()
    if provider not in IMAGE_PROVIDERS:
        raise UsageError(messages.unknown_choice("--provider", provider, IMAGE_PROVIDERS, usage))
    qos = "LowLatency" if "fast" in opts.flags else "BestQuality" if "best" in opts.flags else None
    return ImageCommand(
        source=source,
        target=target,
        urls=urls,
        removed="removed" in opts.flags,
        ocr="ocr" in opts.flags,
        qos=qos,
        provider=provider,
    )


def parse_translate_doc(text: str) -> DocCommand:
    """``[SRC>]TGT URL [--scene S] [--provider alibaba|rozetta]``."""
    usage = messages.USAGE["translate-doc"]
    opts = _options(text.split(), flags=set(), valued={"scene", "provider"}, usage=usage)
    if not opts.rest:
        raise UsageError(usage)
    source, target = _pair(opts.rest[0], usage)
    urls = [_strip_slack_link(u) for u in opts.rest[1:]]
    if not urls:
        raise UsageError(messages.missing_document(usage))
    if len(urls) > 1:
        raise UsageError(messages.one_document(usage))
    check_url(urls[0], usage)
    provider = opts.values.get("provider", "alibaba").lower()
    if provider not in DOC_PROVIDERS:
        raise UsageError(messages.unknown_choice("--provider", provider, DOC_PROVIDERS, usage))
    scene = opts.values.get("scene")
    if scene is not None and scene.lower() not in SCENES:
        raise UsageError(messages.unknown_choice("--scene", scene, SCENES, usage))
    if scene is not None and provider != "alibaba":
        raise UsageError(messages.option_not_for_provider("--scene", provider, usage))
    return DocCommand(source, target, urls[0], scene.lower() if scene else None, provider)


_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_JOB_ID = re.compile(r"^[A-Za-z0-9*_-]{6,64}$")


def parse_media_job(text: str) -> MediaJobCommand | MediaStatusCommand:
    """``FUNCTION INPUT [JSON]`` or ``status JOBID``; the function, the ``oss://`` input and
    the JSON parameters are checked here, so a bad command never reaches MTS."""
    usage = messages.USAGE["media-job"]
    first, rest = _first_word(text)
    first = slack_unescape(first)
    if not first:
        raise UsageError(usage)
    if first.lower() == "status":
        job_id, extra = _first_word(rest)
        if not job_id or extra.strip() or not _JOB_ID.match(job_id):
            raise UsageError(messages.needs_job_id(usage))
        return MediaStatusCommand(job_id)
    try:
        function = check_function(first)
    except ValueError as exc:
        raise UsageError(f"{_sentence(exc)}\n{usage}") from None
    source, params_text = _first_word(rest)
    if not source:
        raise UsageError(messages.missing_media_input(usage))
    source = _strip_slack_link(source)  # unescaped here, once
    try:
        check_location(source, "INPUT")
        params = check_job_params(slack_unescape(params_text).translate(_SMART_QUOTES))
        check_function_params(function, params)
    except ValueError as exc:
        raise UsageError(f"{_sentence(exc)}\n{usage}") from None
    return MediaJobCommand(function, source, params)


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text if text.endswith((".", "?", "!")) else text + "."


def _strip_slack_link(token: str) -> str:
    """Slack sends links typed in a command as ``<https://…>`` or ``<https://…|label>``,
    with ``&``, ``<`` and ``>`` inside escaped."""
    if token.startswith("<") and token.endswith(">"):
        token = token[1:-1].split("|", 1)[0]
    return slack_unescape(token)


def slack_unescape(text: str) -> str:
    """Undo the only three escapes Slack applies to message and command text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _first_word(text: str) -> tuple[str, str]:
    """Split off the first word at any whitespace; the rest keeps its own line breaks."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], (parts[1] if len(parts) > 1 else "")


# urlsplit drops these silently, so the URL it checked would not be the one sent on.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_url(url: str, usage: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an unbalanced or bad [IPv6] host
        host = None
    if not host or parts.scheme not in ("http", "https") or _CONTROL.search(url):
        raise UsageError(messages.not_a_url(url, usage))


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # a lone surrogate is one unit


@dataclass(frozen=True)
class CutoutCommand:
    urls: tuple[str, ...]
    bg: tuple[int, int, int] | None = None


def parse_cutout(text: str) -> CutoutCommand:
    usage = messages.USAGE["cutout"]
    opts = _options(text.split(), flags=set(), valued={"bg"}, usage=usage)
    urls = tuple(_strip_slack_link(u) for u in opts.rest)
    if not urls:
        raise UsageError(usage)
    for url in urls:
        check_url(url, usage)
    if len(urls) > MAX_IMAGES:
        raise UsageError(f"{messages.too_many_images(len(urls), MAX_IMAGES)}\n{usage}")
    bg = None
    if "bg" in opts.values:
        parts = opts.values["bg"].split(",")
        try:
            rgb = tuple(int(p) for p in parts)
        except ValueError:
            rgb = ()
        if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
            raise UsageError(messages.bad_color(opts.values["bg"], usage))
        bg = (rgb[0], rgb[1], rgb[2])
    return CutoutCommand(urls=urls, bg=bg)


@dataclass(frozen=True)
class ConfigChange:
    """One ``/tolk config`` form: ``show``, or a setting turned on/off or set."""

    setting: str  # show | auto-images | auto-docs | defaults | quota-threshold
    on: bool = True
    source: Language | None = None
    target: Language | None = None
    provider: str | None = None
    number: int | None = None


@dataclass(frozen=True)
class TolkCommand:
    action: str  # help | tasks | cancel | retry | quota | config
    task_id: str | None = None
    config: ConfigChange | None = None


TOLK_ACTIONS = ("help", "tasks", "cancel", "retry", "quota", "config")
DOC_PROVIDERS = ("alibaba", "rozetta")


def parse_tolk(text: str) -> TolkCommand:
    usage = messages.USAGE["tolk"]
    words = text.split()
    if not words:
        return TolkCommand("help")
    action = words[0].lower()
    if action not in TOLK_ACTIONS:
        raise UsageError(messages.unknown_choice("/tolk", words[0], TOLK_ACTIONS, usage))
    if action == "config":
        return TolkCommand("config", config=parse_config(words[1:]))
    if action in ("cancel", "retry"):
        if len(words) != 2:
            raise UsageError(messages.needs_task_id(action))
        task_id = words[1].strip("`").upper()
        if not (len(task_id) == 5 and task_id.startswith("T") and task_id.isalnum()):
            raise UsageError(messages.needs_task_id(action))
        return TolkCommand(action, task_id)
    if len(words) > 1:
        raise UsageError(f"`/tolk {action}` takes nothing after it.\n{usage}")
    return TolkCommand(action)


def parse_config(words: list[str]) -> ConfigChange:
    usage = messages.USAGE["config"]
    if not words or words == ["show"]:
        return ConfigChange("show")
    setting, args = words[0].lower(), words[1:]
    if setting in ("auto-images", "auto-docs"):
        if args == ["off"]:
            return ConfigChange(setting, on=False)
        if not args or args[0] != "on":
            raise UsageError(messages.config_on_off(setting, usage))
        opts = _options(
            args[1:],
            flags=set(),
            valued={"provider"} if setting == "auto-docs" else set(),
            usage=usage,
        )
        if len(opts.rest) != 1:
            raise UsageError(messages.config_needs_language(setting, usage))
        source, target = _pair(opts.rest[0], usage)
        provider = opts.values.get("provider")
        if provider is not None and provider.lower() not in DOC_PROVIDERS:
            raise UsageError(messages.unknown_choice("--provider", provider, DOC_PROVIDERS, usage))
        return ConfigChange(
            setting, source=source, target=target, provider=provider.lower() if provider else None
        )
    if setting == "defaults":
        if len(args) != 1:
            raise UsageError(messages.config_needs_language(setting, usage))
        source, target = _pair(args[0], usage)
        return ConfigChange(setting, source=source, target=target)
    if setting == "quota-threshold":
        if len(args) != 1 or not _whole_number(args[0]):
            raise UsageError(messages.config_needs_number(usage))
        return ConfigChange(setting, number=int(args[0]))
    raise UsageError(messages.unknown_choice("/tolk config", words[0], CONFIG_SETTINGS, usage))


CONFIG_SETTINGS = ("show", "auto-images", "auto-docs", "defaults", "quota-threshold")


def _whole_number(word: str) -> bool:
    """ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails), and few enough to
    be stored as a 64-bit integer."""
    return word.isascii() and word.isdigit() and len(word) <= 18

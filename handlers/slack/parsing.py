"""Pure parsing of slash-command text into typed commands.

Every bad input raises ``UsageError`` whose message says what was wrong and how to
write it; nothing here performs I/O, so a bad command never reaches a provider.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.core import messages
from bot.core.languages import (
    MAX_SETS,
    Language,
    LanguageError,
    TwoLanguages,
    check_set_name,
    detect_source,
    reaction_name,
    read_language,
    read_pair,
    read_targets,
)
from providers.alibaba.spec import SCENES
from providers.mts.spec import (
    check_function,
    check_function_params,
    check_job_params,
    check_location,
)
from providers.xiangji.spec import IMAGE_ENGINE_NAMES, TEXT_ENGINE_NAMES

MAX_TEXT_CHARS = 5000  # Xiangji's Aliyun engine limit (UTF-16 units)
MAX_IMAGES = 20
# Xiangji's engines by name, as people type them (the provider's wire maps them; handlers
# never import it). Text: the ``Type`` of the text API. Images: one key per engine, in the
# order the default is chosen (the first configured); chatgpt runs on Aliyun's key.
TEXT_ENGINES = TEXT_ENGINE_NAMES
IMAGE_ENGINES = IMAGE_ENGINE_NAMES
IMAGE_PROVIDERS = ("xiangji", "alibaba")
DOC_PROVIDERS = ("alibaba", "rozetta")


class UsageError(ValueError):
    """What the person typed cannot be run; ``str()`` is the message to show them."""


# A workspace's language sets as the parsers read them: name → bot codes (``zh>sea``).
Sets = Mapping[str, Sequence[str]]


def _more(targets: tuple[Language, ...]) -> tuple[Language, ...]:
    """A command's ``targets`` field: every target when there are several, else empty."""
    return targets if len(targets) > 1 else ()


@dataclass(frozen=True)
class TextCommand:
    source: Language | None
    target: Language
    text: str
    engine: str | None = None
    private: bool = False
    targets: tuple[Language, ...] = ()  # several targets, ``target`` first; empty for one

    @property
    def all_targets(self) -> tuple[Language, ...]:
        return self.targets or (self.target,)


@dataclass(frozen=True)
class ImageCommand:
    source: Language | None
    target: Language
    urls: tuple[str, ...]
    removed: bool = False
    ocr: bool = False
    qos: str | None = None
    provider: str = "xiangji"
    engine: str | None = None  # None: the first configured image engine
    targets: tuple[Language, ...] = ()  # several targets, ``target`` first; empty for one

    @property
    def all_targets(self) -> tuple[Language, ...]:
        return self.targets or (self.target,)


@dataclass(frozen=True)
class DocCommand:
    source: Language | None
    target: Language
    url: str
    scene: str | None = None
    provider: str = "alibaba"
    targets: tuple[Language, ...] = ()  # several targets, ``target`` first; empty for one

    @property
    def all_targets(self) -> tuple[Language, ...]:
        return self.targets or (self.target,)


@dataclass(frozen=True)
class MediaJobCommand:
    function: str
    input: str
    params: dict[str, Any]


@dataclass(frozen=True)
class MediaStatusCommand:
    job_id: str


class _Tok(str):
    """A word of the command text, knowing where it stands in that text."""

    start: int
    end: int

    def __new__(cls, word: str, start: int, end: int) -> _Tok:
        tok = super().__new__(cls, word)
        tok.start, tok.end = start, end
        return tok


def _words(text: str) -> list[_Tok]:
    return [_Tok(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", text)]


@dataclass(frozen=True)
class _Options:
    flags: frozenset[str]
    values: dict[str, str]
    rest: list[_Tok]


# An option as people write it: --name or --name=value. Mac and phone keyboards turn "--"
# into a dash, so "—private" is --private too, but only for a name the command knows.
_OPTION = re.compile(r"(--|—|–)([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)(?:=(.*))?", re.S)


def _known_dash(token: str, known: set[str]) -> re.Match[str] | None:
    """``token`` as an option: any ``--`` word, a dash form only of a ``known`` name."""
    match = _OPTION.fullmatch(token)
    if match and match.group(1) != "--" and match.group(2).lower() not in known:
        return None
    return match


def _unknown(token: str, known: set[str], usage: str, *, in_text: bool = False) -> UsageError:
    """Unknown option: name the closest known one when there is one; in a text, say how
    to keep such a word as text."""
    name = token.lstrip("-—–").partition("=")[0].lower()
    prefixed = [
        k for k in sorted(known) if name.startswith(k) or (len(name) > 2 and k.startswith(name))
    ]
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6) or prefixed[:1]
    if close:
        return UsageError(messages.unknown_option_near(token, f"--{close[0]}", usage))
    if in_text:
        return UsageError(messages.option_in_text(token, usage))
    return UsageError(messages.unknown_option(token, usage))


def _options(
    tokens: list[_Tok], *, flags: set[str], valued: set[str], usage: str, strict: bool = True
) -> _Options:
    """Pull ``--flag`` and ``--name value`` (or ``--name=value``) options out of ``tokens``.

    ``strict``: every word starting with ``--`` is an option (commands of URLs and
    settings); else only words shaped like one (``--name``), so ``--`` and ``a--b`` stay
    text. Either way an unknown option is refused, naming the closest known one."""
    known = flags | valued
    seen: set[str] = set()
    values: dict[str, str] = {}
    rest: list[_Tok] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        match = _known_dash(token, known)
        if match is None:
            if strict and token.startswith("--"):
                raise _unknown(token, known, usage)
            rest.append(token)
            i += 1
            continue
        name, inline = match.group(2).lower(), match.group(3)
        if name in flags and inline is None:
            seen.add(name)
        elif name in flags:
            raise UsageError(messages.option_takes_no_value(token, name, usage))
        elif name in valued and inline:
            values[name] = inline
        elif name in valued:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if inline is not None or following is None or _known_dash(following, known):
                raise UsageError(messages.option_needs_value(name, usage))
            values[name] = following
            i += 1
        else:
            raise _unknown(token, known, usage)
        i += 1
    return _Options(frozenset(seen), values, rest)


# Words that are language codes and also ordinary words at the start of a text
# ("/translate ja hi there", "/translate ko my order"): after a target they are text,
# unless the text would otherwise be refused as already in the target language.
_TEXT_WORDS = frozenset(
    {"hi", "it", "my", "no", "he", "el", "id", "et", "de", "da", "te", "ta", "uk", "ms", "es",
     "vi", "sv", "fi", "tr", "bn", "ur", "mr", "sw", "so", "tl", "nb", "iw"}
)  # fmt: skip
_CODE_LIKE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})*")


def _languages(
    command: str,
    text: str,
    words: list[_Tok],
    usage: str,
    *,
    loose_text: Callable[[int], str] | None = None,
    sets: Sets | None = None,
) -> tuple[Language | None, tuple[Language, ...], int]:
    """``[SRC>]TGT`` at the start of ``words`` (the command's words without its options):
    (source, targets, how many words they take). Languages written the way people do but
    Tolk does not read (``en-ja``, ``en ja``, ``en > ja``) are refused with the command as
    it should be written. The target may be several (``ko,ja``, a name of ``sets``: see
    ``bot.core.languages.read_pair``).

    ``loose_text(n)``: for /translate, the text that follows when the languages take
    ``n`` words; None where a URL or nothing must follow (then any second language is a
    mistake)."""
    if not words:
        raise UsageError(messages.missing_language(usage))
    try:
        reading = read_pair(words, sets)
    except TwoLanguages as exc:
        fixed = _corrected(command, text, words[:1], exc.source, exc.target.code)
        raise UsageError(messages.pair_suggestion(words[0], "two", fixed, usage)) from None
    except LanguageError as exc:
        raise UsageError(f"{exc}\n{usage}") from None
    used = reading.used
    if reading.spaced:
        written_targets = ",".join(t.code for t in reading.all_targets)
        fixed = _corrected(command, text, words[:used], reading.source, written_targets)
        written = text[words[0].start : words[used - 1].end]
        raise UsageError(messages.pair_suggestion(written, "spaced", fixed, usage))
    if (
        not reading.explicit
        and not reading.listed
        and (second := read_language(words[used : used + 3]))
    ):
        lang, n = second
        typed = words[used : used + n]
        if lang != reading.target and _second_language(reading.target, typed, used, loose_text):
            fixed = _corrected(command, text, words[: used + n], reading.target, lang.code)
            written = text[words[0].start : typed[-1].end]
            note = ""
            if loose_text is not None:
                literal = (
                    text[: words[0].start]
                    + f"SRC>{reading.target.code}"
                    + text[words[used - 1].end :]
                )
                note = messages.pair_suggestion_text_note(
                    text[typed[0].start : typed[-1].end], f"/{command} {literal.strip()}"
                )
            raise UsageError(messages.pair_suggestion(written, "two", fixed, usage, note))
    return reading.source, reading.all_targets, used


def _second_language(
    target: Language, typed: list[_Tok], used: int, loose_text: Callable[[int], str] | None
) -> bool:
    """Is a language right after the target a mistake for ``SRC>TGT``? Always where a URL
    or nothing must follow; before a text, when the word is written as a language code that
    is not also an everyday word (``ja``, ``ko``, ``zh-TW``; not ``hi``, ``it``, ``no``), or
    when the text would be refused anyway as already in the target language."""
    if loose_text is None:
        return True
    word = typed[0]
    if len(typed) == 1 and _CODE_LIKE.fullmatch(word) and word.lower() not in _TEXT_WORDS:
        return True
    return detect_source(slack_unescape(loose_text(used))) in (target, None)


def _corrected(
    command: str, text: str, words: list[_Tok], source: Language | None, target: str
) -> str:
    """The command as typed, with ``words`` (the languages) written as ``SRC>TGT``
    (``target``: the target's code, or codes with commas)."""
    pair = f"{source.code}>{target}" if source else target
    line = text[: words[0].start] + pair + text[words[-1].end :]
    return f"/{command} {line.strip()}"


# Backtick spans: what the person marked as code is text, never an option.
_CODE_SPANS = re.compile(r"```.*?```|`[^`\n]+`", re.S)


def parse_translate(text: str, sets: Sets | None = None) -> TextCommand:
    """``[SRC>]TGT TEXT`` with ``--engine E`` and ``--private`` anywhere (before the
    languages, inside or after the text). A word shaped like an option (``--name``) that
    is not one is refused; to translate one, put it in backticks. The text keeps the
    person's own spacing and line breaks."""
    usage = messages.USAGE["translate"]
    spans = [m.span() for m in _CODE_SPANS.finditer(text)]
    tokens = _words(text)
    coded = {t.start for t in tokens if any(a <= t.start < b for a, b in spans)}
    plain = [t for t in tokens if t.start not in coded]
    known = {"private", "engine"}
    for token in plain:
        match = _known_dash(token, known)
        if match and match.group(2).lower() not in known:
            raise _unknown(token, known, usage, in_text=True)
    opts = _options(plain, flags={"private"}, valued={"engine"}, usage=usage, strict=False)
    kept = {t.start for t in opts.rest} | coded
    words = [t for t in tokens if t.start in kept]

    def rest(n: int) -> str:
        return _join(text, tokens, words[n:])

    source, targets, used = _languages("translate", text, words, usage, loose_text=rest, sets=sets)
    body = slack_unescape(rest(used).strip())
    if not body:
        raise UsageError(messages.missing_text(usage))
    if _utf16_len(body) > MAX_TEXT_CHARS:
        raise UsageError(f"{messages.text_too_long(_utf16_len(body), MAX_TEXT_CHARS)}\n{usage}")
    engine = opts.values.get("engine")
    if engine is not None and engine.lower() not in TEXT_ENGINES:
        raise UsageError(messages.unknown_choice("--engine", engine, TEXT_ENGINES, usage))
    return TextCommand(
        source=source,
        target=targets[0],
        text=body,
        engine=engine.lower() if engine else None,
        private="private" in opts.flags,
        targets=_more(targets),
    )


def _join(text: str, tokens: list[_Tok], kept: list[_Tok]) -> str:
    """``kept`` words of ``text`` with the person's own spacing between them; where options
    were taken out between two words, the space beside them that holds more line breaks."""
    if not kept:
        return ""
    out = [str(kept[0])]
    position = {t.start: n for n, t in enumerate(tokens)}
    for before, word in itertools.pairwise(kept):
        a, b = position[before.start], position[word.start]
        if b == a + 1:
            out.append(text[before.end : word.start])
        else:
            after_first = text[before.end : tokens[a + 1].start]
            before_next = text[tokens[b - 1].end : word.start]
            out.append(max(after_first, before_next, key=lambda s: s.count("\n")))
        out.append(str(word))
    return "".join(out)


_URL_START = re.compile(r"\s*,\s*(?=https?://)", re.I)
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")


def _urls(tokens: list[_Tok]) -> tuple[str, ...]:
    """URLs as typed: one per word, and several in one word or across words when separated
    by commas (``a.jpg,https://…`` or ``a.jpg, https://…``). A comma splits only where a
    new ``http(s)://`` follows it, so a comma inside one URL's query stays."""
    joined = _URL_START.sub(" ", " ".join(_SLACK_LINK.sub(r"\1", t) for t in tokens))
    return tuple(slack_unescape(u) for u in joined.split())


def parse_translate_image(text: str, sets: Sets | None = None) -> ImageCommand:
    usage = messages.USAGE["translate-image"]
    opts = _options(
        _words(text),
        flags={"removed", "ocr", "fast", "best"},
        valued={"provider", "engine"},
        usage=usage,
    )
    if not opts.rest:
        raise UsageError(usage)
    source, targets, used = _languages("translate-image", text, opts.rest, usage, sets=sets)
    urls = _urls(opts.rest[used:])
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
    engine = read_image_engine(opts.values.get("engine"), usage)
    if engine is not None and provider != "xiangji":
        raise UsageError(messages.option_not_for_provider("--engine", provider, usage))
    qos = "LowLatency" if "fast" in opts.flags else "BestQuality" if "best" in opts.flags else None
    return ImageCommand(
        source=source,
        target=targets[0],
        urls=urls,
        removed="removed" in opts.flags,
        ocr="ocr" in opts.flags,
        qos=qos,
        provider=provider,
        engine=engine,
        targets=_more(targets),
    )


def parse_catalogue(text: str, sets: Sets | None = None) -> ImageCommand:
    """The message of an uploaded catalogue, ``/translate-image [SRC>]TGT [--engine E]``:
    its languages and engine (the images are the catalogue's rows)."""
    usage = messages.USAGE["catalogue"]
    opts = _options(_words(text), flags=set(), valued={"engine"}, usage=usage)
    if not opts.rest:
        raise UsageError(usage)
    source, targets, used = _languages("translate-image", text, opts.rest, usage, sets=sets)
    if opts.rest[used:]:
        raise UsageError(messages.catalogue_extra_words(" ".join(opts.rest[used:]), usage))
    engine = read_image_engine(opts.values.get("engine"), usage)
    return ImageCommand(source, targets[0], (), engine=engine, targets=_more(targets))


def read_image_engine(value: str | None, usage: str) -> str | None:
    """``--engine E`` of an image command: one of ``IMAGE_ENGINES`` (any case), or None.
    Whether its key is configured is the handler's to say."""
    if value is None:
        return None
    if value.lower() not in IMAGE_ENGINES:
        raise UsageError(messages.unknown_choice("--engine", value, IMAGE_ENGINES, usage))
    return value.lower()


def parse_translate_doc(text: str, sets: Sets | None = None) -> DocCommand:
    """``[SRC>]TGT URL [--scene S] [--provider alibaba|rozetta]``."""
    usage = messages.USAGE["translate-doc"]
    opts = _options(_words(text), flags=set(), valued={"scene", "provider"}, usage=usage)
    if not opts.rest:
        raise UsageError(usage)
    source, targets, used = _languages("translate-doc", text, opts.rest, usage, sets=sets)
    urls = _urls(opts.rest[used:])
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
    return DocCommand(
        source,
        targets[0],
        urls[0],
        scene.lower() if scene else None,
        provider,
        targets=_more(targets),
    )


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
    if first.lower() == "status":  # a job id may start with "--"
        job_id, extra = _first_word(rest)
        if not job_id or extra.strip() or not _JOB_ID.match(job_id):
            raise UsageError(messages.needs_job_id(usage))
        return MediaStatusCommand(job_id)
    second, params_text = _first_word(rest)
    # /media-job has no options: "--wait" before or instead of the JSON is a mistake.
    for word in (first, second, params_text.strip()):
        if (match := _OPTION.match(word)) and match.group(1) == "--":
            option = word.split()[0]
            raise UsageError(messages.takes_no_options("/media-job", option, usage))
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
    opts = _options(_words(text), flags=set(), valued={"bg", "engine"}, usage=usage)
    if "engine" in opts.values:  # matting has one key and no engine to pick
        raise UsageError(messages.cutout_has_no_engine(usage))
    urls = _urls(opts.rest)
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
    engine: str | None = None  # auto-images: the channel's image engine
    targets: tuple[Language, ...] = ()  # auto-images/-docs: several targets, ``target`` first
    service: str | None = None  # confirm-over, limit: images | characters (None: both)
    users: tuple[str, ...] = ()  # reviewers: the people named


@dataclass(frozen=True)
class TolkCommand:
    action: str  # help | tasks | cancel | retry | quota | config
    task_id: str | None = None
    config: ConfigChange | None = None
    sets: SetChange | None = None  # /tolk config set|unset|sets|flag


TOLK_ACTIONS = ("help", "tasks", "cancel", "retry", "quota", "config", "glossary")
DOC_PROVIDERS = ("alibaba", "rozetta")


def parse_tolk(text: str, sets: Sets | None = None) -> TolkCommand:
    """``sets``: the workspace's language sets, where a target may name one."""
    usage = messages.USAGE["tolk"]
    words = text.split()
    if not words:
        return TolkCommand("help")
    action = words[0].lower()
    if action not in TOLK_ACTIONS:
        raise UsageError(messages.unknown_choice("/tolk", words[0], TOLK_ACTIONS, usage))
    if action == "config":
        after = _words(text)[1:]
        if after and after[0].lower() in SET_SETTINGS:
            return TolkCommand("config", sets=parse_set_config(after, sets or {}))
        return TolkCommand("config", config=parse_config(text, after, sets))
    option = next((w for w in words[1:] if w.startswith(("--", "—", "–"))), None)
    if option is not None:  # /tolk tasks --all, /tolk cancel T7Q2K --force
        raise UsageError(messages.takes_no_options(f"/tolk {action}", option, usage))
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


def parse_config(text: str, words: list[_Tok], sets: Sets | None = None) -> ConfigChange:
    """``words``: what follows ``/tolk config`` in ``text`` (the whole command text)."""
    usage = messages.USAGE["config"]
    if not words or [w.lower() for w in words] == ["show"]:
        return ConfigChange("show")
    setting = words[0].lower()
    if setting not in CONFIG_SETTINGS:
        raise UsageError(messages.unknown_choice("/tolk config", words[0], CONFIG_SETTINGS, usage))
    valued = {"auto-docs": {"provider"}, "auto-images": {"engine"}}.get(setting, set())
    opts = _options(words[1:], flags=set(), valued=valued, usage=usage)
    args = opts.rest
    if setting in ("auto-images", "auto-docs"):
        if [a.lower() for a in args] == ["off"] and not opts.values:
            return ConfigChange(setting, on=False)
        if not args or args[0].lower() != "on":
            raise UsageError(messages.config_on_off(setting, usage))
        args = args[1:]
    if setting in ("auto-images", "auto-docs", "defaults"):
        if not args:
            raise UsageError(messages.config_needs_language(setting, usage))
        source, targets, used = _languages("tolk", text, args, usage, sets=sets)
        if used != len(args):
            raise UsageError(messages.config_needs_language(setting, usage))
        if setting == "defaults" and len(targets) > 1:
            raise UsageError(messages.config_defaults_one_target(usage))
        provider = opts.values.get("provider")
        if provider is not None and provider.lower() not in DOC_PROVIDERS:
            raise UsageError(messages.unknown_choice("--provider", provider, DOC_PROVIDERS, usage))
        return ConfigChange(
            setting,
            source=source,
            target=targets[0],
            provider=provider.lower() if provider else None,
            engine=read_image_engine(opts.values.get("engine"), usage),
            targets=_more(targets),
        )
    if setting in ("confirm-over", "limit"):
        return _spend_change(setting, [a.lower() for a in args])
    if setting == "review":
        if [a.lower() for a in args] not in (["on"], ["off"]):
            raise UsageError(messages.review_on_off(usage))
        return ConfigChange(setting, on=args[0].lower() == "on")
    if setting == "reviewers":
        return _reviewers(args, usage)
    if setting == "quota-threshold":
        if len(args) == 1 and args[0].startswith(("-", "−")) and _whole_number(args[0][1:]):
            raise UsageError(messages.config_number_not_negative(args[0], usage))
        if len(args) != 1 or not _whole_number(args[0]):
            raise UsageError(messages.config_needs_number(usage))
        return ConfigChange(setting, number=int(args[0]))
    raise UsageError(messages.unknown_choice("/tolk config", words[0], CONFIG_SETTINGS, usage))


CONFIG_SETTINGS = (
    "show",
    "auto-images",
    "auto-docs",
    "defaults",
    "quota-threshold",
    "confirm-over",
    "limit",
    "review",
    "reviewers",
)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
MAX_REVIEWERS = 20


def _reviewers(args: list[_Tok], usage: str) -> ConfigChange:
    """``reviewers @a @b`` (Slack sends each mention as ``<@U…|name>``), or ``none``."""
    if [a.lower() for a in args] in (["none"], ["off"]):
        return ConfigChange("reviewers", on=False)
    text = " ".join(args)  # a mention's label may hold a space: read the whole
    stray = _MENTION.sub(" ", text).split()
    if stray:
        raise UsageError(messages.reviewers_need_mentions(stray[0], usage))
    users = _MENTION.findall(text)
    if not users or len(users) > MAX_REVIEWERS:
        raise UsageError(messages.reviewers_need_mentions("", usage))
    return ConfigChange("reviewers", users=tuple(dict.fromkeys(users)))


_SPEND_UNITS = {
    **dict.fromkeys(("image", "images"), "images"),
    **dict.fromkeys(("char", "chars", "character", "characters"), "characters"),
}
_PER_MONTH = re.compile(r"(\d[\d,_]*)\s*(?:/\s*month|/\s*mo|per month|a month)?")


def _spend_change(setting: str, args: list[str]) -> ConfigChange:
    """``confirm-over N`` (N images, N×400 characters), ``confirm-over N images|chars``,
    ``confirm-over default``; ``limit images|characters N[/month]``, ``limit … off``."""
    if setting == "confirm-over":
        if args == ["default"]:
            return ConfigChange(setting, on=False)
        unit = _SPEND_UNITS.get(args[1]) if len(args) == 2 else None
        number = _spend_number(args[0]) if len(args) in (1, 2) else None
        if number is None or (len(args) == 2 and unit is None):
            raise UsageError(messages.spend_confirm_needs_number(" ".join(args)))
        return ConfigChange(setting, number=number, service=unit)
    service = _SPEND_UNITS.get(args[0]) if args else None
    if service is None:
        raise UsageError(messages.spend_limit_needs_service(args[0] if args else ""))
    rest = " ".join(args[1:])
    if rest == "off":
        return ConfigChange(setting, on=False, service=service)
    match = _PER_MONTH.fullmatch(rest)
    number = _spend_number(match.group(1)) if match else None
    if number is None:
        raise UsageError(messages.spend_limit_needs_number(service, rest))
    return ConfigChange(setting, number=number, service=service)


def _spend_number(word: str) -> int | None:
    """A whole number as people write amounts: ``2000``, ``2,000``, ``500_000``."""
    digits = word.replace(",", "").replace("_", "")
    return int(digits) if _whole_number(digits) else None


SET_SETTINGS = ("set", "unset", "sets", "flag")  # the workspace's language and flag sets


@dataclass(frozen=True)
class SetChange:
    """A ``/tolk config`` form about the workspace's language sets: ``list`` (``sets``),
    ``save`` a set (``set NAME LANGS``), ``remove`` one (``set NAME remove``, ``unset
    NAME``), ``flag`` a reaction to a set (``flag :emoji: NAME``) or ``unflag`` it
    (``flag :emoji: remove``)."""

    action: str  # list | save | remove | flag | unflag
    name: str | None = None
    languages: tuple[Language, ...] = ()
    emoji: str | None = None


# A reaction's name as Slack writes it (``:earth_asia:``, ``:flag-kr:``, ``:+1:``).
_EMOJI = re.compile(r"[a-z0-9_+'-]{1,100}")


def parse_set_config(words: list[_Tok], sets: Sets) -> SetChange:
    """``words``: what follows ``/tolk config``, starting with one of ``SET_SETTINGS``.
    Languages of a set are read like targets (``th,vi,id,ms``, ``th vi id ms``, another
    set's name); a flag names an existing set."""
    usage = messages.USAGE["sets"]
    setting, args = words[0].lower(), [str(w) for w in words[1:]]
    if option := next((a for a in args if _OPTION.fullmatch(a)), None):
        raise UsageError(messages.takes_no_options(f"/tolk config {setting}", option, usage))
    if setting == "sets":
        if args:
            raise UsageError(f"`/tolk config sets` takes nothing after it.\n{usage}")
        return SetChange("list")
    if setting == "unset":
        if len(args) != 1:
            raise UsageError(messages.set_needs_name("unset", usage))
        return SetChange("remove", name=args[0].lower())
    if setting == "flag":
        if len(args) != 2:
            raise UsageError(messages.flag_needs_emoji_and_set(usage))
        emoji = reaction_name(args[0])
        if not _EMOJI.fullmatch(emoji):
            raise UsageError(messages.not_an_emoji(args[0], usage))
        if args[1].lower() in ("remove", "off"):
            return SetChange("unflag", emoji=emoji)
        name = args[1].lower()
        if name not in sets:
            raise UsageError(messages.no_such_set(args[1], sorted(sets), usage))
        return SetChange("flag", name=name, emoji=emoji)
    if not args:
        raise UsageError(messages.set_needs_name("set", usage))
    if [a.lower() for a in args[1:]] in (["remove"], ["off"]):
        return SetChange("remove", name=args[0].lower())
    name = _set_name(args[0], usage)
    if len(args) == 1:
        raise UsageError(messages.set_needs_languages(name, usage))
    if name not in sets and len(sets) >= MAX_SETS:
        raise UsageError(messages.too_many_sets(MAX_SETS))
    try:  # "th,vi,id,ms", "th, vi", "th vi id ms"; a set's own old languages do not count
        languages = read_targets(",".join(args[1:]), {k: v for k, v in sets.items() if k != name})
    except LanguageError as exc:
        raise UsageError(f"{exc}\n{usage}") from None
    return SetChange("save", name=name, languages=languages)


def _set_name(word: str, usage: str) -> str:
    try:
        return check_set_name(word)
    except LanguageError as exc:
        raise UsageError(f"{exc}\n{usage}") from None


def _whole_number(word: str) -> bool:
    """ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails), and few enough to
    be stored as a 64-bit integer."""
    return word.isascii() and word.isdigit() and len(word) <= 18

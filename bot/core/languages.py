"""Languages: what people type, what each provider calls it, and which pairs work.

Bot codes are ISO 639-1 (BCP-47 where a script or region matters: zh-TW, zh-HK, pt-BR). The
provider columns follow the providers overview (``README.md``), 'Recommended language-code
mapping', with the 'Language codes' of the Xiangji and Alibaba MT specs and the Rozetta spec's
'Languages'. Pure: no I/O.

Decisions:
- A "?" cell of the mapping table is left out (None). Where a near language exists the error
  names it (pt-BR at Alibaba/Rozetta -> "write pt"). Xiangji's footnote-1 codes (its GitHub table,
  same code system) are included.
- zh-HK is written Traditional Chinese: Xiangji CHT, Alibaba zh-tw (so Alibaba's "only with zh"
  rule applies) and Rozetta zh-TW (Rozetta's zh-HK is documented only for text auto-split, not
  for file translation). :flag-hk: and :flag-mo: -> zh-HK.
- fil: Xiangji TL (in the seed) rather than FIL (GitHub table only). `tl` and `tagalog` are aliases.
- `uk` typed as a language is Ukrainian (ISO 639-1); the :uk: reaction (alias of :gb:) -> en.
- Region tags fall back to their language: en-US -> en, es-MX -> es, zh-Hant-TW -> zh-TW.
- Country codes typed as languages (kr, jp, cn, gr ...) are not accepted; they get a suggestion.
- "auto" as a source in parse_pair ("auto>en") means "no source given" (None).
- Flags: a country maps to its main language when that language is in the table; ambiguous
  countries (Belgium, Luxembourg, ...) are left out. ca -> en (majority; French speakers can use
  :fr:), ch -> de (majority), in -> hi, ph -> fil, by -> ru, af -> fa (Dari), sg -> en.
  Note the collisions with language codes: :flag-ar: is Argentina (es), :flag-my: Malaysia (ms),
  :flag-bn: Brunei (ms), :flag-mr: Mauritania (ar), :flag-vi: US Virgin Islands (en).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FLAGS",
    "MAX_TARGETS",
    "PROVIDERS",
    "Language",
    "LanguageError",
    "LanguageSets",
    "PairReading",
    "TooManyTargets",
    "TwoLanguages",
    "UnknownLanguage",
    "all_languages",
    "check_pair",
    "check_set_name",
    "check_source",
    "detect_source",
    "from_provider_code",
    "language_for_flag",
    "lookup",
    "parse_pair",
    "provider_code",
    "reaction_name",
    "read_language",
    "read_pair",
    "read_targets",
    "text_source",
]


@dataclass(frozen=True)
class Language:
    code: str  # bot code: "zh", "zh-TW", "en", "pt-BR", ...
    name: str  # English name: "Chinese (Simplified)"
    xiangji: str | None
    alibaba: str | None
    rozetta: str | None


class LanguageError(ValueError):
    """Bad language input; the message is written for the person who typed it."""

    def __init__(self, message: str, suggestion: Language | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


class TwoLanguages(LanguageError):
    """Two languages written as one tag, like ``en-ja``: the person meant ``en>ja``."""

    def __init__(self, word: str, source: Language, target: Language) -> None:
        super().__init__(
            f"'{word}' names two languages, {source.name} and {target.name}. "
            f"To translate from {source.code} into {target.code}, "
            f"write {source.code}>{target.code}.",
            target,
        )
        self.source = source
        self.target = target


class UnknownLanguage(LanguageError):
    """A word that is no language Tolk knows (``word``, as typed)."""

    def __init__(self, message: str, word: str, suggestion: Language | None = None) -> None:
        super().__init__(message, suggestion)
        self.word = word


class TooManyTargets(LanguageError):
    """More than ``MAX_TARGETS`` target languages in one command."""


PROVIDERS = ("xiangji", "alibaba", "rozetta")
OPERATIONS = ("text", "image", "doc", "cutout")
_PROVIDER_NAMES = {"xiangji": "Xiangji", "alibaba": "Alibaba", "rozetta": "Rozetta"}
# Which provider does which operation (used only to suggest another --provider).
_PROVIDER_OPS = {
    "xiangji": {"text", "image", "cutout"},
    "alibaba": {"image", "doc"},
    "rozetta": {"doc"},
}
_HOW = "Write codes like zh, en, ja, ko or names like Korean."
_HOW_PAIR = "Write SRC>TGT like zh>en, or just the target like en."

# code, English name, Xiangji, Alibaba alimt, Rozetta, other words people write (lower case).
_TABLE: tuple[tuple[str, str, str | None, str | None, str | None, tuple[str, ...]], ...] = (
    ("zh", "Chinese (Simplified)", "CHS", "zh", "zh-CN",
     ("zh-cn", "zh-hans", "zh-sg", "chinese", "simplified chinese", "mandarin", "中文",
      "简体中文")),
    ("zh-TW", "Chinese (Traditional)", "CHT", "zh-tw", "zh-TW",
     ("zh-hant", "traditional chinese", "繁體中文", "繁体中文")),
    ("zh-HK", "Chinese (Hong Kong)", "CHT", "zh-tw", "zh-TW", ("zh-mo", "hong kong chinese")),
    ("yue", "Cantonese", None, "yue", None, ("粤语", "廣東話")),
    ("en", "English", "ENG", "en", "en", ("英语", "英文")),
    ("ja", "Japanese", "JPN", "ja", "ja", ("日本語", "日语")),
    ("ko", "Korean", "KOR", "ko", "ko", ("한국어", "韩语")),
    ("fr", "French", "FRA", "fr", "fr", ("français", "francais")),
    ("de", "German", "DEU", "de", "de", ("deutsch",)),
    ("es", "Spanish", "ESP", "es", "es", ("español", "espanol")),
    ("pt", "Portuguese", "PT", "pt", "pt", ("pt-pt", "european portuguese")),
    ("pt-BR", "Portuguese (Brazil)", "PTB", None, None, ("brazilian portuguese", "brazilian")),
    ("it", "Italian", "ITA", "it", "it", ()),
    ("ru", "Russian", "RUS", "ru", "ru", ()),
    ("ar", "Arabic", "AR", "ar", "ar", ()),
    ("th", "Thai", "TH", "th", "th", ()),
    ("vi", "Vietnamese", "VIN", "vi", "vi", ()),
    ("id", "Indonesian", "ID", "id", "id", ("bahasa indonesia",)),
    ("ms", "Malay", "MS", "ms", "ms", ("bahasa melayu",)),
    ("tr", "Turkish", "TRK", "tr", "tr", ()),
    ("pl", "Polish", "PLK", "pl", "pl", ()),
    ("nl", "Dutch", "NLD", "nl", "nl", ()),
    ("cs", "Czech", "CSY", "cs", "cs", ()),
    ("hu", "Hungarian", "HUN", "hu", "hu", ()),
    ("ro", "Romanian", "ROM", "ro", "ro", ()),
    ("bg", "Bulgarian", "BG", "bg", "bg", ()),
    ("uk", "Ukrainian", "UK", "uk", "uk", ()),
    ("el", "Greek", "EL", "el", "el", ()),
    ("he", "Hebrew", "HE", "he", "he", ("iw",)),
    ("fa", "Persian", "FA", "fa", "fa", ("farsi",)),
    ("hi", "Hindi", "HI", "hi", "hi", ()),
    ("bn", "Bengali", "BN", "bn", "bn", ("bangla",)),
    ("ta", "Tamil", "TA", "ta", "ta", ()),
    ("te", "Telugu", "TE", "te", "te", ()),
    ("ur", "Urdu", "UR", "ur", "ur", ()),
    ("gu", "Gujarati", "GU", "gu", "gu", ()),
    ("mr", "Marathi", "MR", "mr", "mr", ()),
    ("sv", "Swedish", "SV", "sv", "sv", ()),
    ("da", "Danish", "DA", "da", "da", ()),
    ("fi", "Finnish", "FI", "fi", "fi", ()),
    ("no", "Norwegian", "NO", None, "no", ("nb", "norwegian bokmal", "bokmål")),
    ("sk", "Slovak", "SK", "sk", "sk", ()),
    ("sl", "Slovenian", "SL", "sl", "sl", ("slovene",)),
    ("lt", "Lithuanian", "LT", "lt", "lt", ()),
    ("lv", "Latvian", "LV", "lv", "lv", ()),
    ("et", "Estonian", "ET", "et", "et", ()),
    ("fil", "Filipino", "TL", "fil", None, ("tl", "tagalog")),
    ("my", "Burmese", "MY", "my", None, ("myanmar",)),
    ("jv", "Javanese", "JW", None, None, ("jw",)),
    ("sw", "Swahili", "SW", None, None, ("kiswahili",)),
)  # fmt: skip

_LANGUAGES = tuple(Language(c, n, x, a, r) for c, n, x, a, r, _ in _TABLE)
_BY_CODE = {lang.code: lang for lang in _LANGUAGES}
# Named in an error when a provider lacks the exact language.
_NEAREST = {"pt-BR": "pt", "zh-HK": "zh-TW", "yue": "zh-HK"}
# Suggestions for common mistakes that neither flags nor spelling would find.
_MISTAKES = {
    "ch": "zh", "sc": "zh", "tc": "zh-TW", "sp": "es", "ge": "de", "po": "pt",
    "china": "zh", "taiwan": "zh-TW", "taiwanese": "zh-TW", "hong kong": "zh-HK",
    "hongkong": "zh-HK", "brazil": "pt-BR",
}  # fmt: skip


def _norm(word: str) -> str:
    word = word.strip().lower().replace("_", "-")
    word = re.sub(r"[(),]", " ", word)
    return " ".join(word.split())


def _build_index() -> dict[str, Language]:
    index: dict[str, Language] = {}
    for (code, name, *_, words), lang in zip(_TABLE, _LANGUAGES, strict=True):
        for word in (code, name, *words):
            key = _norm(word)
            if index.setdefault(key, lang) is not lang:
                raise RuntimeError(f"language word {key!r} is ambiguous")
    return index


_INDEX = _build_index()


def _label(lang: Language) -> str:
    return f"'{lang.code}' ({lang.name})"


def all_languages() -> list[Language]:
    return list(_LANGUAGES)


def _find(key: str) -> Language | None:
    if key in _INDEX:
        return _INDEX[key]
    if "-" not in key:
        return None
    if lang := _INDEX.get(key.replace("-", " ")):  # "traditional-chinese"
        return lang
    parts = key.split("-")
    if len(parts) == 2 and (pair := _two_languages(key, parts[0], parts[1])):
        raise TwoLanguages(key, *pair)
    for end in range(len(parts) - 1, 0, -1):  # zh-hant-tw -> zh-hant; en-us -> en
        if lang := _INDEX.get("-".join(parts[:end])):
            return lang
    return None


# Real locale tags whose region is also a language code in the table, and whose country
# _COUNTRIES does not give to that language (es-AR, ms-MY, nb-NO are found there).
_LOCALE_TAGS = frozenset(
    {"en-my", "zh-my", "ta-my", "sv-fi", "en-id", "en-th", "en-fi", "en-uk", "pt-tl"}
)


def _two_languages(key: str, first: str, second: str) -> tuple[Language, Language] | None:
    """``en-ja`` (two languages joined by a hyphen) rather than ``es-ar`` (a language and a
    region where it is spoken): the pair the person meant, else None."""
    a, b = _INDEX.get(first), _INDEX.get(second)
    if a is None or b is None or a == b or key in _LOCALE_TAGS:
        return None
    if second in _COUNTRIES.get(a.code, ()):  # es-ar: Spanish as written in Argentina
        return None
    return a, b


def _suggest(key: str) -> Language | None:
    code = _MISTAKES.get(key) or FLAGS.get(key) or FLAGS.get(f"flag-{key}")
    if code:
        return _BY_CODE[code]
    for lang in _LANGUAGES:  # a provider's own code: CHS, ENG, KOR, VIN ...
        if key in (c.lower() for c in (lang.xiangji, lang.alibaba, lang.rozetta) if c):
            return lang
    close = difflib.get_close_matches(key, list(_INDEX), n=1, cutoff=0.75)
    return _INDEX[close[0]] if close else None


def lookup(word: str) -> Language:
    """A bot code, alias or English name (case-insensitive) -> Language, else LanguageError."""
    key = _norm(word)
    if not key:
        raise LanguageError(f"No language given. {_HOW}")
    if key == "auto":
        raise LanguageError(
            f"'auto' is not a target language. {_HOW_PAIR} Leave out the source to detect it."
        )
    if lang := _find(key):
        return lang
    suggestion = _suggest(key)
    hint = f" Did you mean {_label(suggestion)}?" if suggestion else ""
    raise UnknownLanguage(
        f"Unknown language '{word.strip()}'.{hint} {_HOW}", word.strip(), suggestion
    )


_SEPARATORS = ("->", "→", "⇒", "&gt;", "＞")


def parse_pair(text: str) -> tuple[Language | None, Language]:
    """ "zh>en", "zh->en", "zh→en", "chinese>korean" or just "en" -> (source or None, target).

    Also takes "&gt;" (Slack's escaping) and the full-width "＞" of Chinese keyboards;
    "auto>en" is the same as "en".
    """
    raw = text.strip()
    if not raw:
        raise LanguageError(f"No language given. {_HOW_PAIR}")
    norm = raw
    for sep in _SEPARATORS:
        norm = norm.replace(sep, ">")
    parts = [p.strip() for p in norm.split(">")]
    if len(parts) == 1:
        return None, lookup(parts[0])
    if len(parts) > 2:
        raise LanguageError(f"Too many '>' in '{raw}'. {_HOW_PAIR}")
    src_word, tgt_word = parts
    if not src_word:
        raise LanguageError(f"Missing the source language before '>' in '{raw}'. {_HOW_PAIR}")
    if not tgt_word:
        raise LanguageError(f"Missing the target language after '>' in '{raw}'. {_HOW_PAIR}")
    source = None if _norm(src_word) == "auto" else lookup(src_word)
    target = lookup(tgt_word)
    if source == target:
        raise LanguageError(
            f"'{raw}' translates {_label(target)} into itself. "
            "Write two different languages, like zh>en."
        )
    return source, target


# Multi-word names written with spaces: "traditional chinese", "brazilian portuguese"; an
# English name with its parentheses ("Chinese (Traditional)") only when they are typed.
_SPACED = frozenset(_norm(word) for *_, words in _TABLE for word in words if " " in _norm(word))
_MAX_WORDS = 3  # "hong kong chinese", "chinese (hong kong)"


def _phrase(words: list[str]) -> Language | None:
    joined = " ".join(words)
    key = _norm(joined)
    written_whole = re.search(r"\(\w[^()]*\)$", joined) is not None  # "Chinese (Traditional)"
    if key in _SPACED or (written_whole and key in _INDEX):
        return _INDEX[key]
    return None


@dataclass(frozen=True)
class PairReading:
    """What ``read_pair`` found at the start of a command's words."""

    source: Language | None
    target: Language
    used: int  # how many of the words were the languages
    spaced: bool  # the '>' had spaces around it ("en > ja", "en> ja"): not how it is written
    explicit: bool  # a '>' was written (so "auto>en" and "en" differ)
    # Several targets (``ko,ja``, a set): all of them in order, ``target`` first; empty for one.
    targets: tuple[Language, ...] = ()
    listed: bool = False  # the target was written as a list or a set's name

    @property
    def all_targets(self) -> tuple[Language, ...]:
        return self.targets or (self.target,)


def _pieces(words: Sequence[str]) -> list[tuple[str, int, bool]]:
    """Words cut at every '>' (and its spellings): (piece, index of its word, starts a word)."""
    pieces = []
    for index, word in enumerate(words):
        norm = word.replace("&gt;", ">")  # first: Slack's "-&gt;" is "->"
        for sep in _SEPARATORS:
            norm = norm.replace(sep, ">")
        for n, part in enumerate(p for p in re.split(r"(>)", norm) if p):
            pieces.append((part, index, n == 0))
    return pieces


def _language_at(
    pieces: list[tuple[str, int, bool]], at: int, *, first: bool
) -> tuple[Language | None, int]:
    """The language starting at piece ``at``, and how many pieces it takes (``auto``: None)."""
    word = pieces[at][0]
    followed = at + 1 < len(pieces) and pieces[at + 1][0] == ">"
    if first and followed and _norm(word) == "auto":
        return None, 1
    for n in range(_MAX_WORDS, 1, -1):
        words = [p for p, _, _ in pieces[at : at + n]]
        if len(words) == n and ">" not in words and (lang := _phrase(words)):
            return lang, n
    try:
        return lookup(word), 1
    except TwoLanguages as exc:
        if first:
            raise
        raise LanguageError(f"Unknown language '{word}'. {_HOW}") from exc


def read_language(words: Sequence[str]) -> tuple[Language, int] | None:
    """A language (one word, or a multi-word name) at the start of ``words`` and how many
    words it takes; None when the first word is not a language or holds a '>'."""
    pieces = _pieces(words[:_MAX_WORDS])
    if not pieces or any(piece == ">" for piece, word, _ in pieces if word == 0):
        return None
    try:
        lang, n = _language_at(pieces, 0, first=False)
    except LanguageError:
        return None
    return (lang, pieces[n - 1][1] + 1) if lang else None


def read_pair(words: Sequence[str], sets: Mapping[str, Sequence[str]] | None = None) -> PairReading:
    """``[SRC>]TGT`` at the start of a command's words (split at whitespace).

    Each side is a code, an English name or a multi-word name ("traditional chinese",
    "Chinese (Traditional)"). A '>' attached to the first language ("en>ja", "en> ja")
    always makes a pair; one with a space before it ("en >ja", "en > ja") only when a
    language follows. ``spaced`` says the '>' had spaces around it. "en-ja" raises
    ``TwoLanguages``; other mistakes ``LanguageError``.

    The target may be several languages (``read_targets``): ``zh>ko,ja``, a name of
    ``sets`` (``zh>sea``), ``ko, ja`` across words; with several, the source is left out
    of them, and a source that was the only one is a mistake."""
    try:
        return _read_pair(words, sets or {})
    except UnknownLanguage as exc:
        if sets is None:  # no workspace to have sets: the word is just unknown
            raise
        raise _unknown_target(exc, sets) from None


def _read_pair(words: Sequence[str], sets: Mapping[str, Sequence[str]]) -> PairReading:
    pieces = _pieces(words[: 2 * _MAX_WORDS + 1])
    if not pieces:
        raise LanguageError(f"No language given. {_HOW_PAIR}")
    raw = " ".join(words[: 2 * _MAX_WORDS + 1])
    if pieces[0][0] == ">":
        raise LanguageError(f"Missing the source language before '>' in '{raw}'. {_HOW_PAIR}")
    if (listed := _target_list(pieces, 0, sets)) is not None:
        targets, n = listed
        if n < len(pieces) and pieces[n][0] == ">":
            raise LanguageError(
                f"'{pieces[0][0]}' names several languages, and only the target may: write "
                f"the source first, like zh>{pieces[0][0]}."
            )
        return _reading(None, targets, pieces[n - 1][1] + 1, False, False)
    first, n = _language_at(pieces, 0, first=True)
    spaced_sep = n < len(pieces) and pieces[n][2]  # "en >ja": maybe just text after "en"
    if (
        n >= len(pieces)
        or pieces[n][0] != ">"
        or (spaced_sep and first is not None and not _follows(pieces, n + 1, sets))
    ):
        if first is None:
            raise LanguageError(
                f"'auto' is not a target language. {_HOW_PAIR} Leave out the source to detect it."
            )
        return PairReading(None, first, pieces[n - 1][1] + 1, False, False)
    sep = n
    raw = " ".join(words[: pieces[sep][1] + 2])
    if sep + 1 >= len(pieces) or pieces[sep + 1][0] == ">":
        raise LanguageError(f"Missing the target language after '>' in '{raw}'. {_HOW_PAIR}")
    if (listed := _target_list(pieces, sep + 1, sets)) is not None:
        targets, m = listed
    else:
        target, m = _language_at(pieces, sep + 1, first=False)
        assert target is not None
        targets = (target,)
    end = sep + 1 + m
    raw = " ".join(words[: pieces[end - 1][1] + 1])
    if end < len(pieces) and pieces[end][0] == ">" and not pieces[end][2]:
        raise LanguageError(f"Too many '>' in '{raw}'. {_HOW_PAIR}")
    if first is not None and first in targets and (listed is None or len(targets) == 1):
        raise LanguageError(
            f"'{raw}' translates {_label(first)} into itself. "
            "Write two different languages, like zh>en."
        )
    if listed is not None:
        targets = tuple(t for t in targets if t != first)
    spaced = pieces[sep][2] or pieces[sep + 1][2]
    used = pieces[end - 1][1] + 1
    if listed is None:
        return PairReading(first, targets[0], used, spaced, True)
    return _reading(first, targets, used, spaced, True)


def _reading(
    source: Language | None, targets: tuple[Language, ...], used: int, spaced: bool, explicit: bool
) -> PairReading:
    more = targets if len(targets) > 1 else ()
    return PairReading(source, targets[0], used, spaced, explicit, more, listed=True)


def _target_list(
    pieces: list[tuple[str, int, bool]], at: int, sets: Mapping[str, Sequence[str]]
) -> tuple[tuple[Language, ...], int] | None:
    """Targets written as a list or a set's name at piece ``at`` (``ko,ja``, ``sea``, or
    ``ko, ja`` across words), and how many pieces they take; None for anything else (one
    language, read as before)."""
    word = pieces[at][0]
    if "," not in word and word.strip().lower() not in sets:
        return None
    text, n = word, 1
    while text.rstrip().endswith(",") and at + n < len(pieces):  # "ko, ja": the next word
        after, _, starts = pieces[at + n]
        whole = at + n + 1 >= len(pieces) or pieces[at + n + 1][2]
        if after == ">" or not starts or not whole or not _reads_as_targets(after, sets):
            break
        text, n = text + after, n + 1
    return read_targets(text, sets), n


def _reads_as_targets(word: str, sets: Mapping[str, Sequence[str]]) -> bool:
    try:
        read_targets(word, sets)
    except LanguageError:
        return False
    return True


def read_targets(
    text: str, sets: Mapping[str, Sequence[str]] | None = None
) -> tuple[Language, ...]:
    """Target languages written as one word: a language (``ko``, ``korean``), a
    comma-separated list (``ko,ja,en``), the name of one of ``sets`` (set name → bot
    codes) or a mix (``sea,en``). Order kept, duplicates removed, at most
    ``MAX_TARGETS`` (``TooManyTargets``); a word that is neither a language nor a set
    raises ``LanguageError`` naming it."""
    sets = sets or {}
    found: list[Language] = []
    for part in text.split(","):
        word = part.strip()
        if not word:
            continue
        if word.lower() in sets:
            languages = [lookup(code) for code in sets[word.lower()]]
        else:
            try:
                languages = [lookup(word)]
            except TwoLanguages as exc:  # "en-ja" in a list of targets is no pair
                raise UnknownLanguage(f"Unknown language '{word}'. {_HOW}", word) from exc
            except UnknownLanguage as exc:
                raise _unknown_target(exc, sets) from None
        found.extend(lang for lang in languages if lang not in found)
    if not found:
        raise LanguageError(f"No language given. {_HOW}")
    if len(found) > MAX_TARGETS:
        raise TooManyTargets(
            f"'{text.strip()}' is {len(found)} languages "
            f"({', '.join(lang.code for lang in found)}); one command translates into at "
            f"most {MAX_TARGETS}. Split them over two commands."
        )
    return tuple(found)


MAX_TARGETS = 10
_SET_HINT = "the name of a language set (`/tolk config sets` lists this workspace's)"


def _unknown_target(exc: UnknownLanguage, sets: Mapping[str, Sequence[str]]) -> UnknownLanguage:
    """An unknown word where a target goes: say it is no set either, or name the set the
    person probably meant."""
    if "language set" in str(exc) or not SET_NAME.fullmatch(exc.word.lower()):
        return exc
    close = difflib.get_close_matches(exc.word.lower(), list(sets), n=1, cutoff=0.6)
    if close and exc.suggestion is None:
        message = (
            f"Unknown language or language set '{exc.word}'. Did you mean the set "
            f"'{close[0]}'? {_HOW}, or {_SET_HINT}."
        )
    else:
        message = f"{str(exc).removesuffix(_HOW)}{_HOW[:-1]}, or {_SET_HINT}."
    return UnknownLanguage(message, exc.word, exc.suggestion)


def _follows(
    pieces: list[tuple[str, int, bool]], at: int, sets: Mapping[str, Sequence[str]]
) -> bool:
    """A language (or a list or set of them) starts at piece ``at`` (for a '>' with a space
    before it)."""
    if at >= len(pieces) or pieces[at][0] == ">":
        return False
    try:
        if _target_list(pieces, at, sets) is None:
            _language_at(pieces, at, first=False)
    except LanguageError:
        return False
    return True


# --- language sets ------------------------------------------------------------------------

SET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
_NOT_SET_NAMES = frozenset({"auto", "remove", "off", "on", "show", "list", "all", "none"})
MAX_SETS = 50  # per workspace, and as many flag sets: one list in one message


def check_set_name(name: str) -> str:
    """``name`` as a language set's name (lower case), or ``LanguageError`` saying why it
    cannot be one: up to 20 lowercase letters, digits and hyphens, not a word Tolk reads as
    a language (``ko``, ``korean``, ``en-us``) nor one of its own words (``remove``)."""
    key = name.strip().lower()
    how = "Pick a name like sea or eu-markets."
    if not SET_NAME.fullmatch(key):
        raise LanguageError(
            f"'{name.strip()}' cannot name a language set: use up to 20 lowercase letters, "
            f"digits and hyphens. {how}"
        )
    try:
        lang = _find(_norm(key))
    except TwoLanguages:
        lang = lookup(key.split("-")[0])
    if lang is not None:
        raise LanguageError(
            f"'{key}' is read as {lang.name} ({lang.code}), so it cannot name a set. {how}"
        )
    if key in _NOT_SET_NAMES:
        raise LanguageError(
            f"'{key}' is a word Tolk's commands use, so it cannot name a set. {how}"
        )
    return key


def reaction_name(reaction: str) -> str:
    """A Slack reaction as configured and compared: ``:earth_asia:`` → ``earth_asia``,
    skin tones left out (``flag-br::skin-tone-2`` → ``flag-br``)."""
    return reaction.strip().strip(":").split("::")[0].lower()


@dataclass(frozen=True)
class LanguageSets:
    """A workspace's language sets (name → bot codes, in order) and the reactions that
    translate into a set (reaction name → set name). Stored as JSON in the settings."""

    sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    flags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"sets": {k: list(v) for k, v in self.sets.items()}, "flags": dict(self.flags)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> LanguageSets:
        if not data:
            return cls()
        sets = {str(k): tuple(v) for k, v in (data.get("sets") or {}).items()}
        return cls(sets, dict(data.get("flags") or {}))

    def flag_set(self, reaction: str) -> str | None:
        """The set a reaction translates into, when one is configured for it."""
        name = self.flags.get(reaction_name(reaction))
        return name if name in self.sets else None


def _check_names(provider: str, operation: str | None = None) -> None:
    if provider not in _PROVIDER_NAMES:
        raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
    if operation is not None and operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {OPERATIONS}")


def _code_problem(lang: Language, provider: str) -> str | None:
    if getattr(lang, provider) is not None:
        return None
    msg = f"{_PROVIDER_NAMES[provider]} cannot translate {lang.name} ({lang.code})"
    nearest = _BY_CODE.get(_NEAREST.get(lang.code, ""))
    if nearest and getattr(nearest, provider):
        msg += f"; write {nearest.code} ({nearest.name}) instead"
    return msg + "."


def provider_code(lang: Language, provider: str) -> str:
    """The provider's own code for `lang`; LanguageError when the provider lacks it."""
    _check_names(provider)
    code: str | None = getattr(lang, provider)
    if code is None:
        others = [_PROVIDER_NAMES[p] for p in PROVIDERS if p != provider and getattr(lang, p)]
        extra = f" ({' and '.join(others)} can.)" if others else ""
        raise LanguageError(f"{_code_problem(lang, provider)}{extra}")
    return code


# Image sources per provider, in provider codes.
_IMAGE_SOURCES = {"xiangji": ("CHS", "CHT", "ENG", "JPN"), "alibaba": ("zh", "en")}


def _source_problem(lang: Language, provider: str, operation: str) -> str | None:
    if problem := _code_problem(lang, provider):
        return problem
    name, code = _PROVIDER_NAMES[provider], getattr(lang, provider)
    allowed = _IMAGE_SOURCES.get(provider)
    if operation == "image" and allowed and code not in allowed:
        codes = [x.code for x in _LANGUAGES if getattr(x, provider) in allowed]
        return (
            f"{name} image translation can only read {', '.join(codes[:-1])} or {codes[-1]} "
            f"images, not {lang.name} ({lang.code})."
        )
    if provider == "xiangji" and operation == "text" and code == "BG":
        return "Xiangji translates Bulgarian (bg) only as the target of image translation."
    if provider == "alibaba" and code == "yue":
        return "Alibaba translates into Cantonese (yue) only from Chinese: write zh>yue."
    return None


def _pair_problem(
    source: Language | None, target: Language, provider: str, operation: str
) -> str | None:
    name = _PROVIDER_NAMES[provider]
    if source is None:
        if provider == "xiangji" or (provider == "alibaba" and operation in ("image", "doc")):
            return f"{name} needs the source language: write SRC>TGT, like zh>{target.code}."
    elif problem := _source_problem(source, provider, operation):
        return problem
    if problem := _code_problem(target, provider):
        return problem
    tgt = getattr(target, provider)
    src = getattr(source, provider) if source else None
    if provider == "xiangji" and operation == "text" and tgt == "BG":
        return "Xiangji translates into Bulgarian (bg) only for images, not text."
    if source is not None and src == tgt:
        return f"For {name}, {source.code} and {target.code} are the same language ({tgt})."
    if provider == "alibaba" and source is not None:
        if "zh-tw" in (src, tgt) and {src, tgt} != {"zh", "zh-tw"}:
            return (
                "Alibaba translates Traditional Chinese only to or from Simplified Chinese: "
                "write zh>zh-TW or zh-TW>zh."
            )
        if tgt == "yue" and src != "zh":
            return "Alibaba translates into Cantonese (yue) only from Chinese: write zh>yue."
    return None


def _alternative(provider: str, operation: str, problem: Callable[[str], str | None]) -> str:
    """Name another provider that does `operation` and has no `problem` with the languages."""
    for other in PROVIDERS:
        if other != provider and operation in _PROVIDER_OPS[other] and not problem(other):
            return f" Try --provider {other}."
    return ""


def check_source(lang: Language, provider: str, operation: str) -> None:
    """Can `provider` read `lang` for `operation` ("text", "image", "doc", "cutout")?"""
    _check_names(provider, operation)
    if operation == "cutout":  # matting has no language
        return
    if problem := _source_problem(lang, provider, operation):
        alt = _alternative(provider, operation, lambda p: _source_problem(lang, p, operation))
        raise LanguageError(problem + alt)


def check_pair(source: Language | None, target: Language, provider: str, operation: str) -> None:
    """Source and target restrictions and pair rules; source None = provider auto-detection."""
    _check_names(provider, operation)
    if operation == "cutout":
        return
    if problem := _pair_problem(source, target, provider, operation):
        alt = _alternative(
            provider, operation, lambda p: _pair_problem(source, target, p, operation)
        )
        raise LanguageError(problem + alt)


def from_provider_code(provider: str, code: str) -> Language | None:
    """A provider's code back to the first (canonical) language using it: CHT -> zh-TW."""
    _check_names(provider)
    key = code.strip().lower()
    for lang in _LANGUAGES:
        own = getattr(lang, provider)
        if own is not None and own.lower() == key:
            return lang
    return None


# Country (ISO 3166 alpha-2, or Slack's subdivision flags) -> main language, when in the table.
_COUNTRIES: dict[str, tuple[str, ...]] = {
    "zh": ("cn",),
    "zh-TW": ("tw",),
    "zh-HK": ("hk", "mo"),
    "en": ("us", "gb", "au", "nz", "ie", "ca", "sg", "jm", "bs", "bb", "tt", "bz", "gy", "ag",
           "dm", "gd", "kn", "lc", "vc", "za", "ng", "gh", "gu", "vi", "vg", "ky", "bm", "gi",
           "im", "je", "gg", "um", "england", "scotland", "wales"),
    "ja": ("jp",),
    "ko": ("kr", "kp"),
    "de": ("de", "at", "ch", "li"),
    "fr": ("fr", "mc", "re", "gp", "mq", "gf", "pf", "nc", "pm", "yt", "bl", "mf", "wf"),
    "es": ("es", "mx", "ar", "co", "cl", "pe", "ve", "ec", "gt", "cu", "bo", "do", "hn", "py",
           "sv", "ni", "cr", "pa", "uy", "pr", "gq", "ea", "ic"),
    "pt": ("pt", "ao", "mz", "cv", "gw", "st"),
    "pt-BR": ("br",),
    "it": ("it", "sm", "va"),
    "ru": ("ru", "by"),
    "ar": ("sa", "ae", "eg", "iq", "jo", "kw", "lb", "ly", "ma", "om", "qa", "sy", "tn", "ye",
           "bh", "dz", "sd", "ps", "mr"),
    "th": ("th",), "vi": ("vn",), "id": ("id",), "ms": ("my", "bn"), "tr": ("tr",),
    "pl": ("pl",), "nl": ("nl", "sr"), "cs": ("cz",), "hu": ("hu",), "ro": ("ro", "md"),
    "bg": ("bg",), "uk": ("ua",), "el": ("gr", "cy"), "he": ("il",), "fa": ("ir", "af"),
    "hi": ("in",), "bn": ("bd",), "ur": ("pk",), "sv": ("se", "ax"), "da": ("dk",),
    "fi": ("fi",), "no": ("no", "sj", "bv"), "sk": ("sk",), "sl": ("si",), "lt": ("lt",),
    "lv": ("lv",), "et": ("ee",), "fil": ("ph",), "my": ("mm",), "sw": ("tz", "ke"),
}  # fmt: skip

# Slack reaction name -> bot language code. Slack calls flags `flag-xx`, except the ten old
# short names below (and :uk:, an alias of :gb:).
FLAGS: dict[str, str] = {
    f"flag-{country}": code for code, countries in _COUNTRIES.items() for country in countries
} | {
    "jp": "ja", "kr": "ko", "de": "de", "cn": "zh", "us": "en", "fr": "fr", "es": "es",
    "it": "it", "ru": "ru", "gb": "en", "uk": "en",
}  # fmt: skip


def language_for_flag(reaction: str) -> Language | None:
    """Slack reaction name (":flag-kr:", "jp", "flag-br::skin-tone-2") -> Language, else None."""
    name = reaction.strip().strip(":").split("::")[0].lower()
    code = FLAGS.get(name)
    return _BY_CODE[code] if code else None


# Script ranges for detect_source.
_SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF)),
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9D)),
    "ko": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "th": ((0x0E00, 0x0E7F),),
    "ru": ((0x0400, 0x052F),),
    "ar": ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "en": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F)),
}
# Slack markup, URLs and :emoji: names are Latin letters that say nothing about the text.
_NOISE = re.compile(r"<[^>]*>|https?://\S+|:[a-z0-9_+'-]+:")


def _scores(text: str) -> dict[str, int]:
    """Letters of each recognised script in ``text``, CJK weighing 3 (one carries about a
    word); keys are the language each script suggests (zh or ja, ko, th, ru, ar, en)."""
    counts = dict.fromkeys(_SCRIPTS, 0)
    for ch in _NOISE.sub(" ", text):
        cp = ord(ch)
        if cp < 0x41:
            continue
        for script, ranges in _SCRIPTS.items():
            if any(lo <= cp <= hi for lo, hi in ranges):
                counts[script] += 1
                break
    han, kana = counts.pop("han"), counts.pop("kana")
    cjk = "ja" if kana and kana * 10 >= han + kana else "zh"
    return {cjk: 3 * (han + kana), "ko": 3 * counts.pop("ko"), **counts}


def detect_source(text: str) -> Language | None:
    """Tiny script-based guess of the language of `text`; None when no letters are recognised.

    Han -> zh (ja when kana make up at least a tenth of the CJK letters), Hangul -> ko,
    Thai -> th, Cyrillic -> ru, Arabic script -> ar, Latin -> en. CJK letters weigh 3 (one
    carries about a word), so a Chinese title with an English brand name stays zh.
    """
    scores = _scores(text)
    best = max(scores, key=lambda k: scores[k])
    return _BY_CODE[best] if scores[best] else None


# The script each language is written in, for text_source. Languages not named are Latin.
_SCRIPT_OF = {
    **dict.fromkeys(("zh", "zh-TW", "zh-HK", "yue", "ja"), "cjk"),
    "ko": "hangul",
    "th": "thai",
    **dict.fromkeys(("ru", "uk", "bg"), "cyrillic"),
    **dict.fromkeys(("ar", "fa", "ur"), "arabic"),
    "el": "greek",
    "he": "hebrew",
    **dict.fromkeys(("hi", "mr"), "devanagari"),
    "bn": "bengali",
    "ta": "tamil",
    "te": "telugu",
    "gu": "gujarati",
    "my": "myanmar",
}
# What the detector's guesses are written in.
_SCRIPT_OF_GUESS = {"zh": "cjk", "ja": "cjk", "ko": "hangul", "th": "thai", "ru": "cyrillic",
                    "ar": "arabic", "en": "latin"}  # fmt: skip
CLEAR_SHARE = 0.75  # of the weighted letters, in one script, for a mismatch to count
CLEAR_MIN = 3  # weighted letters at least (one CJK character, or three Latin letters)


def text_source(default: Language | None, text: str) -> Language | None:
    """The source language of ``text`` when the channel's default source is ``default``.

    The default holds unless the text is clearly written in another script: at least
    three-quarters of its (weighted) letters, and at least one CJK character or three
    Latin letters, in a script the default is not written in. Then the detector's guess
    wins: an English message in a ``zh>en`` channel is read as English, a Chinese one in an
    ``en>ja`` channel as Chinese. A Latin text under a Latin default (en vs de) never
    overrides: the script cannot tell them apart. No default: the detector's guess."""
    if default is None:
        return detect_source(text)
    scores = _scores(text)
    total = sum(scores.values())
    best = max(scores, key=lambda k: scores[k])
    if total < CLEAR_MIN or scores[best] < CLEAR_SHARE * total:
        return default
    if _SCRIPT_OF_GUESS[best] == _SCRIPT_OF.get(default.code, "latin"):
        return default
    return _BY_CODE[best]

"""A workspace's glossary applied to translations: held in text, checked in images.

A task carries the glossary as it was when the task was recorded (``request["glossary"]``:
``[{"term", "translation", "lang"}, …]``). An entry whose ``translation`` is None is a
*protected* term — never translated, kept exactly as written; any other is a *fixed*
translation, for the target language ``lang`` (a Tolk code) or every target when ``lang``
is None. A term's entry for the target language wins over its entry for every language.

Text: ``for_translation`` is ``bot.core.slacktext.for_translation`` plus each glossary
term swapped for a placeholder in the same ``⟦N⟧`` numbering, numbered after the Slack
spans, so a translator moves terms as it moves mentions and links. ``from_translation``
puts everything back — a protected term as it appeared in the text, a fixed translation
in its place — and also reads placeholders an engine respaced (``⟦ 0 ⟧``) or wrote with
other brackets or full-width digits (``〚０〛``). One an engine dropped is appended, as
``slacktext`` does. With no entries, both are ``slacktext``'s, except that respaced
placeholders of Slack spans are read too.

Images: ``violations`` reads the regions Xiangji recognised in an image (source and
target text of each) and names each glossary term found in a region's source that its
target does not honour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core import slacktext
from bot.core.glossary import Glossary, Term
from bot.core.mrkdwn import escape

BRAND = "brand"  # a protected term was translated
GLOSSARY = "glossary"  # a fixed translation was not used

#: A placeholder as engines give it back: ``⟦0⟧``, ``⟦ 0 ⟧``, ``〚0〛``, ``⟦０⟧`` (Python's
#: ``\d`` and ``\s`` are Unicode-wide: full-width digits, the ideographic space).
_LOOSE = re.compile(r"[⟦〚]\s*(\d{1,4})\s*[⟧〛]")
_PLACEHOLDER = re.compile(r"⟦\d+⟧")
#: Scripts written with spaces between words: a term starting or ending with one of
#: their letters matches only as a whole word ("Pro" not inside "Professional"); a term
#: in Chinese or Japanese matches anywhere, as those are written without spaces.
_WORDLIKE = "A-Za-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"
_WORD_CHAR = re.compile(f"[{_WORDLIKE}]")


@dataclass(frozen=True)
class Violation:
    """A glossary term an image's region does not honour: ``found`` is the region's
    translated text, ``expected`` the fixed translation (None for a protected term)."""

    term: str
    kind: str  # BRAND or GLOSSARY
    found: str
    box: tuple[int, int, int, int] | None = None
    expected: str | None = None

    @property
    def found_text(self) -> str:
        return self.found

    def as_json(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "kind": self.kind,
            "found": self.found,
            "box": list(self.box) if self.box is not None else None,
            "expected": self.expected,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Violation:
        box = raw.get("box")
        four = tuple(int(v) for v in box) if isinstance(box, list | tuple) else ()
        return cls(
            term=str(raw.get("term", "")),
            kind=str(raw.get("kind", BRAND)),
            found=str(raw.get("found", "")),
            box=(four[0], four[1], four[2], four[3]) if len(four) == 4 else None,
            expected=None if raw.get("expected") is None else str(raw["expected"]),
        )


class Region(Protocol):
    """A region Xiangji recognised in an image (``providers.xiangji.wire.OcrLine``)."""

    @property
    def source(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def box(self) -> tuple[int, int, int, int] | None: ...


# --- the snapshot ------------------------------------------------------------------------


def entries(raw: object) -> list[Term]:
    """A task's ``request["glossary"]`` as entries; anything malformed is left out."""
    return list(Glossary.from_json(raw).entries)


def for_target(glossary: Iterable[Term], target: str | None) -> list[Term]:
    """The entries that apply to ``target``: per term (letters in any case), the entry
    for that language if there is one, else the one for every language; longest first."""
    wanted = (target or "").casefold()
    chosen: dict[str, Term] = {}
    for entry in glossary:
        key = _key(entry.term)
        if entry.lang is None:
            chosen.setdefault(key, entry)
        elif entry.lang.casefold() == wanted:
            previous = chosen.get(key)
            if previous is None or previous.lang is None:
                chosen[key] = entry
    return sorted(chosen.values(), key=lambda e: len(e.term), reverse=True)


# --- text --------------------------------------------------------------------------------


def shield(
    text: str, glossary: Sequence[Term], target: str | None, *, start: int = 0
) -> tuple[str, list[str]]:
    """``text`` with each occurrence of a glossary term for ``target`` replaced by
    ``⟦start⟧``, ``⟦start+1⟧`` …, and what each placeholder stands for: the term as it
    appeared (protected) or its fixed translation, as plain text. Placeholders already in
    ``text`` are left alone; longer terms win over the shorter ones inside them."""
    applying = for_target(glossary, target)
    if not applying:
        return text, []
    pattern = _matcher(applying)
    restores: list[str] = []

    def swap(match: re.Match[str]) -> str:
        entry = applying[int((match.lastgroup or "t0")[1:])]
        restores.append(match.group(0) if entry.translation is None else entry.translation)
        return f"⟦{start + len(restores) - 1}⟧"

    parts = re.split(f"({_PLACEHOLDER.pattern})", text)  # odd parts: placeholders
    return "".join(p if n % 2 else pattern.sub(swap, p) for n, p in enumerate(parts)), restores


def for_translation(
    text: str, glossary: Sequence[Term] = (), target: str | None = None
) -> tuple[str, list[str]]:
    """Slack text as plain words for a translator (``slacktext.for_translation``) with
    the glossary's terms for ``target`` shielded too, and every placeholder's span."""
    plain, spans = slacktext.for_translation(text)
    shielded, restores = shield(plain, glossary, target, start=len(spans))
    return shielded, spans + [escape(r) for r in restores]


def from_translation(translated: str, spans: Sequence[str]) -> str:
    """A translator's words back as Slack mrkdwn (``slacktext.from_translation``), with
    placeholders the engine respaced or re-bracketed read as the ones sent."""
    return slacktext.from_translation(unmangle(translated, len(spans)), list(spans))


def unmangle(translated: str, count: int) -> str:
    """Placeholders ``⟦0⟧`` … ``⟦count-1⟧`` as sent, however an engine spaced them."""

    def tidy(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"⟦{index}⟧" if index < count else match.group(0)

    return _LOOSE.sub(tidy, translated)


# --- images ------------------------------------------------------------------------------


def violations(
    regions: Iterable[Region], glossary: Sequence[Term], target: str | None
) -> list[Violation]:
    """Each (term, region) where a term for ``target`` is in the region's source text
    and its target text does not keep it (protected) or does not use its fixed
    translation. A term in no region is no violation; terms are found as shielding
    finds them (``Tolk`` inside ``Tolk Pro`` is ``Tolk Pro``)."""
    applying = for_target(glossary, target)
    if not applying:
        return []
    pattern = _matcher(applying)
    found: list[Violation] = []
    for region in regions:
        source, translated = region.source or "", region.target or ""
        present = {int((m.lastgroup or "t0")[1:]) for m in pattern.finditer(source)}
        for entry in (applying[n] for n in sorted(present)):
            expected = entry.term if entry.translation is None else entry.translation
            if _contains(translated, expected):
                continue
            kind = BRAND if entry.translation is None else GLOSSARY
            found.append(Violation(entry.term, kind, translated, region.box, entry.translation))
    return found


def as_json(found: Iterable[Violation]) -> list[dict[str, Any]]:
    return [v.as_json() for v in found]


def from_json(raw: object) -> list[Violation]:
    """Violations as stored on an item (``meta["violations"]``); malformed ones left out."""
    if not isinstance(raw, list):
        return []
    return [Violation.from_json(v) for v in raw if isinstance(v, Mapping)]


# --- matching ----------------------------------------------------------------------------


def _key(term: str) -> str:
    return " ".join(term.split()).casefold()


def _matcher(applying: Sequence[Term]) -> re.Pattern[str]:
    """One pattern for every term, in the given order (longest first: at any place the
    longest term there wins), group ``t<n>`` naming the entry: letters in any case, any
    run of spaces where the term has one, whole words in scripts written with spaces."""
    alternatives = [f"(?P<t{n}>{_term_pattern(e.term)})" for n, e in enumerate(applying)]
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(word) for word in term.split())
    before = f"(?<![{_WORDLIKE}])" if _WORD_CHAR.match(term[0]) else ""
    after = f"(?![{_WORDLIKE}])" if _WORD_CHAR.match(term[-1]) else ""
    return f"{before}{body}{after}"


def _contains(text: str, words: str) -> bool:
    """``words`` in ``text``, letters in any case, spaces as any run of spaces."""
    return _key(words) in _key(text)

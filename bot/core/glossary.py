"""A workspace's glossary (issue 21): terms that are never translated (protected: a
brand, a product) and terms with one fixed translation, for every target language or
for one.

An entry is keyed by its term, compared case-insensitively, and its language: a term
holds at most one entry for every target (``lang`` None: protected, or one fixed
translation) and at most one per language (a fixed translation for that language only,
which wins over the other for that language). Adding an entry with a key that exists
replaces it; the term's spelling is the one last written.

The JSON of an entry — ``{"term": str, "translation": str | None, "lang": str | None}``
— is what the store keeps and what a task's request carries (``request["glossary"]``,
``snapshot_for_text``/``snapshot_all``): a contract with the engine, which reads it.

A CSV (``term,translation,lang``; UTF-8, a BOM or not) is read all or nothing: every bad
row is named with its row number (the header is row 1) and its problem, and nothing is
taken. The problems are codes with a detail (``Problem``); ``bot.core.messages`` phrases
them, as it phrases every word a person reads.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from bot.core.languages import LanguageError, lookup

MAX_ENTRIES = 500  # entries of one workspace's glossary
MAX_CHARS = 100  # characters of a term or a translation
MAX_CSV_BYTES = 1024 * 1024  # an imported CSV
HEADER = ("term", "translation", "lang")

# Problems, as ``Problem.kind``; ``detail`` says more (what was typed, a number).
BLANK_TERM = "blank-term"  # no term, or only whitespace
BLANK_TRANSLATION = "blank-translation"  # ``TERM =`` with nothing after it
TERM_TOO_LONG = "term-too-long"  # detail: the length
TRANSLATION_TOO_LONG = "translation-too-long"  # detail: the length
LINE_BREAK = "line-break"  # a term or translation over more than one line
UNKNOWN_LANGUAGE = "unknown-language"  # detail: what was written for the language
LANG_WITHOUT_TRANSLATION = "lang-without-translation"  # detail: the language
DUPLICATE = "duplicate"  # detail: the row it repeats
EXTRA_CELLS = "extra-cells"  # detail: how many cells the row has
BAD_HEADER = "bad-header"  # detail: the first row as read
BAD_CSV = "bad-csv"  # the row cannot be read as CSV (a quote not closed)
NOT_UTF8 = "not-utf8"
TOO_BIG = "too-big"  # detail: the size in bytes
TOO_MANY = "too-many"  # detail: how many entries there would be
NO_ROWS = "no-rows"


class Problem(NamedTuple):
    """What is wrong: ``row`` of a CSV (0: not from a file), ``kind`` (the constants
    above) and a ``detail`` to show with it."""

    row: int
    kind: str
    detail: str = ""


class GlossaryError(ValueError):
    """An entry, or a CSV, that cannot be taken; ``problems`` says each thing wrong."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.row}:{p.kind}:{p.detail}" for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Term:
    term: str
    translation: str | None = None  # None: never translated (protected)
    lang: str | None = None  # Tolk language code the fixed translation is for; None: every target

    @property
    def protected(self) -> bool:
        return self.translation is None

    @property
    def key(self) -> tuple[str, str | None]:
        """What makes an entry one: its term (any case) and its language."""
        return self.term.casefold(), self.lang

    def to_json(self) -> dict[str, str | None]:
        return {"term": self.term, "translation": self.translation, "lang": self.lang}


def _order(entry: Term) -> tuple[str, str, str, str]:
    return entry.term.casefold(), entry.term, entry.lang or "", entry.translation or ""


def check_text(value: str, *, translation: bool = False, row: int = 0) -> str:
    """A term or translation as kept: surrounding whitespace taken off, the rest exactly
    as written; ``GlossaryError`` when it is blank, too long or over several lines."""
    text = value.strip()
    if not text:
        raise GlossaryError([Problem(row, BLANK_TRANSLATION if translation else BLANK_TERM)])
    if any(c in text for c in "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
        raise GlossaryError([Problem(row, LINE_BREAK)])
    if len(text) > MAX_CHARS:
        kind = TRANSLATION_TOO_LONG if translation else TERM_TOO_LONG
        raise GlossaryError([Problem(row, kind, str(len(text)))])
    return text


def language_code(word: str, *, row: int = 0) -> str:
    """A language's Tolk code (``ja``) from a code or name, as task targets take them."""
    try:
        return lookup(word).code
    except LanguageError:
        raise GlossaryError([Problem(row, UNKNOWN_LANGUAGE, word.strip())]) from None


def make_term(
    term: str, translation: str | None = None, lang: str | None = None, *, row: int = 0
) -> Term:
    """An entry from what a person wrote, checked: ``GlossaryError`` names every problem."""
    problems: list[Problem] = []
    checked: list[str | None] = []
    for value, is_translation in ((term, False), (translation, True)):
        try:
            checked.append(
                None if value is None else check_text(value, translation=is_translation, row=row)
            )
        except GlossaryError as exc:
            problems.extend(exc.problems)
    code = None
    if lang is not None and lang.strip():
        if translation is None:
            problems.append(Problem(row, LANG_WITHOUT_TRANSLATION, lang.strip()))
        else:
            try:
                code = language_code(lang, row=row)
            except GlossaryError as exc:
                problems.extend(exc.problems)
    if problems:
        raise GlossaryError(problems)
    text, fixed = checked
    assert text is not None
    return Term(text, fixed, code)


class Glossary:
    """A workspace's entries, sorted by term (any case), then language; immutable —
    every change gives a new glossary."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[Term] = ()) -> None:
        kept: dict[tuple[str, str | None], Term] = {}
        for entry in entries:
            kept[entry.key] = entry  # the last of one key wins
        self._entries = tuple(sorted(kept.values(), key=_order))

    @property
    def entries(self) -> tuple[Term, ...]:
        return self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __iter__(self) -> Iterator[Term]:
        return iter(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Glossary) and self._entries == other._entries

    def __hash__(self) -> int:
        return hash(self._entries)

    def __repr__(self) -> str:
        return f"Glossary({list(self._entries)!r})"

    def terms(self) -> list[str]:
        """Each term once, as last written, in order."""
        seen: dict[str, str] = {}
        for entry in self._entries:
            seen.setdefault(entry.term.casefold(), entry.term)
        return list(seen.values())

    def of(self, term: str) -> tuple[Term, ...]:
        """Every entry of ``term`` (any case)."""
        folded = term.strip().casefold()
        return tuple(e for e in self._entries if e.term.casefold() == folded)

    # --- changes ------------------------------------------------------------------------

    def add(self, entry: Term) -> tuple[Glossary, Term | None]:
        """The glossary with ``entry`` (replacing the one of its key, given back), with
        its term written as ``entry`` writes it in the term's other entries too.
        ``GlossaryError`` (``TOO_MANY``) when it would hold more than ``MAX_ENTRIES``."""
        replaced = next((e for e in self._entries if e.key == entry.key), None)
        if replaced is None and len(self._entries) >= MAX_ENTRIES:
            raise GlossaryError([Problem(0, TOO_MANY, str(len(self._entries) + 1))])
        folded = entry.term.casefold()
        others = [
            Term(entry.term, e.translation, e.lang) if e.term.casefold() == folded else e
            for e in self._entries
            if e.key != entry.key
        ]
        return Glossary([*others, entry]), replaced

    def remove(self, term: str) -> tuple[Glossary, tuple[Term, ...]]:
        """The glossary without any entry of ``term`` (any case), and those entries."""
        gone = self.of(term)
        return Glossary(e for e in self._entries if e not in gone), gone

    def merge(self, incoming: Glossary) -> tuple[Glossary, int, int]:
        """``incoming``'s terms replace the same terms' entries here; the others stay.
        Returns the result, how many of its terms were new and how many replaced.
        ``GlossaryError`` (``TOO_MANY``) when the result would hold too many entries."""
        new_terms = {e.term.casefold() for e in incoming}
        ours = {e.term.casefold() for e in self._entries}
        kept = [e for e in self._entries if e.term.casefold() not in new_terms]
        merged = Glossary([*kept, *incoming])
        if len(merged) > MAX_ENTRIES:
            raise GlossaryError([Problem(0, TOO_MANY, str(len(merged)))])
        replaced = len(new_terms & ours)
        return merged, len(new_terms) - replaced, replaced

    # --- what a task carries ------------------------------------------------------------

    def snapshot_for_text(self, text: str) -> list[dict[str, str | None]]:
        """The entries whose term occurs in ``text`` (case-insensitive), as JSON."""
        folded = text.casefold()
        return [e.to_json() for e in self._entries if e.term.casefold() in folded]

    def snapshot_all(self) -> list[dict[str, str | None]]:
        return self.to_json()

    # --- JSON (the store) -----------------------------------------------------------------

    def to_json(self) -> list[dict[str, str | None]]:
        return [e.to_json() for e in self._entries]

    @classmethod
    def from_json(cls, data: Any) -> Glossary:
        """What the store kept; anything that is not an entry is left out."""
        if not isinstance(data, list):
            return cls()
        entries = []
        for item in data:
            if not isinstance(item, Mapping):
                continue
            term, translation, lang = item.get("term"), item.get("translation"), item.get("lang")
            if not isinstance(term, str) or not term.strip():
                continue
            if translation is not None and not isinstance(translation, str):
                continue
            if lang is not None and (not isinstance(lang, str) or translation is None):
                continue
            entries.append(Term(term, translation or None, lang or None))
        return cls(entries)

    # --- CSV ----------------------------------------------------------------------------

    def to_csv(self) -> bytes:
        """``term,translation,lang``, one row per entry (a protected term: no translation),
        UTF-8 with a BOM so spreadsheets read it as UTF-8."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        for e in self._entries:
            writer.writerow([e.term, e.translation or "", e.lang or ""])
        return out.getvalue().encode("utf-8-sig")

    @classmethod
    def from_csv(cls, data: bytes) -> Glossary:
        """A CSV's entries, all of them or ``GlossaryError`` naming every bad row."""
        if len(data) > MAX_CSV_BYTES:
            raise GlossaryError([Problem(0, TOO_BIG, str(len(data)))])
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise GlossaryError([Problem(0, NOT_UTF8)]) from None
        rows: list[list[str]] = []
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            rows.extend(reader)
        except csv.Error:
            raise GlossaryError([Problem(len(rows) + 1, BAD_CSV)]) from None
        if not rows:
            raise GlossaryError([Problem(1, BAD_HEADER, "")])
        columns = _columns(rows[0])
        width = max(columns.values()) + 1
        entries: list[Term] = []
        problems: list[Problem] = []
        first_row: dict[tuple[str, str | None], int] = {}
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if any(cell.strip() for cell in row[width:]):
                problems.append(Problem(number, EXTRA_CELLS, str(len(row))))
                continue
            cells = {name: row[i] if i < len(row) else "" for name, i in columns.items()}
            translation = cells.get("translation", "")
            try:
                entry = make_term(
                    cells["term"], translation if translation.strip() else None,
                    cells.get("lang") or None, row=number,
                )  # fmt: skip
            except GlossaryError as exc:
                problems.extend(exc.problems)
                continue
            if entry.key in first_row:
                problems.append(Problem(number, DUPLICATE, str(first_row[entry.key])))
                continue
            first_row[entry.key] = number
            entries.append(entry)
        if problems:
            raise GlossaryError(problems)
        if not entries:
            raise GlossaryError([Problem(0, NO_ROWS)])
        if len(entries) > MAX_ENTRIES:
            raise GlossaryError([Problem(0, TOO_MANY, str(len(entries)))])
        return cls(entries)


def _columns(header: Sequence[str]) -> dict[str, int]:
    """Where each column is: ``term`` is needed, ``translation`` and ``lang`` may follow
    in any order; nothing else, no column twice."""
    names = [cell.strip().lower() for cell in header]
    while names and not names[-1]:
        names.pop()
    if "term" not in names or any(n not in HEADER for n in names) or len(set(names)) < len(names):
        raise GlossaryError([Problem(1, BAD_HEADER, ",".join(header)[:200])])
    return {name: i for i, name in enumerate(names)}

"""``/tolk glossary …``: a workspace's glossary (issue 21) listed, changed, refused,
exported as a CSV and imported from one.

Terms and translations are whatever an admin wrote (or a CSV held), so every one is
escaped here, and so is a file's name. A problem with an entry or a CSV row arrives as a
code with a detail (``bot.core.glossary.Problem``) and is phrased here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core import glossary as _g
from bot.core import mrkdwn as _mrkdwn
from bot.core.messages._common import typed
from bot.core.mrkdwn import escape

_ROWS_SHOWN = 20  # bad rows named in one answer


def _code(text: str, limit: int = 110) -> str:
    """A term, a translation or what was typed, inside a code span."""
    return f"`{escape(typed(text, limit))}`"


def _who(admins: Sequence[str]) -> str:
    if not admins:
        return "workspace admins and owners"
    return f"Tolk admins ({', '.join(f'<@{a}>' for a in sorted(admins))})"


def _entry(term: str, translation: str | None, lang: str | None) -> str:
    if translation is None:
        return f"{_code(term)} — never translated"
    where = f" (in {escape(lang)} only)" if lang else ""
    return f"{_code(term)} → {_code(translation)}{where}"


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def glossary_problem(kind: str, detail: str) -> str:
    """One problem with an entry or a CSV (``bot.core.glossary``'s codes), as a clause."""
    limit = _g.MAX_CHARS
    said = escape(typed(detail, 40))
    phrases = {
        _g.BLANK_TERM: "the term is blank",
        _g.BLANK_TRANSLATION: (
            "the translation after `=` is blank (leave `=` out to keep the term as it is "
            "in every language)"
        ),
        _g.TERM_TOO_LONG: f"the term is {said} characters long; at most {limit}",
        _g.TRANSLATION_TOO_LONG: (f"the translation is {said} characters long; at most {limit}"),
        _g.LINE_BREAK: "a term and its translation are one line each",
        _g.UNKNOWN_LANGUAGE: (
            f"{_code(detail, 40)} is not a language Tolk knows (write a code such as `ja` "
            "or a name such as `japanese`)"
        ),
        _g.LANG_WITHOUT_TRANSLATION: (
            f"a language ({_code(detail, 40)}) goes with a fixed translation; a term without "
            "one is kept as written in every language"
        ),
        _g.DUPLICATE: f"the same term and language as row {said}",
        _g.EXTRA_CELLS: f"{said} cells; a row is `term,translation,lang`",
        _g.BAD_HEADER: (
            "the first row must be the header `term,translation,lang`"
            + (f" (it is {_code(detail, 80)})" if detail else "")
        ),
        _g.BAD_CSV: "it cannot be read as CSV (a quote that is not closed?)",
        _g.NOT_UTF8: "the file is not UTF-8 text; save it as “CSV UTF-8”",
        _g.TOO_BIG: (
            f"the file is {_size(int(detail)) if detail.isdecimal() else said}; "
            f"at most {_g.MAX_CSV_BYTES // (1024 * 1024)} MB"
        ),
        _g.TOO_MANY: (f"that makes {said} entries; a glossary holds at most {_g.MAX_ENTRIES}"),
        _g.NO_ROWS: "the file has no entries under its header",
    }
    return phrases.get(kind, escape(typed(kind, 80)))


def glossary_entry_refused(kind: str, detail: str, usage: str) -> str:
    """``/tolk glossary add`` that cannot be taken: what is wrong, and the usage."""
    text = glossary_problem(kind, detail)
    return f"Nothing was changed: {text}.\n{usage}"


def glossary_bad_quotes(usage: str) -> str:
    return (
        'Write a term or translation of several words in one pair of quotes, `"Tolk Pro"` '
        f"(one word needs none); a term that holds `=` needs them too.\n{usage}"
    )


def glossary_options_last(usage: str) -> str:
    return f'`--lang` goes last: `/tolk glossary add "象寄" = "Xiangji" --lang en`.\n{usage}'


def glossary_needs_term(action: str, usage: str) -> str:
    example = 'add "Tolk Pro"' if action == "add" else 'remove "Tolk Pro"'
    return f"Say which term, e.g. `/tolk glossary {example}`.\n{usage}"


def glossary_two_languages(first: str, second: str, usage: str) -> str:
    return (
        f"Two languages for one translation ({_code(first, 40)} and {_code(second, 40)}): "
        f"write one, as `=ja:シャンジ` or `--lang ja`.\n{usage}"
    )


def glossary_takes_nothing(action: str, words: str, usage: str) -> str:
    return (
        f"`/tolk glossary {escape(typed(action, 20))}` takes nothing after it "
        f"({_code(words, 60)}).\n{usage}"
    )


def glossary_admins_only(admins: Sequence[str]) -> str:
    return (
        f"Only {_who(admins)} can change this workspace's glossary. "
        "`/tolk glossary list` shows it; `/tolk glossary export` gives it as a CSV file."
    )


def glossary_added(
    user: str, term: str, translation: str | None, lang: str | None, replaced: bool
) -> str:
    verb = "changed" if replaced else "added"
    if translation is None:
        what = "it is never translated"
    else:
        where = f" in {escape(lang)}" if lang else ""
        what = f"it is always translated as {_code(translation)}{where}"
    return f":books: <@{user}> {verb} {_code(term)} in the glossary: {what}."


def glossary_full(limit: int) -> str:
    return (
        f"The glossary holds {limit:,} entries, as many as Tolk keeps. Remove some first "
        '(`/tolk glossary remove "TERM"`); `/tolk glossary list` shows them.'
    )


def glossary_removed(user: str, term: str, count: int) -> str:
    entries = "its entry" if count == 1 else f"its {count} entries"
    return f":books: <@{user}> removed {_code(term)} from the glossary ({entries})."


def glossary_no_term(term: str, near: Sequence[str]) -> str:
    similar = f" Did you mean {', '.join(_code(n) for n in near[:5])}?" if near else ""
    return (
        f"There is no {_code(term)} in the glossary, so nothing was removed.{similar} "
        "`/tolk glossary list` shows every term."
    )


def glossary_list(entries: Sequence[_g.Term]) -> dict[str, Any]:
    """``/tolk glossary list``: every entry, sorted, protected and fixed told apart;
    within Block Kit's limits however long (the rest named, and where to find it)."""
    if not entries:
        text = (
            "This workspace's glossary is empty. Add a term that is never translated with "
            '`/tolk glossary add "Tolk Pro"`, one with a fixed translation with '
            '`/tolk glossary add "象寄" = "Xiangji"`, or import a CSV with '
            "`/tolk glossary import`."
        )
        return {"text": text, "blocks": [_section(text)]}
    protected = sum(1 for e in entries if e.translation is None)
    summary = (
        f"*Glossary of this workspace*: {len(entries):,} entries — {protected:,} never "
        f"translated, {len(entries) - protected:,} with a fixed translation"
    )
    lines = [f"• {_entry(e.term, e.translation, e.lang)}" for e in entries]
    footer = "`/tolk glossary export` gives it as a CSV file."
    blocks: list[dict[str, Any]] = []
    part = summary
    shown = 0
    for line in lines:
        if len(part) + 1 + len(line) > _mrkdwn.SECTION:
            if len(blocks) == _mrkdwn.MESSAGE_BLOCKS - 3:
                break
            blocks.append(_section(part))
            part = line
        else:
            part = f"{part}\n{line}"
        shown += 1
    blocks.append(_section(part))
    rest = len(lines) - shown
    note = f"{_mrkdwn.CUT} and {rest:,} more: {footer}" if rest else footer
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {"text": f"Glossary of this workspace: {len(entries):,} entries", "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def glossary_exported(count: int) -> str:
    what = "one entry" if count == 1 else f"{count:,} entries"
    return (
        f":books: The glossary ({what}) is in your DM with Tolk, as `glossary.csv`. "
        "Change it and bring it back with `/tolk glossary import`."
    )


def glossary_export_comment(count: int) -> str:
    what = "one entry" if count == 1 else f"{count:,} entries"
    return (
        f"This workspace's glossary: {what}, one a row as `term,translation,lang` (no "
        "translation: never translated; no language: every language). Change it and "
        "upload it in a channel with the message `/tolk glossary import`."
    )


def glossary_export_failed() -> str:
    return (
        "Tolk could not send you the file just now (Slack refused the DM). Try again in a moment."
    )


def glossary_import_how(minutes: int) -> str:
    return (
        ":books: Upload the glossary as a CSV file in this channel now — your next CSV "
        f"here, within {minutes} minutes, is imported. Or upload it any time with the "
        "message `/tolk glossary import`. The first row is `term,translation,lang`; a "
        "term in the file replaces that term's entries, the others stay; one bad row and "
        "nothing is imported. `/tolk glossary export` gives the current one."
    )


def glossary_imported(user: str, filename: str, added: int, replaced: int, total: int) -> str:
    return (
        f":books: <@{user}> imported {_code(filename, 80)} into the glossary: added "
        f"{added:,} terms, replaced {replaced:,}. It holds {total:,} entries now."
    )


def glossary_import_refused(filename: str, problems: Sequence[tuple[int, str, str]]) -> str:
    """A CSV refused: every bad row (up to 20) with its number; nothing was imported."""
    lines = [
        f"• {f'Row {row}: ' if row else ''}{glossary_problem(kind, detail)}"
        for row, kind, detail in problems[:_ROWS_SHOWN]
    ]
    if len(problems) > _ROWS_SHOWN:
        lines.append(f"• {_mrkdwn.CUT} and {len(problems) - _ROWS_SHOWN:,} more")
    listed = "\n".join(lines)
    return (
        f"Nothing was imported from {_code(filename, 80)}: fix these and upload it again "
        f"(the header is row 1).\n{listed}"
    )


def glossary_import_needs_csv() -> str:
    return (
        "Attach the glossary as one CSV file (`term,translation,lang`) to the message "
        "`/tolk glossary import`; `/tolk glossary export` gives one to start from."
    )


def glossary_import_unreadable(filename: str) -> str:
    return f"Tolk could not read {_code(filename, 80)} from Slack just now. Upload it again in a moment."

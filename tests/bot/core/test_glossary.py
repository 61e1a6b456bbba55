"""The glossary model (issue 21, item 1): entries keyed by term (any case) and
language, immutable changes, the JSON the store and the engine read, the snapshots a
task carries, and the CSV read all or nothing with every bad row named."""

from __future__ import annotations

import csv
import io

import pytest

from bot.core import glossary as g
from bot.core import messages
from bot.core.glossary import Glossary, GlossaryError, Problem, Term, make_term
from emulators.blockkit import validate_blocks


def kinds(exc: pytest.ExceptionInfo[GlossaryError]) -> list[tuple[int, str]]:
    return [(p.row, p.kind) for p in exc.value.problems]


def csv_bytes(*rows: list[str], bom: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


# --- entries and changes -----------------------------------------------------------------


def test_entries_are_sorted_and_keyed_by_term_and_language() -> None:
    glossary = Glossary(
        [Term("象寄", "Xiangji"), Term("Tolk Pro"), Term("象寄", "シャンジ", "ja"), Term("apple")]
    )
    assert [(e.term, e.lang) for e in glossary] == [
        ("apple", None),
        ("Tolk Pro", None),
        ("象寄", None),
        ("象寄", "ja"),
    ]
    assert glossary.terms() == ["apple", "Tolk Pro", "象寄"]
    assert [e.protected for e in glossary] == [True, True, False, False]


def test_add_replaces_the_same_term_and_language_in_any_case() -> None:
    glossary, replaced = Glossary().add(Term("Tolk Pro"))
    assert replaced is None
    glossary, replaced = glossary.add(Term("象寄", "シャンジ", "ja"))
    glossary, replaced = glossary.add(Term("TOLK PRO", "Tolk Professional"))
    assert replaced == Term("Tolk Pro")
    # the spelling last written is the term's, in its other entries too
    glossary, _ = glossary.add(Term("tolk pro", "トルク", "ja"))
    assert [e.to_json() for e in glossary.of("Tolk Pro")] == [
        {"term": "tolk pro", "translation": "Tolk Professional", "lang": None},
        {"term": "tolk pro", "translation": "トルク", "lang": "ja"},
    ]
    assert len(glossary) == 3


def test_add_is_immutable_and_keeps_to_the_limit() -> None:
    empty = Glossary()
    one, _ = empty.add(Term("a"))
    assert len(empty) == 0 and len(one) == 1
    full = Glossary(Term(f"t{i}") for i in range(g.MAX_ENTRIES))
    with pytest.raises(GlossaryError) as exc:
        full.add(Term("one more"))
    assert kinds(exc) == [(0, g.TOO_MANY)]
    same, replaced = full.add(Term("t7", "seven"))  # replacing one is fine when full
    assert len(same) == g.MAX_ENTRIES and replaced == Term("t7")


def test_remove_takes_every_entry_of_a_term() -> None:
    glossary = Glossary([Term("象寄", "Xiangji"), Term("象寄", "シャンジ", "ja"), Term("Tolk Pro")])
    rest, gone = glossary.remove("象寄")
    assert len(gone) == 2 and rest.terms() == ["Tolk Pro"]
    rest, gone = rest.remove(" tolk PRO ")
    assert gone == (Term("Tolk Pro"),) and not rest
    same, gone = glossary.remove("nothing")
    assert gone == () and same == glossary


def test_merge_replaces_the_files_terms_and_keeps_the_others() -> None:
    ours = Glossary([Term("象寄", "Xiangji"), Term("象寄", "シャンジ", "ja"), Term("Tolk Pro")])
    incoming = Glossary([Term("象寄", "Shōgi", "ko"), Term("Brand X")])
    merged, added, replaced = ours.merge(incoming)
    assert (added, replaced) == (1, 1)
    assert [e.to_json() for e in merged] == [
        {"term": "Brand X", "translation": None, "lang": None},
        {"term": "Tolk Pro", "translation": None, "lang": None},
        {"term": "象寄", "translation": "Shōgi", "lang": "ko"},
    ]
    too_many = Glossary(Term(f"n{i}") for i in range(g.MAX_ENTRIES - 2))
    with pytest.raises(GlossaryError) as exc:
        too_many.merge(Glossary(Term(f"x{i}") for i in range(3)))
    assert kinds(exc) == [(0, g.TOO_MANY)]


def test_make_term_checks_what_a_person_wrote() -> None:
    assert make_term("  Tolk Pro ") == Term("Tolk Pro")  # the spelling, without the edges
    assert make_term("象寄", "シャンジ", "japanese") == Term("象寄", "シャンジ", "ja")
    cases = {
        ("   ", None, None): g.BLANK_TERM,
        ("", "x", None): g.BLANK_TERM,
        ("a", " ", None): g.BLANK_TRANSLATION,
        ("x" * 101, None, None): g.TERM_TOO_LONG,
        ("a", "y" * 101, None): g.TRANSLATION_TOO_LONG,
        ("two\nlines", None, None): g.LINE_BREAK,
        ("a", "b", "klingon"): g.UNKNOWN_LANGUAGE,
        ("a", None, "ja"): g.LANG_WITHOUT_TRANSLATION,
    }
    for (term, translation, lang), kind in cases.items():
        with pytest.raises(GlossaryError) as exc:
            make_term(term, translation, lang)
        assert [p.kind for p in exc.value.problems] == [kind], (term, translation, lang)
    assert make_term("x" * 100, "y" * 100).term == "x" * 100  # at the limit is fine


# --- JSON and snapshots --------------------------------------------------------------------


def test_json_round_trip_and_garbage_is_left_out() -> None:
    glossary = Glossary([Term("Tolk Pro"), Term("象寄", "シャンジ", "ja")])
    data = glossary.to_json()
    assert data == [
        {"term": "Tolk Pro", "translation": None, "lang": None},
        {"term": "象寄", "translation": "シャンジ", "lang": "ja"},
    ]
    assert Glossary.from_json(data) == glossary
    for garbage in (None, "x", 3, {"term": "a"}, [None, 1, "a"], [{"term": 3}], [{"term": " "}]):
        assert Glossary.from_json(garbage) == Glossary()
    mixed = [{"term": "ok"}, {"term": "b", "translation": 5}, {"term": "c", "lang": "ja"}]
    assert Glossary.from_json(mixed).to_json() == [
        {"term": "ok", "translation": None, "lang": None}
    ]


def test_a_text_snapshot_holds_the_terms_it_contains_in_any_case() -> None:
    glossary = Glossary(
        [Term("Tolk Pro"), Term("象寄", "Xiangji"), Term("象寄", "シャンジ", "ja"), Term("Brand")]
    )
    assert glossary.snapshot_for_text("Try TOLK PRO today") == [
        {"term": "Tolk Pro", "translation": None, "lang": None}
    ]
    assert [e["lang"] for e in glossary.snapshot_for_text("象寄翻译")] == [None, "ja"]
    assert glossary.snapshot_for_text("nothing here") == []
    assert glossary.snapshot_all() == glossary.to_json()


# --- CSV -------------------------------------------------------------------------------------


def test_csv_round_trip_with_bom_quotes_and_commas() -> None:
    glossary = Glossary(
        [
            Term('Tolk "Pro", 2'),
            Term("象寄", "Xiangji, Inc."),
            Term("象寄", "シャンジ", "ja"),
            Term("A & B", '"quoted"'),
        ]
    )
    data = glossary.to_csv()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read it as UTF-8
    assert data.decode("utf-8-sig").splitlines()[0] == "term,translation,lang"
    assert Glossary.from_csv(data) == glossary
    assert Glossary.from_csv(data.removeprefix(b"\xef\xbb\xbf")) == glossary  # no BOM
    assert Glossary().to_csv().decode("utf-8-sig").strip() == "term,translation,lang"


def test_csv_header_may_leave_out_lang_and_reorder_and_blank_lines_are_skipped() -> None:
    data = csv_bytes(["Translation", "Term"], ["Xiangji", "象寄"], ["", ""], ["", "Tolk Pro"])
    assert Glossary.from_csv(data) == Glossary([Term("象寄", "Xiangji"), Term("Tolk Pro")])
    data = csv_bytes(["term"], ["Tolk Pro"], bom=True)
    assert Glossary.from_csv(data) == Glossary([Term("Tolk Pro")])


def test_bad_rows_are_named_with_their_row_numbers_and_nothing_is_taken() -> None:
    data = csv_bytes(
        ["term", "translation", "lang"],
        ["Tolk Pro", "", ""],  # row 2: fine
        ["", "orphan", ""],  # 3: no term
        ["x" * 101, "", ""],  # 4: too long
        ["象寄", "シャンジ", "klingon"],  # 5
        ["Brand", "", "ja"],  # 6: a language without a translation
        ["TOLK PRO", "", ""],  # 7: row 2 again (any case)
        ["a", "b", "ja", "extra"],  # 8
        ["  ", "", ""],  # a blank row: skipped
        ["ok", "y" * 101, ""],  # 10
    )
    with pytest.raises(GlossaryError) as exc:
        Glossary.from_csv(data)
    assert kinds(exc) == [
        (3, g.BLANK_TERM),
        (4, g.TERM_TOO_LONG),
        (5, g.UNKNOWN_LANGUAGE),
        (6, g.LANG_WITHOUT_TRANSLATION),
        (7, g.DUPLICATE),
        (8, g.EXTRA_CELLS),
        (10, g.TRANSLATION_TOO_LONG),
    ]
    assert exc.value.problems[4] == Problem(7, g.DUPLICATE, "2")
    text = messages.glossary_import_refused("terms.csv", exc.value.problems)
    assert "Row 3: the term is blank" in text
    assert "Row 7: the same term and language as row 2" in text
    assert "`klingon` is not a language" in text and "Nothing was imported" in text


def test_whole_file_problems() -> None:
    cases = {
        b"": [(1, g.BAD_HEADER)],
        b"Tolk Pro,,\n": [(1, g.BAD_HEADER)],  # no header
        b"term,meaning\nx,y\n": [(1, g.BAD_HEADER)],
        b"term,term\nx,y\n": [(1, g.BAD_HEADER)],
        b"term,translation,lang\n": [(0, g.NO_ROWS)],
        "term\n象寄\n".encode("gb18030"): [(0, g.NOT_UTF8)],
        b"term\n" + b"x\n" * (g.MAX_CSV_BYTES // 2): [(0, g.TOO_BIG)],
    }
    for data, expected in cases.items():
        with pytest.raises(GlossaryError) as exc:
            Glossary.from_csv(data)
        assert kinds(exc) == expected, data[:40]
    rows = [["term"]] + [[f"t{i}"] for i in range(g.MAX_ENTRIES + 1)]
    with pytest.raises(GlossaryError) as exc:
        Glossary.from_csv(csv_bytes(*rows))
    assert kinds(exc) == [(0, g.TOO_MANY)]
    assert len(Glossary.from_csv(csv_bytes(*rows[:-1]))) == g.MAX_ENTRIES


# --- what people read ------------------------------------------------------------------------


def test_a_long_list_keeps_within_block_kit_on_its_own() -> None:
    entries = [Term(f"{'&' * 90}{i:03}", "<" * 100, "ja") for i in range(g.MAX_ENTRIES)]
    shown = messages.glossary_list(entries)
    assert validate_blocks(shown["blocks"]) == []
    assert len(shown["blocks"]) <= 50
    assert "more: `/tolk glossary export`" in shown["blocks"][-1]["elements"][0]["text"]
    small = messages.glossary_list([Term("Tolk Pro"), Term("象寄", "シャンジ", "ja")])
    body = small["blocks"][0]["text"]["text"]
    assert "`Tolk Pro` — never translated" in body and "`象寄` → `シャンジ` (in ja only)" in body

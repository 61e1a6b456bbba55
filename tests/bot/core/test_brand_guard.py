"""The glossary in text and images (``bot.core.brand_guard``): shielding and restoring
terms around Slack's own spans, fixed translations per language, the placeholders
engines mangle, and the violations found in an image's regions."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import brand_guard, messages, slacktext
from bot.core.brand_guard import BRAND, GLOSSARY, Violation
from bot.core.glossary import Term

GLOSSARY_ENTRIES = [
    {"term": "Tolk Pro", "translation": None, "lang": None},
    {"term": "Tolk", "translation": None, "lang": None},
    {"term": "象寄", "translation": "Xiangji", "lang": None},
    {"term": "象寄", "translation": "シャンジ", "lang": "ja"},
    {"term": "套装", "translation": "Bundle", "lang": "en"},
]


def glossary() -> list[Term]:
    return brand_guard.entries(GLOSSARY_ENTRIES)


@dataclass(frozen=True)
class Line:
    source: str
    target: str
    box: tuple[int, int, int, int] | None = None


# --- the snapshot ------------------------------------------------------------------------


def test_the_snapshot_is_read_and_malformed_entries_left_out() -> None:
    raw = [
        *GLOSSARY_ENTRIES,
        {"term": "  ", "translation": None},
        {"term": 3},
        "Tolk",
        {"term": "X", "translation": 5},
    ]
    assert len(brand_guard.entries(raw)) == len(GLOSSARY_ENTRIES)
    assert brand_guard.entries(None) == [] and brand_guard.entries({"term": "x"}) == []


def test_an_entry_for_the_language_wins_over_the_one_for_every_language() -> None:
    def of(target: str) -> dict[str, str | None]:
        return {e.term: e.translation for e in brand_guard.for_target(glossary(), target)}

    assert of("ja")["象寄"] == "シャンジ"
    assert of("en")["象寄"] == "Xiangji" and of("en")["套装"] == "Bundle"
    assert of("ko")["象寄"] == "Xiangji" and "套装" not in of("ko")
    assert of("JA")["象寄"] == "シャンジ"  # codes in any case
    # the order of the snapshot does not matter
    assert {e.term: e.translation for e in brand_guard.for_target(reversed(glossary()), "ja")}[
        "象寄"
    ] == "シャンジ"
    assert next(e.term for e in brand_guard.for_target(glossary(), "en")) == "Tolk Pro"


# --- text --------------------------------------------------------------------------------


def test_several_terms_are_shielded_after_the_slack_spans_and_restored() -> None:
    text = "<@U0ALICE> Tolk Pro by 象寄 :tada: ships the 套装 &amp; more"
    masked, spans = brand_guard.for_translation(text, glossary(), "en")
    assert masked == "⟦0⟧ ⟦2⟧ by ⟦3⟧ ⟦1⟧ ships the ⟦4⟧ & more"
    assert spans == ["<@U0ALICE>", ":tada:", "Tolk Pro", "Xiangji", "Bundle"]
    translated = "[ENG] ⟦0⟧ ⟦2⟧ from ⟦3⟧ ⟦1⟧ ships ⟦4⟧ & more"
    assert (
        brand_guard.from_translation(translated, spans)
        == "[ENG] <@U0ALICE> Tolk Pro from Xiangji :tada: ships Bundle &amp; more"
    )


def test_the_longest_term_wins_where_terms_overlap() -> None:
    masked, spans = brand_guard.for_translation("Tolk Pro, Tolk and Tolkien", glossary(), "en")
    assert masked == "⟦0⟧, ⟦1⟧ and Tolkien"  # a whole word only: not inside Tolkien
    assert spans == ["Tolk Pro", "Tolk"]


def test_letters_match_in_any_case_and_come_back_as_written() -> None:
    masked, spans = brand_guard.for_translation("try TOLK pro or tolk", glossary(), "de")
    assert masked == "try ⟦0⟧ or ⟦1⟧"
    assert brand_guard.from_translation("probier ⟦0⟧ oder ⟦1⟧", spans) == (
        "probier TOLK pro oder tolk"
    )


def test_a_term_spread_over_several_spaces_is_still_the_term() -> None:
    masked, spans = brand_guard.for_translation("the Tolk  Pro case", glossary(), "en")
    assert masked == "the ⟦0⟧ case" and spans == ["Tolk  Pro"]


def test_a_fixed_translation_per_language_and_by_default() -> None:
    _, ja = brand_guard.for_translation("象寄的套装", glossary(), "ja")
    _, en = brand_guard.for_translation("象寄的套装", glossary(), "en")
    masked_ko, ko = brand_guard.for_translation("象寄的套装", glossary(), "ko")
    assert ja == ["シャンジ"] and en == ["Xiangji", "Bundle"] and ko == ["Xiangji"]
    assert masked_ko == "⟦0⟧的套装"  # 套装 has a translation for en only


def test_restoring_reads_respaced_and_full_width_placeholders() -> None:
    _, spans = brand_guard.for_translation("<@U1> Tolk Pro 象寄", glossary(), "en")
    ideographic = "⟦\u30000\u3000⟧ ⟦1⟧ ⟦2⟧"
    for mangled in ("⟦ 0 ⟧ ⟦ 1 ⟧ ⟦2 ⟧", "⟦０⟧ ⟦１⟧ ⟦２⟧", "〚0〛 〚 1 〛 〚２〛", ideographic):
        assert brand_guard.from_translation(mangled, spans) == "<@U1> Tolk Pro Xiangji", mangled


def test_a_placeholder_the_engine_dropped_is_appended() -> None:
    _, spans = brand_guard.for_translation("Buy Tolk Pro today", glossary(), "ja")
    assert brand_guard.from_translation("今日買う", spans) == "今日買う Tolk Pro"


def test_a_placeholder_number_that_was_never_sent_is_left_alone() -> None:
    _, spans = brand_guard.for_translation("Tolk", glossary(), "ja")
    assert brand_guard.from_translation("⟦ 0 ⟧ ⟦ 7 ⟧", spans) == "Tolk ⟦ 7 ⟧"


def test_terms_inside_code_links_and_mentions_stay_inside_them() -> None:
    text = "see `Tolk Pro` at <https://tolk.example/Tolk|Tolk> with Tolk"
    masked, spans = brand_guard.for_translation(text, glossary(), "en")
    assert masked == "see ⟦0⟧ at ⟦1⟧ with ⟦2⟧"
    assert brand_guard.from_translation(masked, spans) == text


def test_what_is_restored_cannot_become_markup() -> None:
    entries = [Term("<!here>", None), Term("A&B", "<@U0BOSS>", None)]
    masked, spans = brand_guard.for_translation("ping &lt;!here&gt; and A&amp;B", entries, "en")
    shown = brand_guard.from_translation(masked, spans)
    assert shown == "ping &lt;!here&gt; and &lt;@U0BOSS&gt;"


def test_without_a_glossary_it_is_slacktext() -> None:
    for text in ("<@U1> hi :tada: `x` &amp; <https://a.example|a>", "plain", ""):
        assert brand_guard.for_translation(text) == slacktext.for_translation(text)
        masked, spans = slacktext.for_translation(text)
        assert brand_guard.from_translation(masked, spans) == slacktext.from_translation(
            masked, spans
        )


# --- images ------------------------------------------------------------------------------


def test_a_protected_term_translated_in_a_region_is_a_brand_violation() -> None:
    lines = [
        Line("点缀蜗居生活", "[ENG] 点缀蜗居生活", (499, 272, 182, 30)),
        Line("Tolk Pro 立即购买!", "托尔克专业版 立即购买!", (134, 0, 1066, 249)),
    ]
    (found,) = brand_guard.violations(lines, glossary(), "zh")
    assert found == Violation("Tolk Pro", BRAND, "托尔克专业版 立即购买!", (134, 0, 1066, 249))
    assert found.found_text == "托尔克专业版 立即购买!"
    assert messages.brand_term_changed(found.term, found.found, found.box) == (
        "⚠ brand term 'Tolk Pro' changed to '托尔克专业版 立即购买!' — region 134,0,1066,249"
    )


def test_a_fixed_translation_not_used_is_a_glossary_violation() -> None:
    lines = [Line("象寄翻译", "Elephant send translation", (1, 2, 3, 4))]
    (found,) = brand_guard.violations(lines, glossary(), "en")
    assert (found.term, found.kind, found.expected) == ("象寄", GLOSSARY, "Xiangji")
    (ja,) = brand_guard.violations([Line("象寄", "Xiangji")], glossary(), "ja")
    assert ja.expected == "シャンジ"  # the Japanese entry, not the default
    assert "should be 'Xiangji'" in messages.glossary_term_not_used(
        found.term, "Xiangji", found.found, found.box
    )


def test_terms_honoured_or_absent_are_no_violation() -> None:
    lines = [
        Line("TOLK PRO 立即购买", "tolk pro Buy now"),  # kept (any case)
        Line("象寄", "xiangji"),  # the fixed translation used
        Line("点缀蜗居生活", "Decorate your home"),  # no term at all
    ]
    assert brand_guard.violations(lines, glossary(), "en") == []
    assert brand_guard.violations([], glossary(), "en") == []
    assert brand_guard.violations(lines, [], "en") == []


def test_violations_survive_the_store_as_json() -> None:
    found = brand_guard.violations(
        [Line("Tolk Pro", "托尔克", (1, 2, 3, 4)), Line("象寄", "x", None)], glossary(), "en"
    )
    assert brand_guard.from_json(brand_guard.as_json(found)) == found
    assert brand_guard.from_json("nonsense") == [] and brand_guard.from_json([3]) == []


# --- the words ---------------------------------------------------------------------------


def test_the_words_escape_what_came_from_outside() -> None:
    evil = "<!here> <https://evil.example|x> & <@U0MALLORY>"
    for text in (
        messages.brand_term_changed(evil, evil, None),
        messages.glossary_term_not_used(evil, evil, evil, [1, 2, 3, 4]),
        messages.glossary_unchecked(evil),
    ):
        assert "<!here>" not in text and "<https://" not in text and "<@U0" not in text
    assert len(messages.brand_term_changed("t", "長" * 5000, (1, 2, 3, 4))) < 300


def test_the_closing_line_says_refine_or_outside_tolk() -> None:
    assert messages.glossary_breaks(1, True) == (
        "⚠ 1 image breaks the glossary — use Refine to fix it by hand."
    )
    assert "2 images break the glossary" in messages.glossary_breaks(2, True)
    outside = messages.glossary_breaks(1, False)
    assert "outside Tolk" in outside and "use Refine" not in outside

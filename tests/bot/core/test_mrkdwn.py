"""The text Tolk posts: escaped, never pinging, split where a person would split it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.mrkdwn import SECTION, clip, escape, fit_call, neutralise, split, unescape
from bot.core.slacktext import for_translation, from_translation


def test_escape_and_unescape_round_trip() -> None:
    assert escape("x < 3 & y > 2") == "x &lt; 3 &amp; y &gt; 2"
    assert unescape(escape("a &lt; b <@U1> & c")) == "a &lt; b <@U1> & c"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<!channel> sale!", "@channel sale!"),
        ("<!here|here> now", "@here now"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S0123|@designers> look", "@designers look"),
        ("<@U0ALICE> and <#C0GENERAL|general> stay", "<@U0ALICE> and <#C0GENERAL|general> stay"),
        ("<!date^1700000000^{date}|today> stays", "<!date^1700000000^{date}|today> stays"),
    ],
)
def test_neutralise_keeps_mentions_but_never_pings(raw: str, shown: str) -> None:
    assert neutralise(raw) == shown


def test_a_translation_is_escaped_and_the_persons_spans_come_back() -> None:
    original = "Hi <@U0ALICE>, see <https://example.com|the page> :tada: x &lt; 3 <!channel>"
    plain, spans = for_translation(original)
    assert "x < 3" in plain  # the translator sees what the person typed
    # a translator that answers with markup of its own
    translated = plain.replace("Hi", "<!here> Hallo <https://evil.example|click>")
    shown = from_translation(translated, spans)
    assert "<@U0ALICE>" in shown and "<https://example.com|the page>" in shown
    assert ":tada:" in shown and "x &lt; 3" in shown
    assert "<!here>" not in shown and "<!channel>" not in shown
    assert "<https://evil.example|click>" not in shown
    assert "&lt;https://evil.example|click&gt;" in shown


def test_split_prefers_paragraphs_then_sentences() -> None:
    paragraph = "Sentence one is here. " * 60  # ~1,300 characters
    text = "\n\n".join([paragraph.strip()] * 4)
    parts = split(text, SECTION)
    assert all(len(p) <= SECTION for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_split_of_unbroken_cjk_cuts_after_a_full_stop() -> None:
    text = "这是一个很长的句子。" * 700  # 7,000 characters, no spaces
    parts = split(text, SECTION)
    assert all(len(p) <= SECTION and p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_split_never_cuts_a_link_or_an_entity() -> None:
    text = ("word " * 597) + "<https://example.com/a/very/long/path|label> &amp; more " * 3
    for part in split(text, SECTION):
        assert part.count("<") == part.count(">")
        assert "&am" not in part.replace("&amp;", "")


def test_split_closes_and_reopens_a_code_block() -> None:
    text = "```\n" + ("line of code\n" * 400) + "```"
    parts = split(text, SECTION)
    assert len(parts) > 1
    assert all(p.count("```") % 2 == 0 for p in parts)


def test_clip_marks_the_cut() -> None:
    assert clip("short", 10) == "short"
    cut = clip("a long sentence that goes on", 12)
    assert cut.endswith("…") and len(cut) <= 12


@given(st.text(max_size=9000))
def test_split_keeps_every_word_and_every_part_fits(text: str) -> None:
    parts = split(text, SECTION)
    assert all(len(p) <= SECTION for p in parts)
    rejoined = "".join("".join(parts).replace("```", "").split())
    assert rejoined == "".join(text.replace("```", "").split())


def test_fit_call_is_the_last_word_on_every_post() -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x " * 4000}},
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 300}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 14},
    ]
    fitted = fit_call(
        "chat.postMessage",
        {"channel": "C1", "text": "<!channel> " + "y" * 50_000, "blocks": blocks},
    )
    assert fitted["text"].startswith("@channel") and len(fitted["text"]) <= 40_000
    assert fitted["text"].endswith("…")
    sections = [b for b in fitted["blocks"] if b["type"] == "section"]
    assert len(sections) == 3 and all(len(b["text"]["text"]) <= SECTION for b in sections)
    header = next(b for b in fitted["blocks"] if b["type"] == "header")
    assert len(header["text"]["text"]) <= 150 and header["text"]["text"].endswith("…")
    context = next(b for b in fitted["blocks"] if b["type"] == "context")
    assert len(context["elements"]) == 10


def test_fit_call_cuts_past_fifty_blocks_with_a_note() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"{n}"}} for n in range(70)]
    fitted = fit_call("chat.postMessage", {"channel": "C1", "text": "t", "blocks": blocks})
    assert len(fitted["blocks"]) == 50
    assert "21 more parts not shown" in fitted["blocks"][-1]["elements"][0]["text"]

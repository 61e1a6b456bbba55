"""Issue 8: every slash-command parser holds under hostile text.

For any text at all — Slack escapes, ``<url|label>`` links, unicode (lone surrogates too),
line breaks, ``--`` options, huge inputs — each parser either returns its typed command or
raises ``UsageError`` with a message that shows how to write the command. Any other
exception is a crash the person would see as Slack's "dispatch_failed". Where a command
can be written from its parts, writing it and parsing it gives the parts back.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.core.languages import all_languages, read_language
from handlers.slack.parsing import (
    MAX_IMAGES,
    SCENES,
    TEXT_ENGINES,
    ConfigChange,
    CutoutCommand,
    DocCommand,
    ImageCommand,
    MediaJobCommand,
    MediaStatusCommand,
    TextCommand,
    TolkCommand,
    UsageError,
    parse_cutout,
    parse_media_job,
    parse_tolk,
    parse_translate,
    parse_translate_doc,
    parse_translate_image,
)
from providers.mts.wire import FUNCTIONS

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(SETTINGS, max_examples=60)

# --- hostile text -----------------------------------------------------------------------------

WORDS = [
    # languages, pairs and Slack's escaped ">"
    "zh>en", "zh&gt;ko", "zh->en", "zh→en", "zh＞en", "en", "ko", "auto>en", "auto", ">", "zh>",
    ">en", "zh>en>ja", "zh>zh", "klingon", "chinese>korean", "zh-Hant-TW", "EN", "kr", "cn",
    # URLs, plain and as Slack sends them
    "https://example.com/a.jpg", "http://example.com/b.png?x=1&amp;y=2",
    "<https://example.com/a.jpg>", "<https://example.com/a.jpg|a.jpg>", "<https://x.io/?a=1&amp;b=2|x>",
    "<mailto:a@b.c|a@b.c>", "<#C0GENERAL|general>", "<@U0ALICE>", "<!here>", "<>", "<|>",
    "http://[::1/a.png", "https://[oops/a.jpg", "https://[::1]/a.png", "https://[x]/a.docx",
    "http://a.b:99999/c", "http://:80/", "https://", "ftp://example.com/f", "javascript:alert(1)",
    "oss://my-bucket/photos/cat.jpg", "oss://Bad_Bucket/x", "oss://b/", "oss://", "not-a-url",
    "https://example.com/guide.docx", "https://user:pw@example.com/a.pdf",
    "HTTPS://EXAMPLE.COM/A.JPG", "\x01https://example.com/a.jpg", "https://exa\x00mple.com/a",
    # options, good and bad
    "--engine", "--engine google", "--engine=deepl", "--engine=", "--private", "--removed",
    "--ocr", "--fast", "--best", "--provider", "--provider alibaba", "--provider=rozetta",
    "--provider xiangji", "--scene", "--scene tech", "--scene=legal", "--bg", "--bg 255,0,0",
    "--bg=1,2", "--bg 256,0,0", "--bg -1,0,0", "--bg ²,0,0", "--", "---", "--=x", "-x", "—private",
    # Slack escapes and HTML-ish noise
    "&lt;", "&gt;", "&amp;", "&amp;lt;", "&lt;script&gt;", "&#62;", "&", "<", ">", "|",
    # JSON for /media-job
    '{"Model": "3d"}', "{“Model”: “3d”}", '{"fps": 5}', '{"fps": 1}', '{"fps": true}', "{",
    "[", "]", "}", '{"Text": [[1,2,3,4]]}', '{"roi": [[0,1],[0,1]]}', "null", "[1,2]", '"x"',
    '{"a": 1e999}', '{"a": NaN}', "{'a': 1}", '{a: 1}',
    # function names, /tolk words, task ids, numbers
    "ImageCartoonize", "CaptionExtraction", "VideoDetext", "imagecartoonize", "ImageCartoonise",
    "status", "STATUS", "88c6ca184c0e432bbf5b665e2a15abcd", "****20b48fb04483915d",
    "help", "tasks", "cancel", "retry", "quota", "config", "show", "auto-images", "auto-docs",
    "on", "off", "defaults", "quota-threshold", "T7Q2K", "`T7Q2K`", "t7q2k", "TSSSS", "tß",
    "500", "0", "-1", "²", "١٢", "1_000", "9" * 5000, "1e3",
    # unicode: CJK, emoji, RTL override, zero-width, odd whitespace, control characters
    "我是中国人", "你好", "🙂", "👍🏽", "\u202e", "\u200b", "\ufeff", "\u3000", "\xa0", "\x00",
    "\x1c", "\r\n", "\n", "\t", "ß", "ﬁ", "İ", "\ud800", "\udfff",
]  # fmt: skip

word = st.sampled_from(WORDS)
separator = st.sampled_from([" ", "  ", "\n", "\t", " \n ", "\u3000", "\xa0", ""])
anything = st.text(max_size=60) | st.text(
    st.characters(categories=["Cs", "Zs", "Cc", "Po", "Sm"]), max_size=20
)


@st.composite
def command_text(draw: st.DrawFn) -> str:
    """A sentence of command-ish words and noise, sometimes repeated into something huge."""
    parts = draw(st.lists(word | anything, min_size=0, max_size=12))
    text = ""
    for part in parts:
        text += part + draw(separator)
    if draw(st.integers(0, 9)) == 0:  # now and then: huge
        text = text * draw(st.integers(50, 400)) or "a" * 20_000
    return text


few_words = st.lists(word, min_size=1, max_size=3).map(" ".join)
hostile = st.one_of(st.just(""), word, few_words, command_text(), anything)

# --- what a refusal must say ------------------------------------------------------------------

_EXAMPLE = re.compile(r"`/[a-z][a-z-]*[^`]*`")
_INTERNALS = ("Traceback", "sys.set_int_max_str_digits", "recursion", "object at 0x")


def assert_tells_how(message: str, typed: str = "") -> None:
    """A refusal names what to type: the usage line or a command example in backticks, and
    never Python's own words (unless the person typed them: refusals quote the input)."""
    assert message.strip(), "an empty refusal"
    assert "Usage:" in message or _EXAMPLE.search(message), message
    assert not [w for w in _INTERNALS if w in message and w not in typed], message


def parses_or_explains(parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except UsageError as exc:
        assert_tells_how(str(exc), text)
        return None


def fetchable(url: str) -> bool:
    """An http(s) URL with a host, exactly as checked: nothing the URL parser would drop."""
    parts = urlsplit(url)
    clean = not any(ord(c) < 32 or c == "\x7f" for c in url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and clean


# --- no crash, a clear refusal --------------------------------------------------------------


@SETTINGS
@given(hostile)
def test_translate_never_crashes(text: str) -> None:
    cmd = parses_or_explains(parse_translate, text)
    if cmd is not None:
        assert isinstance(cmd, TextCommand) and cmd.text.strip()
        assert cmd.engine is None or cmd.engine in TEXT_ENGINES


@SETTINGS
@given(hostile)
def test_translate_image_never_crashes(text: str) -> None:
    cmd = parses_or_explains(parse_translate_image, text)
    if cmd is not None:
        assert isinstance(cmd, ImageCommand) and 1 <= len(cmd.urls) <= MAX_IMAGES
        assert all(fetchable(u) for u in cmd.urls)


@SETTINGS
@given(hostile)
def test_translate_doc_never_crashes(text: str) -> None:
    cmd = parses_or_explains(parse_translate_doc, text)
    if cmd is not None:
        assert isinstance(cmd, DocCommand) and fetchable(cmd.url)


@SETTINGS
@given(hostile)
def test_cutout_never_crashes(text: str) -> None:
    cmd = parses_or_explains(parse_cutout, text)
    if cmd is not None:
        assert isinstance(cmd, CutoutCommand) and 1 <= len(cmd.urls) <= MAX_IMAGES
        assert all(fetchable(u) for u in cmd.urls)
        assert cmd.bg is None or all(0 <= c <= 255 for c in cmd.bg)


@SETTINGS
@given(hostile)
def test_tolk_and_config_never_crash(text: str) -> None:
    for typed in (text, f"config {text}", f"config quota-threshold {text}", f"cancel {text}"):
        cmd = parses_or_explains(parse_tolk, typed)
        if cmd is not None:
            assert isinstance(cmd, TolkCommand)
            if cmd.config is not None and cmd.config.number is not None:
                assert cmd.config.number >= 0


@SETTINGS
@given(hostile)
def test_media_job_never_crashes(text: str) -> None:
    for typed in (text, f"ImageCartoonize oss://my-bucket/cat.jpg {text}", f"status {text}"):
        cmd = parses_or_explains(parse_media_job, typed)
        if cmd is not None:
            assert isinstance(cmd, MediaJobCommand | MediaStatusCommand)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_translate_image, "zh>ko https://[oops/a.png"),
        (parse_translate_image, "zh>ko <http://[::1/a.png|a.png>"),
        (parse_translate_doc, "en>ja https://[x]/a.docx"),
        (parse_cutout, "https://[x/a.png"),
        (parse_cutout, "\x01https://example.com/a.png"),
        (parse_translate_doc, "en>ja https://exa\x00mple.com/a.docx"),
        (parse_tolk, "config quota-threshold ²"),
        (parse_tolk, "config quota-threshold " + "9" * 5000),
        (parse_media_job, "ImageCartoonize oss://my-bucket/a.jpg " + "[" * 100_000),
        (parse_media_job, "ImageCartoonize oss://my-bucket/a.jpg " + '{"a":' * 100_000),
        (parse_media_job, 'ImageCartoonize oss://my-bucket/a.jpg {"a": ' + "1" * 5000 + "}"),
    ],
)
def test_inputs_that_once_crashed_or_slipped_through_are_explained(
    parse: Callable[[str], Any], text: str
) -> None:
    with pytest.raises(UsageError) as info:
        parse(text)
    assert_tells_how(str(info.value))


def test_a_lone_surrogate_is_text_like_any_other() -> None:
    assert parse_translate("zh>en \ud800 lone surrogate").text == "\ud800 lone surrogate"


def test_media_job_params_too_deep_or_too_long_say_so() -> None:
    deep = "ImageCartoonize oss://my-bucket/a.jpg " + "[" * 100_000
    with pytest.raises(UsageError, match="JobParams"):
        parse_media_job(deep)
    long = 'ImageCartoonize oss://my-bucket/a.jpg {"a": ' + "1" * 5000 + "}"
    with pytest.raises(UsageError, match="JobParams"):
        parse_media_job(long)


# --- written from parts, parsed back to the parts ---------------------------------------------

LANGUAGES = all_languages()
CODES = [lang.code for lang in LANGUAGES]


def slack_escape(text: str) -> str:
    """What Slack does to ``&``, ``<`` and ``>`` in command text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def pair(draw: st.DrawFn) -> tuple[str | None, str, str]:
    """(source code or None, target code, the pair as a person might type it)."""
    target = draw(st.sampled_from(CODES))
    source = draw(st.none() | st.sampled_from([c for c in CODES if c != target]))
    if source is None:
        typed = draw(st.sampled_from([target, f"auto>{target}", f"auto&gt;{target}"]))
    else:
        sep = draw(st.sampled_from([">", "&gt;", "->", "→", "＞"]))
        typed = f"{source}{sep}{target}"
    return source, target, typed


def codes_of(cmd: Any) -> tuple[str | None, str]:
    return (cmd.source.code if cmd.source else None, cmd.target.code)


# Text a person translates: anything but a word that looks like an option, or a first word
# that reads as a second language or a spaced '>' (both refused with a suggestion).
free_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=200
).filter(lambda t: t.strip())


def ends_like_an_option(text: str) -> bool:
    words = text.split()
    if any(re.match(r"(--|—|–)[A-Za-z]", w) for w in words):
        return True
    first = words[0]
    return read_language([first]) is not None or first.startswith((">", "->", "→", "⇒", "＞"))


@ROUND_TRIP
@given(
    pair(),
    free_text,
    st.none() | st.sampled_from(TEXT_ENGINES),
    st.booleans(),
    st.sampled_from(["lead", "trail"]),
)
def test_translate_round_trip(
    languages: tuple[str | None, str, str],
    text: str,
    engine: str | None,
    private: bool,
    where: str,
) -> None:
    assume(not ends_like_an_option(text))
    source, target, typed_pair = languages
    options = ([f"--engine {engine}"] if engine else []) + (["--private"] if private else [])
    body = f"{typed_pair} {slack_escape(text)}"
    typed = " ".join([*options, body]) if where == "lead" else " ".join([body, *options])
    cmd = parse_translate(typed)
    assert codes_of(cmd) == (source, target)
    assert cmd.text == text.strip()  # Slack's escaping undone, spacing and line breaks kept
    assert (cmd.engine, cmd.private) == (engine, private)


label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
host = st.lists(label, min_size=2, max_size=3).map(".".join)
path = st.text(string.ascii_letters + string.digits + "-_./%~", max_size=30)
query = st.lists(
    st.tuples(
        st.text(string.ascii_lowercase, min_size=1, max_size=5), st.text("ab12&<>", max_size=4)
    ),
    max_size=3,
)


@st.composite
def url(draw: st.DrawFn) -> tuple[str, str]:
    """(the URL, as Slack puts it in command text: bare, <url> or <url|label>, escaped)."""
    scheme = draw(st.sampled_from(["http", "https"]))
    pairs = draw(query)
    plain = f"{scheme}://{draw(host)}/{draw(path)}"
    if pairs:
        plain += "?" + "&".join(f"{k}={v.replace('<', '').replace('>', '')}" for k, v in pairs)
    form = draw(st.sampled_from(["bare", "angle", "label"]))
    escaped = slack_escape(plain)
    if form == "angle":
        return plain, f"<{escaped}>"
    if form == "label":
        return plain, f"<{escaped}|{slack_escape(draw(st.text('ab.-', max_size=8)))}>"
    return plain, escaped


@ROUND_TRIP
@given(
    pair(),
    st.lists(url(), min_size=1, max_size=MAX_IMAGES),
    st.sets(st.sampled_from(["removed", "ocr", "fast", "best"])),
    st.sampled_from(["xiangji", "alibaba", None]),
)
def test_translate_image_round_trip(
    languages: tuple[str | None, str, str],
    urls: list[tuple[str, str]],
    flags: set[str],
    provider: str | None,
) -> None:
    assume(not {"fast", "best"} <= flags)
    source, target, typed_pair = languages
    options = [f"--{f}" for f in sorted(flags)] + ([f"--provider {provider}"] if provider else [])
    cmd = parse_translate_image(" ".join([typed_pair, *(u for _, u in urls), *options]))
    assert codes_of(cmd) == (source, target)
    assert cmd.urls == tuple(plain for plain, _ in urls)
    assert (cmd.removed, cmd.ocr) == ("removed" in flags, "ocr" in flags)
    assert cmd.qos == (
        "LowLatency" if "fast" in flags else "BestQuality" if "best" in flags else None
    )
    assert cmd.provider == (provider or "xiangji")


@ROUND_TRIP
@given(
    pair(),
    url(),
    st.sampled_from(["alibaba", "rozetta", None]),
    st.none() | st.sampled_from(SCENES),
)
def test_translate_doc_round_trip(
    languages: tuple[str | None, str, str],
    doc: tuple[str, str],
    provider: str | None,
    scene: str | None,
) -> None:
    assume(scene is None or provider != "rozetta")
    source, target, typed_pair = languages
    options = ([f"--provider={provider}"] if provider else []) + (
        [f"--scene {scene}"] if scene else []
    )
    cmd = parse_translate_doc(" ".join([*options, typed_pair, doc[1]]))
    assert cmd == DocCommand(cmd.source, cmd.target, doc[0], scene, provider or "alibaba")
    assert codes_of(cmd) == (source, target)


@ROUND_TRIP
@given(
    st.lists(url(), min_size=1, max_size=MAX_IMAGES),
    st.none() | st.tuples(*[st.integers(0, 255)] * 3),
)
def test_cutout_round_trip(urls: list[tuple[str, str]], bg: tuple[int, int, int] | None) -> None:
    options = [f"--bg {bg[0]},{bg[1]},{bg[2]}"] if bg else []
    cmd = parse_cutout(" ".join([*options, *(u for _, u in urls)]))
    assert cmd == CutoutCommand(tuple(plain for plain, _ in urls), bg)


task_id = st.from_regex(r"T[0-9A-Z]{4}", fullmatch=True)


@ROUND_TRIP
@given(
    st.one_of(
        st.tuples(st.sampled_from(["cancel", "retry"]), task_id).map(
            lambda a: (f"{a[0]} `{a[1].lower()}`", TolkCommand(a[0], a[1]))
        ),
        st.sampled_from(["help", "tasks", "quota"]).map(lambda a: (a.upper(), TolkCommand(a))),
        st.integers(0, 10**18 - 1).map(
            lambda n: (
                f"config quota-threshold {n}",
                TolkCommand("config", config=ConfigChange("quota-threshold", number=n)),
            )
        ),
        st.sampled_from(["auto-images", "auto-docs"]).map(
            lambda s: (f"config {s} off", TolkCommand("config", config=ConfigChange(s, on=False)))
        ),
    )
)
def test_tolk_round_trip(case: tuple[str, TolkCommand]) -> None:
    typed, expected = case
    assert parse_tolk(typed) == expected


@ROUND_TRIP
@given(pair(), st.sampled_from(["alibaba", "rozetta", None]))
def test_config_auto_docs_round_trip(
    languages: tuple[str | None, str, str], provider: str | None
) -> None:
    source, target, typed_pair = languages
    typed = f"config auto-docs on {typed_pair}" + (f" --provider {provider}" if provider else "")
    change = parse_tolk(typed).config
    assert change is not None and (change.setting, change.on, change.provider) == (
        "auto-docs",
        True,
        provider,
    )
    assert (change.source.code if change.source else None, change.target.code) == (source, target)


bucket = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
object_key = (
    st.lists(
        st.sampled_from(["photos/", "cat.jpg", "&", "amp;", "&amp;", "&lt;", "<", ">", "|", "ü"])
        | st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Z", "C"]), max_size=8),
        min_size=1,
        max_size=6,
    )
    .map("".join)
    .filter(lambda k: k and not k.endswith("/") and not k.startswith(("<", "/")))
)
# Job parameters for the functions without documented constraints; no curly quotes (Slack's
# “ ” are read as plain quotes on purpose).
plain_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="“”„‘’"),
    max_size=20,
)
json_params = st.dictionaries(
    plain_text,
    st.recursive(
        st.none() | st.booleans() | st.integers(-(10**9), 10**9) | plain_text,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(plain_text, kids, max_size=3),
        max_leaves=8,
    ),
    max_size=4,
)
free_functions = [f for f in FUNCTIONS if f not in ("CaptionExtraction", "VideoDetext")]


@ROUND_TRIP
@given(st.sampled_from(free_functions), bucket, object_key, json_params)
def test_media_job_round_trip(function: str, name: str, key: str, params: dict[str, Any]) -> None:
    source = f"oss://{name}/{key}"
    typed = f"{function} {slack_escape(source)}"
    if params:
        typed += " " + slack_escape(json.dumps(params, ensure_ascii=False))
    assert parse_media_job(typed) == MediaJobCommand(function, source, params)


@ROUND_TRIP
@given(st.from_regex(r"[A-Za-z0-9*_-]{6,64}", fullmatch=True))
def test_media_status_round_trip(job_id: str) -> None:
    assert parse_media_job(f"status {job_id}") == MediaStatusCommand(job_id)

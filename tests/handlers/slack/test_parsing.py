"""Slash-command text → typed commands; every bad input says how to write it."""

from __future__ import annotations

import pytest

from handlers.slack.parsing import (
    IMAGE_ENGINES,
    IMAGE_PROVIDERS,
    MAX_IMAGES,
    MAX_TEXT_CHARS,
    TEXT_ENGINES,
    ImageCommand,
    TextCommand,
    UsageError,
    parse_cutout,
    parse_media_job,
    parse_tolk,
    parse_translate,
    parse_translate_doc,
    parse_translate_image,
)

TRANSLATE_USAGE = "Usage: `/translate [SRC>]TGT TEXT`"
IMAGE_USAGE = "Usage: `/translate-image [SRC>]TGT URL…`"


def codes(cmd: TextCommand | ImageCommand) -> tuple[str | None, str]:
    return (cmd.source.code if cmd.source else None, cmd.target.code)


def refused_translate(text: str) -> str:
    with pytest.raises(UsageError) as info:
        parse_translate(text)
    return str(info.value)


def refused_image(text: str) -> str:
    with pytest.raises(UsageError) as info:
        parse_translate_image(text)
    return str(info.value)


def assert_tells_how(message: str, command: str) -> None:
    """The message shows how to write the command: the usage line or an example."""
    assert "Usage" in message or f"e.g. `/{command}" in message, message


# --- /translate --------------------------------------------------------------------------


def test_pair_and_text() -> None:
    cmd = parse_translate("zh>en 我是中国人")
    assert codes(cmd) == ("zh", "en")
    assert cmd.text == "我是中国人"
    assert cmd.engine is None
    assert cmd.private is False


def test_target_only() -> None:
    cmd = parse_translate("en Hello world")
    assert codes(cmd) == (None, "en")
    assert cmd.text == "Hello world"


def test_slack_escaped_pair() -> None:
    # Slack sends ">" in command text as "&gt;"
    assert codes(parse_translate("zh&gt;ko 你好")) == ("zh", "ko")


def test_language_names_and_auto_source() -> None:
    assert codes(parse_translate("chinese>korean 你好")) == ("zh", "ko")
    assert codes(parse_translate("auto>ja hello")) == (None, "ja")


def test_surrounding_whitespace_is_trimmed_inner_spacing_kept() -> None:
    cmd = parse_translate("   ja   Good   morning,  world   ")
    assert codes(cmd) == (None, "ja")
    assert cmd.text == "Good   morning,  world"


@pytest.mark.parametrize(
    "text",
    [
        "--private en Hello world",
        "en Hello world --private",
        "--private en Hello world --private",
    ],
)
def test_private_leading_or_trailing(text: str) -> None:
    cmd = parse_translate(text)
    assert cmd.private is True
    assert cmd.text == "Hello world"
    assert codes(cmd) == (None, "en")


@pytest.mark.parametrize(
    "text",
    [
        "--engine deepl zh>en 你好 世界",
        "--engine=deepl zh>en 你好 世界",
        "zh>en 你好 世界 --engine deepl",
        "zh>en 你好 世界 --engine=deepl",
        "--engine DeepL zh>en 你好 世界",
    ],
)
def test_engine_leading_or_trailing(text: str) -> None:
    cmd = parse_translate(text)
    assert cmd.engine == "deepl"
    assert cmd.text == "你好 世界"
    assert codes(cmd) == ("zh", "en")
    assert cmd.private is False


@pytest.mark.parametrize(
    "text",
    [
        "--engine google --private ja Good morning",
        "--private --engine google ja Good morning",
        "ja Good morning --engine google --private",
        "ja Good morning --private --engine google",
        "--private ja Good morning --engine=google",
        "--engine=google ja Good morning --private",
    ],
)
def test_engine_and_private_together(text: str) -> None:
    cmd = parse_translate(text)
    assert (cmd.engine, cmd.private, cmd.text) == ("google", True, "Good morning")


@pytest.mark.parametrize("engine", TEXT_ENGINES)
def test_every_engine(engine: str) -> None:
    assert parse_translate(f"--engine {engine} en 你好").engine == engine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("en use -- to end options", "use -- to end options"),
        ("en run it with `--verbose` please", "run it with `--verbose` please"),
        ("en the ```--engine deepl``` option", "the ```--engine deepl``` option"),
        ("en wait --", "wait --"),
        ("en a--b", "a--b"),
        ("en keep --this-- here", "keep --this-- here"),
        ("en 2024 — a year", "2024 — a year"),
    ],
)
def test_double_dash_inside_the_text_is_kept(text: str, expected: str) -> None:
    """Only a word shaped like an option (``--name``) is one; in backticks it is text."""
    cmd = parse_translate(text)
    assert cmd.text == expected
    assert cmd.engine is None
    assert cmd.private is False


def test_options_may_stand_inside_the_text() -> None:
    cmd = parse_translate("en the --engine deepl option")
    assert (cmd.text, cmd.engine) == ("the option", "deepl")
    cmd = parse_translate("zh>en 第一行\n--private 第二行")
    assert (cmd.text, cmd.private) == ("第一行\n第二行", True)


def test_an_unknown_option_inside_the_text_says_how_to_keep_it() -> None:
    message = refused_translate("en run it with --verbose please")
    assert "`--verbose`" in message and "backticks" in message
    assert TRANSLATE_USAGE in message


def test_double_dash_inside_text_with_trailing_options() -> None:
    cmd = parse_translate("en keep --this-- and -- that --private --engine baidu")
    assert cmd.text == "keep --this-- and -- that"
    assert (cmd.private, cmd.engine) == (True, "baidu")


def test_multi_line_text_keeps_its_line_breaks() -> None:
    cmd = parse_translate("zh>en 第一行\n第二行\n\n  第四行")
    assert cmd.text == "第一行\n第二行\n\n  第四行"


def test_multi_line_text_with_trailing_options() -> None:
    cmd = parse_translate("zh>en 第一行\n第二行\n--private --engine aliyun")
    assert cmd.text == "第一行\n第二行"
    assert (cmd.private, cmd.engine) == (True, "aliyun")


@pytest.mark.parametrize(
    "text", ["en\nHello world", "en\tHello world", "--private\nen Hello world"]
)
def test_line_break_or_tab_after_the_language(text: str) -> None:
    cmd = parse_translate(text)
    assert codes(cmd) == (None, "en")
    assert cmd.text == "Hello world"


def test_slack_escaped_text_is_unescaped() -> None:
    assert parse_translate("en Tom &amp; Jerry &lt;3").text == "Tom & Jerry <3"


@pytest.mark.parametrize("text", ["en", "zh>en", "  en   ", "en --private", "--engine deepl en"])
def test_missing_text(text: str) -> None:
    message = refused_translate(text)
    assert "no text" in message
    assert_tells_how(message, "translate")


@pytest.mark.parametrize("text", ["", "   ", "--private", "--engine deepl"])
def test_missing_language(text: str) -> None:
    message = refused_translate(text)
    assert "which language" in message
    assert_tells_how(message, "translate")


@pytest.mark.parametrize("text", ["xx Hello", "zh>qq 你好", "zh>zh 你好", "Hello world"])
def test_bad_language(text: str) -> None:
    message = refused_translate(text)
    assert_tells_how(message, "translate")


def test_unknown_language_names_the_word() -> None:
    message = refused_translate("klingon Hello")
    assert "klingon" in message
    assert TRANSLATE_USAGE in message


@pytest.mark.parametrize(
    "text", ["--engine bing en Hello", "en Hello --engine bing", "--engine=bing en Hello"]
)
def test_unknown_engine_lists_the_choices(text: str) -> None:
    message = refused_translate(text)
    assert "bing" in message
    for engine in TEXT_ENGINES:
        assert engine in message
    assert TRANSLATE_USAGE in message


def test_unknown_option() -> None:
    message = refused_translate("--fast en Hello")
    assert "--fast" in message
    assert TRANSLATE_USAGE in message


def test_trailing_unknown_option() -> None:
    message = refused_translate("en Hello --loud")
    assert "--loud" in message
    assert TRANSLATE_USAGE in message


def test_engine_without_a_value() -> None:
    message = refused_translate("--engine --private en Hello")
    assert "--engine" in message
    assert TRANSLATE_USAGE in message


def test_text_at_the_limit_is_accepted() -> None:
    assert len(parse_translate("en " + "a" * MAX_TEXT_CHARS).text) == 5000
    assert MAX_TEXT_CHARS == 5000


def test_emoji_count_two_utf16_units() -> None:
    assert parse_translate("en " + "😀" * 2500).text == "😀" * 2500
    message = refused_translate("en " + "😀" * 2501)
    assert "5,002" in message
    assert "5,000" in message


@pytest.mark.parametrize(
    ("text", "shown"),
    [("a" * 5001, "5,001"), ("a" * 4999 + "😀", "5,001"), ("中" * 6000, "6,000")],
)
def test_text_over_the_limit_is_refused(text: str, shown: str) -> None:
    message = refused_translate("en " + text)
    assert shown in message
    assert "5,000" in message


def test_text_over_the_limit_tells_how_to_write_the_command() -> None:
    assert_tells_how(refused_translate("en " + "a" * 5001), "translate")


def test_usage_error_is_a_value_error() -> None:
    assert issubclass(UsageError, ValueError)


# --- /translate-image --------------------------------------------------------------------


def test_one_url() -> None:
    cmd = parse_translate_image("zh>ko https://x.example/a.jpg")
    assert cmd == ImageCommand(
        source=cmd.source,
        target=cmd.target,
        urls=("https://x.example/a.jpg",),
        removed=False,
        ocr=False,
        qos=None,
        provider="xiangji",
    )
    assert codes(cmd) == ("zh", "ko")


def test_target_only_image() -> None:
    cmd = parse_translate_image("en http://x.example/a.png")
    assert codes(cmd) == (None, "en")
    assert cmd.urls == ("http://x.example/a.png",)


def test_several_urls_in_order() -> None:
    urls = [f"https://x.example/{i}.jpg" for i in range(5)]
    cmd = parse_translate_image("zh>en " + "\n".join(urls))
    assert cmd.urls == tuple(urls)


def test_slack_wrapped_links_are_unwrapped() -> None:
    cmd = parse_translate_image(
        "zh>en <https://x.example/a.jpg> <https://x.example/b.jpg|b.jpg> https://x.example/c.jpg"
    )
    assert cmd.urls == (
        "https://x.example/a.jpg",
        "https://x.example/b.jpg",
        "https://x.example/c.jpg",
    )


def test_slack_escaped_ampersand_in_url_is_unescaped() -> None:
    cmd = parse_translate_image("zh>en <https://x.example/a.jpg?w=1&amp;sig=abc>")
    assert cmd.urls == ("https://x.example/a.jpg?w=1&sig=abc",)


@pytest.mark.parametrize("count", [1, 19, MAX_IMAGES])
def test_up_to_twenty_urls(count: int) -> None:
    urls = " ".join(f"https://x.example/{i}.jpg" for i in range(count))
    assert len(parse_translate_image(f"zh>en {urls}").urls) == count


def test_twenty_one_urls_are_refused() -> None:
    urls = " ".join(f"https://x.example/{i}.jpg" for i in range(MAX_IMAGES + 1))
    message = refused_image(f"zh>en {urls}")
    assert "21" in message
    assert "20" in message


def test_twenty_one_urls_tells_how_to_write_the_command() -> None:
    urls = " ".join(f"https://x.example/{i}.jpg" for i in range(MAX_IMAGES + 1))
    assert_tells_how(refused_image(f"zh>en {urls}"), "translate-image")


@pytest.mark.parametrize(
    "bad",
    [
        "x.example/a.jpg",
        "not-a-url",
        "ftp://x.example/a.jpg",
        "file:///etc/passwd",
        "<mailto:a@b.example|a@b.example>",
        "https://",
    ],
)
def test_non_url_is_refused(bad: str) -> None:
    message = refused_image(f"zh>en https://x.example/ok.jpg {bad}")
    assert "not a web address" in message
    assert IMAGE_USAGE in message


def test_missing_urls() -> None:
    message = refused_image("zh>en --removed")
    assert "image URL" in message
    assert IMAGE_USAGE in message


@pytest.mark.parametrize("text", ["", "   ", "--fast --ocr"])
def test_nothing_given_shows_usage(text: str) -> None:
    assert IMAGE_USAGE in refused_image(text)


def test_bad_language_for_images() -> None:
    message = refused_image("klingon https://x.example/a.jpg")
    assert "klingon" in message
    assert IMAGE_USAGE in message


def test_url_in_place_of_language() -> None:
    assert IMAGE_USAGE in refused_image("https://x.example/a.jpg")


@pytest.mark.parametrize(
    ("flags", "removed", "ocr", "qos"),
    [
        ("", False, False, None),
        ("--removed", True, False, None),
        ("--ocr", False, True, None),
        ("--fast", False, False, "LowLatency"),
        ("--best", False, False, "BestQuality"),
        ("--removed --ocr --best", True, True, "BestQuality"),
    ],
)
def test_flags_become_fields(flags: str, removed: bool, ocr: bool, qos: str | None) -> None:
    for text in (
        f"{flags} zh>en https://x.example/a.jpg",
        f"zh>en https://x.example/a.jpg {flags}",
        f"zh>en {flags} https://x.example/a.jpg",
    ):
        cmd = parse_translate_image(text)
        assert (cmd.removed, cmd.ocr, cmd.qos) == (removed, ocr, qos), text
        assert cmd.urls == ("https://x.example/a.jpg",)


def test_fast_and_best_together_are_refused() -> None:
    message = refused_image("zh>en https://x.example/a.jpg --fast --best")
    assert "--fast" in message
    assert "--best" in message
    assert IMAGE_USAGE in message


@pytest.mark.parametrize(
    "text",
    [
        "--provider alibaba zh>en https://x.example/a.jpg",
        "zh>en https://x.example/a.jpg --provider=alibaba",
        "zh>en https://x.example/a.jpg --provider Alibaba",
    ],
)
def test_provider_option(text: str) -> None:
    assert parse_translate_image(text).provider == "alibaba"


@pytest.mark.parametrize(
    "text",
    [
        "zh>en https://x.example/a.jpg --provider google",
        "zh>en https://x.example/a.jpg --provider=rozetta",
    ],
)
def test_unknown_provider_lists_the_choices(text: str) -> None:
    message = refused_image(text)
    assert "--provider" in message
    for provider in IMAGE_PROVIDERS:
        assert provider in message
    assert IMAGE_USAGE in message


def test_provider_without_a_value() -> None:
    message = refused_image("zh>en https://x.example/a.jpg --provider")
    assert "--provider" in message
    assert IMAGE_USAGE in message


def test_unknown_image_option() -> None:
    message = refused_image("zh>en https://x.example/a.jpg --sepia")
    assert "--sepia" in message
    assert IMAGE_USAGE in message


def test_flag_with_a_value_is_refused() -> None:
    message = refused_image("zh>en https://x.example/a.jpg --fast=yes")
    assert "--fast=yes" in message
    assert IMAGE_USAGE in message


# --- what people type (issue 15 §5) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "corrected"),
    [
        ("en ja hello", "`/translate en>ja hello`"),
        ("en-ja hello", "`/translate en>ja hello`"),
        ("en &gt; ja hello", "`/translate en>ja hello`"),
        ("--private en ja hello", "`/translate --private en>ja hello`"),
        ("en ja", "`/translate en>ja`"),
        ("en japanese hello", "`/translate en>ja hello`"),  # a name: the text was in en anyway
    ],
)
def test_two_languages_are_refused_with_the_command_as_it_should_be(typed, corrected):
    message = refused_translate(typed)
    assert f"Did you mean {corrected}?" in message
    assert TRANSLATE_USAGE in message


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("ja hi there", "hi there"),  # hi: Hindi, but first a word
        ("zh it works", "it works"),
        ("ko my order", "my order"),
        ("zh Japanese food", "Japanese food"),  # a name, and the text is not in zh
        ("ja de rien", "de rien"),
        ("ja 2 &gt; 1", "2 > 1"),
    ],
)
def test_a_first_word_that_is_also_a_language_stays_text(typed, text):
    assert parse_translate(typed).text == text


def test_a_dash_that_a_keyboard_made_of_two_hyphens_is_still_an_option() -> None:
    cmd = parse_translate("en Hello —private")
    assert (cmd.text, cmd.private) == ("Hello", True)
    assert parse_translate("en Hello —world").text == "Hello —world"  # not an option: text


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("en>ja hello --engin deepl", "--engine"),
        ("en>ja hello --engine=deepl --privat", "--private"),
        ("--eng deepl en>ja hello", "--engine"),
    ],
)
def test_a_mistyped_option_names_the_closest_one(typed, suggested):
    message = refused_translate(typed)
    assert f"did you mean `{suggested}`?" in message
    assert TRANSLATE_USAGE in message


@pytest.mark.parametrize(
    ("typed", "urls"),
    [
        ("zh>ko https://a.example/1.jpg,https://a.example/2.jpg", ["1.jpg", "2.jpg"]),
        ("zh>ko https://a.example/1.jpg, https://a.example/2.jpg", ["1.jpg", "2.jpg"]),
        ("zh>ko https://a.example/1.jpg ,https://a.example/2.jpg", ["1.jpg", "2.jpg"]),
        ("zh>ko <https://a.example/1.jpg>,<https://a.example/2.jpg>", ["1.jpg", "2.jpg"]),
        ("zh>ko <https://a.example/1.jpg,https://a.example/2.jpg>", ["1.jpg", "2.jpg"]),
        ("zh>ko https://a.example/1.jpg?s=1,2", ["1.jpg?s=1,2"]),  # a comma in one URL stays
        ("zh>ko https://a.example/1.jpg?u=a,HTTP://a.example/2.jpg", ["1.jpg?u=a", "2.jpg"]),
    ],
)
def test_comma_separated_urls(typed, urls):
    cmd = parse_translate_image(typed)
    assert [u.split("/")[-1] for u in cmd.urls] == urls


def test_comma_separated_urls_for_cutout_and_documents() -> None:
    cmd = parse_cutout("https://a.example/1.png, https://a.example/2.png --bg 1,2,3")
    assert (len(cmd.urls), cmd.bg) == (2, (1, 2, 3))
    with pytest.raises(UsageError, match="one document"):
        parse_translate_doc("en>ja https://a.example/1.docx,https://a.example/2.docx")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("config quota-threshold -5", "must be zero or more"),
        ("config defaults en ja", "Did you mean `/tolk config defaults en>ja`?"),
        ("config auto-images on zh-ko", "Did you mean `/tolk config auto-images on zh>ko`?"),
        ("config auto-docs on en --provder rozetta", "did you mean `--provider`?"),
        ("config defaults en --private", "Unknown option `--private`"),
        ("tasks --all", "`/tolk tasks` takes no options"),
    ],
)
def test_tolk_mistakes(typed, expected):
    with pytest.raises(UsageError) as info:
        parse_tolk(typed)
    assert expected in str(info.value)
    assert "Usage:" in str(info.value)


def test_config_takes_multi_word_names() -> None:
    config = parse_tolk("config auto-docs on english>traditional chinese --provider rozetta").config
    assert config is not None and config.target is not None and config.source is not None
    assert (config.source.code, config.target.code, config.provider) == ("en", "zh-TW", "rozetta")


def test_media_job_has_no_options() -> None:
    with pytest.raises(UsageError, match="takes no options such as `--wait`"):
        parse_media_job("ImageCartoonize oss://my-bucket/a.jpg --wait")


@pytest.mark.parametrize(("typed", "text"), [("zh (", "("), ("zh ( hello", "( hello")])
def test_a_bracket_after_the_language_is_text_not_part_of_a_name(typed: str, text: str) -> None:
    """Found by hypothesis: a lone "(" was read as the start of "Chinese (Traditional)"."""
    assert parse_translate(typed).text == text


# --- Xiangji engines (issue 17, items 1 and 2) --------------------------------------------


def test_engine_names_are_the_providers() -> None:
    """Handlers keep the names as plain strings; they must be the wire's, in its order."""
    from providers.xiangji import wire

    assert tuple(wire.TEXT_ENGINES) == TEXT_ENGINES
    assert tuple(wire.IMAGE_ENGINES) == IMAGE_ENGINES


def test_googlellm_is_a_text_engine() -> None:
    assert parse_translate("zh>en 你好 --engine googlellm").engine == "googlellm"
    assert parse_translate("--engine=GoogleLLM zh>en 你好").engine == "googlellm"


@pytest.mark.parametrize("engine", IMAGE_ENGINES)
@pytest.mark.parametrize(
    "template",
    [
        "zh>ko https://a.example/1.jpg --engine {}",
        "--engine {} zh>ko https://a.example/1.jpg",
        "zh>ko --engine={} https://a.example/1.jpg https://a.example/2.jpg --removed",
    ],
)
def test_every_image_engine(engine: str, template: str) -> None:
    cmd = parse_translate_image(template.format(engine.upper()))
    assert cmd.engine == engine and cmd.provider == "xiangji"


def test_no_image_engine_means_the_default() -> None:
    assert parse_translate_image("zh>ko https://a.example/1.jpg").engine is None


@pytest.mark.parametrize("engine", ["googlellm", "bing", "gpt"])
def test_unknown_image_engine_lists_the_choices(engine: str) -> None:
    message = refused_image(f"zh>ko https://a.example/1.jpg --engine {engine}")
    assert f"`--engine {engine}` is not one of" in message
    for name in IMAGE_ENGINES:
        assert name in message
    assert IMAGE_USAGE in message


def test_image_engine_without_a_value() -> None:
    message = refused_image("zh>ko https://a.example/1.jpg --engine")
    assert "`--engine` needs a value" in message and IMAGE_USAGE in message


def test_image_engine_is_xiangjis_only() -> None:
    message = refused_image("zh>ko https://a.example/1.jpg --engine google --provider alibaba")
    assert "`--engine` is not available with `--provider alibaba`" in message


def test_image_engine_typo_is_named() -> None:
    assert "did you mean `--engine`" in refused_image("zh>ko https://a.example/1.jpg --engin x")


@pytest.mark.parametrize(
    "text", ["https://a.example/1.png --engine google", "--engine=x https://a.example/1.png"]
)
def test_cutout_has_no_engine(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_cutout(text)
    message = str(info.value)
    assert "`/cutout` has no `--engine`" in message and "XIANGJI_MATTING_KEY" in message
    assert "Usage: `/cutout" in message


def test_auto_images_takes_an_engine() -> None:
    config = parse_tolk("config auto-images on zh>ko --engine Papago").config
    assert config is not None and (config.setting, config.engine) == ("auto-images", "papago")
    assert parse_tolk("config auto-images on zh>ko").config.engine is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("config auto-images on zh>ko --engine bing", "`--engine bing` is not one of"),
        ("config auto-docs on en>ja --engine google", "Unknown option `--engine`"),
        ("config defaults zh>en --engine google", "Unknown option `--engine`"),
        ("config auto-images off --engine google", "auto-images on zh>ko"),
    ],
)
def test_engine_only_where_it_belongs_in_config(typed: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_tolk(typed)
    assert expected in str(info.value)

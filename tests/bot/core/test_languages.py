import pytest

from bot.core.languages import (
    FLAGS,
    Language,
    LanguageError,
    TwoLanguages,
    all_languages,
    check_pair,
    check_source,
    detect_source,
    from_provider_code,
    language_for_flag,
    lookup,
    parse_pair,
    provider_code,
    read_language,
    read_pair,
    text_source,
)

HOW = "Write codes like zh, en, ja, ko or names like Korean."

# providers/README.md §3, written out independently of the module. None = "—" or "?" in the
# table (left out on purpose); zh-HK uses the Traditional Chinese codes; fil uses Xiangji TL.
TABLE = [
    ("zh", "CHS", "zh", "zh-CN"),
    ("zh-TW", "CHT", "zh-tw", "zh-TW"),
    ("zh-HK", "CHT", "zh-tw", "zh-TW"),
    ("yue", None, "yue", None),
    ("en", "ENG", "en", "en"),
    ("ja", "JPN", "ja", "ja"),
    ("ko", "KOR", "ko", "ko"),
    ("fr", "FRA", "fr", "fr"),
    ("de", "DEU", "de", "de"),
    ("es", "ESP", "es", "es"),
    ("pt", "PT", "pt", "pt"),
    ("pt-BR", "PTB", None, None),
    ("it", "ITA", "it", "it"),
    ("ru", "RUS", "ru", "ru"),
    ("ar", "AR", "ar", "ar"),
    ("th", "TH", "th", "th"),
    ("vi", "VIN", "vi", "vi"),
    ("id", "ID", "id", "id"),
    ("ms", "MS", "ms", "ms"),
    ("tr", "TRK", "tr", "tr"),
    ("pl", "PLK", "pl", "pl"),
    ("nl", "NLD", "nl", "nl"),
    ("cs", "CSY", "cs", "cs"),
    ("hu", "HUN", "hu", "hu"),
    ("ro", "ROM", "ro", "ro"),
    ("bg", "BG", "bg", "bg"),
    ("uk", "UK", "uk", "uk"),
    ("el", "EL", "el", "el"),
    ("he", "HE", "he", "he"),
    ("fa", "FA", "fa", "fa"),
    ("hi", "HI", "hi", "hi"),
    ("bn", "BN", "bn", "bn"),
    ("ta", "TA", "ta", "ta"),
    ("te", "TE", "te", "te"),
    ("ur", "UR", "ur", "ur"),
    ("gu", "GU", "gu", "gu"),
    ("mr", "MR", "mr", "mr"),
    ("sv", "SV", "sv", "sv"),
    ("da", "DA", "da", "da"),
    ("fi", "FI", "fi", "fi"),
    ("no", "NO", None, "no"),
    ("sk", "SK", "sk", "sk"),
    ("sl", "SL", "sl", "sl"),
    ("lt", "LT", "lt", "lt"),
    ("lv", "LV", "lv", "lv"),
    ("et", "ET", "et", "et"),
    ("fil", "TL", "fil", None),
    ("my", "MY", "my", None),
    ("jv", "JW", None, None),
    ("sw", "SW", None, None),
]
PROVIDERS = ("xiangji", "alibaba", "rozetta")
# Where two bot codes share a provider code, the reverse lookup gives the first one.
CANONICAL = {
    ("xiangji", "CHT"): "zh-TW",
    ("alibaba", "zh-tw"): "zh-TW",
    ("rozetta", "zh-TW"): "zh-TW",
}


def test_table_matches_module_exactly():
    got = [(x.code, x.xiangji, x.alibaba, x.rozetta) for x in all_languages()]
    assert got == TABLE


@pytest.mark.parametrize(("code", "xiangji", "alibaba", "rozetta"), TABLE)
def test_every_row_round_trips_for_each_provider(code, xiangji, alibaba, rozetta):
    lang = lookup(code)
    assert lang.code == code
    assert lookup(code.upper()) is lang and lookup(code.lower()) is lang
    for provider, expected in zip(PROVIDERS, (xiangji, alibaba, rozetta), strict=True):
        if expected is None:
            with pytest.raises(LanguageError, match="cannot translate"):
                provider_code(lang, provider)
            continue
        assert provider_code(lang, provider) == expected
        back = from_provider_code(provider, expected)
        assert back is not None
        assert back.code == CANONICAL.get((provider, expected), code)
        assert provider_code(back, provider) == expected


def test_all_languages_is_a_fresh_list_of_languages():
    langs = all_languages()
    assert all(isinstance(x, Language) for x in langs)
    langs.clear()
    assert len(all_languages()) == len(TABLE)


def test_from_provider_code_is_case_insensitive_and_none_for_unknown():
    assert from_provider_code("xiangji", "chs").code == "zh"
    assert from_provider_code("rozetta", "zh-cn").code == "zh"
    assert from_provider_code("xiangji", "FIL") is None
    assert from_provider_code("alibaba", "auto") is None


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("ZH_cn", "zh"),
        ("zh-Hant", "zh-TW"),
        ("zh-tw", "zh-TW"),
        ("zh-Hant-TW", "zh-TW"),
        ("pt-PT", "pt"),
        ("pt-br", "pt-BR"),
        ("tl", "fil"),
        ("en-US", "en"),
        ("es-MX", "es"),
        ("korean", "ko"),
        ("Korean", "ko"),
        ("  KOREAN ", "ko"),
        ("Chinese", "zh"),
        ("simplified chinese", "zh"),
        ("Traditional Chinese", "zh-TW"),
        ("traditional-chinese", "zh-TW"),
        ("Chinese (Traditional)", "zh-TW"),
        ("chinese traditional", "zh-TW"),
        ("brazilian portuguese", "pt-BR"),
        ("Portuguese (Brazil)", "pt-BR"),
        ("cantonese", "yue"),
        ("tagalog", "fil"),
        ("farsi", "fa"),
        ("iw", "he"),
        ("nb", "no"),
        ("jw", "jv"),
        ("中文", "zh"),
        ("日本語", "ja"),
        ("한국어", "ko"),
        ("uk", "uk"),  # the language code is Ukrainian (the :uk: reaction is not)
    ],
)
def test_lookup_aliases_and_names(word, code):
    assert lookup(word).code == code


def test_every_english_name_looks_up_its_language():
    for lang in all_languages():
        assert lookup(lang.name) is lang
        assert lookup(lang.name.lower()) is lang


@pytest.mark.parametrize(
    ("word", "suggested", "name"),
    [
        ("kr", "ko", "Korean"),
        ("jp", "ja", "Japanese"),
        ("cn", "zh", "Chinese (Simplified)"),
        ("tw", "zh-TW", "Chinese (Traditional)"),
        ("gr", "el", "Greek"),
        ("ch", "zh", "Chinese (Simplified)"),
        ("korea", "ko", "Korean"),
        ("japan", "ja", "Japanese"),
        ("taiwan", "zh-TW", "Chinese (Traditional)"),
        ("chs", "zh", "Chinese (Simplified)"),
        ("ENG", "en", "English"),
        ("germen", "de", "German"),
        ("frnech", "fr", "French"),
    ],
)
def test_unknown_language_error_suggests_and_says_how_to_write(word, suggested, name):
    with pytest.raises(LanguageError) as info:
        lookup(word)
    assert str(info.value) == (
        f"Unknown language '{word}'. Did you mean '{suggested}' ({name})? {HOW}"
    )
    assert info.value.suggestion is lookup(suggested)
    assert isinstance(info.value, ValueError)


def test_unknown_language_without_suggestion():
    with pytest.raises(LanguageError) as info:
        lookup("xx")
    assert str(info.value) == f"Unknown language 'xx'. {HOW}"
    assert info.value.suggestion is None


@pytest.mark.parametrize("word", ["", "   "])
def test_empty_language(word):
    with pytest.raises(LanguageError, match=r"No language given\. Write codes like zh"):
        lookup(word)


def test_auto_is_not_a_language():
    with pytest.raises(LanguageError, match="'auto' is not a target language"):
        lookup("auto")
    with pytest.raises(LanguageError, match="'auto' is not a target language"):
        parse_pair("en>auto")


@pytest.mark.parametrize(
    ("text", "source", "target"),
    [
        ("zh>en", "zh", "en"),
        ("en", None, "en"),
        ("ZH>KO", "zh", "ko"),
        ("chinese>korean", "zh", "ko"),
        ("zh->en", "zh", "en"),
        ("zh→en", "zh", "en"),
        ("zh-TW->en", "zh-TW", "en"),
        ("zh->zh-TW", "zh", "zh-TW"),
        ("zh&gt;ja", "zh", "ja"),  # Slack escapes '>'
        ("zh＞ja", "zh", "ja"),  # full-width, Chinese keyboards
        (" zh>en ", "zh", "en"),
        ("auto>en", None, "en"),
        ("pt-br>traditional-chinese", "pt-BR", "zh-TW"),
    ],
)
def test_parse_pair_forms(text, source, target):
    src, tgt = parse_pair(text)
    assert (src.code if src else None) == source
    assert tgt.code == target


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">en", "Missing the source language before '>' in '>en'. Write SRC>TGT like zh>en"),
        ("->en", "Missing the source language before '>'"),
        ("zh>", "Missing the target language after '>' in 'zh>'. Write SRC>TGT"),
        ("zh>en>ja", "Too many '>' in 'zh>en>ja'"),
        ("", "No language given. Write SRC>TGT"),
        ("zh>zh", "'zh>zh' translates 'zh' \\(Chinese \\(Simplified\\)\\) into itself"),
        ("zh-CN>chinese", "into itself. Write two different languages, like zh>en."),
        ("kr", "Unknown language 'kr'. Did you mean 'ko' \\(Korean\\)\\?"),
        ("zh>kr", "Unknown language 'kr'. Did you mean 'ko'"),
        ("jp>en", "Unknown language 'jp'. Did you mean 'ja'"),
    ],
)
def test_parse_pair_errors(text, message):
    with pytest.raises(LanguageError, match=message):
        parse_pair(text)


def test_provider_code_error_names_provider_language_and_alternatives():
    with pytest.raises(LanguageError) as info:
        provider_code(lookup("yue"), "xiangji")
    assert str(info.value) == (
        "Xiangji cannot translate Cantonese (yue); write zh-HK (Chinese (Hong Kong)) instead."
        " (Alibaba can.)"
    )
    with pytest.raises(LanguageError) as info:
        provider_code(lookup("pt-BR"), "alibaba")
    assert str(info.value) == (
        "Alibaba cannot translate Portuguese (Brazil) (pt-BR); write pt (Portuguese) instead."
        " (Xiangji can.)"
    )
    with pytest.raises(LanguageError) as info:
        provider_code(lookup("sw"), "rozetta")
    assert str(info.value) == "Rozetta cannot translate Swahili (sw). (Xiangji can.)"


def test_unknown_provider_or_operation_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown provider") as info:
        provider_code(lookup("en"), "google")
    assert not isinstance(info.value, LanguageError)
    with pytest.raises(ValueError, match="unknown operation") as info:
        check_source(lookup("en"), "xiangji", "video")
    assert not isinstance(info.value, LanguageError)


XIANGJI_IMAGE = "Xiangji image translation can only read zh, zh-TW, zh-HK, en or ja images"
ALIBABA_IMAGE = "Alibaba image translation can only read zh or en images"


@pytest.mark.parametrize("code", ["zh", "zh-TW", "zh-HK", "en", "ja"])
def test_xiangji_image_sources_allowed(code):
    assert check_source(lookup(code), "xiangji", "image") is None
    assert (
        check_pair(lookup(code), lookup("ko" if code != "ko" else "en"), "xiangji", "image") is None
    )


@pytest.mark.parametrize("code", ["ko", "fr", "pt-BR", "bg", "th"])
def test_xiangji_image_sources_refused(code):
    lang = lookup(code)
    with pytest.raises(LanguageError) as info:
        check_source(lang, "xiangji", "image")
    assert str(info.value).startswith(f"{XIANGJI_IMAGE}, not {lang.name} ({code}).")
    with pytest.raises(LanguageError, match=XIANGJI_IMAGE):
        check_pair(lang, lookup("zh"), "xiangji", "image")


def test_xiangji_text_and_doc_sources_are_not_image_restricted():
    check_source(lookup("ko"), "xiangji", "text")
    check_pair(lookup("ko"), lookup("th"), "xiangji", "text")
    with pytest.raises(LanguageError, match="Xiangji cannot translate Cantonese"):
        check_source(lookup("yue"), "xiangji", "text")


def test_xiangji_bulgarian_only_as_image_target():
    check_pair(lookup("zh"), lookup("bg"), "xiangji", "image")
    with pytest.raises(LanguageError, match=r"Bulgarian \(bg\) only for images, not text"):
        check_pair(lookup("zh"), lookup("bg"), "xiangji", "text")
    with pytest.raises(LanguageError, match="Bulgarian"):
        check_source(lookup("bg"), "xiangji", "text")


def test_xiangji_needs_an_explicit_source():
    with pytest.raises(LanguageError, match="Xiangji needs the source language: write SRC>TGT"):
        check_pair(None, lookup("en"), "xiangji", "text")


@pytest.mark.parametrize("code", ["zh", "en"])
def test_alibaba_image_sources_allowed(code):
    check_source(lookup(code), "alibaba", "image")
    check_pair(lookup(code), lookup("ja"), "alibaba", "image")


def test_alibaba_image_source_refused_names_allowed_and_suggests_xiangji():
    with pytest.raises(LanguageError) as info:
        check_source(lookup("ja"), "alibaba", "image")
    assert str(info.value) == f"{ALIBABA_IMAGE}, not Japanese (ja). Try --provider xiangji."
    with pytest.raises(LanguageError) as info:
        check_pair(lookup("ko"), lookup("en"), "alibaba", "image")
    assert str(info.value) == f"{ALIBABA_IMAGE}, not Korean (ko)."  # Xiangji can't either
    with pytest.raises(LanguageError, match=ALIBABA_IMAGE):
        check_source(lookup("zh-TW"), "alibaba", "image")


def test_alibaba_doc_sources_are_not_image_restricted():
    check_source(lookup("ja"), "alibaba", "doc")
    check_pair(lookup("ko"), lookup("de"), "alibaba", "doc")
    check_pair(None, lookup("de"), "alibaba", "text")  # text has auto
    with pytest.raises(LanguageError, match="Alibaba needs the source language"):
        check_pair(None, lookup("de"), "alibaba", "doc")


@pytest.mark.parametrize("pair", ["zh>zh-TW", "zh-TW>zh", "zh>zh-HK", "zh-HK>zh"])
def test_alibaba_traditional_with_simplified_is_fine(pair):
    check_pair(*parse_pair(pair), "alibaba", "doc")


@pytest.mark.parametrize("pair", ["en>zh-TW", "zh-TW>en", "ja>zh-HK", "zh-TW>yue"])
def test_alibaba_traditional_only_pairs_with_simplified(pair):
    with pytest.raises(LanguageError) as info:
        check_pair(*parse_pair(pair), "alibaba", "doc")
    assert str(info.value).startswith(
        "Alibaba translates Traditional Chinese only to or from Simplified Chinese: "
        "write zh>zh-TW or zh-TW>zh."
    )


def test_alibaba_traditional_rule_suggests_rozetta_for_docs():
    with pytest.raises(LanguageError, match=r"Try --provider rozetta\.$"):
        check_pair(lookup("en"), lookup("zh-TW"), "alibaba", "doc")


def test_alibaba_cantonese_only_from_simplified_chinese():
    check_pair(lookup("zh"), lookup("yue"), "alibaba", "doc")
    msg = r"Alibaba translates into Cantonese \(yue\) only from Chinese: write zh>yue\."
    with pytest.raises(LanguageError, match=msg):
        check_pair(lookup("en"), lookup("yue"), "alibaba", "doc")
    with pytest.raises(LanguageError, match=msg):
        check_pair(lookup("yue"), lookup("zh"), "alibaba", "doc")
    with pytest.raises(LanguageError, match=msg):
        check_source(lookup("yue"), "alibaba", "doc")


def test_same_provider_code_on_both_sides_is_refused():
    with pytest.raises(
        LanguageError, match=r"For Xiangji, zh-HK and zh-TW are the same language \(CHT\)"
    ):
        check_pair(lookup("zh-HK"), lookup("zh-TW"), "xiangji", "image")
    with pytest.raises(LanguageError, match="same language"):
        check_pair(lookup("zh-TW"), lookup("zh-HK"), "rozetta", "doc")


def test_rozetta_rules():
    check_pair(None, lookup("ja"), "rozetta", "doc")  # Rozetta detects the source
    check_pair(lookup("en"), lookup("zh"), "rozetta", "doc")
    with pytest.raises(LanguageError, match=r"Rozetta cannot translate Portuguese \(Brazil\)"):
        check_pair(lookup("en"), lookup("pt-BR"), "rozetta", "doc")
    with pytest.raises(LanguageError, match=r"Rozetta cannot translate Burmese \(my\)\."):
        check_source(lookup("my"), "rozetta", "doc")


def test_missing_target_code_is_reported_by_check_pair():
    with pytest.raises(
        LanguageError,
        match=r"^Alibaba cannot translate Javanese \(jv\)\. Try --provider xiangji\.$",
    ):
        check_pair(lookup("en"), lookup("jv"), "alibaba", "image")


def test_cutout_has_no_language_rules():
    check_source(lookup("ko"), "xiangji", "cutout")
    check_pair(lookup("yue"), lookup("bg"), "xiangji", "cutout")


@pytest.mark.parametrize(
    ("reaction", "code"),
    [
        ("flag-kr", "ko"),
        ("kr", "ko"),
        ("jp", "ja"),
        ("flag-jp", "ja"),
        ("us", "en"),
        ("flag-us", "en"),
        ("gb", "en"),
        ("uk", "en"),
        ("flag-gb", "en"),
        ("flag-au", "en"),
        ("flag-ca", "en"),
        ("flag-nz", "en"),
        ("cn", "zh"),
        ("flag-cn", "zh"),
        ("flag-tw", "zh-TW"),
        ("flag-hk", "zh-HK"),
        (":flag-br:", "pt-BR"),
        ("flag-pt", "pt"),
        ("de", "de"),
        ("flag-at", "de"),
        ("fr", "fr"),
        ("es", "es"),
        ("flag-mx", "es"),
        ("flag-ar", "es"),  # Argentina, not Arabic
        ("it", "it"),
        ("ru", "ru"),
        ("flag-vn", "vi"),
        ("flag-th", "th"),
        ("flag-id", "id"),
        ("flag-my", "ms"),  # Malaysia, not Burmese
        ("flag-mm", "my"),
        ("flag-tr", "tr"),
        ("flag-pl", "pl"),
        ("flag-nl", "nl"),
        ("flag-sa", "ar"),
        ("flag-ae", "ar"),
        ("flag-eg", "ar"),
        ("flag-ua", "uk"),
        ("flag-ph", "fil"),
        ("flag-ke", "sw"),
        ("flag-in", "hi"),
        ("FLAG-KR", "ko"),
        (":flag-kr::skin-tone-2:", "ko"),
        ("flag-kr::skin-tone-2", "ko"),
        (" :jp: ", "ja"),
    ],
)
def test_flags(reaction, code):
    lang = language_for_flag(reaction)
    assert lang is not None
    assert lang.code == code


@pytest.mark.parametrize("reaction", ["thumbsup", "+1", "", "flag-xx", "flag-be", "eyes", "::"])
def test_non_flag_reactions(reaction):
    assert language_for_flag(reaction) is None


def test_flags_table_points_at_known_languages_and_covers_the_main_ones():
    codes = {x.code for x in all_languages()}
    assert set(FLAGS.values()) <= codes
    assert len(FLAGS) >= 80
    for old in ("jp", "kr", "de", "cn", "us", "fr", "es", "it", "ru", "gb", "uk"):
        assert old in FLAGS
    others = {k for k in FLAGS if not k.startswith("flag-")}
    assert others == {"jp", "kr", "de", "cn", "us", "fr", "es", "it", "ru", "gb", "uk"}
    # Every language except the ones with no country of their own has a flag.
    assert codes - set(FLAGS.values()) == {"yue", "ta", "te", "gu", "mr", "jv"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("你好，世界", "zh"),
        ("繁體中文的商品標題", "zh"),
        ("こんにちは", "ja"),
        ("カタカナ", "ja"),
        ("東京都千代田区の住所", "ja"),
        ("안녕하세요", "ko"),
        ("สวัสดีครับ", "th"),
        ("Привет, мир", "ru"),
        ("مرحبا بالعالم", "ar"),
        ("Hello world", "en"),
        ("Grüße aus München", "en"),  # Latin script is only a guess of English
        ("这款iPhone手机壳", "zh"),
        ("Please translate 你好", "en"),
        ("<@U12345678> <https://example.com/a.jpg|link> 你好 :smile:", "zh"),
    ],
)
def test_detect_source(text, code):
    lang = detect_source(text)
    assert lang is not None
    assert lang.code == code


@pytest.mark.parametrize("text", ["", "   ", "1234 !!", "😀🎉", "<https://example.com/x>", ":+1:"])
def test_detect_source_nothing_recognisable(text):
    assert detect_source(text) is None


# --- what people type: two languages, spaced '>', multi-word names (issue 15 §5) ------------


@pytest.mark.parametrize(
    ("word", "source", "target"),
    [
        ("en-ja", "en", "ja"),
        ("zh_en", "zh", "en"),
        ("english-japanese", "en", "ja"),
        ("en-de", "en", "de"),
    ],
)
def test_two_languages_joined_by_a_hyphen_are_a_pair_typo(word, source, target):
    with pytest.raises(TwoLanguages) as info:
        lookup(word)
    assert (info.value.source.code, info.value.target.code) == (source, target)
    assert f"write {source}>{target}" in str(info.value)


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("zh-TW", "zh-TW"),
        ("zh-Hant-TW", "zh-TW"),
        ("en-US", "en"),
        ("de-DE", "de"),  # the region is also German's code: the same language
        ("es-AR", "es"),  # Argentina, not Arabic
        ("ms-MY", "ms"),  # Malaysia, not Burmese
        ("nb-NO", "no"),
        ("sv-FI", "sv"),
        ("en-MY", "en"),
        ("en-UK", "en"),
        ("pt-BR", "pt-BR"),
    ],
)
def test_real_locale_tags_are_not_pair_typos(word, code):
    assert lookup(word).code == code


def codes(reading):
    return (reading.source.code if reading.source else None, reading.target.code)


@pytest.mark.parametrize(
    ("words", "source", "target", "used", "spaced"),
    [
        ("en>ja hello", "en", "ja", 1, False),
        ("en hello", None, "en", 1, False),
        ("en > ja hello", "en", "ja", 3, True),
        ("en &gt; ja hello", "en", "ja", 3, True),
        ("en> ja hello", "en", "ja", 2, True),
        ("en >ja hello", "en", "ja", 2, True),
        ("traditional chinese hello", None, "zh-TW", 2, False),
        ("english>traditional chinese hello", "en", "zh-TW", 2, False),
        ("traditional chinese>english hello", "zh-TW", "en", 2, False),
        ("Chinese (Traditional)>en hello", "zh-TW", "en", 2, False),
        ("hong kong chinese hello", None, "zh-HK", 3, False),
        ("brazilian portuguese hello", None, "pt-BR", 2, False),
        ("bahasa indonesia>en hello", "id", "en", 2, False),
        ("auto>en hello", None, "en", 1, False),
        ("ja >_< cute", None, "ja", 1, False),  # a '>' with a space before it and no language
        ("en > I said", None, "en", 1, False),
        ("zh>en >ko", "zh", "en", 1, False),
    ],
)
def test_read_pair(words, source, target, used, spaced):
    reading = read_pair(words.split())
    assert codes(reading) == (source, target)
    assert (reading.used, reading.spaced) == (used, spaced)


def test_read_pair_multi_word_names_need_their_parentheses_to_be_reordered():
    """ "chinese traditional recipes" is Chinese and a text; "Chinese (Traditional)" a name."""
    assert codes(read_pair(["chinese", "traditional", "recipes"])) == (None, "zh")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("zh>en>ja x", "Too many '>'"),
        ("en>en x", "into itself"),
        (">en x", "Missing the source language"),
        ("en> x", "Unknown language 'x'"),
        ("en>ja-ko x", "Unknown language 'ja-ko'"),
        ("auto hello", "'auto' is not a target language"),
    ],
)
def test_read_pair_errors(words, message):
    with pytest.raises(LanguageError, match=message):
        read_pair(words.split())


def test_read_language():
    assert read_language(["ja", "hello"])[0].code == "ja"
    assert read_language(["traditional", "chinese", "x"])[0].code == "zh-TW"
    assert read_language(["traditional", "chinese"])[1] == 2
    assert read_language(["hello"]) is None
    assert read_language(["ja>ko"]) is None


@pytest.mark.parametrize(
    ("default", "text", "code"),
    [
        ("zh", "The new shoes arrive on Friday.", "en"),  # Latin text, CJK default
        ("en", "新鞋周五到货", "zh"),  # and the other way round
        ("ja", "새 신발은 금요일에 도착합니다", "ko"),
        ("en", "Новые туфли прибудут в пятницу", "ru"),
        ("zh", "这款 Nike 鞋子很舒服", "zh"),  # a brand name does not make a mismatch
        ("zh", "Check the 新品 launch on 周五 please", "zh"),  # mixed: not clear, default holds
        ("zh", "OK", "zh"),  # too little to tell
        ("de", "The new shoes arrive on Friday.", "de"),  # Latin vs Latin: cannot tell
        ("zh", "新しい靴は金曜日に届きます", "zh"),  # Japanese vs Chinese: both CJK, default holds
        ("el", "Hello there", "en"),
    ],
)
def test_text_source_a_clear_script_mismatch_beats_the_default(default, text, code):
    assert text_source(lookup(default), text).code == code


def test_text_source_without_a_default_detects():
    assert text_source(None, "Hello there").code == "en"
    assert text_source(None, ":tada:") is None

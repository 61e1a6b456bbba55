"""Issue 21, the emulator's side: what a glossary is tested against, through real HTTP.

The fake engines translate brand words (``BRAND_WORDS``) inside longer text and in image
regions, each text engine does its own (inferred) things to placeholder-like tokens
(``PLACEHOLDER_QUIRKS``), and an image's regions come from its ``tolk:regions`` PNG chunk
(``png_with_regions``) — so a glossary term can be seen changed, and seen kept.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from emulators.xiangji import (
    BRAND_WORDS,
    PLACEHOLDER_QUIRKS,
    SAMPLE_REGIONS,
    TEXT_TYPES,
    XiangjiEmulator,
    png_with_regions,
    read_png_regions,
)
from providers.xiangji import XiangjiClient, XiangjiKeys
from providers.xiangji.wire import BatchDetail

KEYS = XiangjiKeys(
    "xj-user",
    img_trans_key="xj-img",
    text_trans_key="xj-text",
    matting_key="xj-matting",
    img_trans_google_key="xj-img-google",
    img_trans_papago_key="xj-img-papago",
    img_trans_baidu_key="xj-img-baidu",
    img_trans_deepl_key="xj-img-deepl",
)
IMAGE_ENGINES = ["aliyun", "google", "papago", "baidu", "deepl", "chatgpt"]
TEXT_ENGINES = list(TEXT_TYPES.values())
SAMPLES = Path(__file__).resolve().parents[2] / "sandbox" / "samples"

#: The regions of an image with a brand term in it (the issue's example box first).
REGIONS = [
    {"source": "Tolk Pro 新品上市", "box": "134,0,1066,249"},
    {"source": "象寄 图片翻译", "box": "134,300,900,160"},
    {"source": "限时优惠", "box": "134,560,600,120"},
]
#: Today's two fixed regions, for an image that carries none.
FIXED_ORC = [
    {
        "source": "点缀蜗居生活",
        "bounding_box": "[[499,272], [681,272], [681,302], [499,302]]",
        "font_size": "30px",
        "orientation": "h",
        "fg": "215,216,215",
        "bg": "215,217,218",
    },
    {
        "source": "立即购买!",
        "boundingBox": "134,0,1066,249",
        "fontSize": "20px",
        "orientation": "v",
    },
]


def client_for(session, emu: XiangjiEmulator) -> XiangjiClient:
    return XiangjiClient(
        session,
        KEYS,
        api_url=emu.api_url,
        upload_url=emu.upload_url,
        account_url=emu.account_url,
    )


async def details(client: XiangjiClient, ids: list[str]) -> dict[str, BatchDetail]:
    """Query until every id is finished (the emulator keeps a job pending for a poll)."""
    for _ in range(10):
        found = await client.get_image_translate_batch_query(ids)
        if all(d is not None and d.done for d in found.values()):
            return {rid: d for rid, d in found.items() if d is not None}
        await asyncio.sleep(0)
    raise AssertionError(f"not finished: {found}")


# --------------------------------------------------------------------------- brand words


def test_brand_words_are_a_small_exported_vocabulary():
    words = {word for word, _ in BRAND_WORDS}
    assert 3 <= len(words) <= 5 and "Tolk Pro" in words and "象寄" in words
    assert BRAND_WORDS["Tolk Pro", "CHS"] == "托尔克专业版"
    assert BRAND_WORDS["Tolk Pro", "JPN"] == "トルクプロ"
    assert BRAND_WORDS["Tolk Pro", "KOR"] == "톨크 프로"
    assert BRAND_WORDS["象寄", "ENG"] == "Elephant Mail"
    assert BRAND_WORDS["象寄", "JPN"] == "象の便り"
    assert not any(word == "Xiangji" for word in words)


@pytest.mark.parametrize("engine", TEXT_ENGINES)
@pytest.mark.parametrize(("word", "target"), sorted(BRAND_WORDS))
async def test_every_text_engine_translates_a_brand_word_inside_text(
    session, xiangji, engine, word, target
):
    client = client_for(session, xiangji)
    source = "CHS" if target == "ENG" else "ENG"
    text = f"Buy {word} today, with Xiangji"
    result = await client.get_text_translate(text, source, target, engine=engine)
    translated = BRAND_WORDS[word, target]
    assert result.text == f"[{target}] Buy {translated} today, with Xiangji"
    assert word not in result.text and "Xiangji" in result.text


async def test_brand_words_whole_words_any_case_and_only_for_their_targets(session, xiangji):
    client = client_for(session, xiangji)
    got = await client.get_text_translate("TOLK PRO, tolk pro, Tolk Professional", "ENG", "KOR")
    assert got.text == "[KOR] 톨크 프로, 톨크 프로, Tolk Professional"
    got = await client.get_text_translate("Tolk Pro 和 象寄", "CHS", "ENG")
    assert got.text == "[ENG] Tolk Pro 和 Elephant Mail"  # no ENG entry for Tolk Pro
    got = await client.get_text_translate("Nothing known here", "ENG", "DEU")
    assert got.text == "[DEU] Nothing known here"  # the default, as before
    got = await client.get_text_translate("你好", "CHS", "ENG")
    assert got.text == "Hello"  # the phrases, as before


# --------------------------------------------------------------------------- placeholders

#: Placeholder forms a glossary (or Slack shielding) might use, and how to find each one
#: again when an engine has put spaces inside it (or moved it): the "recognisable" test.
FORMS: dict[str, re.Pattern[str]] = {
    "{0}": re.compile(r"(?<!\{)\{\s*0\s*\}(?!\s*\})"),
    "{{0}}": re.compile(r"\{\s*\{\s*0\s*\}\s*\}"),
    "__0__": re.compile(r"__\s*0\s*__"),
    "%s": re.compile(r"%\s*s"),
    '<x id="0"/>': re.compile(r'<\s*x\s+id="0"\s*/\s*>'),
    "[[0]]": re.compile(r"\[\s*\[\s*0\s*\]\s*\]"),
    "⟦0⟧": re.compile(r"⟦\s*0\s*⟧"),
}
SENTENCE = "请把 {} 发给我"  # a placeholder in mid-sentence, so a move shows

# ✓ survives exactly, ≈ survives recognisably (spaced, quoted or moved), ✗ destroyed
EXPECTED = {
    "aliyun": "✓ ✓ ✓ ✓ ✓ ✓ ✓",
    "google": "≈ ≈ ✓ ✓ ✗ ✓ ≈",
    "papago": "≈ ≈ ✓ ≈ ✗ ✓ ✓",
    "baidu": "✓ ✓ ✓ ✓ ✗ ≈ ✓",
    "deepl": "✓ ✗ ✓ ✓ ✓ ✓ ✓",
    "chatgpt": "✓ ✓ ✗ ≈ ✗ ✓ ≈",
    "googlellm": "≈ ≈ ✗ ≈ ✗ ✓ ≈",
}


def survival(output: str, form: str, exact: str) -> str:
    if output == exact:
        return "✓"
    return "≈" if len(FORMS[form].findall(output)) == 1 else "✗"


async def test_placeholder_survival_matrix_per_engine(session, xiangji, capsys):
    client = client_for(session, xiangji)
    matrix: dict[str, list[str]] = {}
    outputs: dict[tuple[str, str], str] = {}
    for engine in TEXT_ENGINES:
        for form in FORMS:
            text = SENTENCE.format(form)
            result = await client.get_text_translate(text, "CHS", "ENG", engine=engine)
            outputs[engine, form] = result.text
            matrix.setdefault(engine, []).append(survival(result.text, form, f"[ENG] {text}"))
    with capsys.disabled():
        print("\nplaceholder survival (✓ exact, ≈ recognisable, ✗ destroyed)")
        print(f"{'':10} " + " ".join(f"{f:>12}" for f in FORMS))
        for engine, row in matrix.items():
            print(f"{engine:10} " + " ".join(f"{mark:>12}" for mark in row))
    assert {engine: " ".join(row) for engine, row in matrix.items()} == EXPECTED
    # The forms Tolk shields Slack spans with: recognisable through every engine.
    assert all(row[list(FORMS).index("⟦0⟧")] in "✓≈" for row in matrix.values())
    assert outputs["google", "⟦0⟧"] == "[ENG] 请把 ⟦ 0 ⟧ 发给我"
    assert outputs["chatgpt", "⟦0⟧"] == "[ENG] 请把 发给我 ⟦0⟧"  # moved to the end
    assert outputs["google", '<x id="0"/>'] == '[ENG] 请把 &lt;x id="0"/&gt; 发给我'
    assert outputs["googlellm", "__0__"] == "[ENG] 请把 **0** 发给我"


def test_the_quirks_table_covers_every_text_engine_and_aliyun_has_none():
    assert set(PLACEHOLDER_QUIRKS) == set(TEXT_TYPES.values())
    assert PLACEHOLDER_QUIRKS["aliyun"] == []
    assert "INFERRED" in (Path(__file__).resolve().parents[2] / "emulators/xiangji.py").read_text()


@pytest.mark.parametrize("engine", TEXT_ENGINES)
async def test_numbered_brackets_keep_their_numbers_through_every_engine(session, xiangji, engine):
    client = client_for(session, xiangji)
    text = "⟦0⟧ 说 ⟦1⟧ 很好\n⟦2⟧ Tolk Pro ⟦3⟧"
    result = await client.get_text_translate(text, "CHS", "JPN", engine=engine)
    numbers = [int(n) for n in re.findall(r"⟦\s*(\d+)\s*⟧", result.text)]
    assert sorted(numbers) == [0, 1, 2, 3]
    assert "トルクプロ" in result.text  # the brand word, unshielded, is changed
    if engine == "aliyun":  # the default engine: untouched, as the Slack shielding expects
        assert result.text == "[JPN] ⟦0⟧ 说 ⟦1⟧ 很好\n⟦2⟧ トルクプロ ⟦3⟧"


async def test_a_shielded_brand_term_survives_an_engine_that_would_translate_it(session, xiangji):
    """What the glossary will do: the term swapped for ``⟦n⟧`` before, back after."""
    client = client_for(session, xiangji)
    plain = await client.get_text_translate("Tolk Pro 新品", "CHS", "KOR", engine="google")
    assert "Tolk Pro" not in plain.text
    shielded = await client.get_text_translate("⟦0⟧ 新品", "CHS", "KOR", engine="google")
    restored = re.sub(r"⟦\s*0\s*⟧", "Tolk Pro", shielded.text)
    assert restored == "[KOR] Tolk Pro 新品"


# --------------------------------------------------------------------------- image regions


def test_png_with_regions_writes_a_readable_chunk_and_a_real_png():
    data = png_with_regions(REGIONS, size=(1200, 800))
    assert read_png_regions(data) == REGIONS
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (1200, 800)
        assert image.text["tolk:regions"].startswith("[{")
        pixels = image.convert("RGB").crop((134, 0, 1200, 249)).getcolors(1 << 20) or []
        assert len(pixels) > 2  # the source text is drawn in its box
    plain = png_with_regions([{"source": "x", "box": (1, 2, 3, 4)}], text_on_image=False)
    assert read_png_regions(plain) == [{"source": "x", "box": "1,2,3,4"}]
    with pytest.raises(ValueError):
        png_with_regions([{"source": "x", "box": "1,2,3"}])


def test_read_png_regions_ignores_what_is_not_a_region_chunk():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    assert read_png_regions(buf.getvalue()) is None
    assert read_png_regions(b"\xff\xd8 not a png") is None
    from PIL.PngImagePlugin import PngInfo

    for text in ("not json", '{"source": "x"}', '[{"source": "x", "box": "a,b,c,d"}]'):
        info = PngInfo()
        info.add_text("tolk:regions", text)
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
        assert read_png_regions(buf.getvalue()) is None
    info = PngInfo()
    info.add_itxt("tolk:regions", '[{"source": "新品", "box": "0,0,4,4"}]', zip=True)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
    assert read_png_regions(buf.getvalue()) == [{"source": "新品", "box": "0,0,4,4"}]


@pytest.mark.parametrize("engine", IMAGE_ENGINES)
async def test_an_uploaded_png_comes_back_with_its_regions_translated(session, xiangji, engine):
    client = client_for(session, xiangji)
    data = png_with_regions(REGIONS, size=(1200, 800))
    result = await client.upload_image_translate(data, "ad.png", "CHS", "KOR", engine=engine)
    detail = (await details(client, [result.request_id]))[result.request_id]
    assert [line.source for line in detail.ocr] == [r["source"] for r in REGIONS]
    assert [line.target for line in detail.ocr] == [
        "[KOR] 톨크 프로 新品上市",  # "Tolk Pro" changed: a violation once it is protected
        "[KOR] 코끼리 편지 图片翻译",
        "[KOR] 限时优惠",
    ]
    assert [line.box for line in detail.ocr] == [
        (134, 0, 1066, 249),
        (134, 300, 900, 160),
        (134, 560, 600, 120),
    ]
    first, second, third = (line.raw for line in detail.ocr)  # both spellings, by turn
    assert first["bounding_box"] == "[[134,0], [1200,0], [1200,249], [134,249]]"
    assert {"font_size", "orientation", "fg", "bg"} <= set(first)
    assert second["boundingBox"] == "134,300,900,160" and "fontSize" in second
    assert "bounding_box" in third
    assert xiangji.jobs[result.request_id].engine == engine


async def test_a_url_batch_reads_the_regions_of_each_fetched_image(session, xiangji):
    """``Sync=2`` batch of three URLs: one on a separate server, two served by the emulator
    (a built-in sample and an added source); each one's ``Orc`` is its own regions."""
    outside = png_with_regions([{"source": "象寄 Tolk Pro", "box": "10,10,300,60"}])

    async def image(_request: web.Request) -> web.Response:
        return web.Response(body=outside, content_type="image/png")

    app = web.Application()
    app.router.add_get("/ad.png", image)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        added = xiangji.add_source("ok", png_with_regions([{"source": "新品", "box": "0,0,9,9"}]))
        urls = [f"http://127.0.0.1:{port}/ad.png", xiangji.sample_url("brand-violation"), added]
        client = client_for(session, xiangji)
        ids = await client.get_image_translate_batch(urls, "CHS", "JPN", engine="deepl")
        (batch,) = xiangji.requests_for("GetImageTranslateBatch")
        assert batch.params["Sync"] == "2"
        found = await details(client, ids)
    finally:
        await runner.cleanup()
    assert [(line.source, line.target) for line in found[ids[0]].ocr] == [
        ("象寄 Tolk Pro", "[JPN] 象の便り トルクプロ")
    ]
    assert [line.target for line in found[ids[1]].ocr] == [
        "[JPN] トルクプロ 新品上市",
        "[JPN] 象の便り 图片翻译",
        "[JPN] 限时优惠",
    ]
    assert [(line.source, line.target) for line in found[ids[2]].ocr] == [("新品", "[JPN] 新品")]


async def test_an_image_without_the_chunk_keeps_the_two_fixed_regions(session, xiangji):
    client = client_for(session, xiangji)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "PNG")
    uploaded = await client.upload_image_translate(buf.getvalue(), "p.png", "CHS", "KOR")
    (by_url,) = await client.get_image_translate_batch([xiangji.sample_url("shoe")], "CHS", "KOR")
    found = await details(client, [uploaded.request_id, by_url])
    for rid in (uploaded.request_id, by_url):
        lines = [dict(line.raw) for line in found[rid].ocr]
        targets = [line.pop("target") for line in lines]
        assert lines == FIXED_ORC
        assert targets == ["[KOR] 点缀蜗居生活", "[KOR] 立即购买!"]


async def test_an_empty_region_list_means_an_image_without_text(session, xiangji):
    client = client_for(session, xiangji)
    result = await client.upload_image_translate(png_with_regions([]), "blank.png", "CHS", "ENG")
    detail = (await details(client, [result.request_id]))[result.request_id]
    assert detail.ocr == ()


async def test_the_translated_image_shows_the_region_targets(session, xiangji):
    client = client_for(session, xiangji)
    data = png_with_regions(REGIONS, size=(1200, 800))
    result = await client.upload_image_translate(data, "ad.png", "CHS", "KOR", need_rm_url=True)
    async with session.get(result.url) as resp:
        translated = Image.open(io.BytesIO(await resp.read())).convert("RGB")
    async with session.get(result.rm_url) as resp:
        removed = Image.open(io.BytesIO(await resp.read())).convert("RGB")
    box = (140, 10, 1190, 240)
    colours = {c for _, c in translated.crop(box).getcolors(1 << 20) or []}
    assert (20, 60, 160) in colours  # the target drawn in the emulator's ink
    assert len(removed.crop(box).getcolors(1 << 20) or []) == 1  # the text removed


async def test_benchmarks_without_rendering_read_uploads_but_fetch_nothing(session):
    async with XiangjiEmulator(render=False, pending_polls=0) as emu:
        client = client_for(session, emu)
        up = await client.upload_image_translate(png_with_regions(REGIONS), "a.png", "CHS", "KOR")
        (by_url,) = await client.get_image_translate_batch(
            [emu.sample_url("brand-violation")], "CHS", "KOR"
        )
        found = await details(client, [up.request_id, by_url])
    assert [line.source for line in found[up.request_id].ocr] == [r["source"] for r in REGIONS]
    assert [line.source for line in found[by_url].ocr] == ["点缀蜗居生活", "立即购买!"]


# --------------------------------------------------------------------------- sandbox samples


@pytest.mark.parametrize("name", sorted(SAMPLE_REGIONS))
def test_sandbox_samples_carry_the_emulators_sample_regions(name):
    data = (SAMPLES / f"{name}.png").read_bytes()
    assert read_png_regions(data) == SAMPLE_REGIONS[name]["regions"]
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == SAMPLE_REGIONS[name]["size"]


def test_the_violation_sample_has_brand_words_and_the_ok_sample_has_none():
    words = {word for word, _ in BRAND_WORDS}
    violation = " ".join(r["source"] for r in SAMPLE_REGIONS["brand-violation"]["regions"])
    fine = " ".join(r["source"] for r in SAMPLE_REGIONS["brand-ok"]["regions"])
    assert "Tolk Pro" in violation and "象寄" in violation
    assert not any(word.lower() in fine.lower() for word in words)
    assert "Xiangji" in fine

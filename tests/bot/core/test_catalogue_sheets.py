"""Catalogues as people upload them: spreadsheets of SKUs and image URLs (CSV, Excel's
GB18030 CSV, XLSX) and ZIPs of images — read into rows, or refused saying how to write
them; result names and the manifest that go back."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import Workbook

from bot.core.catalogue import (
    MAX_ROWS,
    CatalogueError,
    Row,
    manifest_lines,
    read_catalogue,
    result_name,
)


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zipped(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, b"\x89PNG fake")
    return out.getvalue()


def test_a_csv_of_skus_and_images_keeps_its_other_columns() -> None:
    data = (
        b"sku,title,image\n"
        b"A-1,Red shoe,https://cdn.example.com/a1.jpg\n"
        b"A-2,Blue bag,https://cdn.example.com/a2.png\n"
    )
    cat = read_catalogue("spring.csv", data)
    assert [(r.id, r.source) for r in cat.rows] == [
        ("A-1", "https://cdn.example.com/a1.jpg"),
        ("A-2", "https://cdn.example.com/a2.png"),
    ]
    assert cat.columns == ("title",) and cat.rows[1].extra == {"title": "Blue bag"}


def test_chinese_headers_semicolons_and_excels_gb18030_are_read() -> None:
    data = "货号;主图\nX1;https://img.example.cn/1.jpg\n".encode("gb18030")
    (row,) = read_catalogue("目录.csv", data).rows
    assert (row.id, row.source) == ("X1", "https://img.example.cn/1.jpg")


def test_without_known_headers_the_url_column_is_found_by_its_values() -> None:
    data = b"code,picture link\nZ9,http://example.com/z.jpg\nZ8,http://example.com/y.jpg\n"
    cat = read_catalogue("x.csv", data)
    assert [r.id for r in cat.rows] == ["Z9", "Z8"]


def test_an_xlsx_sheet_reads_like_a_csv() -> None:
    data = xlsx([["SKU", "Image URL", "price"], ["S1", "https://e.com/s1.jpg", 9.5], [None, None]])
    (row,) = read_catalogue("list.xlsx", data).rows
    assert (row.id, row.source, row.extra) == ("S1", "https://e.com/s1.jpg", {"price": "9.5"})


def test_a_zip_of_images_keeps_their_names_and_skips_what_is_not_an_image() -> None:
    data = zipped(["SKU1_main_01.jpg", "SKU1_main_02.png", "notes.txt", "__MACOSX/._x.jpg"])
    cat = read_catalogue("photos.zip", data)
    assert [(r.id, r.source) for r in cat.rows] == [
        ("SKU1_main_01", "SKU1_main_01.jpg"),
        ("SKU1_main_02", "SKU1_main_02.png"),
    ]
    assert result_name(cat.rows[0], "ko", ".jpg") == "SKU1_main_01-ko.jpg"


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("a.pdf", b"%PDF", "is not a catalogue"),
        ("a.csv", b"sku,title\nA,B\n", "No column of image URLs"),
        ("a.csv", b"sku,image\n", "no rows under its header"),
        ("a.csv", b"sku,image\nA,ftp://x/y.jpg\n", "Row 2: `ftp://x/y.jpg` is not an http(s) URL"),
        ("a.xlsx", b"not a workbook", "could not be opened"),
        ("a.zip", b"not a zip", "could not be opened"),
        ("a.zip", zipped(["readme.md"]), "no .jpg, .png or .webp images"),
    ],
)
def test_what_cannot_be_read_says_what_was_wrong_and_how_to_write_it(
    name: str, data: bytes, said: str
) -> None:
    with pytest.raises(CatalogueError) as refused:
        read_catalogue(name, data)
    assert said in str(refused.value)


def test_a_sheet_past_the_row_limit_is_refused_whole() -> None:
    lines = ["sku,image"] + [f"S{n},https://e.com/{n}.jpg" for n in range(MAX_ROWS + 1)]
    with pytest.raises(CatalogueError, match="split it"):
        read_catalogue("big.csv", "\n".join(lines).encode())


def test_the_manifest_has_a_line_per_row_and_language_with_the_sheets_columns() -> None:
    row = Row("A-1", "https://e.com/a1.jpg", {"title": "Red, shoe"})
    text = "".join(
        manifest_lines(
            [
                (row, "ko", "a1-ko.jpg", "done", ""),
                (row, "ja", "", "failed", "engine refused"),
            ],
            ("title",),
        )
    )
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["id", "source", "language", "result file", "status", "error", "title"]
    assert parsed[2] == [
        "A-1",
        "https://e.com/a1.jpg",
        "ja",
        "",
        "failed",
        "engine refused",
        "Red, shoe",
    ]

"""Catalogues: a spreadsheet (CSV or XLSX) of product ids and image URLs, or a ZIP of
images, read into rows; and what goes back — result names and the manifest CSV.

A spreadsheet needs a header row. The image column is the one headed ``image``,
``image url``, ``url``, ``picture``, ``主图``, ``图片`` (any case), else the first column
whose values are http(s) URLs; the id column is headed ``sku``, ``id``, ``item``,
``product``, ``货号``, ``编号``, else the first other column. Every other column is kept
and written back into the manifest. A ZIP's images are its rows: the id is the file's
name without its extension (``SKU_type_seq.jpg`` → ``SKU_type_seq``).

Everything that cannot be read is a ``CatalogueError`` saying what was wrong and how to
write it; nothing half-read is ever returned.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlsplit

MAX_ROWS = 10_000
MAX_FILE_BYTES = 20 * 1024 * 1024  # an uploaded spreadsheet
ZIP_FILE_BYTES = 100 * 1024 * 1024  # an uploaded ZIP of images
MAX_ZIP_IMAGES = 2_000
MAX_ZIP_BYTES = 500 * 1024 * 1024  # uncompressed, all images together
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
IMAGE_HEADERS = ("image", "image url", "image_url", "url", "picture", "photo", "主图", "图片")
ID_HEADERS = ("sku", "id", "item", "item id", "product", "product id", "货号", "编号")
MANIFEST_COLUMNS = ("id", "source", "language", "result file", "status", "error")

HOW = (
    "A catalogue is a CSV or XLSX with a header row — an id column (e.g. `sku`) and a "
    "column of image URLs (e.g. `image`) — or a ZIP of .jpg/.png/.webp images."
)


class CatalogueError(ValueError):
    """What is wrong with an uploaded catalogue, and how to write it."""


@dataclass(frozen=True)
class Row:
    id: str
    source: str  # an http(s) URL, or a ZIP entry's name
    extra: dict[str, str] = field(default_factory=dict)  # other columns, kept


@dataclass(frozen=True)
class Catalogue:
    kind: str  # "csv" | "xlsx" | "zip"
    rows: tuple[Row, ...]
    columns: tuple[str, ...] = ()  # the extra columns, in the sheet's order


def read_catalogue(name: str, data: bytes) -> Catalogue:
    """The rows of ``name`` (its extension says what it is)."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix == ".csv":
        return _from_table("csv", _csv_rows(data))
    if suffix in (".xlsx", ".xlsm"):
        return _from_table("xlsx", _xlsx_rows(data))
    if suffix == ".zip":
        return _from_zip(data)
    raise CatalogueError(f"`{name}` is not a catalogue. {HOW}")


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # what Excel in Chinese saves as "CSV"
        except UnicodeDecodeError:
            raise CatalogueError("The CSV is neither UTF-8 nor GB18030 text. " + HOW) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only for a spreadsheet

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise CatalogueError("The XLSX file could not be opened. " + HOW) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            row = ["" if v is None else str(v).strip() for v in values]
            if any(row):
                rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


def _from_table(kind: str, table: list[list[str]]) -> Catalogue:
    if len(table) < 2:
        raise CatalogueError("The sheet has no rows under its header. " + HOW)
    header = [h.strip() for h in table[0]]
    body = table[1:]
    if len(body) > MAX_ROWS:
        raise CatalogueError(
            f"The sheet has more than {MAX_ROWS:,} rows: split it into several catalogues."
        )
    lowered = [h.lower() for h in header]
    image = _first(lowered, IMAGE_HEADERS)
    if image is None:
        image = next((c for c in range(len(header)) if _mostly_urls(body, c)), None)
    if image is None:
        raise CatalogueError(
            "No column of image URLs: head it `image`, with an http(s) URL in each row. " + HOW
        )
    ident = _first(lowered, ID_HEADERS, skip=image)
    if ident is None:
        ident = next((c for c in range(len(header)) if c != image), None)
    extras = [c for c in range(len(header)) if c not in (image, ident)]
    rows: list[Row] = []
    seen: set[str] = set()
    for n, values in enumerate(body, start=2):
        cell = (values[image] if image < len(values) else "").strip()
        if not cell:
            continue  # a row without an image: nothing to translate
        if not _is_url(cell):
            raise CatalogueError(
                f"Row {n}: `{cell[:80]}` is not an http(s) URL (column `{header[image]}`)."
            )
        row_id = (values[ident] if ident is not None and ident < len(values) else "").strip()
        row_id = row_id or f"row{n}"
        if row_id in seen:
            row_id = f"{row_id}-{n}"  # the manifest needs one line per row
        seen.add(row_id)
        extra = {header[c]: (values[c] if c < len(values) else "") for c in extras}
        rows.append(Row(row_id, cell, extra))
    if not rows:
        raise CatalogueError(f"No row has an image URL in column `{header[image]}`. " + HOW)
    return Catalogue(kind, tuple(rows), tuple(header[c] for c in extras))


def _first(headers: list[str], wanted: Iterable[str], skip: int | None = None) -> int | None:
    for name in wanted:
        for c, header in enumerate(headers):
            if header == name and c != skip:
                return c
    return None


def _mostly_urls(body: list[list[str]], column: int) -> bool:
    values = [r[column].strip() for r in body[:50] if column < len(r) and r[column].strip()]
    return bool(values) and sum(_is_url(v) for v in values) * 2 > len(values)


def _is_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _from_zip(data: bytes) -> Catalogue:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CatalogueError("The ZIP file could not be opened. " + HOW) from None
    with archive:
        images = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES
            and not _hidden(info.filename)
        ]
        if not images:
            raise CatalogueError("The ZIP holds no .jpg, .png or .webp images. " + HOW)
        if len(images) > MAX_ZIP_IMAGES:
            raise CatalogueError(
                f"The ZIP holds more than {MAX_ZIP_IMAGES:,} images: split it into several."
            )
        if sum(info.file_size for info in images) > MAX_ZIP_BYTES:
            raise CatalogueError("The ZIP's images add up to over 500 MB: split it into several.")
        rows: list[Row] = []
        seen: set[str] = set()
        for info in images:
            stem = PurePosixPath(info.filename).stem
            row_id = stem if stem not in seen else f"{stem}-{len(seen) + 1}"
            seen.add(row_id)
            rows.append(Row(row_id, info.filename))
    return Catalogue("zip", tuple(rows))


def _hidden(name: str) -> bool:
    """macOS's ``__MACOSX/`` and dot files are not images anyone meant to send."""
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def result_name(row: Row, lang: str, suffix: str) -> str:
    """The translated image's name in a language's ZIP: the source's own name with the
    language added (``SKU_type_seq.jpg`` → ``SKU_type_seq-ko.jpg``), else the row id."""
    source_name = PurePosixPath(urlsplit(row.source).path if _is_url(row.source) else row.source)
    stem = _UNSAFE.sub("_", source_name.stem or row.id).strip("._") or "image"
    return f"{stem}-{lang}{suffix if suffix.startswith('.') else '.' + suffix}"


def manifest_lines(
    entries: Iterable[tuple[Row, str, str, str, str]], columns: tuple[str, ...] = ()
) -> Iterator[str]:
    """The manifest CSV, line by line: one per (row, language) — ``entries`` are
    (row, language, result file, status, error) — with the sheet's other columns after."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*MANIFEST_COLUMNS, *columns])
    yield _take(out)
    for row, lang, result, status, error in entries:
        writer.writerow(
            [
                row.id,
                row.source,
                lang,
                result,
                status,
                error,
                *(row.extra.get(c, "") for c in columns),
            ]
        )
        yield _take(out)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text

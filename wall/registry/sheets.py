"""Reading an uploaded CSV or XLSX into bounded rows of text cells, refusing hostile files.

An XLSX is a zip of XML: 158 KB can hold a 150 MB string, which openpyxl would expand in
memory for seconds. So the zip is checked before openpyxl sees it: member count, each
member's and the total uncompressed size, and the compression ratio (zipfile never hands
out more than a member's declared size: a member that lies fails its CRC), then the XML tags
are counted (in C: parsing costs Python time per tag). Then at most
``max_columns`` columns and a bounded number of rows are read, and every cell is refused past
``MAX_CELL_CHARS``. Any parse failure (bad zip, undefined XML entity, ...) is a 422, never a
500. The functions here block: the route runs them on a bounded pool, off the event loop.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import logging
import zipfile
from collections.abc import Iterable

from openpyxl.utils import get_column_letter

from iocwall.wall.errors import ApiError

log = logging.getLogger(__name__)

MAX_CELL_CHARS = 1024                 # a camera URL, name or note is far shorter
MAX_COLUMNS = 64                      # the form has about 15
MAX_SCANNED_ROWS = 20_000             # blank rows included
MAX_MEMBERS = 100                     # a workbook has about 10
MAX_MEMBER_BYTES = 8 * 1024 * 1024    # uncompressed; 2,000 camera rows are about 1 MB
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_RATIO = 200                       # real sheets deflate 5-50x; a bomb 1000x
RATIO_FROM_BYTES = 1024 * 1024        # tiny members may compress better: their size is harmless
# openpyxl spends about 2 us of Python per XML tag: 8 MiB of tiny strings or cells is 5 s of
# CPU. So the tags ("<", opening and closing) of all XML parts are counted before parsing:
# 2,000 rows x 15 cells need about 210,000 (about 7 per cell, its shared string's included).
MAX_XML_ELEMENTS = 400_000
_CHUNK = 256 * 1024


def too_large(message: str) -> ApiError:
    return ApiError(413, "too_large", message, "content")


def csv_cells(text: str, max_rows: int) -> list[list[str]]:
    """Rows of cells of a CSV text (``,``, ``;`` or tab; any line ending). Raises ApiError."""
    text = text.lstrip("\ufeff")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096],
                                                                        delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # newline="": the csv module sees CR, LF and CRLF itself (a bare CR is a line end,
    # not an error), as its documentation asks.
    try:
        return _bounded(csv.reader(io.StringIO(text, newline=""), dialect), max_rows)
    except csv.Error as exc:
        raise ApiError(422, "invalid", f"content: not a readable CSV ({exc}) "
                       "/ không đọc được tệp CSV", "content") from None


def xlsx_cells(encoded: str, max_rows: int) -> list[list[str]]:
    """Rows of cells of the first sheet of a base64 XLSX. Raises ApiError (413 or 422)."""
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid", "content: XLSX must be sent as base64 "
                       "/ tệp XLSX phải mã hoá base64", "content") from None
    try:
        check_zip(data)
        return _read_book(data, max_rows)
    except ApiError:
        raise
    except Exception as exc:    # noqa: BLE001 - any failure to parse a hostile file is a 422
        log.info("XLSX import refused: %s: %s", type(exc).__name__, exc)
        raise ApiError(422, "invalid", "content: not a readable XLSX workbook "
                       "/ không đọc được tệp XLSX", "content") from None


def check_zip(data: bytes) -> None:
    """Refuse a zip that would be too much once uncompressed or parsed (before parsing)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        members = book.infolist()
        _check_sizes(members)
        _count_elements(book, [m for m in members if m.filename.endswith((".xml", ".rels"))])


def _check_sizes(members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_MEMBERS:
        raise too_large(f"content: the workbook has more than {MAX_MEMBERS} parts "
                        "/ tệp XLSX có quá nhiều thành phần")
    total = 0
    for member in members:
        size = member.file_size
        total += size
        ratio = size / max(member.compress_size, 1)
        if size > MAX_MEMBER_BYTES or (size > RATIO_FROM_BYTES and ratio > MAX_RATIO):
            raise too_large(f"content: '{member.filename[:80]}' expands to {size} bytes "
                            f"(at most {MAX_MEMBER_BYTES}, ratio at most {MAX_RATIO}) "
                            "/ tệp XLSX giải nén quá lớn")
    if total > MAX_TOTAL_BYTES:
        raise too_large(f"content: the workbook expands to {total} bytes (at most "
                        f"{MAX_TOTAL_BYTES}) / tệp XLSX giải nén quá lớn")


def _count_elements(book: zipfile.ZipFile, parts: list[zipfile.ZipInfo]) -> None:
    """Refuse XML parts with more than MAX_XML_ELEMENTS tags in all: decompressed and counted
    in C, chunk by chunk (bounded by the sizes checked above), far faster than parsing."""
    found = 0
    for member in parts:
        with book.open(member) as part:
            while chunk := part.read(_CHUNK):
                found += chunk.count(b"<")
                if found > MAX_XML_ELEMENTS:
                    raise too_large(f"content: the workbook holds more than {MAX_XML_ELEMENTS} "
                                    "XML elements / tệp XLSX có quá nhiều ô")


def _read_book(data: bytes, max_rows: int) -> list[list[str]]:
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        # max_col/max_row: openpyxl pads rows up to the sheet's claimed size, so a single
        # cell at XFD1048576 would otherwise become millions of empty cells.
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, max_row=MAX_SCANNED_ROWS + 1,
                               values_only=True)
        return _bounded((["" if v is None else str(v) for v in row] for row in rows), max_rows)
    finally:
        book.close()


def _bounded(rows: Iterable[list[str]], max_rows: int) -> list[list[str]]:
    """The rows, refusing long cells, more than ``max_rows`` non-blank rows, or more than
    MAX_SCANNED_ROWS rows in all (blank ones included)."""
    out: list[list[str]] = []
    filled = 0
    for number, row in enumerate(rows, start=1):
        if number > MAX_SCANNED_ROWS:
            raise too_large(f"content: more than {MAX_SCANNED_ROWS} rows "
                            f"/ quá {MAX_SCANNED_ROWS} dòng")
        row = row[:MAX_COLUMNS]
        for column, cell in enumerate(row, start=1):
            if len(cell) > MAX_CELL_CHARS:
                where = f"row {number}, column {get_column_letter(column)}"
                raise ApiError(422, "invalid", f"content: {where}: a cell holds at most "
                               f"{MAX_CELL_CHARS} characters / dòng {number}, cột "
                               f"{get_column_letter(column)}: ô quá dài", "content")
        if any(cell.strip() for cell in row):
            filled += 1
            if filled > max_rows:
                raise too_large(f"content: more than {max_rows} rows / quá {max_rows} dòng")
        out.append(row)
    return out

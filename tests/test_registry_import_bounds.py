"""A hostile spreadsheet never stalls or bloats the server: an XLSX bomb (a 150 MB string in
~150 KB) is refused from the zip's directory before parsing, a member that lies about its size
fails its CRC, long cells and huge sheets are refused naming where, unreadable files are a 422,
and the parsing runs on a bounded pool so /healthz keeps answering while bombs arrive."""
from __future__ import annotations

import asyncio
import base64
import io
import json
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from iocwall.wall.errors import ApiError
from iocwall.wall.registry.bulk import read_table
from tests.fixtures.app import start_live_server
from tests.registry_helpers import registry_config

HEADER = ["Tỉnh/Thành phố", "Trung tâm", "Tên camera", "RTSP luồng chính"]
BOMB_BYTES = 150 * 1024 * 1024
SHEET = "xl/worksheets/sheet1.xml"


def _workbook(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _with_sheet(sheet_xml: list[bytes] | bytes, chunks: int = 0) -> bytes:
    """A real workbook whose first sheet is replaced: ``sheet_xml`` (with ``chunks`` MiB of
    "A" streamed between its two parts, never held in memory whole)."""
    base = zipfile.ZipFile(io.BytesIO(_workbook([["Hà Nội", "TT", "Quầy 1", "rtsp://a/b"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for info in base.infolist():
            if info.filename != SHEET:
                book.writestr(info.filename, base.read(info.filename))
        with book.open(SHEET, "w") as sheet:
            parts = sheet_xml if isinstance(sheet_xml, list) else [sheet_xml]
            sheet.write(parts[0])
            block = b"A" * (1024 * 1024)
            for _ in range(chunks):
                sheet.write(block)
            for part in parts[1:]:
                sheet.write(part)
    return out.getvalue()


_NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
_HEAD_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>Tỉnh/Thành phố</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>Tên camera</t></is></c></row>').encode()


def _cell_sheet(value_xml: bytes) -> bytes:
    return (_NS + _HEAD_ROW + b'<row r="2"><c r="A2" t="inlineStr"><is><t>H\xc3\xa0 N\xe1\xbb\x99i'
            b'</t></is></c><c r="B2" t="inlineStr"><is><t>' + value_xml
            + b"</t></is></c></row></sheetData></worksheet>")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """~150 KB of XLSX whose sheet holds one 150 MB string."""
    head, tail = _cell_sheet(b"\0").split(b"\0")
    return _with_sheet([head, tail], chunks=BOMB_BYTES // (1024 * 1024))


def _body(fmt: str, content: bytes | str) -> bytes:
    if isinstance(content, bytes):
        content = base64.b64encode(content).decode()
    return json.dumps({"format": fmt, "content": content}).encode()


def _refusal(body: bytes) -> ApiError:
    with pytest.raises(ApiError) as info:
        read_table(body)
    return info.value


def _lying(data: bytes, name: str, size: int) -> bytes:
    """The zip with ``name``'s uncompressed size in the central directory set to ``size``."""
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at)
        length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + length] == name.encode():
            break
        at += 4
    patched = bytearray(data)
    struct.pack_into("<I", patched, at + 24, size)      # uncompressed size
    extra = struct.unpack_from("<H", data, at + 30)[0]
    if extra:                                           # zip64: the size lives in the extra
        start = at + 46 + length
        tag, _ = struct.unpack_from("<HH", data, start)
        assert tag == 1
        struct.pack_into("<Q", patched, start + 4, size)
        struct.pack_into("<I", patched, at + 24, 0xFFFFFFFF)
    return bytes(patched)


def test_a_bomb_is_refused_from_the_zip_directory_fast_and_small(bomb: bytes) -> None:
    assert len(bomb) < 400_000
    tracemalloc.start()
    try:
        started = time.perf_counter()
        error = _refusal(_body("xlsx", bomb))
        took = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (error.status, error.code, error.field) == (413, "too_large", "content")
    assert "expands" in error.message
    assert took < 1.0 and peak < 10 * 1024 * 1024, (took, peak)


def test_a_member_lying_about_its_size_is_cut_at_that_size(bomb: bytes) -> None:
    liar = _lying(bomb, SHEET, 4000)
    tracemalloc.start()
    try:
        error = _refusal(_body("xlsx", liar))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (error.status, error.field) == (422, "content")
    assert peak < 32 * 1024 * 1024, peak


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_long_cell_is_refused_naming_its_row_and_column(fmt: str) -> None:
    long = "x" * 1025
    if fmt == "csv":
        content: bytes | str = ",".join(HEADER) + "\nHà Nội,TT," + long + ",rtsp://a/b\n"
    else:
        content = _workbook([["Hà Nội", "TT", long, "rtsp://a/b"]])
    error = _refusal(_body(fmt, content))
    assert (error.status, error.field) == (422, "content")
    assert "row 2, column C" in error.message
    fine = read_table(_body(fmt, content.replace("x" * 1025, "x" * 1024)
                            if isinstance(content, str)
                            else _workbook([["Hà Nội", "TT", "x" * 1024, "rtsp://a/b"]])))
    assert fine[0][1]["name"] == "x" * 1024


def test_a_sheet_claiming_the_last_cell_is_not_padded_into_millions() -> None:
    far = _cell_sheet(b"Qu\xe1\xba\xa7y 1")[:-len(b"</sheetData></worksheet>")] + (
        b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        b"</sheetData></worksheet>")
    tracemalloc.start()
    try:
        error = _refusal(_body("xlsx", _with_sheet(far)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (error.status, error.code) == (413, "too_large") and "rows" in error.message
    assert peak < 64 * 1024 * 1024, peak


def test_too_many_xml_tags_are_refused_before_parsing() -> None:
    import random
    import string
    pick = random.Random(7)
    cells = b"".join(
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>'
        % (n, n, "".join(pick.choices(string.ascii_letters, k=6)).encode())
        for n in range(3, 60_000))
    sheet = _cell_sheet(b"Q")[:-len(b"</sheetData></worksheet>")] + cells \
        + b"</sheetData></worksheet>"
    assert len(sheet) < 8 * 1024 * 1024
    started = time.perf_counter()
    error = _refusal(_body("xlsx", _with_sheet(sheet)))
    assert (error.status, error.code) == (413, "too_large") and "XML elements" in error.message
    assert time.perf_counter() - started < 2.0


def test_a_full_form_of_2000_cameras_still_imports() -> None:
    header = [*HEADER, "Vị trí", "RTSP luồng phụ", "Giao thức", "Tài khoản", "Mật khẩu",
              "Nhãn", "Địa chỉ ONVIF", "Mã camera"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for n in range(2000):
        sheet.append(["Hà Nội", "TT PVHCC Hà Nội", f"Quầy {n}", f"rtsp://10.1.{n // 250}.{n % 250}"
                      f":554/main", f"Sảnh tầng {n % 5}", f"rtsp://10.1.0.{n % 250}:554/sub",
                      "tcp", "viewer", f"secret-{n}", "sảnh,quầy", f"10.1.0.{n % 250}:80",
                      f"ha-noi-{n}"])
    out = io.BytesIO()
    book.save(out)
    rows = read_table(_body("xlsx", out.getvalue()))
    assert len(rows) == 2000 and rows[-1][1]["name"] == "Quầy 1999"


def test_too_many_rows_are_refused() -> None:
    text = ",".join(HEADER) + "\n" + "Hà Nội,TT,Q,rtsp://a/b\n" * 2100
    error = _refusal(_body("csv", text))
    assert (error.status, error.code) == (413, "too_large")


def test_unreadable_files_are_422_not_500() -> None:
    entity = _with_sheet(_cell_sheet(b"&undefined;"))
    error = _refusal(_body("xlsx", entity))
    assert (error.status, error.field) == (422, "content")
    csv_bad = ",".join(HEADER) + '\nHà Nội,TT,"Q' + "x" * 200_000 + '",rtsp://a/b\n'
    error = _refusal(_body("csv", csv_bad))
    assert error.status in (413, 422) and error.field == "content"


def test_a_bare_cr_ends_a_csv_line() -> None:
    text = ",".join(HEADER) + "\rHà Nội,TT,Quầy 1,rtsp://a/b\rHà Nội,TT,Quầy 2,rtsp://a/c\r"
    rows = read_table(_body("csv", text))
    assert [fields["name"] for _, fields in rows] == ["Quầy 1", "Quầy 2"]
    mixed = ",".join(HEADER) + "\r\nHà Nội,TT,Quầy 1\r,rtsp://a/b\n"
    rows = read_table(_body("csv", mixed))
    assert rows and all(isinstance(fields, dict) for _, fields in rows)


async def test_healthz_answers_while_bombs_arrive(bomb: bytes, tmp_path: Path) -> None:
    body = _body("xlsx", bomb)
    async with start_live_server(registry_config(tmp_path / "data")) as server, \
            server.client() as http:
        await server.login(http)

        async def healthz() -> float:
            started = time.perf_counter()
            response = await http.get("/healthz")
            assert response.status_code == 200
            return time.perf_counter() - started

        baseline = max([await healthz() for _ in range(5)])
        uploads = [asyncio.ensure_future(http.post(
            "/api/registry/import", content=body,
            headers={"Content-Type": "application/json"})) for _ in range(6)]
        during: list[float] = []
        while not all(u.done() for u in uploads):
            during.append(await healthz())
            await asyncio.sleep(0.02)
        answers = await asyncio.gather(*uploads)
        assert during, "the bombs were answered before /healthz was asked"
        assert max(during) < 0.5 + 3 * baseline, (baseline, during)
        for answer in answers:
            assert answer.status_code in (413, 503), answer.text
            assert set(answer.json()["error"]) == {"code", "message", "field"}

"""Bulk import of cameras from CSV or XLSX shaped like the Government Office's form.

The body is JSON: ``{"format": "csv", "content": "<text>"}`` or ``{"format": "xlsx",
"content": "<base64>"}`` (pages send JSON only). The header row may sit under title rows
and may be in Vietnamese or English. Every row is checked like a single POST /api/cameras;
the caller saves nothing unless every row is good (all or nothing).
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from iocwall.wall.access import Principal
from iocwall.wall.errors import ApiError
from iocwall.wall.registry.model import CameraIn
from iocwall.wall.registry.scope import id_problem, province_of
from iocwall.wall.registry.sheets import csv_cells, xlsx_cells
from iocwall.wall.text import fold

MAX_ROWS = 2000
HEADER_SEARCH_ROWS = 10
# folded header text -> field
HEADERS = {
    "id": "id", "ma camera": "id",
    "province": "province", "tinh": "province", "tinh thanh pho": "province",
    "tinh thanh": "province",
    "centre": "centre", "center": "centre", "trung tam": "centre",
    "trung tam phuc vu hanh chinh cong": "centre",
    "name": "name", "camera": "name", "ten camera": "name",
    "location": "location", "vi tri": "location", "vi tri lap dat": "location",
    "onvif": "onvif", "dia chi onvif": "onvif",
    "rtsp main": "rtsp_main", "rtsp luong chinh": "rtsp_main", "luong chinh": "rtsp_main",
    "rtsp sub": "rtsp_sub", "rtsp luong phu": "rtsp_sub", "luong phu": "rtsp_sub",
    "transport": "transport", "giao thuc": "transport",
    "username": "username", "user": "username", "tai khoan": "username",
    "ten dang nhap": "username",
    "password": "password", "mat khau": "password",
    "allow basic auth": "allow_basic_auth", "basic auth": "allow_basic_auth",
    "cho phep basic": "allow_basic_auth", "cho phep xac thuc basic": "allow_basic_auth",
    "tags": "tags", "nhan": "tags",
}


def read_table(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {field: text}) for each data row. Raises ApiError.
    Blocks (parsing, bounded in wall/registry/sheets.py): run it off the event loop."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "bad_json", "body is not valid JSON / dữ liệu không phải JSON") \
            from None
    if not isinstance(body, dict) or set(body) - {"format", "content"} \
            or body.get("format") not in ("csv", "xlsx") \
            or not isinstance(body.get("content"), str):
        raise ApiError(422, "invalid", 'expected {"format": "csv" or "xlsx", "content": ...} '
                       "/ cần định dạng csv hoặc xlsx", "format")
    content = body["content"]
    limit = MAX_ROWS + HEADER_SEARCH_ROWS
    cells = csv_cells(content, limit) if body["format"] == "csv" else xlsx_cells(content, limit)
    return _rows(cells)


def _rows(cells: list[list[str]]) -> list[tuple[int, dict[str, str]]]:
    header_at, columns = _find_header(cells)
    out = []
    for number, row in enumerate(cells[header_at + 1:], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        out.append((number, {field: row[i].strip() for i, field in columns.items()
                             if i < len(row)}))
    if len(out) > MAX_ROWS:
        raise ApiError(413, "too_large", f"at most {MAX_ROWS} rows / tối đa {MAX_ROWS} dòng")
    if not out:
        raise ApiError(422, "invalid", "the file has a header but no camera rows "
                       "/ tệp không có dòng camera nào", "content")
    return out


def _find_header(cells: list[list[str]]) -> tuple[int, dict[int, str]]:
    for at, row in enumerate(cells[:HEADER_SEARCH_ROWS]):
        columns = {i: HEADERS[fold(c)] for i, c in enumerate(row) if fold(c) in HEADERS}
        if {"name", "province"} <= set(columns.values()):
            return at, columns
    raise ApiError(422, "invalid", "no header row with at least 'Tỉnh/Thành phố' (province) and "
                   "'Tên camera' (name) in the first 10 rows / không tìm thấy dòng tiêu đề",
                   "content")


def import_rows(rows: list[tuple[int, dict[str, str]]], who: Principal
                ) -> tuple[list[dict[str, Any]], list[CameraIn]]:
    """A report line per row, and the cameras (valid only if every line is ok)."""
    report: list[dict[str, Any]] = []
    cams: list[CameraIn] = []
    limit = province_of(who)
    seen: set[str] = set()
    for number, fields in rows:
        data: dict[str, Any] = {k: v for k, v in fields.items() if v != ""}
        data["tags"] = [t for t in fields.get("tags", "").replace(";", ",").split(",") if t]
        data["transport"] = (data.get("transport") or "auto").lower()
        if "allow_basic_auth" in data:
            data["allow_basic_auth"] = _yes_no(data["allow_basic_auth"])
        data.setdefault("province", "")
        data.setdefault("centre", "")
        data.setdefault("name", "")
        line: dict[str, Any] = {"row": number, "name": fields.get("name", ""),
                                "id": fields.get("id", ""), "ok": False, "errors": []}
        report.append(line)
        try:
            cam = CameraIn.model_validate(data)
        except ValidationError as exc:
            line["errors"] = [_error(e) for e in exc.errors()]
            continue
        problems = []
        if limit is not None and cam.province != limit:
            problems.append({"field": "province", "message": f"a registrar of {limit} imports "
                             "only its own province / chỉ nhập camera của tỉnh mình"})
        if not cam.rtsp_main:
            problems.append({"field": "rtsp_main", "message": "give the RTSP URL; add "
                             "ONVIF-only cameras one by one (they are read from the device) "
                             "/ cần địa chỉ RTSP"})
        if (problem := id_problem(who, cam.province, cam.id)) is not None:
            problems.append({"field": "id", "message": problem})
        if cam.id and cam.id in seen:
            problems.append({"field": "id", "message": f"id '{cam.id}' appears twice "
                             "/ mã camera bị trùng"})
        seen.add(cam.id or "")
        line["errors"] = problems
        line["ok"] = not problems
        cams.append(cam)
    return report, cams


# folded cell text -> bool; anything else is left for the model to refuse with a clear error
_YES_NO = {"yes": True, "y": True, "true": True, "1": True, "x": True, "co": True,
           "no": False, "n": False, "false": False, "0": False, "khong": False}


def _yes_no(text: str) -> str | bool:
    return _YES_NO.get(fold(text), text)


def _error(error: Any) -> dict[str, str]:
    field = ".".join(str(p) for p in error["loc"]) or "row"
    return {"field": field, "message": error["msg"].removeprefix("Value error, ")}

"""CSV import of indicator values with a report per row.

Columns (header row required, any order): ``indicator, province, period, value``
and optionally ``unit, revise, reason, note``. Each row is checked and stored on
its own: a bad row is reported (with the field at fault) and the others still go
in. Lines starting with ``#`` are comments.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iocwall.wall.access import Principal
from iocwall.wall.errors import ApiError
from iocwall.wall.indicators.validation import Submission

if TYPE_CHECKING:
    from iocwall.wall.indicators.service import IndicatorService

REQUIRED = ("indicator", "province", "period", "value")
OPTIONAL = ("unit", "revise", "reason", "note")
MAX_ROWS = 5000
TRUE = {"1", "true", "yes", "có", "x"}


@dataclass(frozen=True)
class RowReport:
    line: int                      # line number in the file as sent (comments counted)
    status: str                    # stored | revised | error
    code: str = ""
    message: str = ""
    field: str | None = None
    value_id: int | None = None

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _header(reader: csv.DictReader) -> list[str]:
    names = [(n or "").strip().lower() for n in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ApiError(422, "invalid", f"csv: missing column(s) {', '.join(missing)} "
                       "/ thiếu cột", "csv")
    unknown = [n for n in names if n not in REQUIRED + OPTIONAL]
    if unknown:
        raise ApiError(422, "invalid", f"csv: unknown column(s) {', '.join(unknown)} "
                       "/ cột không hợp lệ", "csv")
    return names


async def import_csv(service: IndicatorService, text: str, who: Principal,
                     client: str = "") -> dict[str, Any]:
    """Import every row of ``text``; returns {"rows": [...], "stored", "revised", "errors"}."""
    kept = [(number, line) for number, line in
            enumerate(text.lstrip("\ufeff").splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in kept)))
    reader.fieldnames = _header(reader)
    reports: list[RowReport] = []
    for row in reader:
        if len(reports) >= MAX_ROWS:
            raise ApiError(413, "too_large", f"at most {MAX_ROWS} rows per import", "csv")
        number = kept[reader.line_num - 1][0]       # the line in the file as sent
        reports.append(await _one(service, number, row, who, client))
    return {"rows": [r.public() for r in reports],
            "stored": sum(1 for r in reports if r.status == "stored"),
            "revised": sum(1 for r in reports if r.status == "revised"),
            "errors": sum(1 for r in reports if r.status == "error")}


async def _one(service: IndicatorService, line: int, row: dict[str, Any], who: Principal,
               client: str) -> RowReport:
    if None in row:                 # more cells than columns
        return RowReport(line, "error", "invalid", "too many cells in this row", "csv")
    cell = {k: (v or "").strip() for k, v in row.items()}
    sub = Submission(indicator=cell["indicator"], province=cell["province"],
                     period=cell["period"], value=cell["value"],
                     unit=cell.get("unit") or None,
                     revise=cell.get("revise", "").lower() in TRUE,
                     reason=cell.get("reason", ""), note=cell.get("note", ""))
    try:
        value, previous = await service.submit(sub, who, "csv", client)
    except ApiError as exc:
        return RowReport(line, "error", exc.code, exc.message, exc.field)
    return RowReport(line, "revised" if previous else "stored", value_id=value.id)

"""Audit log as CSV (stdlib csv), safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace

from iocwall.wall.audit.log import MAX_LIMIT, AuditEntry, AuditLog, AuditQuery

COLUMNS = ["id", "time", "actor", "role", "unit", "action", "target", "before", "after",
           "client", "province"]
MAX_ROWS = 100_000


def spreadsheet_safe(text: str) -> str:
    """``text`` as a CSV cell that a spreadsheet shows as text (the indicator export uses it
    too): a cell starting with = + - @ is a formula to Excel/LibreOffice, so neutralise it."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _cell(value: object) -> str:
    text = "" if value is None else (json.dumps(value, ensure_ascii=False, sort_keys=True)
                                     if isinstance(value, dict) else str(value))
    return spreadsheet_safe(text)


def row_of(entry: AuditEntry) -> list[str]:
    return [_cell(getattr(entry, column)) for column in COLUMNS]


async def csv_chunks(audit: AuditLog, query: AuditQuery) -> AsyncIterator[str]:
    """The matching entries (newest first) as CSV text, page by page (bounded memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")           # BOM: Excel then reads the Vietnamese text as UTF-8
    writer.writerow(COLUMNS)
    # Walk by id cursor, not offset: entries written during the export do not shift pages.
    cursor, sent = query.before_id, 0
    while sent < MAX_ROWS:
        page = await audit.query(replace(query, limit=MAX_LIMIT, offset=0, before_id=cursor))
        for entry in page.entries:
            writer.writerow(row_of(entry))
        sent += len(page.entries)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_before_id is None:
            return
        cursor = page.next_before_id


async def export_csv(audit: AuditLog, query: AuditQuery) -> str:
    return "".join([chunk async for chunk in csv_chunks(audit, query)])

"""HTTP face of the indicators.

    GET  /api/indicators                          the registry and the provinces
    GET  /api/indicators/summary?province=&rollup= every tile of a scope (leader view)
    GET  /api/indicators/reporting?period=        who reported the month on time, late, not
    GET  /api/indicators/{id}/values?province=&since=&until=&limit=&offset=&revisions=
    GET  /api/indicators/{id}/values.csv?...      the same as CSV (spreadsheet-safe)
    GET  /api/indicators/{id}/map?units=34|63     every unit's latest value (grid map, ranking)
    POST /api/indicators/{id}/values              submit (registrar: own province; admin)
    POST /api/indicators/import                   {"csv": "..."}: a report per row
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from iocwall.streams.clock import now_iso
from iocwall.wall.access import Role, route
from iocwall.wall.api.common import Body, caller, client_address, query_int, read_body, services
from iocwall.wall.audit.export import spreadsheet_safe
from iocwall.wall.errors import ApiError
from iocwall.wall.indicators.importer import import_csv
from iocwall.wall.indicators.model import Indicator, Source
from iocwall.wall.indicators.service import IndicatorService
from iocwall.wall.indicators.store import MAX_LIMIT, HistoryQuery
from iocwall.wall.indicators.validation import Submission

READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER})
LISTERS = READERS | {Role.REGISTRAR}          # a registrar must see what it can submit
SUBMITTERS = frozenset({Role.ADMIN, Role.REGISTRAR})
MAX_IMPORT_BYTES = 1024 * 1024
CSV_COLUMNS = ["indicator", "province", "period", "period_start", "value", "unit", "revision",
               "superseded", "submitted_at", "submitted_by", "source", "note"]
_SINCE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class ValueBody(Body):
    province: str
    period: str
    value: float | int | str
    unit: str | None = None
    revise: bool = False
    reason: str = ""
    note: str = ""


def _service(request: Request) -> IndicatorService:
    return services(request).indicators  # type: ignore[no-any-return]


def _indicator(request: Request) -> Indicator:
    ident = request.path_params["id"]
    indicator = _service(request).registry.get(ident)
    if indicator is None:
        raise ApiError(404, "not_found", f"no indicator '{ident}' / không có chỉ tiêu", "id")
    return indicator


def _date_param(request: Request, name: str) -> str:
    """``since``/``until`` as an ISO date: 2024, 2024-08 or 2024-08-15."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return ""
    if not _SINCE.match(text):
        raise ApiError(422, "invalid", f"{name}: use 2024, 2024-08 or 2024-08-15", name)
    return (text + "-01-01")[:10] if len(text) == 4 else (text + "-01")[:10]


def _history_query(request: Request, indicator: Indicator) -> HistoryQuery:
    service = _service(request)
    province = request.query_params.get("province", "").strip()
    units: tuple[str, ...] = ()
    if province:
        known = service.provinces
        if not (known.is_current(province) or known.is_historical(province)):
            raise ApiError(422, "invalid", f"province: unknown unit '{province}'", "province")
        rollup = request.query_params.get("rollup") in ("1", "true")
        units = known.units_of(province) if rollup and known.is_current(province) \
            else (province,)
    return HistoryQuery(indicator.id, units, _date_param(request, "since"),
                        _date_param(request, "until"),
                        request.query_params.get("revisions") in ("1", "true"),
                        query_int(request, "limit", 100), query_int(request, "offset", 0))


async def list_indicators(request: Request) -> Response:
    service = _service(request)
    return JSONResponse({
        "indicators": [i.public() for i in service.registry.all()],
        "provinces": [service.provinces.public(p) for p in service.provinces.current],
        "historical": service.provinces.historical,
    })


async def summary(request: Request) -> Response:
    service = _service(request)
    scope = request.query_params.get("province", "").strip()
    if scope and not (service.provinces.is_current(scope)
                      or service.provinces.is_historical(scope)):
        raise ApiError(422, "invalid", f"province: unknown unit '{scope}'", "province")
    rollup = request.query_params.get("rollup") in ("1", "true")
    tiles = await service.tiles(scope, rollup)
    return JSONResponse({"scope": scope, "rollup": rollup, "time": now_iso(),
                         "tiles": [t.public() for t in tiles]})


async def reporting(request: Request) -> Response:
    period = request.query_params.get("period", "").strip()
    if period and not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", period):
        raise ApiError(422, "invalid", "period: a month such as 2024-08", "period")
    return JSONResponse(await _service(request).reporting(period))


async def values(request: Request) -> Response:
    indicator = _indicator(request)
    if indicator.source is Source.LIVE:
        raise ApiError(422, "invalid", f"'{indicator.id}' is live: it has no stored history",
                       "id")
    query = _history_query(request, indicator)
    if indicator.ratio is not None:         # derived: computed from its two indicators
        page = await _computed_page(request, indicator, query)
        return JSONResponse(page)
    return JSONResponse((await _service(request).values.history(query)).public())


async def _computed_page(request: Request, indicator: Indicator, q: HistoryQuery) -> dict:
    if not 1 <= q.limit <= MAX_LIMIT or q.offset < 0:
        raise ApiError(422, "invalid", f"limit must be 1-{MAX_LIMIT}, offset 0 or more", "limit")
    rows = [v for v in await _service(request).current(indicator.id)
            if (not q.provinces or v.province in q.provinces)
            and (not q.since or v.period_start >= q.since)
            and (not q.until or v.period_start < q.until)]
    rows.sort(key=lambda v: (v.period_start, v.province), reverse=True)
    page = rows[q.offset:q.offset + q.limit]
    following = q.offset + len(page)
    return {"values": [v.public() for v in page], "total": len(rows), "limit": q.limit,
            "offset": q.offset, "next_offset": following if following < len(rows) else None}


async def values_csv(request: Request) -> Response:
    indicator = _indicator(request)
    if indicator.source is not Source.REPORTED:
        raise ApiError(422, "invalid", f"'{indicator.id}' is {indicator.source.value}: export "
                       "the reported indicators it comes from", "id")
    query = _history_query(request, indicator)
    store = _service(request).values
    await store.history(replace(query, limit=1))       # bad filters: JSON error, not bad CSV

    async def chunks() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        buffer.write("\ufeff")
        writer.writerow(CSV_COLUMNS)
        offset = 0
        while True:
            page = await store.history(replace(query, limit=MAX_LIMIT, offset=offset))
            for v in page.values:
                writer.writerow([spreadsheet_safe(v.indicator), spreadsheet_safe(v.province),
                                 v.period, v.period_start, repr(v.value), indicator.unit,
                                 v.revision, int(v.superseded), v.submitted_at,
                                 spreadsheet_safe(v.submitted_by), v.source,
                                 spreadsheet_safe(v.note)])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            offset += len(page.values)
            if not page.values or offset >= page.total:
                return

    stamp = now_iso()[:19].replace(":", "").replace("-", "")
    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="iocwall-{indicator.id}-{stamp}.csv"'})


async def unit_map(request: Request) -> Response:
    indicator = _indicator(request)
    units = request.query_params.get("units", "34")
    if units not in ("34", "63"):
        raise ApiError(422, "invalid", "units: 34 (today's provinces) or 63 (before July 2025)",
                       "units")
    if indicator.source is Source.LIVE or indicator.id.startswith("reports_"):
        raise ApiError(422, "invalid", f"'{indicator.id}' has no per-unit map", "id")
    return JSONResponse({"indicator": indicator.id, "units_kind": units,
                         **await _service(request).unit_map(indicator.id, units == "63")})


async def submit(request: Request) -> Response:
    indicator = _indicator(request)
    body = await read_body(request, ValueBody)
    sub = Submission(indicator.id, body.province, body.period, body.value, body.unit,
                     body.revise, body.reason, body.note)
    value, previous = await _service(request).submit(sub, caller(request), "api",
                                                     client_address(request))
    return JSONResponse({"value": value.public(),
                         "previous": previous.public() if previous else None},
                        status_code=201)


async def import_values(request: Request) -> Response:
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise ApiError(413, "too_large", "import over 1 MB / tệp quá lớn")
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "bad_json", "body is not valid JSON / dữ liệu không phải JSON") \
            from None
    if not isinstance(data, dict) or not isinstance(data.get("csv"), str) or set(data) != {"csv"}:
        raise ApiError(422, "invalid", 'body must be {"csv": "<text>"}', "csv")
    report = await import_csv(_service(request), data["csv"], caller(request),
                              client_address(request))
    return JSONResponse(report)


def routes() -> list[Route]:
    return [
        route("/api/indicators", list_indicators, roles=LISTERS, methods=["GET"]),
        route("/api/indicators/summary", summary, roles=READERS, methods=["GET"]),
        route("/api/indicators/reporting", reporting, roles=READERS, methods=["GET"]),
        route("/api/indicators/import", import_values, roles=SUBMITTERS, methods=["POST"]),
        route("/api/indicators/{id}/values", values, roles=READERS, methods=["GET"]),
        route("/api/indicators/{id}/values", submit, roles=SUBMITTERS, methods=["POST"]),
        route("/api/indicators/{id}/values.csv", values_csv, roles=READERS, methods=["GET"]),
        route("/api/indicators/{id}/map", unit_map, roles=READERS, methods=["GET"]),
    ]

"""Reading the audit log: JSON pages and CSV export. Admins and leaders.

Filters (query parameters, all optional, the same for JSON and CSV): ``user`` (or ``actor``),
``action`` (``camera.*`` for a prefix), ``target``, ``unit`` (the actor's unit), ``province``
(the unit the entry concerns, one of the 34 codes), ``from``/``to`` (or ``since``/``until``,
ISO 8601, e.g. ``2026-11-23T08:00:00+07:00``), ``q`` (free text, case and diacritics
ignored), ``before_id`` (the keyset cursor: the previous page's ``next_before_id``) and
``limit``. A value out of bounds is a 422 naming the parameter.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from iocwall.streams.clock import now_iso
from iocwall.wall import provinces
from iocwall.wall.access import Role, route
from iocwall.wall.api.common import query_int, services
from iocwall.wall.audit import AuditQuery, csv_chunks
from iocwall.wall.audit.log import MAX_LIMIT, epoch_of
from iocwall.wall.errors import ApiError

READERS = {Role.ADMIN, Role.LEADER}
MAX_TEXT = 100          # the longest filter value (a name, an action, a search text)


def _text(request: Request, *names: str) -> str:
    """The first of ``names`` present (aliases), bounded; '' when none is."""
    for name in names:
        value = request.query_params.get(name)
        if value is not None:
            if len(value) > MAX_TEXT:
                raise ApiError(422, "invalid", f"{name}: at most {MAX_TEXT} characters "
                               f"/ tối đa {MAX_TEXT} ký tự", name)
            return value.strip()
    return ""


def query_of(request: Request) -> AuditQuery:
    province = _text(request, "province")
    if province and provinces.by_code(province) is None:
        raise ApiError(422, "invalid", "province: not one of the 34 unit codes, e.g. HA-NOI "
                       "/ mã tỉnh không hợp lệ", "province")
    return AuditQuery(
        actor=_text(request, "user", "actor"), action=_text(request, "action"),
        target=_text(request, "target"), unit=_text(request, "unit"), province=province,
        text=_text(request, "q"),
        since=_time(request, "from", "since"), until=_time(request, "to", "until"),
        limit=query_int(request, "limit", 100, minimum=1, maximum=MAX_LIMIT),
        offset=query_int(request, "offset", 0, minimum=0),
        before_id=query_int(request, "before_id", 0, minimum=0))


def _time(request: Request, *names: str) -> str:
    """An ISO 8601 time parameter, checked now so that a 422 names the parameter the
    caller used (``from``, not ``since``)."""
    name = next((n for n in names if n in request.query_params), names[0])
    value = _text(request, name)
    if value:
        epoch_of(value, name)
    return value


async def list_audit(request: Request) -> Response:
    page = await services(request).audit.query(query_of(request))
    return JSONResponse(page.public())


async def export_audit(request: Request) -> Response:
    query = query_of(request)
    audit = services(request).audit
    await audit.query(query)            # validate filters now: errors as JSON, not a broken CSV
    stamp = now_iso()[:19].replace(":", "").replace("-", "")
    return StreamingResponse(
        csv_chunks(audit, query), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="iocwall-audit-{stamp}.csv"'})


def routes() -> list[Route]:
    return [
        route("/api/audit", list_audit, roles=READERS, methods=["GET"]),
        route("/api/audit.csv", export_audit, roles=READERS, methods=["GET"]),
    ]

"""Reading the audit log: JSON pages and CSV export. Admins and leaders."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from iocwall.streams.clock import now_iso
from iocwall.wall.access import Role, route
from iocwall.wall.api.common import query_int, services
from iocwall.wall.audit import AuditQuery, csv_chunks
from iocwall.wall.audit.log import MAX_LIMIT

READERS = {Role.ADMIN, Role.LEADER}


def query_of(request: Request) -> AuditQuery:
    params = request.query_params
    return AuditQuery(
        actor=params.get("actor", ""), action=params.get("action", ""),
        target=params.get("target", ""), unit=params.get("unit", ""),
        since=params.get("since", ""), until=params.get("until", ""),
        limit=query_int(request, "limit", 100, minimum=1, maximum=MAX_LIMIT),
        offset=query_int(request, "offset", 0, minimum=0),
        before_id=query_int(request, "before_id", 0, minimum=0))


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

"""The health API.

    GET  /api/health                          the board (a registrar: its province's cameras)
    GET  /api/health/availability?days=&province=
                                              seconds up / observed per camera per day (+07:00),
                                              rolled up per province
    GET  /api/alerts?state=&limit=            alerts, newest first; state: raised,
                                              acknowledged, resolved or open (not resolved)
    POST /api/alerts/{id}/ack                 raised -> acknowledged, audited
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall import provinces
from iocwall.wall.access import Role, route
from iocwall.wall.api.announced import announced
from iocwall.wall.api.common import caller, client_address, query_int, services
from iocwall.wall.errors import ApiError
from iocwall.wall.health.alerts import MAX_LIST, STATES
from iocwall.wall.health.service import HealthService
from iocwall.wall.registry.scope import province_of

BOARD_READERS = frozenset({Role.ADMIN, Role.TECHNICIAN, Role.REGISTRAR})
ALERT_READERS = frozenset({Role.ADMIN, Role.TECHNICIAN, Role.OPERATOR, Role.REGISTRAR,
                           Role.LEADER})
ACKERS = frozenset({Role.ADMIN, Role.TECHNICIAN, Role.OPERATOR})
MAX_DAYS = 90


def _health(request: Request) -> HealthService:
    health = services(request).health
    if health is None:
        raise ApiError(503, "unavailable", "health is starting / đang khởi động")
    return health


async def board(request: Request) -> Response:
    health = _health(request)
    current = health.board or await health.collect()
    limit = province_of(caller(request))
    body = current.scoped(limit).public()
    body["sample_s"] = health.config.sample_s
    return JSONResponse(body)


def _province(request: Request) -> str | None:
    """The province asked for (None: all); a registrar gets its own, and a 403 for another."""
    asked = request.query_params.get("province", "").strip().upper() or None
    if asked is not None and provinces.by_code(asked) is None:
        raise ApiError(422, "invalid", "province: not one of the 34 unit codes, e.g. HA-NOI "
                       "/ mã tỉnh không hợp lệ", "province")
    limit = province_of(caller(request))
    if limit is not None and asked not in (None, limit):
        raise ApiError(403, "forbidden", f"a registrar of {limit} sees only its own province "
                       "/ cán bộ tỉnh chỉ xem được tỉnh của mình", "province")
    return limit or asked


async def availability(request: Request) -> Response:
    days = query_int(request, "days", 7, minimum=1, maximum=MAX_DAYS)
    return JSONResponse(await _health(request).availability.days(days, _province(request)))


async def alerts(request: Request) -> Response:
    state = request.query_params.get("state") or None
    if state is not None and state not in (*STATES, "open"):
        raise ApiError(422, "invalid", f"state: one of {', '.join((*STATES, 'open'))} "
                       "/ trạng thái không hợp lệ", "state")
    limit = query_int(request, "limit", 100, minimum=1, maximum=MAX_LIST)
    found = await _health(request).alerts.find(state, province_of(caller(request)), limit)
    return JSONResponse({"alerts": [a.public() for a in found]})


async def acknowledge(request: Request) -> Response:
    alert_id: int = request.path_params["id"]
    health = _health(request)
    found = await health.alerts.get(alert_id)
    if found is None:
        raise ApiError(404, "not_found", "no such alert / không có cảnh báo này")
    alert = await health.acknowledge(alert_id, caller(request), client_address(request))
    return JSONResponse(alert.public())


def routes() -> list[Route]:
    return [
        route("/api/health", board, roles=BOARD_READERS, methods=["GET"]),
        route("/api/health/availability", availability, roles=ALERT_READERS, methods=["GET"]),
        route("/api/alerts", alerts, roles=ALERT_READERS, methods=["GET"]),
        route("/api/alerts/{id:int}/ack", announced(acknowledge), roles=ACKERS, methods=["POST"]),
    ]

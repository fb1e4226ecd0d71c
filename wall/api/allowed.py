"""GET /api/allowed?path=/api/queues&path=POST /api/registry/test: which API routes the caller
may use, read from the route table's own role sets (``route.roles``), so a page calls nothing
it would be refused and never writes a role rule of its own."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from iocwall.wall.access import ALL, Role, route
from iocwall.wall.api.common import caller
from iocwall.wall.errors import ApiError

MAX_PATHS = 20


def _find(table: list[BaseRoute], method: str, path: str) -> Route | None:
    return next((r for r in table if isinstance(r, Route) and r.path == path
                 and method in (r.methods or ())), None)


async def allowed(request: Request) -> Response:
    """``path`` (repeated): a route's path as declared (``/api/cameras/{camera}/test``),
    optionally after its method (default GET). Answers ``{asked: true|false}``."""
    who = caller(request)
    asked = request.query_params.getlist("path")
    if not asked or len(asked) > MAX_PATHS:
        raise ApiError(422, "invalid", f"path: give 1 to {MAX_PATHS} routes, e.g. "
                       "?path=/api/queues / cần 1 đến 20 đường dẫn", "path")
    answer = {}
    for text in asked:
        method, _, path = text.strip().rpartition(" ")
        found = _find(request.app.routes, (method or "GET").upper(), path)
        if found is None:
            raise ApiError(422, "invalid", f"path: no route {text!r} / không có đường dẫn này",
                           "path")
        roles: frozenset[Role] = getattr(found, "roles", frozenset())
        answer[text] = not roles or who is not None and who.role in roles
    return JSONResponse(answer)


def routes() -> list[BaseRoute]:
    return [route("/api/allowed", allowed, roles=ALL, methods=["GET"])]

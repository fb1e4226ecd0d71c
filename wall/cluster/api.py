"""GET /api/cluster (admins): what runs where, so that a drill knows what to kill.

    {"controllers": [{"id", "pid", "url", "leader"}],
     "media_nodes": [{"id", "pid", "cameras"}],
     "store": {"engine", "ok"}, "bus": {"backend", "ok"}}

No URL in it carries a password: the store's and the bus's URLs are not shown at all.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.wall.access import Role, route
from iocwall.wall.api.common import services
from iocwall.wall.errors import ApiError

READERS = frozenset({Role.ADMIN})


async def cluster(request: Request) -> Response:
    svc = services(request)
    if svc.cluster is None:
        raise ApiError(503, "unavailable", "the server is starting / máy chủ đang khởi động")
    return JSONResponse(await svc.cluster.describe(svc.media))


def routes() -> list[Route]:
    return [route("/api/cluster", cluster, roles=READERS, methods=["GET"])]

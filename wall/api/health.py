"""GET /healthz: is this server, its store and its bus working? No login needed."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.streams.clock import now_iso
from iocwall.wall.access import PUBLIC, route
from iocwall.wall.api.common import services


def iocwall_version() -> str:
    try:
        return version("iocwall")
    except PackageNotFoundError:
        return "0+unknown"


async def healthz(request: Request) -> Response:
    svc = services(request)
    store_ok = await svc.store.ping()
    try:
        bus_ok = await svc.bus.ping()
    except RuntimeError:
        bus_ok = False
    ok = store_ok and bus_ok
    body = {"status": "ok" if ok else "degraded", "version": iocwall_version(),
            "uptime_s": round(svc.uptime_s(), 3), "store": store_ok, "bus": bus_ok,
            "time": now_iso()}
    # 503 lets a load balancer or systemd watchdog act on it without parsing the body.
    return JSONResponse(body, status_code=200 if ok else 503)


def routes() -> list[Route]:
    return [route("/healthz", healthz, roles=PUBLIC, methods=["GET"])]

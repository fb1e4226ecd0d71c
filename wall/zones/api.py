"""Queue zones of a camera over HTTP: read by every viewer, replaced by operators.

    GET /api/cameras/{camera}/zones   -> {"camera", "zones": [{"id", "polygon"}], "size",
                                          "updated_at", "updated_by", "source"}
    PUT /api/cameras/{camera}/zones   {"zones": [{"id": "c1", "polygon": [[x, y], ...]}]}

Polygons are in the pixels of the stream analytics counts (the sub stream when the
camera has one; ``size`` gives its width and height when the stream is up). A bad
polygon answers 422 naming the zone and the reason (analytics.zones.Zone.build).
Registrars see only their own province's cameras (404 for others, as media_api).
"""
from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.analytics.messages import ZoneSpec
from iocwall.analytics.zones import ZoneError
from iocwall.wall.access import Role, principal_of, route
from iocwall.wall.api.announced import announced
from iocwall.wall.api.common import Body, audited, caller, read_body, services
from iocwall.wall.errors import ApiError
from iocwall.wall.media_api import VIEWERS, CameraAccess
from iocwall.wall.registry.scope import visible_camera
from iocwall.wall.zones.store import MAX_ZONES, validated

# Registrars edit their own province's cameras only (the scope check answers 404 for others).
EDITORS = frozenset({Role.ADMIN, Role.OPERATOR, Role.REGISTRAR})
ZONES_CHANGE = "analytics.zones"


class ZoneIn(Body):
    id: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    polygon: list[list[float]] = Field(..., max_length=64)


class ZonesIn(Body):
    zones: list[ZoneIn] = Field(..., max_length=MAX_ZONES)


async def _stream_size(request: Request, camera: str) -> tuple[bool, dict | None]:
    """(known to the media server, {"width", "height"} of the counted stream or None)."""
    media = services(request).media
    if media is None:
        return False, None
    status = await media.camera(camera)
    if status is None:
        return False, None
    health = status.streams.get("sub") or status.streams.get("main")
    if health is None or not health.width:
        return True, None
    return True, {"width": health.width, "height": health.height}


def _checked(body: ZonesIn) -> list[ZoneSpec]:
    seen: set[str] = set()
    specs = []
    for i, zone in enumerate(body.zones):
        if zone.id in seen:
            raise ApiError(422, "invalid", f"zone {zone.id}: the id is used twice / "
                           "mã vùng bị trùng", f"zones.{i}.id")
        seen.add(zone.id)
        try:
            specs.extend(validated([ZoneSpec(zone.id, zone.polygon)]))
        except ZoneError as exc:
            raise ApiError(422, "invalid_zone", f"{exc} / vùng {zone.id} không hợp lệ",
                           f"zones.{i}.polygon") from None
    return specs


def routes(access: CameraAccess | None = None) -> list[BaseRoute]:
    """access: may this caller open this camera? (displays: only their layouts' cameras)."""

    async def camera_of(request: Request) -> tuple[str, dict | None]:
        camera = request.path_params["camera"]
        if access is not None and not await access(principal_of(request), camera):
            raise ApiError(403, "forbidden", "camera not on this display / camera không có "
                           "trên màn hình này")
        svc = services(request)
        registered = await visible_camera(svc.registry, caller(request), camera)
        known, size = await _stream_size(request, camera)
        if registered is None and not known:
            raise ApiError(404, "not_found", "no such camera / không có camera này")
        return camera, size

    async def get_zones(request: Request) -> Response:
        camera, size = await camera_of(request)
        found = await services(request).zones.get(camera)
        return JSONResponse({**found.to_json(), "size": size})

    async def put_zones(request: Request) -> Response:
        camera, size = await camera_of(request)
        specs = _checked(await read_body(request, ZonesIn))
        before, after = await services(request).zones.put(camera, specs, caller(request).name)
        await audited(request, ZONES_CHANGE, f"camera:{camera}",
                      {"zones": before.to_json()["zones"]}, {"zones": after.to_json()["zones"]})
        return JSONResponse({**after.to_json(), "size": size})

    path = "/api/cameras/{camera}/zones"
    return [route(path, get_zones, roles=VIEWERS, methods=["GET"]),
            route(path, announced(put_zones), roles=EDITORS, methods=["PUT"])]

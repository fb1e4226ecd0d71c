"""HTTP face of instant replay: what is buffered, a span as MP4, and exports.

    GET /api/cameras/{id}/replay                      {"streams": {"sub": {"from", "to"}}}
    GET /api/cameras/{id}/replay/{stream}.mp4?start=ISO&duration=S[&download=1]

Same login, roles and camera scoping as live video (``media_api.camera_check``). A span
is played by the browser's own <video> from this URL; ``download=1`` makes it a file
(roles of ``[replay] export_roles``), and every download is audited with who, which
camera and what span.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.streams.clock import iso_from_epoch, parse_iso
from iocwall.streams.contract import MediaService
from iocwall.streams.replay.model import REPLAY_STREAMS
from iocwall.streams.server import MediaError
from iocwall.wall.access import Role, route
from iocwall.wall.api.common import audited, caller
from iocwall.wall.errors import ApiError
from iocwall.wall.media_api import VIEWERS, CameraAccess, api_error, camera_check

MAX_DURATION_S = 600.0
DEFAULT_DURATION_S = 30.0
MP4 = "video/mp4"


def _start(request: Request) -> float:
    text = request.query_params.get("start", "")
    try:
        return parse_iso(text).timestamp()
    except ValueError:
        raise ApiError(422, "invalid", "start: expected an ISO 8601 time, e.g. "
                       "2026-11-23T08:00:00+07:00 / thời điểm không hợp lệ", "start") from None


def _duration(request: Request) -> float:
    text = request.query_params.get("duration", str(DEFAULT_DURATION_S))
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_DURATION_S:
        raise ApiError(422, "invalid", f"duration: seconds, more than 0 and at most "
                       f"{MAX_DURATION_S:.0f} / thời lượng không hợp lệ", "duration")
    return value


def _filename(camera: str, stream: str, start: float) -> str:
    stamp = iso_from_epoch(start)[:19].replace(":", "").replace("-", "")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in camera)
    return f"{safe}-{stream}-{stamp}+0700.mp4"


def routes(media: MediaService, access: CameraAccess | None = None,
           export_roles: Iterable[Role] = (Role.ADMIN, Role.OPERATOR)) -> list[BaseRoute]:
    check = camera_check(access)
    exporters = frozenset(export_roles)

    async def ranges(request: Request) -> Response:
        camera = request.path_params["camera"]
        await check(request, camera)
        try:
            found = await media.replay_ranges(camera)
        except MediaError as exc:
            raise api_error(exc) from None
        return JSONResponse({"streams": {s: {"from": iso_from_epoch(r.start),
                                             "to": iso_from_epoch(r.end)}
                                         for s, r in found.items()}})

    async def clip(request: Request) -> Response:
        camera, stream = request.path_params["camera"], request.path_params["stream"]
        await check(request, camera)
        if stream not in REPLAY_STREAMS:
            raise ApiError(404, "not_found", f"unknown stream '{stream}': main or sub")
        start, duration = _start(request), _duration(request)
        download = request.query_params.get("download", "") in ("1", "true")
        if download and caller(request).role not in exporters:
            raise ApiError(403, "forbidden", "your role may not export clips / vai trò này "
                           "không được tải đoạn phim")
        try:
            found = await media.replay_clip(camera, stream, start, duration)
        except MediaError as exc:
            raise api_error(exc) from None
        headers = {"Cache-Control": "no-store",
                   "X-Replay-Start": iso_from_epoch(found.start),
                   "X-Replay-End": iso_from_epoch(found.end)}
        if download:
            name = _filename(camera, stream, found.start)
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
            await audited(request, "replay.export", f"camera:{camera}", None,
                          {"stream": stream, "from": iso_from_epoch(found.start),
                           "to": iso_from_epoch(found.end), "bytes": len(found.data)})
        return Response(found.data, media_type=MP4, headers=headers)

    base = "/api/cameras/{camera}/replay"
    return [
        route(base, ranges, roles=VIEWERS, methods=["GET"]),
        route(base + "/{stream}.mp4", clip, roles=VIEWERS, methods=["GET"]),
    ]




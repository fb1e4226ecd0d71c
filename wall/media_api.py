"""HTTP face of the media server: camera list, WHEP, snapshots, stream health, /metrics.

    app = build_app(services, extra_routes=[*media_api.routes(services.media)])

No response carries a camera URL: cameras are shown by id, name and state,
and each stream by its WHEP URL on this server.
"""
from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.streams.metrics import CONTENT_TYPE as METRICS_TYPE
from iocwall.streams.cluster import MediaCluster
from iocwall.streams.server import CameraStatus, MediaError, MediaServer
from iocwall.wall.access import Role, principal_of, route
from iocwall.wall.errors import ApiError

T = TypeVar("T")
VIEWERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.TECHNICIAN, Role.DISPLAY})
MONITORS = frozenset({Role.ADMIN, Role.TECHNICIAN, Role.OPERATOR})
MAX_OFFER_BYTES = 64 * 1024
SDP_TYPE = "application/sdp"


def camera_json(cam: CameraStatus) -> dict:
    shown = cam.streams.get("sub") or cam.streams.get("main")
    return {
        "id": cam.id,
        "name": cam.name,
        "location": cam.location,
        "state": cam.state.value,
        "fps": round(shown.fps, 2) if shown else 0.0,
        "whep": {s: f"/api/cameras/{cam.id}/whep/{s}" for s in cam.streams},
        "snapshot": f"/api/cameras/{cam.id}/snapshot.jpg",
        "streams": {s: {"state": h.state.value, "fps": round(h.fps, 2), "width": h.width,
                        "height": h.height, "codec": h.codec, "viewers": h.viewers}
                    for s, h in cam.streams.items()},
    }


def _api_error(exc: MediaError) -> ApiError:
    retry = getattr(exc, "retry_after_s", None)
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return ApiError(exc.status, exc.code, exc.message, headers=headers)


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over ``limit`` without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"body over {limit} bytes / nội dung quá lớn")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "too_large", f"body over {limit} bytes / nội dung quá lớn")
    return bytes(body)


async def _resolved(value: T | Awaitable[T]) -> T:
    """The in-process MediaServer answers at once; MediaCluster (media in other
    processes) answers the same questions asynchronously."""
    if inspect.isawaitable(value):
        return await value
    return value


def _user(request: Request) -> str:
    who = principal_of(request)
    return who.name if who is not None else ""


def routes(media: MediaServer | MediaCluster) -> list[BaseRoute]:
    """The media endpoints, each guarded by its roles."""

    async def list_cameras(request: Request) -> Response:
        return JSONResponse([camera_json(c) for c in await _resolved(media.cameras())])

    async def get_camera(request: Request) -> Response:
        cam = await _resolved(media.camera(request.path_params["camera"]))
        if cam is None:
            raise ApiError(404, "not_found", "no such camera / không có camera này")
        return JSONResponse(camera_json(cam))

    async def whep_offer(request: Request) -> Response:
        camera, stream = request.path_params["camera"], request.path_params["stream"]
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != SDP_TYPE:
            raise ApiError(415, "unsupported_media_type",
                           f"send the SDP offer as {SDP_TYPE} / hãy gửi SDP")
        body = await _read_limited(request, MAX_OFFER_BYTES)
        try:
            offer = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_sdp", "SDP offer is not UTF-8 text") from None
        try:
            session, answer = await media.whep_offer(camera, stream, offer, _user(request))
        except MediaError as exc:
            raise _api_error(exc) from None
        location = f"/api/cameras/{camera}/whep/{stream}/{session.id}"
        return Response(answer, status_code=201, media_type=SDP_TYPE,
                        headers={"Location": location, "ETag": f'"{session.id}"'})

    async def whep_delete(request: Request) -> Response:
        p = request.path_params
        session = await _resolved(media.find_session(p["session"]))
        if session is None or (session.camera, session.stream) != (p["camera"], p["stream"]):
            raise ApiError(404, "not_found", "no such viewer session")
        await media.whep_delete(session.id)
        return Response(status_code=200)

    async def snapshot(request: Request) -> Response:
        stream = request.query_params.get("stream", "main")
        try:
            snap = await media.snapshot(request.path_params["camera"], stream)
        except MediaError as exc:
            raise _api_error(exc) from None
        return Response(snap.jpeg, media_type="image/jpeg",
                        headers={"Cache-Control": "no-store"})

    async def stream_health(request: Request) -> Response:
        return JSONResponse([h.to_json() for h in await _resolved(media.health())])

    async def metrics(request: Request) -> Response:
        return Response(await _resolved(media.metrics_text()),
                        headers={"Content-Type": METRICS_TYPE})

    base = "/api/cameras/{camera}"
    return [
        route("/api/cameras", list_cameras, roles=VIEWERS, methods=["GET"]),
        route(base, get_camera, roles=VIEWERS, methods=["GET"]),
        route(base + "/whep/{stream}", whep_offer, roles=VIEWERS, methods=["POST"]),
        route(base + "/whep/{stream}/{session}", whep_delete, roles=VIEWERS,
              methods=["DELETE"]),
        route(base + "/snapshot.jpg", snapshot, roles=VIEWERS, methods=["GET"]),
        route("/api/streams/health", stream_health, roles=MONITORS, methods=["GET"]),
        route("/metrics", metrics, roles=MONITORS, methods=["GET"]),
    ]

"""HTTP face of the media server: camera list, WHEP, snapshots, stream health, /metrics.

    app = build_app(services)      # wall/routes.py adds media_api.routes(services.media)

No response carries a camera URL: cameras are shown by id, name and state,
and each stream by its WHEP URL on this server.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from iocwall.streams.contract import MediaService
from iocwall.streams.metrics import CONTENT_TYPE as METRICS_TYPE
from iocwall.streams.server import CameraStatus, MediaError
from iocwall.wall.access import Principal, Role, principal_of, route
from iocwall.wall.api.common import audited, caller
from iocwall.wall.errors import ApiError
from iocwall.wall.http.body import media_type, read_bytes
from iocwall.wall.registry.model import RegisteredCamera
from iocwall.wall.registry.scope import province_of, visible_camera
from iocwall.wall.registry.store import Registry

# Registrars see their own province's cameras only (wall/registry/scope.py).
VIEWERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.TECHNICIAN, Role.DISPLAY,
                     Role.REGISTRAR})
MONITORS = frozenset({Role.ADMIN, Role.TECHNICIAN, Role.OPERATOR})
MAX_OFFER_BYTES = 64 * 1024       # an offer is a few KB; far below [server] max_body_bytes
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


CameraAccess = Callable[[Principal | None, str], Awaitable[bool]]


def _registered(cam: RegisteredCamera | None) -> dict:
    """The registry's fields of a camera (never its credentials)."""
    if cam is None:
        return {}
    fields = cam.public()
    return {k: fields[k] for k in ("province", "centre", "onvif", "transport",
                                   "allow_basic_auth", "tags", "has_credentials", "last_test")}


def _registry(request: Request) -> Registry | None:
    """The registry, when these routes run inside the full app (tests may mount them alone)."""
    svc = getattr(request.app.state, "services", None)
    return svc.registry if svc is not None else None


async def _visible(request: Request, camera_id: str) -> RegisteredCamera | None:
    """The camera's registry entry; 404 for a registrar outside its province."""
    registry = _registry(request)
    who = caller(request)
    if registry is None:
        if province_of(who) is not None:
            raise ApiError(404, "not_found", "no such camera / không có camera này")
        return None
    return await visible_camera(registry, who, camera_id)


def _user(request: Request) -> str:
    """The viewer a WHEP session is recorded under: unique per caller (usernames hold no
    ':', tokens are "token:<unique label>", display nodes "display:<node id>")."""
    who = principal_of(request)
    return who.name if who is not None else ""


def _may_end(who: Principal, viewer: str) -> bool:
    """May ``who`` end a viewer session opened by ``viewer``? Its owner, or an admin."""
    return who.role is Role.ADMIN or (viewer != "" and viewer == who.name)


CameraCheck = Callable[[Request, str], Awaitable[RegisteredCamera | None]]


def camera_check(access: CameraAccess | None) -> CameraCheck:
    """May this request open this camera? The one rule for live video, snapshots and
    replay: a display only the cameras on its layouts (403), a registrar only its own
    province's (404, as for an unknown camera)."""
    async def check(request: Request, camera: str) -> RegisteredCamera | None:
        if access is not None and not await access(principal_of(request), camera):
            raise ApiError(403, "forbidden", "camera not on this display / camera không có "
                           "trên màn hình này")
        return await _visible(request, camera)
    return check


def api_error(exc: MediaError) -> ApiError:
    """A media refusal as the API's error (status, code, message, Retry-After)."""
    return _api_error(exc)


def routes(media: MediaService, access: CameraAccess | None = None,
           extra_metrics: Callable[[], str] | None = None) -> list[BaseRoute]:
    """The media endpoints, each guarded by its roles.

    access: may this caller open this camera? (a display session: only the cameras on
        its layouts, decided by the walls); None = every viewer role sees every camera.
    A registrar sees only its own province's cameras (the registry decides).
    extra_metrics: more Prometheus text for /metrics (the analytics tap's counters).
    """

    check = camera_check(access)

    async def list_cameras(request: Request) -> Response:
        who = principal_of(request)
        limit = province_of(caller(request))
        registry = _registry(request)
        found = await registry.cameras(limit) if registry is not None else []
        registered = {c.id: c for c in found}
        await media.refresh()
        cams = [c for c in await media.cameras()
                if limit is None or c.id in registered]
        if access is not None and who is not None and who.role is Role.DISPLAY:
            cams = [c for c in cams if await access(who, c.id)]
        return JSONResponse([{**camera_json(c), **_registered(registered.get(c.id))}
                             for c in cams])

    async def get_camera(request: Request) -> Response:
        camera_id = request.path_params["camera"]
        reg = await check(request, camera_id)
        await media.refresh()
        cam = await media.camera(camera_id)
        if cam is None:
            try:                                         # 410 "removed" if it was deleted
                await media.check_camera(camera_id)
            except MediaError as exc:
                raise _api_error(exc) from None
            raise ApiError(404, "not_found", "no such camera / không có camera này")
        return JSONResponse({**camera_json(cam), **_registered(reg)})

    async def whep_offer(request: Request) -> Response:
        camera, stream = request.path_params["camera"], request.path_params["stream"]
        await check(request, camera)
        if media_type(request) != SDP_TYPE:             # a body-less POST included
            raise ApiError(415, "unsupported_media_type",
                           f"send the SDP offer as {SDP_TYPE} / hãy gửi SDP")
        body = await read_bytes(request, MAX_OFFER_BYTES)
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
        who = caller(request)
        await _visible(request, p["camera"])
        session = await media.find_session(p["session"])
        # Only the viewer who opened it (or an admin) ends a session; anyone else gets the
        # same 404 as for an unknown id, so knowing an id confirms nothing.
        if session is None or (session.camera, session.stream) != (p["camera"], p["stream"]) \
                or not _may_end(who, session.user):
            raise ApiError(404, "not_found", "no such viewer session")
        await media.whep_delete(session.id)
        if session.user != _user(request):
            await audited(request, "whep.delete", f"camera:{session.camera}/whep:{session.id}",
                          {"viewer": session.user, "stream": session.stream}, None)
        return Response(status_code=200)

    async def snapshot(request: Request) -> Response:
        stream = request.query_params.get("stream", "main")
        await check(request, request.path_params["camera"])
        try:
            snap = await media.snapshot(request.path_params["camera"], stream)
        except MediaError as exc:
            raise _api_error(exc) from None
        return Response(snap.jpeg, media_type="image/jpeg",
                        headers={"Cache-Control": "no-store"})

    async def stream_health(request: Request) -> Response:
        return JSONResponse([h.to_json() for h in await media.health()])

    async def media_nodes(request: Request) -> Response:
        """The media processes (nodes): state and newest heartbeat; [] when media runs
        inside the web process."""
        return JSONResponse(await media.media_nodes())

    async def metrics(request: Request) -> Response:
        text = await media.metrics_text() + (extra_metrics() if extra_metrics else "")
        return Response(text, headers={"Content-Type": METRICS_TYPE})

    base = "/api/cameras/{camera}"
    return [
        route("/api/cameras", list_cameras, roles=VIEWERS, methods=["GET"]),
        route(base, get_camera, roles=VIEWERS, methods=["GET"]),
        route(base + "/whep/{stream}", whep_offer, roles=VIEWERS, methods=["POST"],
              accepts=SDP_TYPE),
        route(base + "/whep/{stream}/{session}", whep_delete, roles=VIEWERS,
              methods=["DELETE"]),
        route(base + "/snapshot.jpg", snapshot, roles=VIEWERS, methods=["GET"]),
        route("/api/streams/health", stream_health, roles=MONITORS, methods=["GET"]),
        route("/api/streams/nodes", media_nodes, roles=MONITORS, methods=["GET"]),
        route("/metrics", metrics, roles=MONITORS, methods=["GET"]),
    ]

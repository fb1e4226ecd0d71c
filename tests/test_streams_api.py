"""The media HTTP API (wall/media_api.py) over a real ASGI app, real cameras, real WHEP."""
from __future__ import annotations

import contextlib

import cv2
import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware

from iocwall.wall import media_api
from iocwall.wall.access import Principal, Role
from iocwall.wall.errors import ApiError, api_error_handler, http_error_handler
from tests.streams_helpers import media_server, sim_cameras
from tests.test_streams_units import parse_prometheus
from tests.waiting import wait_until
from tests.whep_client import Viewer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def build(media, role: Role | None) -> Starlette:  # noqa: ANN001
    """The media routes behind a stand-in for the auth middleware (it sets the principal)."""
    app = Starlette(routes=media_api.routes(media),
                    exception_handlers={ApiError: api_error_handler,
                                        HTTPException: http_error_handler})

    async def as_user(request, call_next):  # noqa: ANN001, ANN202
        if role is not None:
            request.state.principal = Principal("tester", role)
        return await call_next(request)

    app.add_middleware(BaseHTTPMiddleware, dispatch=as_user)
    return app


@contextlib.asynccontextmanager
async def client(media, role: Role | None = Role.OPERATOR):  # noqa: ANN001, ANN201
    transport = httpx.ASGITransport(app=build(media, role))
    async with httpx.AsyncClient(transport=transport, base_url="http://wall") as c:
        yield c


async def play_via_api(c: httpx.AsyncClient, path: str) -> tuple[Viewer, httpx.Response]:
    viewer = Viewer()
    holder: dict = {}

    async def post(sdp: str) -> str:
        r = await c.post(path, content=sdp, headers={"Content-Type": "application/sdp"})
        holder["r"] = r
        assert r.status_code == 201, r.text
        return r.text

    await viewer.play(post)
    return viewer, holder["r"]


async def test_list_play_delete_snapshot_health_metrics_without_credentials(simulator):
    bodies: list[str] = []
    async with media_server(sim_cameras(simulator, 2)) as media, client(media) as c:
        r = await c.get("/api/cameras")
        bodies.append(r.text)
        cams = r.json()
        assert [x["id"] for x in cams] == ["cam1", "cam2"]
        assert cams[0]["whep"] == {"main": "/api/cameras/cam1/whep/main",
                                   "sub": "/api/cameras/cam1/whep/sub"}
        assert cams[0]["state"] == "idle" and cams[0]["location"] == "Quầy 1"

        viewer, r = await play_via_api(c, cams[0]["whep"]["sub"])
        bodies.append(r.text)
        assert r.headers["content-type"].startswith("application/sdp")
        location = r.headers["location"]
        assert location.startswith("/api/cameras/cam1/whep/sub/")
        await viewer.first_frame(15)
        assert (viewer.frames[0].width, viewer.frames[0].height) == (640, 360)
        assert "H264" in r.text

        cam = (await c.get("/api/cameras/cam1")).json()
        assert cam["state"] == "live" and cam["streams"]["sub"]["viewers"] == 1

        snap = await c.get("/api/cameras/cam1/snapshot.jpg")
        assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(snap.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (1080, 1920)
        sub = await c.get("/api/cameras/cam1/snapshot.jpg?stream=sub")
        assert cv2.imdecode(np.frombuffer(sub.content, np.uint8), 1).shape[:2] == (360, 640)

        health = await c.get("/api/streams/health")
        bodies.append(health.text)
        live = [h for h in health.json() if h["camera"] == "cam1" and h["stream"] == "sub"][0]
        assert live["state"] == "live" and live["fps"] > 5 and live["width"] == 640

        metrics = await c.get("/metrics")
        bodies.append(metrics.text)
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = parse_prometheus(metrics.text)
        assert samples['iocwall_stream_viewers{camera="cam1",stream="sub"}'] == 1
        assert samples["iocwall_webrtc_sessions"] == 1
        assert "iocwall_transcode_fallback_total" in samples

        assert (await c.delete(location)).status_code == 200
        assert (await c.delete(location)).status_code == 404
        await viewer.close()
        assert media.channel("cam1", "sub").users == 0
        bodies.append((await c.get("/api/cameras")).text)
    for body in bodies:
        assert simulator.password not in body and "admin:" not in body
        assert "rtsp://" not in body


async def test_bad_requests_get_one_clear_json_error(simulator):
    async with media_server(sim_cameras(simulator, 1), max_sessions=1) as media, \
            client(media) as c:
        sdp = {"Content-Type": "application/sdp"}
        r = await c.get("/api/cameras/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await c.post("/api/cameras/nope/whep/sub", content="v=0\r\nm=video 9\r\n",
                         headers=sdp)
        assert r.status_code == 404
        r = await c.post("/api/cameras/cam1/whep/third", content="v=0", headers=sdp)
        assert r.status_code == 404
        r = await c.post("/api/cameras/cam1/whep/sub", content="hello", headers=sdp)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_sdp"
        r = await c.post("/api/cameras/cam1/whep/sub",
                         content="v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nbroken\r\n",
                         headers=sdp)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_sdp"
        r = await c.post("/api/cameras/cam1/whep/sub", content="v=0",
                         headers={"Content-Type": "application/json"})
        assert r.status_code == 415
        r = await c.post("/api/cameras/cam1/whep/sub", content="v=0\n" + "a" * 70_000,
                         headers=sdp)
        assert r.status_code == 413
        r = await c.get("/api/cameras/nope/snapshot.jpg")
        assert r.status_code == 404
        # one session allowed: the second viewer is refused with 503, the first plays on
        viewer, _ = await play_via_api(c, "/api/cameras/cam1/whep/sub")
        second = Viewer()
        await second.pc.setLocalDescription(await second.pc.createOffer())
        r = await c.post("/api/cameras/cam1/whep/sub", content=second.pc.localDescription.sdp,
                         headers=sdp)
        assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
        assert r.headers["retry-after"] == "5"
        await second.close()
        await viewer.first_frame(15)
        await viewer.close()
        for body in (r.text,):
            assert "Traceback" not in body


async def test_roles_guard_every_route(simulator):
    async with media_server(sim_cameras(simulator, 1)) as media:
        async with client(media, None) as c:
            for path in ("/api/cameras", "/api/streams/health", "/metrics",
                         "/api/cameras/cam1/snapshot.jpg"):
                assert (await c.get(path)).status_code == 401, path
        async with client(media, Role.DISPLAY) as c:
            assert (await c.get("/api/cameras")).status_code == 200
            assert (await c.get("/metrics")).status_code == 403
        async with client(media, Role.REGISTRAR) as c:
            # a registrar sees only its province's registered cameras: none without a registry
            listed = await c.get("/api/cameras")
            assert listed.status_code == 200 and listed.json() == []
            assert (await c.get("/api/cameras/cam1")).status_code == 404
            assert (await c.get("/api/streams/health")).status_code == 403
        async with client(media, Role.TECHNICIAN) as c:
            assert (await c.get("/metrics")).status_code == 200
    for r in media_api.routes(media):
        assert r.roles, f"{r.path} must declare its roles"


async def test_lost_camera_reports_state_and_snapshot_refuses_cleanly(simulator):
    cams = sim_cameras(simulator, 1)
    cams[0].password = "wrong-password"
    async with media_server(cams) as media, client(media) as c:
        r = await c.get("/api/cameras/cam1/snapshot.jpg?stream=sub")
        assert r.status_code == 503 and r.json()["error"]["code"] == "no_signal"
        async def lost() -> bool:
            state = (await c.get("/api/cameras/cam1")).json()["streams"]["sub"]["state"]
            return state == "lost"
        await wait_until(lost, 5, "cam1/sub lost")
        health = (await c.get("/api/streams/health")).text
        assert "wrong-password" not in health and "sim-pass" not in health
        sub = [h for h in (await c.get("/api/streams/health")).json() if h["stream"] == "sub"]
        assert "401" in sub[0]["error"] and sub[0]["reconnects"] >= 1

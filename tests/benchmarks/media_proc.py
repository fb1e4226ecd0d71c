"""The media server under benchmark, as its own process (so its CPU is measured alone).

    python tests/benchmarks/media_proc.py --port P --rtsp rtsp://127.0.0.1:R --cameras N
        [--transport auto|tcp|udp]

env BENCH_INGEST=pyav|rtp picks the ingest (default: the config default).

Serves, on 127.0.0.1:P:
- iocwall's real media routes (``iocwall.wall.media_api``) on a real ``MediaServer``:
  POST /api/cameras/camK/whep/{main|sub} (WHEP, H.264 passthrough). The caller
  is taken as an admin (login is not what is measured here).
- POST /bench/ordinary/camK/{main|sub}: what a plain aiortc app does with the same
  stream: ``MediaPlayer(decode=True)`` + ``MediaRelay``, aiortc re-encoding H.264
  for every viewer. The baseline of bench_media_cpu.
- GET /bench/stats: stream health, viewer sessions and units each passthrough track sent.
With ``--replay-sub S`` / ``--replay-main S`` every camera is buffered for instant replay
(S seconds of that stream) and the replay routes (``iocwall.wall.replay_api``) are served;
/bench/stats then adds the buffers' figures (in-process media only).
With ``--processes N`` (N > 1) the media routes are served by a ``MediaCluster`` of N
media processes (the ordinary baseline stays in this process).
Prints READY when listening; SIGTERM stops everything.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
from dataclasses import dataclass, replace

import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iocwall.streams import ice
from iocwall.streams.cluster import MediaCluster
from iocwall.streams.server import MediaServer
from iocwall.streams.settings import ReplaySettings
from iocwall.wall import media_api, replay_api
from iocwall.wall.access import Principal, Role
from iocwall.wall.config import StreamsConfig, WebRTCConfig, stream_settings
from iocwall.wall.errors import ApiError, api_error_handler

LOOPBACK = ice.IceSettings(addresses=("127.0.0.1",))


@dataclass
class Cam:
    id: str
    name: str
    main_url: str
    sub_url: str
    username: str = ""
    password: str = ""
    location: str = ""
    transport: str = "auto"    # RTP from the camera: auto | tcp | udp


class Ordinary:
    """The plain aiortc way: one decoding player per stream, relayed, encoded per viewer."""

    def __init__(self, rtsp: str) -> None:
        self.rtsp = rtsp
        self.players: dict[tuple[str, str], tuple[MediaPlayer, MediaRelay]] = {}
        self.pcs: set[RTCPeerConnection] = set()

    async def offer(self, camera: str, stream: str, sdp: str) -> str:
        key = (camera, stream)
        if key not in self.players:
            player = MediaPlayer(f"{self.rtsp}/{camera}/{stream}", decode=True,
                                 options={"rtsp_transport": "tcp"})
            self.players[key] = (player, MediaRelay())
        player, relay = self.players[key]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.add(pc)
        transceiver = pc.addTransceiver(relay.subscribe(player.video, buffered=False),
                                        direction="sendonly")
        # H.264 like the passthrough path, so both send the same codec.
        h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs
                if c.mimeType.lower() == "video/h264"]
        transceiver.setCodecPreferences(h264)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.pcs.discard(pc)
                await pc.close()

        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        ice.apply(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def stop(self) -> None:
        await asyncio.gather(*(pc.close() for pc in list(self.pcs)), return_exceptions=True)
        for player, _ in self.players.values():
            if player.video is not None:
                player.video.stop()


def build(media: MediaServer | MediaCluster, ordinary: Ordinary):  # noqa: ANN201 - an ASGI app
    async def ordinary_offer(request: Request) -> Response:
        p = request.path_params
        answer = await ordinary.offer(p["camera"], p["stream"], (await request.body()).decode())
        return Response(answer, status_code=201, media_type="application/sdp")

    async def stats(request: Request) -> Response:
        if isinstance(media, MediaCluster):
            health = await media.health()
            sessions = [{"camera": s.camera, "stream": s.stream, "node": s.node}
                        for s in await media.session_refs()]
        else:
            health = await media.health()
            sessions = [{"camera": s.camera, "stream": s.stream, "passthrough": s.passthrough,
                         "units_sent": getattr(s.track, "units_sent", None)}
                        for s in media.sessions.all()]
        drops = {f"{h.camera}/{h.stream}": h.drops for h in health}
        replay = media.replay.stats() if isinstance(media, MediaServer) else {}
        return JSONResponse({"health": [h.to_json() for h in health], "replay": replay,
                             "sessions": sessions, "fanout_drops": drops,
                             "ordinary_viewers": len(ordinary.pcs)})

    routes = [*media_api.routes(media), *replay_api.routes(media),
              Route("/bench/ordinary/{camera}/{stream}", ordinary_offer, methods=["POST"]),
              Route("/bench/stats", stats, methods=["GET"])]
    app = Starlette(routes=routes, exception_handlers={ApiError: api_error_handler})
    admin = Principal("bench", Role.ADMIN)

    async def as_admin(scope, receive, send):  # noqa: ANN001, ANN202 - plain ASGI wrapper
        if scope["type"] == "http":
            scope.setdefault("state", {})["principal"] = admin
        await app(scope, receive, send)

    return as_admin


async def serve(args: argparse.Namespace) -> None:
    cams = [Cam(f"cam{k}", f"cam{k}", f"{args.rtsp}/cam{k}/main", f"{args.rtsp}/cam{k}/sub",
                transport=args.transport) for k in range(1, args.cameras + 1)]
    streams = StreamsConfig(linger_s=args.linger, stall_timeout_s=2.0, lost_timeout_s=6.0,
                            open_timeout_s=5.0, reconnect_min_s=0.2, reconnect_max_s=2.0,
                            **({"ingest": os.environ["BENCH_INGEST"]}      # pyav | rtp
                               if os.environ.get("BENCH_INGEST") else {}))
    webrtc = WebRTCConfig(ice_addresses=["127.0.0.1"])
    replay = ReplaySettings(cameras="all" if args.replay_sub or args.replay_main else "none",
                            sub_seconds=args.replay_sub, main_seconds=args.replay_main)
    media: MediaServer | MediaCluster
    # no session limits: every benchmark viewer is the one user "bench"
    streams = streams.model_copy(update={"max_sessions": 0, "max_sessions_per_user": 0,
                                         "max_sessions_per_camera": 0})
    if args.processes > 1:
        media = MediaCluster(replace(stream_settings(streams, webrtc), replay=replay), cams,
                             args.processes, log_level=logging.WARNING)
    else:
        media = MediaServer(replace(stream_settings(streams, webrtc), replay=replay), cams)
    ordinary = Ordinary(args.rtsp)
    await media.start()
    server = uvicorn.Server(uvicorn.Config(build(media, ordinary), host="127.0.0.1",
                                           port=args.port, log_level="warning", lifespan="off"))

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        print("READY", flush=True)

    task = asyncio.create_task(announce())
    try:
        await server.serve()      # returns on SIGTERM / SIGINT (uvicorn's own handlers)
    finally:
        task.cancel()
        await ordinary.stop()
        await asyncio.wait_for(media.stop(), 10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rtsp", required=True, help="rtsp://HOST:PORT of the simulator")
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--linger", type=float, default=1.0)
    parser.add_argument("--processes", type=int, default=1, help="media processes (1 = here)")
    parser.add_argument("--replay-sub", type=float, default=0.0,
                        help="seconds of every sub stream buffered for replay (0 = off)")
    parser.add_argument("--replay-main", type=float, default=0.0,
                        help="seconds of every main stream buffered for replay (0 = off)")
    parser.add_argument("--transport", choices=("auto", "tcp", "udp"), default="auto",
                        help="RTP transport of every camera")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("iocwall").setLevel(logging.INFO)   # sessions opened/closed, states
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

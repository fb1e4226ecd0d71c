"""WHEP sessions: an SDP offer in, an SDP answer out, one aiortc peer per viewer.

Signalling is one round trip (no trickle): the answer carries every host
candidate. H.264 is forced in passthrough (otherwise aiortc picks VP8 and the
camera's bytes would be sent under the wrong codec), with the camera's own
profile first. aiortc 1.16 only knows Constrained Baseline, so Main and High
are added to its codec table once (``ensure_h264_profiles``); the passthrough
path never runs aiortc's encoder, so the profile is only a label to agree on.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecCapability, RTCRtpCodecParameters

from iocwall.streams import ice
from iocwall.streams.track import FanoutTrack, PassthroughTrack, attach_keyframe_requests

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
CONNECT_TIMEOUT_S = 20.0
# profile-level-ids added next to aiortc's 42001f/42e01f; level 3.1 like the others,
# with level-asymmetry-allowed so a higher-level camera stream is still acceptable.
EXTRA_PROFILES = {"4d001f": 103, "64001f": 105}
H264_PARAMS = {"level-asymmetry-allowed": "1", "packetization-mode": "1"}


class WhepError(Exception):
    """A refused offer; ``status`` and ``code`` map straight to the HTTP reply."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def ensure_h264_profiles() -> None:
    """Teach aiortc to negotiate H.264 Main and High (idempotent, process-wide)."""
    known = {c.parameters.get("profile-level-id") for c in CODECS["video"]}
    for plid, pt in EXTRA_PROFILES.items():
        if plid in known:
            continue
        CODECS["video"] += [
            RTCRtpCodecParameters(
                mimeType="video/H264", clockRate=90000, payloadType=pt,
                rtcpFeedback=[RTCRtcpFeedback(type="nack"),
                              RTCRtcpFeedback(type="nack", parameter="pli"),
                              RTCRtcpFeedback(type="goog-remb")],
                parameters={**H264_PARAMS, "profile-level-id": plid}),
            RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000,
                                  payloadType=pt + 1, parameters={"apt": pt}),
        ]


def h264_preferences(camera_plid: str | None) -> list[RTCRtpCodecCapability]:
    """H.264 capabilities, the camera's profile first, then RTX."""
    ensure_h264_profiles()
    codecs = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in codecs if c.name.lower() == "h264"]
    # the camera's own profile, then the closest richer-to-simpler fallbacks
    want = (camera_plid or "42e01f")[:2].lower()
    order = [want] + [p for p in ("64", "4d", "42") if p != want]

    def rank(c: RTCRtpCodecCapability) -> tuple[int, bool]:
        plid = str(c.parameters.get("profile-level-id", "")).lower()
        idc = plid[:2]
        return (order.index(idc) if idc in order else len(order), plid != "42e01f")

    h264.sort(key=rank)
    return h264 + [c for c in codecs if c.name.lower() == "rtx"]


@dataclass
class WhepSession:
    id: str
    camera: str
    stream: str
    pc: RTCPeerConnection
    track: FanoutTrack
    passthrough: bool
    created: float = field(default_factory=time.monotonic)
    channel: RTCDataChannel | None = None    # when the viewer opened one

    def notify(self, message: dict) -> None:
        """Send a JSON event (e.g. signal lost) on the viewer's data channel, if any."""
        channel = self.channel
        if channel is not None and getattr(channel, "readyState", "") == "open":
            channel.send(json.dumps(message))


TrackFactory = Callable[[bool], FanoutTrack]


class WhepSessions:
    """All live viewer sessions; each is closed by DELETE, by its peer, or by stop."""

    def __init__(self, ice_settings: ice.IceSettings, max_sessions: int = 64) -> None:
        self._ice = ice_settings
        self._max = max_sessions
        self._sessions: dict[str, WhepSession] = {}
        self._tasks: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> WhepSession | None:
        return self._sessions.get(session_id)

    def all(self) -> list[WhepSession]:
        return list(self._sessions.values())

    async def offer(self, camera: str, stream: str, sdp: str, make_track: TrackFactory,
                    camera_plid: str | None, passthrough: bool) -> tuple[WhepSession, str]:
        """Answer a viewer's offer; raises WhepError for anything the viewer got wrong."""
        check_offer(sdp)
        if len(self._sessions) >= self._max:
            raise WhepError(503, "too_many_sessions",
                            f"{self._max} viewers already / đã đủ {self._max} người xem")
        if passthrough and "h264/90000" not in sdp.lower():
            log.info("%s/%s: viewer offers no H.264: transcoding", camera, stream)
            passthrough = False
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            session = await self._negotiate(pc, camera, stream, sdp, make_track,
                                            camera_plid, passthrough)
        except BaseException:
            await pc.close()
            raise
        self._sessions[session.id] = session
        self._watch(session)
        return session, pc.localDescription.sdp

    async def _negotiate(self, pc: RTCPeerConnection, camera: str, stream: str, sdp: str,
                         make_track: TrackFactory, plid: str | None,
                         passthrough: bool) -> WhepSession:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        if passthrough:
            transceiver.setCodecPreferences(h264_preferences(plid))
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:       # aiortc rejects bad SDP with assorted exceptions
            raise WhepError(400, "bad_sdp", f"unusable SDP offer: {_one_line(exc)}") from None
        if transceiver.mid is None:
            raise WhepError(400, "bad_sdp", "the offer has no video the server can send to")
        track = make_track(passthrough)
        transceiver.sender.replaceTrack(track)
        if isinstance(track, PassthroughTrack):
            attach_keyframe_requests(transceiver.sender, track)
        session = WhepSession(secrets.token_urlsafe(12), camera, stream, pc, track, passthrough)

        @pc.on("datachannel")
        def _on_channel(channel: RTCDataChannel) -> None:
            session.channel = channel

        ice.apply(pc, self._ice)
        await pc.setLocalDescription(await pc.createAnswer())
        return session

    def _watch(self, session: WhepSession) -> None:
        pc = session.pc

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        async def _deadline() -> None:
            await asyncio.sleep(CONNECT_TIMEOUT_S)
            if pc.connectionState != "connected":
                log.info("%s: viewer never connected; closing", session.id)
                await self.close(session.id)

        task = asyncio.ensure_future(_deadline())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, session_id: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.track.stop()
        await session.pc.close()
        log.info("closed viewer session %s (%s/%s)", session.id, session.camera, session.stream)
        return True

    async def close_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(self.close(sid) for sid in list(self._sessions)))


def check_offer(sdp: object) -> None:
    if not isinstance(sdp, str) or not sdp.strip():
        raise WhepError(400, "bad_sdp", "empty SDP offer / thiếu SDP")
    if len(sdp) > MAX_SDP_BYTES:
        raise WhepError(413, "too_large", f"SDP offer over {MAX_SDP_BYTES} bytes")
    if not sdp.lstrip().startswith("v=0") or "m=video" not in sdp:
        raise WhepError(400, "bad_sdp", "not an SDP offer with a video section "
                                        "/ SDP không có phần video")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__

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
from collections import Counter
from collections.abc import Callable, Coroutine
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

from iocwall.streams import ice, rtploop
from iocwall.streams.limits import Admission, CloseReason, SessionLimits, WhepError, check_offer
from iocwall.streams.sendpath import Pacer, pace, use_prepacked
from iocwall.streams.track import FanoutTrack, PassthroughTrack, attach_keyframe_requests

log = logging.getLogger(__name__)

__all__ = ["CloseReason", "WhepError", "WhepSession", "WhepSessions", "check_offer"]

CONNECT_TIMEOUT_S = 20.0
# profile-level-ids added next to aiortc's 42001f/42e01f; level 3.1 like the others,
# with level-asymmetry-allowed so a higher-level camera stream is still acceptable.
EXTRA_PROFILES = {"4d001f": 103, "64001f": 105}
H264_PARAMS = {"level-asymmetry-allowed": "1", "packetization-mode": "1"}


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
    user: str = ""
    created: float = field(default_factory=time.monotonic)
    channel: RTCDataChannel | None = None    # when the viewer opened one
    pacer: Pacer | None = None
    closed_because: CloseReason | None = None

    def notify(self, message: dict) -> None:
        """Send a JSON event (e.g. signal lost) on the viewer's data channel, if any."""
        channel = self.channel
        if channel is not None and getattr(channel, "readyState", "") == "open":
            channel.send(json.dumps(message))


TrackFactory = Callable[[bool], FanoutTrack]


class WhepSessions:
    """All live viewer sessions; each is closed by DELETE, by its peer, or by stop."""

    def __init__(self, ice_settings: ice.IceSettings,
                 limits: SessionLimits | None = None) -> None:
        self._ice = ice_settings
        self.admission = Admission(limits or SessionLimits())
        self._sessions: dict[str, WhepSession] = {}
        self._tasks: set[asyncio.Task] = set()
        self.closed: Counter[CloseReason] = Counter()
        self.on_close: Callable[[WhepSession, CloseReason], None] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> WhepSession | None:
        return self._sessions.get(session_id)

    def all(self) -> list[WhepSession]:
        return list(self._sessions.values())

    def reserve(self, user: str, camera: str) -> None:
        """Count a viewer in before its offer is worked on; raises WhepError(503) past a
        limit. Pair with ``offer`` (which keeps or gives back the place) or ``unreserve``."""
        self.admission.check(user, camera)
        self.admission.add(user, camera)

    def unreserve(self, user: str, camera: str) -> None:
        self.admission.remove(user, camera)

    async def offer(self, camera: str, stream: str, sdp: str, make_track: TrackFactory,
                    camera_plid: str | None, passthrough: bool,
                    user: str = "") -> tuple[WhepSession, str]:
        """Answer a reserved viewer's offer; raises WhepError for anything it got wrong.

        On any failure everything made for it is undone: the peer is closed, the
        track stopped (which releases its subscription and channel), the place freed.
        """
        if passthrough and "h264/90000" not in sdp.lower():
            log.info("%s/%s: viewer offers no H.264: transcoding", camera, stream)
            passthrough = False
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        made: list[FanoutTrack] = []

        def tracked(pt: bool) -> FanoutTrack:
            made.append(make_track(pt))
            return made[-1]

        try:
            session = await self._negotiate(pc, camera, stream, sdp, tracked,
                                            camera_plid, passthrough)
        except BaseException:
            for track in made:
                track.stop()
            await pc.close()
            self.unreserve(user, camera)
            raise
        session.user = user
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
        except Exception as exc:  # noqa: BLE001 - aiortc rejects bad SDP in assorted ways
            raise WhepError(400, "bad_sdp", f"unusable SDP offer: {_one_line(exc)}") from None
        if transceiver.mid is None:
            raise WhepError(400, "bad_sdp", "the offer has no video the server can send to")
        track = make_track(passthrough)
        sender = transceiver.sender
        sender.replaceTrack(track)
        pacer = None
        if isinstance(track, PassthroughTrack):
            attach_keyframe_requests(sender, track)
            use_prepacked(sender)
            rtploop.install(sender)
        session = WhepSession(secrets.token_urlsafe(12), camera, stream, pc, track, passthrough)

        @pc.on("datachannel")
        def _on_channel(channel: RTCDataChannel) -> None:
            session.channel = channel

        ice.apply(pc, self._ice)
        await pc.setLocalDescription(await pc.createAnswer())
        if isinstance(track, PassthroughTrack):
            pacer = Pacer()
            pace(sender.transport, pacer)   # the transport the bundle settled on
        session.pacer = pacer
        return session

    def _watch(self, session: WhepSession) -> None:
        pc = session.pc

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            if pc.connectionState == "failed":
                await self.close(session.id, CloseReason.ICE_FAILED)
            elif pc.connectionState == "closed":
                await self.close(session.id, CloseReason.PEER_CLOSED)

        session.track.on_stop(lambda: self._track_ended(session))

        async def _deadline() -> None:
            await asyncio.sleep(CONNECT_TIMEOUT_S)
            if pc.connectionState != "connected":
                await self.close(session.id, CloseReason.CONNECT_TIMEOUT)

        self._spawn(_deadline())

    def _track_ended(self, session: WhepSession) -> None:
        """The track stopped under a live session: the stream ended, or aiortc's sender
        stopped it because the viewer's transport closed (before the state event)."""
        if session.id in self._sessions:
            if session.track.source_ended:
                reason = CloseReason.STREAM_ENDED
            elif session.pc.iceConnectionState == "failed":
                reason = CloseReason.ICE_FAILED
            else:
                reason = CloseReason.PEER_CLOSED
            self._spawn(self.close(session.id, reason))

    def _spawn(self, coro: Coroutine[object, object, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, session_id: str, reason: CloseReason = CloseReason.CLIENT_DELETE
                    ) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.closed_because = reason
        self.closed[reason] += 1
        self.admission.remove(session.user, session.camera)
        session.track.stop()
        # shielded: a cancelled waiter of pc.close() cancels aiortc's shared "closed"
        # future, and the close already running then fails with InvalidStateError
        await asyncio.shield(session.pc.close())
        log.info("closed viewer session %s (%s/%s, user %s): %s", session.id, session.camera,
                 session.stream, session.user or "-", reason.value,
                 extra={"session": session.id, "reason": reason.value})
        if self.on_close is not None:
            self.on_close(session, reason)
        return True

    async def close_where(self, camera: str, reason: CloseReason) -> int:
        """Close every session of one camera (it was removed or moved)."""
        ids = [s.id for s in self._sessions.values() if s.camera == camera]
        await asyncio.gather(*(self.close(sid, reason) for sid in ids))
        return len(ids)

    async def close_all(self, reason: CloseReason = CloseReason.SERVER_STOP) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(self.close(sid, reason) for sid in list(self._sessions)))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__

"""Viewer admission and session end reasons: overload is said, never silent.

Past a configured limit (sessions on this server, per user, per camera) a new
WHEP offer is refused with 503 and a Retry-After; the viewers already playing
are untouched. The offer is checked first (``check_offer``: it parses, it has a
video section we can send to, with H.264 or a codec we can transcode to), so
a refused or broken offer never pulls a camera nor leaves a track behind.
"""
from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from iocwall.streams.settings import DEFAULTS, StreamSettings

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA_SECTIONS = 8
# what aiortc can send when the viewer refuses H.264 (the transcode fallback)
FALLBACK_CODECS = frozenset({"vp8", "h264"})


class WhepError(Exception):
    """A refused offer; ``status`` and ``code`` map straight to the HTTP reply."""

    def __init__(self, status: int, code: str, message: str,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after_s = retry_after_s


class CloseReason(enum.Enum):
    """Why a viewer session ended (logged for each one, counted in /metrics)."""
    CLIENT_DELETE = "client_delete"       # WHEP DELETE
    ICE_FAILED = "ice_failed"             # connectivity lost or never established
    PEER_CLOSED = "peer_closed"           # DTLS/peer connection closed by the viewer
    CONNECT_TIMEOUT = "connect_timeout"   # answered, but the viewer never connected
    STREAM_ENDED = "stream_ended"         # the track ended (camera removed, channel stopped)
    CAMERA_REMOVED = "camera_removed"
    SERVER_STOP = "server_stop"
    PROCESS_LOST = "process_lost"         # the media process serving it died
    NODE_HUNG = "node_hung"               # its media process stopped sending heartbeats: killed
    NODE_MEMORY = "node_memory"           # its media process went over [streams] node_memory_mb


@dataclass(frozen=True)
class SessionLimits:
    """0 means no limit of that kind. Defaults: streams/settings.py."""
    per_server: int = DEFAULTS.max_sessions
    per_user: int = DEFAULTS.max_sessions_per_user
    per_camera: int = DEFAULTS.max_sessions_per_camera
    retry_after_s: int = DEFAULTS.retry_after_s

    @classmethod
    def from_settings(cls, settings: StreamSettings) -> SessionLimits:
        return cls(per_server=settings.max_sessions, per_user=settings.max_sessions_per_user,
                   per_camera=settings.max_sessions_per_camera,
                   retry_after_s=settings.retry_after_s)


class Admission:
    """Counts live sessions by user and camera; ``check`` refuses past a limit."""

    def __init__(self, limits: SessionLimits) -> None:
        self.limits = limits
        self.total = 0
        self._users: Counter[str] = Counter()
        self._cameras: Counter[str] = Counter()

    def check(self, user: str, camera: str) -> None:
        lim = self.limits
        for limit, used, what in ((lim.per_server, self.total, "on this server"),
                                  (lim.per_user, self._users[user], f"for user '{user}'"),
                                  (lim.per_camera, self._cameras[camera],
                                   f"on camera '{camera}'")):
            if limit and used >= limit:
                raise WhepError(503, "overloaded",
                                f"{limit} viewers {what} already; try again later / "
                                f"đã đủ {limit} người xem, hãy thử lại sau",
                                retry_after_s=lim.retry_after_s)

    def add(self, user: str, camera: str) -> None:
        self.total += 1
        self._users[user] += 1
        self._cameras[camera] += 1

    def remove(self, user: str, camera: str) -> None:
        self.total -= 1
        self._users[user] -= 1
        self._cameras[camera] -= 1
        if self._users[user] <= 0:
            del self._users[user]
        if self._cameras[camera] <= 0:
            del self._cameras[camera]


@dataclass(frozen=True)
class OfferInfo:
    """What matters of a viewer's offer before anything is opened for it."""
    h264: bool            # passthrough possible
    codecs: frozenset[str]


def check_offer(text: object) -> OfferInfo:
    """Parse and judge an offer; raises WhepError (400/413) for anything unusable."""
    if not isinstance(text, str) or not text.strip():
        raise WhepError(400, "bad_sdp", "empty SDP offer / thiếu SDP")
    if len(text) > MAX_SDP_BYTES:
        raise WhepError(413, "too_large", f"SDP offer over {MAX_SDP_BYTES} bytes")
    if not text.lstrip().startswith("v=0") or "m=video" not in text:
        raise WhepError(400, "bad_sdp", "not an SDP offer with a video section "
                                        "/ SDP không có phần video")
    try:
        parsed = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # noqa: BLE001 - aiortc's parser raises assorted errors
        raise WhepError(400, "bad_sdp", f"unusable SDP offer: {_one_line(exc)}") from None
    if len(parsed.media) > MAX_MEDIA_SECTIONS:
        raise WhepError(400, "bad_sdp", f"more than {MAX_MEDIA_SECTIONS} media sections")
    videos = [m for m in parsed.media if m.kind == "video" and m.port != 0
              and m.direction in (None, "recvonly", "sendrecv")]
    if not videos:
        raise WhepError(400, "bad_sdp", "the offer has no video the server can send to")
    if not any(m.ice is not None and m.ice.usernameFragment for m in videos):
        raise WhepError(400, "bad_sdp", "the offer has no ICE credentials")
    codecs = frozenset(c.name.lower() for m in videos for c in m.rtp.codecs)
    if not codecs & FALLBACK_CODECS:
        raise WhepError(400, "no_codec", "the offer has neither H.264 nor VP8 "
                                         "/ trình xem không hỗ trợ H.264 hay VP8")
    return OfferInfo("h264" in codecs, codecs)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__

"""Health of one camera stream: state, rates and counters, judged from packet arrival.

The state is derived on the event loop from the age of the last packet, not
from the puller thread, so a camera that stops sending is seen as ``stalled``
within ``stall_timeout_s`` even while its socket read is still blocked.
"""
from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import asdict, dataclass

RATE_WINDOW_S = 2.0


class StreamState(str, enum.Enum):
    IDLE = "idle"              # nobody needs it: not pulled
    CONNECTING = "connecting"  # opening the RTSP session
    LIVE = "live"              # packets arriving
    STALLED = "stalled"        # connected, but no packet for stall_timeout_s
    LOST = "lost"              # cannot connect, or silent for lost_timeout_s


@dataclass(frozen=True)
class HealthSnapshot:
    """What the API, metrics and viewers see of one stream."""
    camera: str
    stream: str
    state: StreamState
    fps: float
    bitrate_bps: float
    last_packet_age_s: float | None
    reconnects: int
    viewers: int
    drops: int
    invalid_units: int
    packets: int
    bytes: int
    codec: str
    width: int
    height: int
    transcoding: bool
    error: str
    # packet-level counts of the RTP ingest (defaults: built positionally elsewhere)
    rtp_lost: int = 0        # RTP packets that never came (UDP)
    rtp_late: int = 0        # came too late or twice: dropped (UDP)
    rtp_reordered: int = 0   # came out of order, put back (UDP)
    rtp_corrupt: int = 0     # not RTP, bad payloads, oversized units, not from the camera
    transport: str = ""      # how RTP comes: "tcp" or "udp"; "" before the first session

    def to_json(self) -> dict:
        out = asdict(self)
        out["state"] = self.state.value
        out["fps"] = round(self.fps, 2)
        out["bitrate_bps"] = round(self.bitrate_bps)
        if self.last_packet_age_s is not None:
            out["last_packet_age_s"] = round(self.last_packet_age_s, 3)
        return out


class Health:
    """Counters fed by the puller (via the loop) and a state machine."""

    def __init__(self, camera: str, stream: str, stall_s: float, lost_s: float) -> None:
        self.camera, self.stream = camera, stream
        self.stall_s, self.lost_s = stall_s, lost_s
        self.state = StreamState.IDLE
        self.reconnects = 0
        self.packets = 0
        self.bytes = 0
        self.invalid_units = 0
        self.rtp_lost = self.rtp_late = self.rtp_reordered = self.rtp_corrupt = 0
        self.transport = ""
        self.codec, self.width, self.height = "", 0, 0
        self.error = ""
        self._last_packet: float | None = None
        self._connected_at: float | None = None
        self._since = time.monotonic()
        self._window: deque[tuple[float, int]] = deque()

    # -- events from the puller ------------------------------------------------------
    def connecting(self) -> None:
        """Pulling starts (first connect); later reconnects keep the current state."""
        if self.state is StreamState.IDLE:
            self.state = StreamState.CONNECTING
            self._since = time.monotonic()

    def opened(self, codec: str, width: int, height: int, transport: str = "tcp") -> None:
        self.codec, self.width, self.height = codec, width, height
        self.transport = transport
        self._connected_at = time.monotonic()
        self.error = ""

    def packet(self, size: int) -> None:
        now = time.monotonic()
        self._last_packet = now
        self.packets += 1
        self.bytes += size
        self._window.append((now, size))
        self.state = StreamState.LIVE

    def packet_counts(self, lost: int, late: int, reordered: int, corrupt: int) -> None:
        """Packet-level trouble reported by the RTP ingest (added up over sessions)."""
        self.rtp_lost += lost
        self.rtp_late += late
        self.rtp_reordered += reordered
        self.rtp_corrupt += corrupt

    def failed(self, reason: str) -> None:
        """The session ended or could not start; the puller will retry."""
        self.error = reason
        self._connected_at = None
        self.reconnects += 1
        if self.state is not StreamState.IDLE:
            # the session is gone (refused, closed, garbage): no point calling it stalled
            self.state = StreamState.LOST

    def idle(self) -> None:
        self.state = StreamState.IDLE
        self._window.clear()
        self._last_packet = None

    # -- periodic ------------------------------------------------------------------
    def tick(self) -> StreamState:
        """Re-judge the state from packet age; returns the (possibly new) state."""
        if self.state is StreamState.IDLE:
            return self.state
        silent = self._silent_for()
        if silent >= self.lost_s:
            self.state = StreamState.LOST
        elif silent >= self.stall_s and self.state is StreamState.LIVE:
            # connected but silent: the camera froze or the network holds the data
            self.state = StreamState.STALLED
        return self.state

    def _silent_for(self) -> float:
        since = max(t for t in (self._last_packet, self._connected_at, self._since) if t)
        return time.monotonic() - since

    def rates(self) -> tuple[float, float]:
        now = time.monotonic()
        while self._window and now - self._window[0][0] > RATE_WINDOW_S:
            self._window.popleft()
        if not self._window:
            return 0.0, 0.0
        # frames per second over the window: count of intervals / span of the window
        fps = len(self._window) / RATE_WINDOW_S
        bits = sum(size for _, size in self._window) * 8 / RATE_WINDOW_S
        return fps, bits

    def snapshot(self, viewers: int, drops: int, transcoding: bool) -> HealthSnapshot:
        fps, bps = self.rates()
        age = None if self._last_packet is None else time.monotonic() - self._last_packet
        return HealthSnapshot(
            camera=self.camera, stream=self.stream, state=self.state, fps=fps,
            bitrate_bps=bps, last_packet_age_s=age, reconnects=self.reconnects,
            viewers=viewers, drops=drops, invalid_units=self.invalid_units,
            packets=self.packets, bytes=self.bytes, codec=self.codec, width=self.width,
            height=self.height, transcoding=transcoding, error=self.error,
            rtp_lost=self.rtp_lost, rtp_late=self.rtp_late, rtp_reordered=self.rtp_reordered,
            rtp_corrupt=self.rtp_corrupt, transport=self.transport)

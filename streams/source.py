"""The puller: one thread per pulled camera stream, demuxing RTSP into access units.

PyAV blocks, so each stream gets its own thread; it never decodes, it only
copies packet bytes (and, for H.264, puts SPS/PPS in front of keyframes) and
hands them to the event loop with ``call_soon_threadsafe``. A stalled or dead
camera therefore blocks nothing but its own thread. The thread owns
reconnection (capped exponential backoff with jitter); listeners stay
subscribed across reconnects because they subscribe to the fan-out, not to a
source.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from iocwall.streams import h264
from iocwall.streams.fanout import AccessUnit
from iocwall.streams.settings import DEFAULTS
from iocwall.streams.urls import CameraUrl, TransportMode, redact

if TYPE_CHECKING:                  # av is imported where a source opens (heavy import)
    import av
    import av.video.stream

log = logging.getLogger(__name__)

# After this long with packets, a session counts as good and the backoff restarts.
HEALTHY_SESSION_S = 5.0


class Ingest(enum.Enum):
    """How a camera stream is read: FFmpeg's demuxer, or our RTP client.

    The RTP client is iocwall.streams.rtp_ingest.
    """
    PYAV = "pyav"
    RTP = "rtp"


@dataclass(frozen=True)
class PullSettings:
    """Built from StreamSettings (whose defaults these are) by MediaServer."""
    open_timeout_s: float = DEFAULTS.open_timeout_s
    read_timeout_s: float = DEFAULTS.lost_timeout_s
    reconnect_min_s: float = DEFAULTS.reconnect_min_s
    reconnect_max_s: float = DEFAULTS.reconnect_max_s
    ingest: Ingest = Ingest.RTP


@dataclass(frozen=True)
class SourceInfo:
    """What a consumer must know about the current session of a stream."""
    codec: str                   # FFmpeg codec name: h264, hevc, mjpeg...
    width: int
    height: int
    extradata: bytes
    parameter_sets: h264.ParameterSets
    profile_level_id: str | None
    generation: int
    transport: str = "tcp"       # how RTP comes: "tcp" (interleaved) or "udp"


@dataclass(frozen=True)
class PacketCounts:
    """Packet-level trouble since the last report (the RTP ingest sends these)."""
    lost: int = 0          # sequence numbers that never came (UDP)
    late: int = 0          # came after their turn, or twice: dropped (UDP)
    reordered: int = 0     # came out of order, put back in time (UDP)
    corrupt: int = 0       # not RTP, bad payloads, oversized units, not from the camera

    def __bool__(self) -> bool:
        return bool(self.lost or self.late or self.reordered or self.corrupt)


class PullerListener(Protocol):
    """Called on the event loop, in order, by a puller."""
    def on_open(self, info: SourceInfo) -> None: ...
    def on_unit(self, unit: AccessUnit) -> None: ...
    def on_invalid(self) -> None: ...
    def on_fail(self, reason: str) -> None: ...
    def on_packets(self, counts: PacketCounts) -> None: ...


def backoff_delay(attempt: int, low: float, high: float, rand: Callable[[], float]) -> float:
    """Delay before retry number ``attempt`` (0-based): doubling, capped, jittered.

    The jitter (50-100 % of the step) keeps many cameras behind one failed
    switch from reconnecting in lock step.
    """
    step = min(high, low * (2 ** min(attempt, 30)))
    return step * (0.5 + 0.5 * rand())


def demux_options(url: CameraUrl, read_timeout_s: float) -> dict[str, str]:
    # PyAV passes these to FFmpeg and silently ignores unknown names: keep them exact.
    # No "fflags=nobuffer": it discards the packets read while probing the stream, and
    # with a camera that starts a session at its IDR (most do) those ARE the keyframe;
    # every (re)connect then waited a whole GOP before anyone could decode a picture.
    opts = {
        "flags": "low_delay",
        "probesize": "32768",
        "analyzeduration": "0",
        "timeout": str(int(read_timeout_s * 1_000_000)),   # socket I/O, microseconds
    }
    if url.scheme in ("rtsp", "rtsps"):
        # FFmpeg has no "TCP, then UDP if refused": auto stays TCP here (the RTP ingest,
        # used for every H.264 camera, does fall back); udp is honoured.
        opts["rtsp_transport"] = "udp" if url.transport is TransportMode.UDP else "tcp"
    return opts


class Puller:
    """Pulls one URL in a thread until stopped; reports to a listener on the loop."""

    def __init__(self, name: str, url: CameraUrl, settings: PullSettings,
                 listener: PullerListener, loop: asyncio.AbstractEventLoop) -> None:
        self.name, self._url, self._settings = name, url, settings
        self._listener, self._loop = listener, loop
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._generation = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"pull-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self, wait_s: float = 1.0) -> None:
        """Ask the thread to end; wait a bounded time (a blocked read ends on its timeout)."""
        self._stop.set()
        await asyncio.to_thread(self._done.wait, wait_s)

    @property
    def running(self) -> bool:
        return not self._done.is_set() and self._thread is not None

    # -- thread side -------------------------------------------------------------------
    def _post(self, fn: Callable, *args: object) -> bool:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
            return True
        except RuntimeError:        # loop closed: nobody is listening any more
            self._stop.set()
            return False

    def _run(self) -> None:
        attempt, rand = 0, random.Random()
        try:
            while not self._stop.is_set():
                good = self._session()
                if self._stop.is_set():
                    break
                attempt = 0 if good else attempt + 1
                delay = backoff_delay(attempt, self._settings.reconnect_min_s,
                                      self._settings.reconnect_max_s, rand.random)
                log.info("%s: reconnecting in %.2f s", self.name, delay)
                self._stop.wait(delay)
        finally:
            self._done.set()

    def _session(self) -> bool:
        """One RTSP session; True when it delivered packets long enough to count as good."""
        import av
        s = self._settings
        started, first_packet = time.monotonic(), None
        try:
            container = av.open(self._url.with_credentials(),
                                options=demux_options(self._url, s.read_timeout_s),
                                timeout=(s.open_timeout_s, s.read_timeout_s))
        except Exception as exc:     # any FFmpeg/OS error: report, retry later
            self._fail(f"cannot open {self._url.public()}: {_reason(exc)}")
            return False
        try:
            stream = container.streams.video[0]
            info = self._describe(stream)
            log.info("%s: opened %s (%s %dx%d) in %.2f s", self.name, self._url.public(),
                     info.codec, info.width, info.height, time.monotonic() - started)
            self._post(self._listener.on_open, info)
            reason = "end of stream"
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return False
                if packet.size == 0:
                    continue
                unit = self._unit(packet, info)
                if unit is None:
                    self._post(self._listener.on_invalid)
                    continue
                first_packet = first_packet or time.monotonic()
                self._post(self._listener.on_unit, unit)
        except IndexError:
            reason = "no video stream"
        except Exception as exc:
            reason = _reason(exc)
        finally:
            container.close()
        if not self._stop.is_set():
            self._fail(f"{self._url.public()}: {reason}")
        return first_packet is not None and time.monotonic() - first_packet >= HEALTHY_SESSION_S

    def _fail(self, reason: str) -> None:
        reason = redact(reason)
        log.warning("%s: %s", self.name, reason)
        self._post(self._listener.on_fail, reason)

    def _describe(self, stream: av.video.stream.VideoStream) -> SourceInfo:
        ctx = stream.codec_context
        extradata = bytes(ctx.extradata or b"")
        sets, self._length_size = h264.parameter_sets(extradata) if ctx.name == "h264" \
            else (h264.ParameterSets(), 4)
        self._sets = sets
        self._generation += 1
        self._time_base = float(stream.time_base) if stream.time_base else 1 / 90000
        plid = h264.profile_level_id(sets.sps[0]) if sets.sps else None
        return SourceInfo(codec=ctx.name, width=ctx.width or 0, height=ctx.height or 0,
                          extradata=extradata, parameter_sets=sets, profile_level_id=plid,
                          generation=self._generation)

    def _unit(self, packet: av.Packet, info: SourceInfo) -> AccessUnit | None:
        data = bytes(packet)
        keyframe = bool(packet.is_keyframe)
        if info.codec == "h264":
            data = h264.to_annexb(data, self._length_size)
            if not h264.looks_valid(data):
                return None
            if keyframe:
                self._sets = h264.learn_parameter_sets(data, self._sets)
                data = h264.with_parameter_sets(data, self._sets)
        pts = packet.pts if packet.pts is not None else packet.dts
        return AccessUnit(data=data, pts=pts, time_base=self._time_base, keyframe=keyframe,
                          generation=info.generation, received=time.monotonic())


def _reason(exc: BaseException) -> str:
    """A one-line, credential-free description of a pull error."""
    text = str(exc) or exc.__class__.__name__
    return redact(text.splitlines()[0] if text else text)

"""The per-viewer send path: RTP payloads made once per stream, bursts paced per viewer.

aiortc's RTCRtpSender packs every frame it sends: split the Annex-B bytes into
NAL units and cut them into STAP-A/FU-A payloads, in Python, once per viewer.
Twenty viewers of one camera did the same work twenty times. Here each access
unit is packed once (``PayloadCache``, with ``rtsp.rtp.packetize_annexb``: aiortc's own
packer, the one the simulator uses too)
and every viewer's sender reuses the payloads (``PrepackedEncoder``); what
stays per viewer is what must: SSRC, sequence numbers, timestamps, SRTP.

NACK history: aiortc keeps the last ``RTP_HISTORY_SIZE`` (128) packets of each
sender for retransmission. A 1080p keyframe is 150-200 packets (the simulator's
are ~160): sent in one go it evicts its own first packets before the viewer can
even report them lost, and the picture then waits for the next keyframe. Two
measures: the history is raised to ``HISTORY_PACKETS`` (512; the payloads in it
are the shared ones, so a viewer's history costs ~100 KB of packet objects, not
copies of the video), and ``Pacer`` spreads anything larger still (a 4K
keyframe) so any ``window_packets`` consecutive packets leave no faster than
``window_s``: a NACK that comes back within that time still finds its packet.
Ordinary frames and keyframes up to ~380 packets are not delayed at all.
"""
from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiortc import RTCDtlsTransport, rtcrtpsender
from aiortc.rtp import RTP_HISTORY_SIZE, is_rtcp

from iocwall.streams.fanout import AccessUnit
from iocwall.streams.rtsp.rtp import packetize, packetize_annexb

CLOCK = 90_000
HISTORY_PACKETS = max(512, RTP_HISTORY_SIZE)
# leave a quarter of the history for the frames sent while a NACK travels back
PACE_PACKETS = HISTORY_PACKETS * 3 // 4
LRU_UNITS = 64            # fallback cache size (see PayloadCache)
PACE_WINDOW_S = 0.03      # a NACK on a LAN/VPN link comes back well within 30 ms


@dataclass(frozen=True)
class PreparedFrame:
    """What a PassthroughTrack hands the sender: ready payloads and a 90 kHz timestamp."""
    payloads: list[bytes]
    pts: int
    keyframe: bool


class PayloadCache:
    """RTP payloads of each access unit, made once and shared by all viewers of a stream.

    Keyed weakly by the unit itself: the payloads live exactly as long as some
    queue or the keyframe cache still holds the unit, with no size to tune. A
    unit type that cannot be a weak key (slots, unhashable) falls back to a small
    identity-keyed LRU: a miss only costs packing again.
    """

    def __init__(self) -> None:
        self._weak: weakref.WeakKeyDictionary[AccessUnit, list[bytes]] | None = \
            weakref.WeakKeyDictionary()
        self._lru: OrderedDict[int, tuple[AccessUnit, list[bytes]]] = OrderedDict()
        self.packed = 0      # units packed (once each)
        self.reused = 0      # units served from the cache

    def payloads(self, unit: AccessUnit) -> list[bytes]:
        found = self._lookup(unit)
        if found is not None:
            self.reused += 1
            return found
        nals = getattr(unit, "nals", ())      # split already when the RTP ingest made it
        payloads = packetize(nals) if nals else packetize_annexb(unit.data)
        self._store(unit, payloads)
        self.packed += 1
        return payloads

    def _lookup(self, unit: AccessUnit) -> list[bytes] | None:
        if self._weak is not None:
            try:
                return self._weak.get(unit)
            except TypeError:             # not weakly referenceable / not hashable
                self._weak = None
        hit = self._lru.get(id(unit))
        if hit is None or hit[0] is not unit:
            return None
        self._lru.move_to_end(id(unit))
        return hit[1]

    def _store(self, unit: AccessUnit, payloads: list[bytes]) -> None:
        if self._weak is not None:
            self._weak[unit] = payloads
            return
        self._lru[id(unit)] = (unit, payloads)
        while len(self._lru) > LRU_UNITS:
            self._lru.popitem(last=False)


class PrepackedEncoder:
    """Stands in for aiortc's per-sender H264Encoder: the payloads are already made."""

    def pack(self, frame: PreparedFrame) -> tuple[list[bytes], int]:
        return frame.payloads, frame.pts

    def encode(self, frame: object, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TypeError("a passthrough sender never encodes")


_ENCODER_SLOT = "_RTCRtpSender__encoder"


def use_prepacked(sender: rtcrtpsender.RTCRtpSender) -> None:
    """Make ``sender`` take PreparedFrames from its track (before its RTP loop starts).

    aiortc 1.16 creates the encoder lazily when the slot is None and otherwise
    only calls ``pack`` for anything that is not an av.Frame: a documented
    patch point, checked here and covered by a test.
    """
    if not hasattr(sender, _ENCODER_SLOT):
        raise RuntimeError("aiortc changed: RTCRtpSender has no encoder slot")
    setattr(sender, _ENCODER_SLOT, PrepackedEncoder())
    ensure_history()


def ensure_history() -> None:
    """Raise aiortc's per-sender retransmission history to HISTORY_PACKETS (process-wide;
    rtcrtpsender reads the module constant at each use, so senders already running
    simply find fewer old packets until their history refills)."""
    if not hasattr(rtcrtpsender, "RTP_HISTORY_SIZE"):
        raise RuntimeError("aiortc changed: rtcrtpsender.RTP_HISTORY_SIZE is gone")
    rtcrtpsender.RTP_HISTORY_SIZE = max(rtcrtpsender.RTP_HISTORY_SIZE, HISTORY_PACKETS)


class Pacer:
    """Any ``window_packets`` consecutive RTP packets take at least ``window_s``."""

    def __init__(self, window_packets: int = PACE_PACKETS,
                 window_s: float = PACE_WINDOW_S) -> None:
        self._sent: deque[float] = deque(maxlen=window_packets)
        self.window_s = window_s
        self.waits = 0           # packets that had to wait
        self.waited_s = 0.0

    async def wait(self) -> None:
        sent, now = self._sent, time.monotonic()     # once per packet: keep it cheap
        if len(sent) == sent.maxlen:
            delay = sent[0] + self.window_s - now
            if delay > 0:
                self.waits += 1
                self.waited_s += delay
                await asyncio.sleep(delay)
                now += delay
        sent.append(now)

    def would_wait(self, count: int) -> bool:
        """Would sending ``count`` packets now, back to back, have to wait?"""
        sent, window = self._sent, self._sent.maxlen or 0
        newest_needed = len(sent) + count - 1 - window   # the entry packet #count waits on
        if newest_needed < 0:
            return False
        if newest_needed >= len(sent):
            return True
        return sent[newest_needed] + self.window_s > time.monotonic()

    def note(self, count: int) -> None:
        """``count`` packets left now without waiting (the caller checked would_wait)."""
        self._sent.extend([time.monotonic()] * count)


_PACER = "_iocwall_pacer"


def pacer_of(dtls: object) -> Pacer | None:
    """The pacer ``pace`` put on this transport, if any."""
    return getattr(dtls, _PACER, None)


def pace(dtls: RTCDtlsTransport, pacer: Pacer) -> None:
    """Route the RTP (not RTCP) a DTLS transport sends through ``pacer``."""
    send: Callable[[bytes], Awaitable[None]] = dtls._send_rtp

    async def paced(data: bytes) -> None:
        if not is_rtcp(data):
            await pacer.wait()
        await send(data)

    dtls._send_rtp = paced  # type: ignore[method-assign]
    setattr(dtls, _PACER, pacer)     # for rtploop's direct sends, which bypass the wrapper


def prepare(unit: AccessUnit, cache: PayloadCache, pts: int) -> PreparedFrame:
    return PreparedFrame(cache.payloads(unit), pts, unit.keyframe)

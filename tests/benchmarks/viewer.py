"""WHEP viewers for the benchmarks (aiortc), recording wall-clock receive times.

Three kinds:
- ``decode=True``: frames are decoded by aiortc as a browser would; with
  ``read_stamps`` each frame's stamp is read (for latency).
- ``decode=False``: a counting receiver. aiortc's jitter buffer still
  reassembles and checks every frame, but the complete frames are counted
  (receive time, RTP timestamp, bytes) instead of being decoded, so a few
  dozen viewers cost the load generator little CPU.
- ``light=True``: cheaper still, for capacity runs: packets are received and
  decrypted (DTLS-SRTP, by aiortc) and then only counted: sequence gaps are
  lost packets, a marker bit ends a frame (RTP timestamp recorded). No jitter
  buffer, no depacketizing, no decoding: the figure is the server's limit, not
  the load generator's. A sample of viewers should decode (``decode=True``) to
  show the pictures are really decodable.
"""
from __future__ import annotations

import asyncio
import queue
import time
from dataclasses import dataclass

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from iocwall.hardware import stamp
from iocwall.streams import ice

LOOPBACK = ice.IceSettings(addresses=("127.0.0.1",))
RTP_CLOCK = 90_000


@dataclass(frozen=True)
class Got:
    at: float                 # time.time() when received (counting) or decoded
    rtp_ts: int | None        # counting receivers only
    stamp_ms: int | None      # decoding receivers with read_stamps only


class _CountingQueue(queue.Queue):
    """Stands in for aiortc's decoder queue: records complete frames, decodes nothing."""

    def __init__(self, original: queue.Queue, sink: list[Got], first: asyncio.Future) -> None:
        super().__init__()
        self._original, self._sink, self._first = original, sink, first

    def put(self, item, block=True, timeout=None) -> None:  # noqa: ANN001
        if item is None:        # end: wake whichever queue the decoder thread waits on
            self._original.put(None)
            super().put(None)
            return
        _codec, frame = item
        self._sink.append(Got(time.time(), frame.timestamp, None))
        if not self._first.done():
            self._first.set_result(None)


class _PacketCounter:
    """Replaces a receiver's RTP handling: count packets, gaps and frames (marker bit)."""

    def __init__(self, sink: list[Got], first: asyncio.Future) -> None:
        self._sink, self._first = sink, first
        self.packets = self.lost = 0
        self._seq: int | None = None
        self._pt: int | None = None

    async def handle(self, packet, arrival_time_ms: int) -> None:  # noqa: ANN001
        if self._pt is None:
            self._pt = packet.payload_type
        elif packet.payload_type != self._pt:
            return              # a retransmission (RTX): not a new packet of the stream
        self.packets += 1
        if self._seq is not None:
            gap = (packet.sequence_number - self._seq) & 0xFFFF
            if 1 < gap < 0x8000:
                self.lost += gap - 1
        self._seq = packet.sequence_number
        if packet.marker:
            self._sink.append(Got(time.time(), packet.timestamp, None))
            if not self._first.done():
                self._first.set_result(None)


class BenchViewer:
    def __init__(self, decode: bool = True, read_stamps: bool = False,
                 light: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        self.frames: list[Got] = []
        self.posted = 0.0
        self.location = ""
        self._first = asyncio.get_running_loop().create_future()
        self._read_stamps = read_stamps
        self._task: asyncio.Task | None = None
        self.counter: _PacketCounter | None = None
        if light:
            self.counter = _PacketCounter(self.frames, self._first)
            transceiver.receiver._handle_rtp_packet = self.counter.handle  # type: ignore[method-assign]
        elif decode:
            self.pc.on("track", self._on_track)
        else:
            receiver = transceiver.receiver
            name = "_RTCRtpReceiver__decoder_queue"
            setattr(receiver, name, _CountingQueue(getattr(receiver, name), self.frames,
                                                   self._first))

    def _on_track(self, track) -> None:  # noqa: ANN001
        self._task = asyncio.ensure_future(self._read(track))

    async def _read(self, track) -> None:  # noqa: ANN001
        try:
            while True:
                frame = await track.recv()
                at = time.time()
                ms = None
                if self._read_stamps:
                    gray = frame.to_ndarray(format="gray")
                    ms = stamp.decode(np.ascontiguousarray(gray[:stamp.HEIGHT, :stamp.WIDTH]))
                # aiortc sets a decoded frame's pts to its RTP timestamp: loss() can use it
                self.frames.append(Got(at, frame.pts, ms))
                if not self._first.done():
                    self._first.set_result(None)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def play(self, http: httpx.AsyncClient, path: str) -> None:
        """POST the offer to ``path`` (WHEP) and apply the answer."""
        ice.apply(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.posted = time.time()
        response = await http.post(path, content=self.pc.localDescription.sdp,
                                   headers={"Content-Type": "application/sdp"})
        if response.status_code != 201:
            raise RuntimeError(f"WHEP offer refused: {response.status_code} {response.text[:200]}")
        self.location = response.headers.get("location", "")
        await self.pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))

    async def first_frame_s(self, timeout: float = 10.0) -> float:
        """Seconds from posting the offer to the first frame."""
        await asyncio.wait_for(asyncio.shield(self._first), timeout)
        return self.frames[0].at - self.posted

    async def close(self, http: httpx.AsyncClient | None = None) -> None:
        if self._task is not None:
            self._task.cancel()
        if http is not None and self.location:
            try:
                await http.delete(self.location)
            except httpx.HTTPError:
                pass
        await self.pc.close()


def loss(frames: list[Got], t0: float, t1: float, fps: float) -> tuple[int, int]:
    """(received, expected) complete frames in [t0, t1], expected from the RTP timestamps.

    Every frame between the first and the last one received carries its own
    timestamp step (90 kHz / fps), so a gap is a lost frame; a stream that died
    early is caught by the time-based floor.
    """
    seen = [f for f in frames if t0 <= f.at <= t1 and f.rtp_ts is not None]
    if not seen:
        return 0, int((t1 - t0) * fps)
    step = RTP_CLOCK / fps
    span = (seen[-1].rtp_ts - seen[0].rtp_ts) % (1 << 32)
    expected = max(round(span / step) + 1, int((t1 - t0) * fps) - 1)
    return len(seen), expected

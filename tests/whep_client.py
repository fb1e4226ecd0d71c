"""A WHEP viewer for tests: an aiortc peer that plays a stream and records frames."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from iocwall.hardware import stamp
from iocwall.streams import ice

Post = Callable[[str], Awaitable[str]]
LOOPBACK = ice.IceSettings(addresses=("127.0.0.1",))


@dataclass(frozen=True)
class Seen:
    at: float            # time.monotonic() when decoded
    width: int
    height: int
    stamp_ms: int | None  # decoded frame stamp, when asked for
    wall_ms: int = 0      # wall-clock time when decoded (to compare with the stamp)

    @property
    def latency_ms(self) -> int | None:
        return None if self.stamp_ms is None else stamp.latency_ms(self.stamp_ms, self.wall_ms)


class Viewer:
    """Offer recvonly video, post it, play; keeps the last ``keep`` frames' records."""

    def __init__(self, read_stamps: bool = False, keep: int = 2000) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.channel = self.pc.createDataChannel("events")
        self.events: list[dict] = []
        self.frames: list[Seen] = []
        self.started = 0.0
        self._read_stamps, self._keep = read_stamps, keep
        self._first = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task | None = None
        self.receiver = None
        self.pc.on("track", self._on_track)
        self.channel.on("message", self._on_message)

    def _on_message(self, message: str) -> None:
        import json
        self.events.append(json.loads(message))

    def _on_track(self, track) -> None:  # noqa: ANN001
        self.receiver = next(t.receiver for t in self.pc.getTransceivers()
                             if t.receiver.track is track)
        self._task = asyncio.ensure_future(self._read(track))

    async def _read(self, track) -> None:  # noqa: ANN001
        try:
            while True:
                frame = await track.recv()
                ms = None
                if self._read_stamps:
                    gray = frame.to_ndarray(format="gray")
                    ms = stamp.decode(np.ascontiguousarray(gray[:stamp.HEIGHT, :stamp.WIDTH]))
                self.frames.append(Seen(time.monotonic(), frame.width, frame.height, ms,
                                        int(time.time() * 1000)))
                del self.frames[:-self._keep]
                if not self._first.done():
                    self._first.set_result(None)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def play(self, post: Post) -> str:
        """Send the offer through ``post`` (returns the answer SDP); returns the answer."""
        ice.apply(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.started = time.monotonic()
        answer = await post(self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return answer

    async def first_frame(self, timeout: float = 10.0) -> float:
        """Seconds from posting the offer to the first decoded frame."""
        await asyncio.wait_for(asyncio.shield(self._first), timeout)
        return self.frames[0].at - self.started if self.frames else 0.0

    async def count_during(self, seconds: float) -> list[Seen]:
        start = time.monotonic()
        await asyncio.sleep(seconds)
        return [f for f in self.frames if f.at >= start]

    async def send_pli(self) -> None:
        sources = self.receiver.getSynchronizationSources()
        await self.receiver._send_rtcp_pli(sources[0].source)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.pc.close()

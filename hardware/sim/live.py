"""`--live`: render and encode every frame in real time.

The stamp is drawn into the picture at capture time (before encoding), so a
client measures true glass-to-glass latency: render + encode + network + its
own decode. Costly (x264 per frame), so meant for a few cameras.
"""
from __future__ import annotations

import asyncio
import logging
import time

from iocwall.hardware import stamp

from . import h264
from .encoder import Loop, StreamSpec, _index, encode_frame, open_encoder
from .faults import CameraFaults
from .media import StreamSource
from .scene import Scene

log = logging.getLogger(__name__)


def probe_loop(scene: Scene, spec: StreamSpec) -> Loop:
    """One frame encoded with the live settings: its SPS/PPS are what DESCRIBE must show."""
    codec = open_encoder(spec, live=True)
    packets = encode_frame(codec, scene.render(0.0, spec.width, spec.height), 0)
    packets += [bytes(p) for p in codec.encode(None)]
    return _index(spec, packets[:1])


class LiveSource(StreamSource):
    def __init__(self, name: str, loop: Loop, origin: float, faults: CameraFaults,
                 scene: Scene) -> None:
        super().__init__(name, loop, origin, faults)
        self.scene = scene
        self._codec = None
        self._codec_spec: StreamSpec | None = None

    def switch_loop(self, loop: Loop) -> None:
        self._pending = loop   # taken at the next frame: a new encoder starts with an IDR

    def _encode(self, n: int) -> tuple[list[bytes], float]:
        spec = self.spec
        if self._codec is None or self._codec_spec != spec:
            self._codec, self._codec_spec = open_encoder(spec, live=True), spec
        image = self.scene.render((n % spec.frames) / spec.fps, spec.width, spec.height)
        wall = time.time()
        stamp.draw(image, int(wall * 1000))
        return encode_frame(self._codec, image, n), wall

    async def _step(self, n: int) -> None:
        if self._pending is not None:
            self._use(self._pending)
            self._pending = None
            self._codec = None
        if self.faults.stalled():
            self._resync()
            return
        packets, wall = await asyncio.to_thread(self._encode, n)
        for data in packets:  # zerolatency: one packet per frame, no delay
            nals = h264.split_annexb(data)
            keyframe = any(nal[0] & 0x1F == h264.NAL_IDR for nal in nals)
            self._send(n, nals, wall, keyframe)

    def _resync(self) -> None:
        super()._resync()
        self._codec = None  # restart the encoder so the next frame is an IDR

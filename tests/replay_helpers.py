"""Shared pieces of the replay tests: real H.264 from FFmpeg's encoder, stamps read back."""
from __future__ import annotations

import io
from fractions import Fraction

import numpy as np

from iocwall.hardware import stamp

FPS = 25


def encode(width: int, height: int, frames: int, *, gop: int = 25, noise: bool = False,
           first_ms: int = 1_000_000) -> list[tuple[bytes, bool, float, int]]:
    """Annex-B access units from libx264 (SPS/PPS in front of every keyframe, as a camera
    sends them): (data, keyframe, seconds, stamp ms) each; every picture carries the
    simulator's stamp of its time."""
    import av
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = Fraction(1, FPS)
    enc.framerate = Fraction(FPS)
    enc.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "0",
                   "preset": "ultrafast",
                   "x264-params": "repeat-headers=1:annexb=1:scenecut=0"}
    rng = np.random.default_rng(7)
    out = []
    for i in range(frames):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8) if noise \
            else np.full((height, width, 3), 90, np.uint8)
        ms = first_ms + i * 1000 // FPS
        stamp.draw(image, ms)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        for packet in enc.encode(frame):
            out.append((bytes(packet), bool(packet.is_keyframe), packet.pts / FPS,
                        first_ms + packet.pts * 1000 // FPS))
    for packet in enc.encode(None):
        out.append((bytes(packet), bool(packet.is_keyframe), packet.pts / FPS,
                    first_ms + packet.pts * 1000 // FPS))
    return out


def decoded(mp4: bytes) -> list[tuple[float, int | None, int, int]]:
    """Every picture of an MP4: (time in the file, stamp ms, width, height)."""
    import av
    with av.open(io.BytesIO(mp4)) as box:
        return [(float(f.time or 0.0), stamp.decode(f.to_ndarray(format="gray")), f.width,
                 f.height) for f in box.decode(video=0)]

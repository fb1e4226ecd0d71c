"""Pre-encoded loops: render a scene once, encode it with x264, cache it on disk.

The x264 settings are chosen for stamp_patch: CAVLC (cabac=0) with 8x8dct so
the profile stays High, slices of exactly two macroblock rows (the first slice
is the one we rewrite with the stamp), one reference frame, no B-frames and no
weighted prediction (so a P_Skip macroblock copies the previous frame).
"""
from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from . import h264, people
from .scene import Scene

log = logging.getLogger(__name__)
FORMAT_VERSION = 6  # bump when the scene or x264 settings change (6: cut-out people)
_MAGIC = b"IOCWLOOP"
PROGRESS_STEP = 10        # percent between two progress lines
PROGRESS_EVERY_S = 5.0    # ... or this long, whichever comes first

ProgressSink = Callable[[str], None]


class EncodeCancelled(Exception):
    """The simulator stopped while a loop was still being encoded."""


@dataclass(frozen=True)
class StreamSpec:
    width: int
    height: int
    fps: int
    gop: int           # frames between IDRs
    frames: int        # loop length, a multiple of gop
    crf: int = 27

    @property
    def slice_mbs(self) -> int:
        return 2 * ((self.width + 15) // 16)


@dataclass
class Loop:
    """Encoded access units (Annex B bytes each) of one looping stream."""
    spec: StreamSpec
    frames: list[bytes]
    keyframes: list[bool]
    sps: bytes
    pps: bytes


def _x264_options(spec: StreamSpec, live: bool = False) -> dict[str, str]:
    common = [f"keyint={spec.gop}", f"min-keyint={spec.gop}", "scenecut=0", "bframes=0",
              "8x8dct=1", "repeat-headers=1", "aud=0"]
    if live:
        # Real time: nothing is patched, so CABAC is fine; ultrafast keeps x264 cheap and
        # 8x8dct keeps the High profile a camera would send.
        return {"preset": "ultrafast", "tune": "zerolatency", "profile": "high",
                "crf": str(spec.crf), "x264-params": ":".join(common + ["cabac=1"])}
    patchable = ["cabac=0", "ref=1", "weightp=0", f"slice-max-mbs={spec.slice_mbs}",
                 "sliced-threads=0"]
    return {"preset": "veryfast", "profile": "high", "crf": str(spec.crf),
            "x264-params": ":".join(common + patchable)}


def open_encoder(spec: StreamSpec, live: bool = False):  # -> av.CodecContext
    import av

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = spec.width, spec.height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, spec.fps)
    codec.framerate = Fraction(spec.fps, 1)
    codec.options = _x264_options(spec, live)
    return codec


def encode_frame(codec, bgr, pts: int) -> list[bytes]:  # type: ignore[no-untyped-def]
    import av

    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
    frame.pts = pts
    return [bytes(p) for p in codec.encode(frame)]


class _Progress:
    """One readable line every PROGRESS_STEP percent (or PROGRESS_EVERY_S) while encoding."""

    def __init__(self, label: str, total: int, sink: ProgressSink | None) -> None:
        self.label, self.total, self.sink = label, max(1, total), sink
        self._next_percent = 0
        self._next_time = 0.0

    def __call__(self, done: int) -> None:
        percent = 100 * done // self.total
        now = time.monotonic()
        if percent < self._next_percent and now < self._next_time and done < self.total:
            return
        self._next_percent = percent - percent % PROGRESS_STEP + PROGRESS_STEP
        self._next_time = now + PROGRESS_EVERY_S
        line = f"encoding {self.label} once (cached for the next start): {percent} %"
        log.info("%s", line)
        if self.sink is not None:
            self.sink(line)


def encode_loop(scene: Scene, spec: StreamSpec, label: str = "",
                progress: ProgressSink | None = None,
                cancel: threading.Event | None = None) -> Loop:
    codec = open_encoder(spec)
    packets: list[bytes] = []
    report = _Progress(label or _default_label(scene, spec), spec.frames, progress)
    for i in range(spec.frames):
        if cancel is not None and cancel.is_set():   # Ctrl+C during a first start
            raise EncodeCancelled(label)
        report(i)
        packets += encode_frame(codec, scene.render(i / spec.fps, spec.width, spec.height), i)
    report(spec.frames)
    packets += [bytes(p) for p in codec.encode(None)]
    if len(packets) != spec.frames:
        raise RuntimeError(f"encoder returned {len(packets)} frames, expected {spec.frames}")
    return _index(spec, packets)


def _index(spec: StreamSpec, packets: list[bytes]) -> Loop:
    sps = pps = b""
    keys = []
    for data in packets:
        nals = h264.split_annexb(data)
        types = {n[0] & 0x1F for n in nals}
        keys.append(h264.NAL_IDR in types)
        for nal in nals:
            if nal[0] & 0x1F == h264.NAL_SPS and not sps:
                sps = nal
            if nal[0] & 0x1F == h264.NAL_PPS and not pps:
                pps = nal
    if not keys or not keys[0] or not sps or not pps:
        raise RuntimeError("encoded loop does not start with SPS, PPS and an IDR")
    return Loop(spec, packets, keys, sps, pps)


def _cache_name(seed: int, spec: StreamSpec, loop_s: float) -> str:
    key = f"v{FORMAT_VERSION}-p{people.LOOK_VERSION}-{seed}-{spec}-{loop_s}".encode()
    digest = hashlib.sha1(key).hexdigest()[:12]
    return f"scene{seed}-{spec.width}x{spec.height}-{spec.fps}-{digest}.loop"


def _write(path: Path, packets: list[bytes]) -> None:
    # Unique per process: two simulators sharing a cache may encode the same loop at once.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(_MAGIC + struct.pack("!I", len(packets)))
        f.write(struct.pack(f"!{len(packets)}I", *(len(p) for p in packets)))
        f.writelines(packets)
    tmp.replace(path)  # atomic: a half-written cache is never read


def _read(path: Path) -> list[bytes] | None:
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        return None
    (count,) = struct.unpack_from("!I", data, 8)
    sizes = struct.unpack_from(f"!{count}I", data, 12)
    pos, out = 12 + 4 * count, []
    for size in sizes:
        out.append(data[pos:pos + size])
        pos += size
    return out if pos == len(data) else None


def _default_label(scene: Scene, spec: StreamSpec) -> str:
    return f"scene {scene.seed} at {spec.width}x{spec.height}"


def load_or_encode(scene: Scene, spec: StreamSpec, cache_dir: Path | None, label: str = "",
                   progress: ProgressSink | None = None,
                   cancel: threading.Event | None = None) -> Loop:
    """The loop from the cache, or encoded now (``progress`` gets a line every 10 %)."""
    path = cache_dir / _cache_name(scene.seed, spec, scene.loop_s) if cache_dir else None
    if path is not None and path.exists():
        try:
            packets = _read(path)
            if packets is not None and len(packets) == spec.frames:
                return _index(spec, packets)
        except (OSError, struct.error, RuntimeError) as exc:
            log.warning("ignoring unreadable loop cache %s: %s", path.name, exc)
    loop = encode_loop(scene, spec, label, progress, cancel)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, loop.frames)
    return loop

"""One segment's muxer: a camera's H.264 access units remuxed by PyAV into fMP4, no decoding.

A segment starts at a keyframe and lasts while the source session and its picture size
do. FFmpeg's MP4 muxer (``frag_keyframe+empty_moov``) writes the init segment first and a
``moof``+``mdat`` fragment each time a keyframe closes the GOP before it, so one fragment
is one GOP. The stream is described from the first keyframe itself (its in-band SPS/PPS,
parsed by FFmpeg's raw H.264 demuxer), which is why any ingest works. Timestamps go to
a 90 kHz clock from the segment's first picture; a unit whose time does not advance is
dropped (MP4 needs rising decode times), and counted.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from iocwall.streams.replay.boxes import BoxSplitter

CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class Fragment:
    """One GOP as ``moof``+``mdat`` bytes (it needs its segment's init to play)."""
    data: bytes
    start_ticks: int          # 90 kHz, from the segment's first picture
    end_ticks: int


class _Sink(io.RawIOBase):
    """The muxer's file: every write goes to a box splitter."""

    def __init__(self, splitter: BoxSplitter) -> None:
        super().__init__()
        self.splitter = splitter
        self.boxes: list[tuple[bytes, bytes]] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.boxes.extend(self.splitter.feed(chunk))
        return len(chunk)


def describe(keyframe: bytes) -> tuple[Any, Any]:
    """FFmpeg's description of an H.264 stream from one Annex-B keyframe (SPS/PPS in front):
    the raw demuxer's container and its video stream (a template for the muxer)."""
    import av
    source = av.open(io.BytesIO(keyframe), format="h264")
    return source, source.streams.video[0]


class SegmentMuxer:
    """Feed access units of one source session; collect the init segment and fragments."""

    def __init__(self, keyframe: bytes) -> None:
        import av
        self._av = av
        self._source, template = describe(keyframe)
        self.width = int(template.codec_context.width or 0)
        self.height = int(template.codec_context.height or 0)
        self._sink = _Sink(BoxSplitter())
        self._out = av.open(self._sink, "w", format="mp4", options={"movflags": MOVFLAGS})
        self._stream = self._out.add_stream_from_template(template, opaque=True)
        self._stream.time_base = TIME_BASE
        self.init = b""
        self._moof = b""
        self._first: float | None = None      # seconds of the segment's first picture
        self._last_ticks = -1
        self._gop_start = 0
        self._gop_starts: list[int] = []      # keyframe ticks of GOPs not yet written out
        self.pending_bytes = 0                # bytes muxed since the last fragment came out
        self.dropped = 0
        self.closed = False

    def add(self, data: bytes, seconds: float, keyframe: bool) -> list[Fragment]:
        """Mux one access unit at ``seconds`` (source clock); returns completed fragments."""
        if self._first is None:
            self._first = seconds
        ticks = round((seconds - self._first) * CLOCK)
        if ticks <= self._last_ticks:
            self.dropped += 1
            return []
        self._last_ticks = ticks
        if keyframe:
            self._gop_starts.append(ticks)
        packet = self._av.Packet(data)
        packet.pts = packet.dts = ticks
        packet.time_base = TIME_BASE
        packet.stream = self._stream
        packet.is_keyframe = keyframe
        self._out.mux(packet)
        self.pending_bytes += len(data)
        return self._collect(ticks)

    def _collect(self, now_ticks: int) -> list[Fragment]:
        out: list[Fragment] = []
        for kind, box in self._sink.boxes:
            if kind in (b"ftyp", b"moov"):
                self.init += box
            elif kind == b"moof":
                self._moof = box
            elif kind == b"mdat" and self._moof:
                start = self._gop_starts.pop(0) if self._gop_starts else now_ticks
                end = self._gop_starts[0] if self._gop_starts else now_ticks
                out.append(Fragment(self._moof + box, start, end))
                self._moof = b""
                self.pending_bytes = 0
        self._sink.boxes.clear()
        return out

    def close(self) -> None:
        """Drop what is not written out yet (an unfinished GOP) and free FFmpeg's state."""
        if self.closed:
            return
        self.closed = True
        for closable in (self._out, self._source):
            try:
                closable.close()
            except Exception:      # noqa: BLE001 - closing a muxer mid-GOP may complain
                pass

"""A span of the buffer as one MP4 that FFmpeg and a browser's <video> play from its start.

The fragments of each segment are read back with their own init (FFmpeg's MP4 demuxer)
and their packets remuxed, as they are, into one new fragmented MP4 whose time starts
at 0 and runs on across segments: a span across a camera restart or a size change is
one file. The stream is described by the first segment; a later segment's pictures
carry their own SPS/PPS in band, so decoders follow the change. Nothing is decoded.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

from iocwall.streams.replay.muxer import CLOCK, MOVFLAGS, TIME_BASE

FRAME_TICKS = CLOCK // 25        # the last picture of a part lasts this long if unknown


def join(parts: Sequence[tuple[bytes, Sequence[bytes]]]) -> bytes:
    """One MP4 of ``parts``: (init, fragments) each, in time order. Blocking (run it in a
    thread): it parses and writes, a few ms per second of video."""
    import av
    out_file = io.BytesIO()
    out = av.open(out_file, "w", format="mp4", options={"movflags": MOVFLAGS})
    stream = None
    offset = 0
    try:
        for init, fragments in parts:
            source = av.open(io.BytesIO(init + b"".join(fragments)), "r", format="mp4")
            try:
                template = source.streams.video[0]
                if stream is None:
                    stream = out.add_stream_from_template(template, opaque=True)
                    stream.time_base = TIME_BASE
                scale = template.time_base * CLOCK if template.time_base else 1
                base: int | None = None
                last, step = offset, FRAME_TICKS
                for packet in source.demux(template):
                    if packet.size == 0 or packet.dts is None:
                        continue
                    base = packet.dts if base is None else base
                    ticks = offset + round((packet.dts - base) * scale)
                    if ticks <= last and ticks != offset:
                        continue
                    step = ticks - last if ticks > last else step
                    last = ticks
                    packet.pts = packet.dts = ticks
                    packet.time_base = TIME_BASE
                    packet.stream = stream
                    out.mux(packet)
                offset = last + step
            finally:
                source.close()
    finally:
        out.close()
    return out_file.getvalue()

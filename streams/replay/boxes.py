"""Top-level MP4 boxes out of a byte stream: the muxer writes them in pieces of any size.

An fMP4 muxer writes ``ftyp`` + ``moov`` (the init segment), then ``moof`` + ``mdat`` pairs
(one per fragment). ``BoxSplitter`` collects the bytes and hands out each complete box, so
the buffer never depends on how FFmpeg's I/O layer chunks its writes.
"""
from __future__ import annotations

import struct

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class BoxSplitter:
    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Add bytes; returns the boxes completed by them as (type, whole box)."""
        self._pending += data
        out: list[tuple[bytes, bytes]] = []
        while True:
            size = self._box_size()
            if size is None or len(self._pending) < size:
                return out
            box = bytes(self._pending[:size])
            del self._pending[:size]
            out.append((box[4:8], box))

    def _box_size(self) -> int | None:
        if len(self._pending) < 8:
            return None
        size = _U32.unpack_from(self._pending, 0)[0]
        if size == 1:                       # 64-bit largesize follows the type
            if len(self._pending) < 16:
                return None
            size = _U64.unpack_from(self._pending, 8)[0]
        if size < 8:
            raise ValueError(f"bad MP4 box size {size}")
        return size

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

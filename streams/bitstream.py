"""Reading H.264 bitstreams (ITU-T H.264 7.2): emulation prevention and exp-Golomb bits.

Shared by everything that parses NAL unit headers: the RTP ingest and smoke test
(SPS), and the simulator (slice headers it rewrites).
"""
from __future__ import annotations


class BitstreamError(ValueError):
    """A NAL unit that ends early or holds an impossible code."""


def unescape(ebsp: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00)."""
    return ebsp.replace(b"\x00\x00\x03", b"\x00\x00") if b"\x00\x00\x03" in ebsp else ebsp


class BitReader:
    """MSB-first reader over an RBSP; the whole payload is one int, so reads are shifts."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.size = len(data) * 8
        self.pos = 0

    def u(self, n: int) -> int:
        if n == 0:
            return 0
        if self.pos + n > self.size:
            raise BitstreamError("read past the end of a NAL unit")
        self.pos += n
        return (self.value >> (self.size - self.pos)) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)

    def bits(self, start: int, end: int) -> tuple[int, int]:
        """The bits [start, end) as (value, count)."""
        n = end - start
        return (self.value >> (self.size - end)) & ((1 << n) - 1), n

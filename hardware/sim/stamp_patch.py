"""Write the frame stamp into pre-encoded H.264 at send time.

Each loop frame's first slice covers exactly the two macroblock rows that hold
the stamp (encoder.py asks x264 for slices of two rows). At send time we keep
that slice's header bits and replace its slice_data (CAVLC, 7.3.4):
- I slices: every macroblock I_PCM (raw samples): stamp cells black/white, the
  rest of both rows the flat gray band that scene.py also renders;
- P slices: P_Skip for unchanged macroblocks (all motion vectors in the slice
  are zero, so a skip copies the previous frame) and I_PCM only for the stamp
  cells whose bit changed since the previous frame.
I_PCM decodes with QP 0, so deblocking leaves the cells' centres exact.
"""
from __future__ import annotations

from iocwall.hardware import stamp

from . import h264
from .scene import BAND_GRAY

BLACK, WHITE = 16, 235
_I_PCM_IN_I, _I_PCM_IN_P = 25, 30
_CHROMA = bytes([128]) * 128  # Cb then Cr, 8x8 each


def _pcm(luma: int) -> bytes:
    return bytes([luma]) * 256 + _CHROMA


_PCM = {0: _pcm(BLACK), 1: _pcm(WHITE), None: _pcm(BAND_GRAY)}


class BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.nbits = 0

    def put(self, value: int, n: int) -> None:
        self.acc = (self.acc << n) | value
        self.nbits += n
        while self.nbits >= 8:
            self.nbits -= 8
            self.out.append((self.acc >> self.nbits) & 0xFF)
        self.acc &= (1 << self.nbits) - 1

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.put(code, 2 * length - 1)

    def align_zero(self) -> None:
        if self.nbits:
            self.put(0, 8 - self.nbits)

    def raw(self, data: bytes) -> None:
        """Append whole bytes; the writer must be byte aligned."""
        self.out += data

    def trailing(self) -> bytes:
        self.put(1, 1)
        self.align_zero()
        return bytes(self.out)


def _cell_of(mb: int, width_mbs: int) -> int | None:
    """Stamp cell index (0..47) of macroblock ``mb`` in the first slice, or None."""
    row, col = divmod(mb, width_mbs)
    return row * stamp.COLUMNS + col if col < stamp.COLUMNS and row < 2 else None


class StampPatcher:
    """Rewrites the first slice of each frame of one stream; keeps the last stamp bits."""

    def __init__(self, sps: h264.Sps, pps: h264.Pps) -> None:
        if sps.width_mbs < stamp.COLUMNS:
            raise ValueError("stream narrower than the stamp")
        self.sps, self.pps = sps, pps
        self.width_mbs = sps.width_mbs
        self.slice_mbs = 2 * sps.width_mbs
        self.previous: list[int] | None = None

    def reset(self) -> None:
        """Forget the last frame's bits: the next P frame cannot be patched safely."""
        self.previous = None

    def patch(self, nals: list[bytes], ms: int) -> list[bytes]:
        """The frame's NAL units with the first slice rewritten to show ``ms``."""
        for i, nal in enumerate(nals):
            if nal[0] & 0x1F in (h264.NAL_SLICE, h264.NAL_IDR):
                header = h264.parse_slice_header(nal, self.sps, self.pps)
                if header.first_mb != 0:
                    break
                new = self._slice(header, stamp.bits_of(ms))
                if new is None:
                    return nals
                return nals[:i] + [new] + nals[i + 1:]
        return nals

    def _slice(self, header: h264.SliceHeader, bits: list[int]) -> bytes | None:
        w = BitWriter()
        w.put(*header.header_bits)
        if header.slice_type == h264.SLICE_I:
            self._intra(w, bits)
        elif self.previous is not None:
            self._inter(w, bits, self.previous)
        else:
            return None  # joined after a gap: leave the encoder's slice, wait for an IDR
        self.previous = bits
        return bytes([header.nal_header]) + h264.escape(w.trailing())

    def _intra(self, w: BitWriter, bits: list[int]) -> None:
        for mb in range(self.slice_mbs):
            w.ue(_I_PCM_IN_I)
            w.align_zero()
            cell = _cell_of(mb, self.width_mbs)
            w.raw(_PCM[None if cell is None else bits[cell]])

    def _inter(self, w: BitWriter, bits: list[int], previous: list[int]) -> None:
        run = 0
        for mb in range(self.slice_mbs):
            cell = _cell_of(mb, self.width_mbs)
            if cell is None or bits[cell] == previous[cell]:
                run += 1
                continue
            w.ue(run)
            run = 0
            w.ue(_I_PCM_IN_P)
            w.align_zero()
            w.raw(_PCM[bits[cell]])
        if run:
            w.ue(run)

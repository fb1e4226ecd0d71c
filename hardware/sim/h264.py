"""Just enough H.264 bitstream handling (ITU-T H.264 7.3) for the simulator:
emulation prevention, PPS fields and the slice header length (so a slice's data
can be rewritten, see stamp_patch). Annex B splitting and the SPS come from the
one protocol layer in ``iocwall.streams`` (h264, rtsp.sps), shared with the ingest.
"""
from __future__ import annotations

from dataclasses import dataclass

from iocwall.streams.bitstream import BitReader, BitstreamError, unescape
from iocwall.streams.h264 import (  # noqa: F401 - the one set of NAL unit types
    NAL_AUD,
    NAL_IDR,
    NAL_PPS,
    NAL_SEI,
    NAL_SLICE,
    NAL_SPS,
)
from iocwall.streams.h264 import split_annexb as annexb_units
from iocwall.streams.rtsp.sps import Sps, parse_sps  # noqa: F401 - the one SPS parser

SLICE_P, SLICE_B, SLICE_I = 0, 1, 2


class H264Error(BitstreamError):
    """A bitstream feature the simulator does not handle."""


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream, without start codes (streams.h264's splitter)."""
    return list(annexb_units(data))


def escape(rbsp: bytes) -> bytes:
    """Insert emulation prevention bytes (0x03 after 00 00 before a byte <= 3)."""
    if b"\x00\x00" not in rbsp:
        return rbsp
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


@dataclass(frozen=True)
class Pps:
    cabac: bool
    bottom_field_pic_order: bool
    num_ref_idx_l0_default: int
    weighted_pred: bool
    weighted_bipred: int
    deblocking_control: bool
    redundant_pic_cnt: bool


def parse_pps(nal: bytes) -> Pps:
    r = BitReader(unescape(nal[1:]))
    r.ue(), r.ue()
    cabac = bool(r.u(1))
    bottom = bool(r.u(1))
    if r.ue() != 0:
        raise H264Error("slice groups are not supported")
    l0 = r.ue() + 1
    r.ue()
    weighted = bool(r.u(1))
    bipred = r.u(2)
    r.se(), r.se(), r.se()
    deblock = bool(r.u(1))
    r.u(1)
    redundant = bool(r.u(1))
    return Pps(cabac, bottom, l0, weighted, bipred, deblock, redundant)


@dataclass(frozen=True)
class SliceHeader:
    nal_header: int
    first_mb: int
    slice_type: int            # 0 P, 1 B, 2 I (mod 5)
    header_bits: tuple[int, int]   # (value, count) of the RBSP bits before slice_data


def parse_slice_header(nal: bytes, sps: Sps, pps: Pps) -> SliceHeader:
    """Walk the slice header (7.3.3) to find where slice_data begins."""
    nal_type, ref_idc = nal[0] & 0x1F, (nal[0] >> 5) & 3
    r = BitReader(unescape(nal[1:]))
    first_mb = r.ue()
    slice_type = r.ue() % 5
    r.ue()
    if sps.separate_colour_plane:
        r.u(2)
    r.u(sps.log2_max_frame_num)
    field = False
    if not sps.frame_mbs_only:
        field = bool(r.u(1))
        if field:
            r.u(1)
    if nal_type == NAL_IDR:
        r.ue()
    if sps.poc_type == 0:
        r.u(sps.log2_max_poc_lsb)
        if pps.bottom_field_pic_order and not field:
            r.se()
    elif sps.poc_type == 1 and not sps.delta_pic_order_always_zero:
        r.se()
        if pps.bottom_field_pic_order and not field:
            r.se()
    if pps.redundant_pic_cnt:
        r.ue()
    if slice_type == SLICE_B:
        raise H264Error("B slices are not supported (encode with bframes=0)")
    if slice_type == SLICE_P:
        if r.u(1):
            r.ue()
        if r.u(1):  # ref_pic_list_modification_flag_l0
            while (idc := r.ue()) != 3:
                r.ue()
                if idc > 5:
                    raise H264Error("bad reordering idc")
        if pps.weighted_pred:
            raise H264Error("weighted prediction is not supported (encode with weightp=0)")
    if ref_idc:
        if nal_type == NAL_IDR:
            r.u(2)
        elif r.u(1):
            while (op := r.ue()) != 0:
                if op in (1, 3):
                    r.ue()
                if op in (2, 3, 6):
                    r.ue()
                if op == 4:
                    r.ue()
    if pps.cabac:
        raise H264Error("CABAC slices are not supported (encode with cabac=0)")
    r.se()
    if pps.deblocking_control and r.ue() != 1:
        r.se(), r.se()
    return SliceHeader(nal[0], first_mb, slice_type, r.bits(0, r.pos))

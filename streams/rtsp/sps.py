"""H.264 sequence parameter set: profile, level and picture size (ITU-T H.264 7.3.2.1).

Read straight from the bitstream so that the codec row tells what the camera
*says* it sends, independently of what the decoder later makes of it.
"""
from __future__ import annotations

from dataclasses import dataclass

_PROFILES = {
    66: "Baseline", 77: "Main", 88: "Extended", 100: "High", 110: "High 10",
    122: "High 4:2:2", 244: "High 4:4:4", 44: "CAVLC 4:4:4",
}
# Profiles whose SPS carries chroma_format_idc and scaling lists.
_HIGH_FAMILY = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class SpsError(ValueError):
    """An SPS that cannot be parsed (truncated or corrupt)."""


@dataclass(frozen=True)
class Sps:
    profile_idc: int
    constraint_flags: int
    level_idc: int
    width: int
    height: int

    @property
    def profile(self) -> str:
        if self.profile_idc == 66 and self.constraint_flags & 0x40:
            return "Constrained Baseline"
        return _PROFILES.get(self.profile_idc, f"profile {self.profile_idc}")

    @property
    def level(self) -> str:
        if self.level_idc == 11 and self.profile_idc in (66, 77) and self.constraint_flags & 0x10:
            return "1b"
        major, minor = divmod(self.level_idc, 10)
        return f"{major}.{minor}" if minor else str(major)


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        byte = self.pos >> 3
        if byte >= len(self.data):
            raise SpsError("SPS is truncated")
        value = (self.data[byte] >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise SpsError("SPS has an invalid Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def unescape(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def parse_sps(nal: bytes) -> Sps:
    """Parse an SPS NAL unit (with its one-byte NAL header)."""
    if not nal or nal[0] & 0x1F != 7:
        raise SpsError("not an SPS NAL unit")
    r = _Bits(unescape(nal[1:]))
    profile_idc, constraints, level_idc = r.bits(8), r.bits(8), r.bits(8)
    r.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in _HIGH_FAMILY:
        chroma_format_idc = r.ue()
        if chroma_format_idc == 3:
            r.bit()  # separate_colour_plane_flag
        r.ue(), r.ue(), r.bit()  # bit depths, qpprime_y_zero_transform_bypass
        if r.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.bit():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.bit(), r.se(), r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue(), r.bit()  # max_num_ref_frames, gaps_in_frame_num_allowed
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()  # mb_adaptive_frame_field
    r.bit()  # direct_8x8_inference
    width, height = width_mbs * 16, height_units * 16 * (2 - frame_mbs_only)
    if r.bit():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        crop_x = 1 if chroma_format_idc in (0, 3) else 2
        crop_y = (1 if chroma_format_idc in (0, 2, 3) else 2) * (2 - frame_mbs_only)
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise SpsError("SPS gives an empty picture size")
    return Sps(profile_idc, constraints, level_idc, width, height)


def _skip_scaling_list(r: _Bits, size: int) -> None:
    last, next_ = 8, 8
    for _ in range(size):
        if next_ != 0:
            next_ = (last + r.se() + 256) % 256
        last = next_ if next_ != 0 else last

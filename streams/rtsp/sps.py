"""H.264 sequence parameter set: profile, level, picture size and the fields a slice
header depends on (ITU-T H.264 7.3.2.1).

Read straight from the bitstream so that the codec row tells what the camera
*says* it sends, independently of what the decoder later makes of it. The one
SPS parser: the ingest, the smoke test and the simulator (which rewrites slices,
see hardware/sim/stamp_patch.py) all use it.
"""
from __future__ import annotations

from dataclasses import dataclass

from iocwall.streams.bitstream import BitReader, BitstreamError, unescape

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
    width: int                  # picture size after cropping
    height: int
    width_mbs: int = 0          # macroblocks across
    height_mbs: int = 0         # macroblock rows of a frame
    log2_max_frame_num: int = 4
    poc_type: int = 0
    log2_max_poc_lsb: int = 4
    delta_pic_order_always_zero: bool = False
    frame_mbs_only: bool = True
    separate_colour_plane: bool = False

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


def parse_sps(nal: bytes) -> Sps:
    """Parse an SPS NAL unit (with its one-byte NAL header)."""
    if not nal or nal[0] & 0x1F != 7:
        raise SpsError("not an SPS NAL unit")
    try:
        return _parse(BitReader(unescape(nal[1:])))
    except BitstreamError as exc:
        raise SpsError(f"SPS is damaged: {exc}") from None


def _parse(r: BitReader) -> Sps:
    profile_idc, constraints, level_idc = r.u(8), r.u(8), r.u(8)
    r.ue()  # seq_parameter_set_id
    chroma_format_idc, separate = 1, False
    if profile_idc in _HIGH_FAMILY:
        chroma_format_idc = r.ue()
        if chroma_format_idc == 3:
            separate = bool(r.u(1))
        r.ue(), r.ue(), r.u(1)  # bit depths, qpprime_y_zero_transform_bypass
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    log2_frame = r.ue() + 4
    poc_type = r.ue()
    log2_poc, always_zero = 4, False
    if poc_type == 0:
        log2_poc = r.ue() + 4
    elif poc_type == 1:
        always_zero = bool(r.u(1))
        r.se(), r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue(), r.u(1)  # max_num_ref_frames, gaps_in_frame_num_allowed
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field
    r.u(1)  # direct_8x8_inference
    width, height = width_mbs * 16, height_units * 16 * (2 - frame_mbs_only)
    if r.u(1):  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        crop_x = 1 if chroma_format_idc in (0, 3) else 2
        crop_y = (1 if chroma_format_idc in (0, 2, 3) else 2) * (2 - frame_mbs_only)
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise SpsError("SPS gives an empty picture size")
    return Sps(profile_idc, constraints, level_idc, width, height, width_mbs,
               height_units * (2 - frame_mbs_only), log2_frame, poc_type, log2_poc, always_zero,
               bool(frame_mbs_only), separate)


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, next_ = 8, 8
    for _ in range(size):
        if next_ != 0:
            next_ = (last + r.se() + 256) % 256
        last = next_ if next_ != 0 else last

"""H.264 bitstream helpers for passthrough: Annex-B NAL units, parameter sets, profile.

Cameras deliver Annex-B access units over RTSP, but the SPS/PPS usually sit only
in the SDP (FFmpeg's extradata). A browser that joins mid-stream needs them in
front of the keyframe it starts from, so every keyframe we forward carries them.
aiortc's packetizer splits on start codes, so length-prefixed (avcC/MP4) data is
converted to Annex-B first; it would otherwise send nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

START = b"\x00\x00\x00\x01"

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9


@dataclass(frozen=True)
class ParameterSets:
    """The SPS and PPS NAL units (without start codes) a decoder needs first."""
    sps: tuple[bytes, ...] = ()
    pps: tuple[bytes, ...] = ()

    def annexb(self) -> bytes:
        return b"".join(START + nal for nal in (*self.sps, *self.pps))

    def __bool__(self) -> bool:
        return bool(self.sps and self.pps)


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F if nal else 0


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(START)


def split_annexb(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex-B buffer, without start codes."""
    pos = data.find(b"\x00\x00\x01")
    while pos != -1:
        start = pos + 3
        nxt = data.find(b"\x00\x00\x01", start)
        if nxt == -1:
            end = len(data)
        else:
            # a 4-byte start code owns the zero byte before it
            end = nxt - 1 if data[nxt - 1] == 0 else nxt
        nal = data[start:end]
        while nal.endswith(b"\x00"):  # trailing_zero_8bits belong to no NAL
            nal = nal[:-1]
        if nal:
            yield nal
        pos = nxt


def split_length_prefixed(data: bytes, size: int = 4) -> Iterator[bytes]:
    """The NAL units of an AVCC (MP4-style, length-prefixed) buffer."""
    pos = 0
    while pos + size <= len(data):
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
        if length == 0 or pos + length > len(data):
            return
        yield data[pos:pos + length]
        pos += length


def to_annexb(data: bytes, length_size: int = 4) -> bytes:
    """Annex-B bytes for an access unit in either format."""
    if is_annexb(data):
        return data
    return b"".join(START + nal for nal in split_length_prefixed(data, length_size))


def parameter_sets(extradata: bytes | None) -> tuple[ParameterSets, int]:
    """SPS/PPS from FFmpeg extradata (avcC record or Annex-B) and the NAL length size.

    The length size matters only for avcC sources (their packets are length-prefixed).
    """
    if not extradata:
        return ParameterSets(), 4
    if is_annexb(extradata):
        nals = list(split_annexb(extradata))
        return _collect(nals), 4
    return _parse_avcc(extradata)


def _collect(nals: Iterable[bytes]) -> ParameterSets:
    nals = list(nals)
    sps = tuple(n for n in nals if nal_type(n) == NAL_SPS)
    pps = tuple(n for n in nals if nal_type(n) == NAL_PPS)
    return ParameterSets(sps, pps)


def _parse_avcc(data: bytes) -> tuple[ParameterSets, int]:
    # ISO/IEC 14496-15 AVCDecoderConfigurationRecord
    if len(data) < 7 or data[0] != 1:
        return ParameterSets(), 4
    length_size = (data[4] & 0x03) + 1
    pos, nals = 5, []
    for count_mask in (0x1F, 0xFF):
        if pos >= len(data):
            break
        count = data[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(data[pos:pos + 2], "big")
            nals.append(data[pos + 2:pos + 2 + size])
            pos += 2 + size
    return _collect(nals), length_size


def access_unit_info(data: bytes) -> tuple[bool, bool]:
    """(has IDR slice, has SPS) of an Annex-B access unit; scans NAL headers only."""
    idr = sps = False
    for nal in split_annexb(data):
        kind = nal_type(nal)
        idr |= kind == NAL_IDR
        sps |= kind == NAL_SPS
    return idr, sps


def with_parameter_sets(data: bytes, sets: ParameterSets) -> bytes:
    """Prefix a keyframe access unit with SPS/PPS unless it already has an SPS."""
    idr, has_sps = access_unit_info(data)
    if not idr or has_sps or not sets:
        return data
    return sets.annexb() + data


def learn_parameter_sets(data: bytes, known: ParameterSets) -> ParameterSets:
    """Parameter sets carried in-band by an access unit, or ``known`` if it has none."""
    return learn_from_nals(list(split_annexb(data)), known)


def profile_level_id(sps: bytes) -> str | None:
    """RFC 6184 profile-level-id (6 hex digits) from an SPS NAL unit, e.g. '64002a'."""
    if len(sps) < 4 or nal_type(sps) != NAL_SPS:
        return None
    return sps[1:4].hex()


def looks_valid(data: bytes) -> bool:
    """Cheap sanity check of an Annex-B access unit (no decoding).

    Garbage from a broken camera shows up as NAL units with the forbidden bit set
    or reserved types; such units are counted and dropped instead of forwarded.
    """
    return nals_look_valid(split_annexb(data))


def nals_look_valid(nals: Iterable[bytes]) -> bool:
    """``looks_valid`` for NAL units already split (RTP ingest has them so)."""
    seen = False
    for nal in nals:
        seen = True
        if not nal or nal[0] & 0x80 or nal[0] & 0x1F == 0 or nal[0] & 0x1F >= 24:
            return False
    return seen


def learn_from_nals(nals: Sequence[bytes], known: ParameterSets) -> ParameterSets:
    """``learn_parameter_sets`` for NAL units already split."""
    found = _collect(n for n in nals if nal_type(n) in (NAL_SPS, NAL_PPS))
    return found if found else known

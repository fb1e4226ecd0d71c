"""The parts of a DESCRIBE answer (SDP, RFC 4566) that the smoke test needs: the video track."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


@dataclass
class VideoTrack:
    payload_type: int
    encoding: str  # "H264", "H265", "JPEG", ...
    clock_rate: int
    control: str
    fmtp: dict[str, str] = field(default_factory=dict)

    def parameter_sets(self) -> list[bytes]:
        """The NAL units in sprop-parameter-sets (SPS, PPS), base64-decoded; bad ones skipped."""
        out = []
        for item in self.fmtp.get("sprop-parameter-sets", "").split(","):
            try:
                nal = base64.b64decode(item.strip(), validate=True)
            except (binascii.Error, ValueError):
                continue
            if nal:
                out.append(nal)
        return out


def video_track(sdp: str) -> VideoTrack | None:
    """The first m=video section, or None if the description has no video."""
    track: VideoTrack | None = None
    in_video = False
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if track is not None:
                break
            fields = line[2:].split()
            in_video = bool(fields) and fields[0] == "video"
            if in_video:
                pt = int(fields[3]) if len(fields) > 3 and fields[3].isdigit() else 96
                track = VideoTrack(pt, "", 90000, "")
        elif in_video and track is not None and line.startswith("a="):
            _attribute(track, line[2:])
    return track


def _attribute(track: VideoTrack, attr: str) -> None:
    name, _, value = attr.partition(":")
    if name == "control":
        track.control = value.strip()
    elif name == "rtpmap":
        pt, _, codec = value.partition(" ")
        if pt.strip() == str(track.payload_type):
            enc, _, rate = codec.partition("/")
            track.encoding = enc.upper()
            track.clock_rate = int(rate.split("/")[0]) if rate.split("/")[0].isdigit() else 90000
    elif name == "fmtp":
        pt, _, params = value.partition(" ")
        if pt.strip() == str(track.payload_type):
            for item in params.split(";"):
                key, _, val = item.strip().partition("=")
                if key:
                    track.fmtp[key.strip().lower()] = val.strip()


def resolve_control(base: str, control: str) -> str:
    """The SETUP URL for a track's a=control (absolute, '*', or relative to the base)."""
    if not control or control == "*":
        return base
    if "://" in control:
        return control
    return base + control if base.endswith("/") else f"{base}/{control}"

"""The SDP a camera answers to DESCRIBE (RFC 4566, H.264 per RFC 6184)."""
from __future__ import annotations

import base64

from iocwall.streams.h264 import profile_level_id

TRACK = "trackID=0"


def describe(host: str, session_id: int, title: str, sps: bytes, pps: bytes, fps: int,
             width: int, height: int, kbps: int) -> str:
    sprop = f"{base64.b64encode(sps).decode()},{base64.b64encode(pps).decode()}"
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {host}",
        "s=iocwall camera simulator",
        f"i={title}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=now-",
        "m=video 0 RTP/AVP 96",
        f"b=AS:{kbps}",
        "a=rtpmap:96 H264/90000",
        (f"a=fmtp:96 packetization-mode=1;profile-level-id={profile_level_id(sps)};"
         f"sprop-parameter-sets={sprop}"),
        f"a=framerate:{fps}",
        f"a=x-dimensions:{width},{height}",
        f"a=control:{TRACK}",
        "a=recvonly",
    ]
    return "\r\n".join(lines) + "\r\n"

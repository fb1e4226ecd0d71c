"""ONVIF Media service (ver10) of the simulator: profiles, stream and snapshot URIs.

NVR-style: one device, two profiles per camera, tokens ``cam{K}_main`` and ``cam{K}_sub``.
Element order follows onvif.xsd exactly, because client libraries (zeep) deserialize by it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from iocwall.hardware.sim.onvif_model import (
    CameraLike,
    StreamLike,
    bitrate_of,
    gop_of,
    path_of,
    profile_of,
    stream_of,
)
from iocwall.hardware.sim.soap import SoapFault, SoapRequest, action_not_supported, invalid_arg, x

KINDS = ("main", "sub")
MEDIA_OPS = ("GetProfiles", "GetProfile", "GetStreamUri", "GetSnapshotUri", "GetVideoSources")


@dataclass(frozen=True)
class ProfileRef:
    camera: CameraLike
    kind: str  # "main" | "sub"

    @property
    def token(self) -> str:
        return f"cam{self.camera.index}_{self.kind}"

    @property
    def stream(self) -> StreamLike:
        return stream_of(self.camera, self.kind)


class MediaService:
    def __init__(self, cameras: Callable[[], Sequence[CameraLike]],
                 rtsp_base: Callable[[str], str], http_base: Callable[[str], str]) -> None:
        """``rtsp_base(local_host)``/``http_base(local_host)`` give ``scheme://host:port``."""
        self._cameras = cameras
        self._rtsp_base = rtsp_base
        self._http_base = http_base

    def profiles(self) -> list[ProfileRef]:
        return [ProfileRef(cam, kind) for cam in self._cameras() for kind in KINDS]

    def find(self, token: str) -> ProfileRef:
        for ref in self.profiles():
            if ref.token == token:
                return ref
        raise invalid_arg("NoProfile", "the requested profile token does not exist")

    def handle(self, req: SoapRequest, local_host: str) -> str:
        if req.name == "GetProfiles":
            items = "".join(_profile_xml(r, "trt:Profiles") for r in self.profiles())
            return f"<trt:GetProfilesResponse>{items}</trt:GetProfilesResponse>"
        if req.name == "GetProfile":
            ref = self.find(req.text("trt:ProfileToken"))
            profile = _profile_xml(ref, "trt:Profile")
            return f"<trt:GetProfileResponse>{profile}</trt:GetProfileResponse>"
        if req.name == "GetStreamUri":
            return self._stream_uri(req, local_host)
        if req.name == "GetSnapshotUri":
            ref = self.find(req.text("trt:ProfileToken"))
            uri = f"{self._http_base(local_host)}/onvif/snapshot?token={ref.token}"
            return f"<trt:GetSnapshotUriResponse>{_media_uri(uri)}</trt:GetSnapshotUriResponse>"
        if req.name == "GetVideoSources":
            return self._video_sources()
        raise action_not_supported(req.name)

    def _stream_uri(self, req: SoapRequest, local_host: str) -> str:
        ref = self.find(req.text("trt:ProfileToken"))
        stream_type = req.text("trt:StreamSetup/tt:Stream", "RTP-Unicast")
        protocol = req.text("trt:StreamSetup/tt:Transport/tt:Protocol", "RTSP")
        if stream_type != "RTP-Unicast":
            raise invalid_arg("InvalidStreamSetup", "only RTP-Unicast streaming is offered")
        if protocol not in ("RTSP", "UDP", "TCP"):
            raise invalid_arg("InvalidStreamSetup", f"unsupported transport {protocol[:20]}")
        # No credentials in the URI: the client authenticates to RTSP itself (Digest/Basic).
        uri = f"{self._rtsp_base(local_host)}{path_of(ref.camera, ref.kind)}"
        return f"<trt:GetStreamUriResponse>{_media_uri(uri)}</trt:GetStreamUriResponse>"

    def _video_sources(self) -> str:
        items = "".join(
            f'<trt:VideoSources token="vs_cam{c.index}"><tt:Framerate>{float(m.fps):g}'
            f"</tt:Framerate><tt:Resolution><tt:Width>{int(m.width)}</tt:Width>"
            f"<tt:Height>{int(m.height)}</tt:Height></tt:Resolution></trt:VideoSources>"
            for c, m in ((c, stream_of(c, "main")) for c in self._cameras()))
        return f"<trt:GetVideoSourcesResponse>{items}</trt:GetVideoSourcesResponse>"


def _profile_xml(ref: ProfileRef, tag: str) -> str:
    cam, s = ref.camera, ref.stream
    main = stream_of(cam, "main")
    return (
        f'<{tag} token="{x(ref.token)}" fixed="true">'
        f"<tt:Name>{x(cam.name)} {ref.kind}</tt:Name>"
        f'<tt:VideoSourceConfiguration token="vsc_cam{cam.index}">'
        f"<tt:Name>{x(cam.name)} source</tt:Name><tt:UseCount>2</tt:UseCount>"
        f"<tt:SourceToken>vs_cam{cam.index}</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="{int(main.width)}" height="{int(main.height)}"/>'
        "</tt:VideoSourceConfiguration>"
        f"{_encoder_xml(ref.token, s)}"
        f"</{tag}>"
    )


def _encoder_xml(token: str, s: StreamLike) -> str:
    return (
        f'<tt:VideoEncoderConfiguration token="vec_{x(token)}">'
        f"<tt:Name>{x(token)}</tt:Name><tt:UseCount>1</tt:UseCount>"
        "<tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{int(s.width)}</tt:Width>"
        f"<tt:Height>{int(s.height)}</tt:Height></tt:Resolution>"
        "<tt:Quality>5</tt:Quality>"
        f"<tt:RateControl><tt:FrameRateLimit>{round(float(s.fps))}</tt:FrameRateLimit>"
        "<tt:EncodingInterval>1</tt:EncodingInterval>"
        f"<tt:BitrateLimit>{bitrate_of(s)}</tt:BitrateLimit></tt:RateControl>"
        f"<tt:H264><tt:GovLength>{gop_of(s)}</tt:GovLength>"
        f"<tt:H264Profile>{profile_of(s)}</tt:H264Profile></tt:H264>"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>"
        "<tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>"
        "<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        "<tt:SessionTimeout>PT60S</tt:SessionTimeout>"
        "</tt:VideoEncoderConfiguration>"
    )


def _media_uri(uri: str) -> str:
    return (f"<trt:MediaUri><tt:Uri>{x(uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
            "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>")


__all__ = ["MediaService", "ProfileRef", "KINDS", "MEDIA_OPS", "SoapFault"]

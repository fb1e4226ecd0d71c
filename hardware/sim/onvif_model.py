"""What the ONVIF device needs to know about each simulated camera.

``OnvifDevice`` accepts any objects shaped like ``CameraLike`` (the RTSP simulator can pass its
own camera objects) and reads them at every request, so a resolution change made by a fault
shows in GetProfiles at once. ``CameraInfo``/``StreamInfo`` are ready-made dataclasses.
A flat shape is accepted too: ``index``, ``name``, ``main_width``, ``main_height``, ``main_fps``,
``sub_width``, ``sub_height``, ``sub_fps`` and optional ``main_path``/``sub_path``,
``main_gop``/``sub_gop`` (frames between keyframes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class StreamLike(Protocol):
    width: int
    height: int
    fps: float


class CameraLike(Protocol):
    # read-only members: a camera with any StreamLike streams (StreamInfo) fits
    @property
    def index(self) -> int: ...  # 1..N; the RTSP paths are /cam{index}/main and /cam{index}/sub
    @property
    def name(self) -> str: ...
    @property
    def main(self) -> StreamLike: ...
    @property
    def sub(self) -> StreamLike: ...


@dataclass
class StreamInfo:
    width: int
    height: int
    fps: float
    gop: int | None = None  # frames between keyframes; default 2 s worth
    bitrate_kbps: int | None = None
    h264_profile: str = "Main"  # "Baseline" | "Main" | "High" as ONVIF spells it


@dataclass
class CameraInfo:
    index: int
    name: str
    main: StreamInfo
    sub: StreamInfo


def default_cameras(count: int) -> list[CameraInfo]:
    """N cameras with the issue's stream shapes (1080p25 main, 360p15 sub)."""
    return [CameraInfo(i, f"Camera {i}", StreamInfo(1920, 1080, 25, 50, 4096, "High"),
                       StreamInfo(640, 360, 15, 30, 512, "Main")) for i in range(1, count + 1)]


def stream_of(camera: object, kind: str) -> StreamLike:
    """The ``kind`` ("main"|"sub") stream of a nested or flat camera description."""
    nested = getattr(camera, kind, None)
    if nested is not None:
        return nested  # type: ignore[no-any-return]
    return StreamInfo(int(getattr(camera, f"{kind}_width")), int(getattr(camera, f"{kind}_height")),
                      float(getattr(camera, f"{kind}_fps")), getattr(camera, f"{kind}_gop", None))


def path_of(camera: Any, kind: str) -> str:   # any object with .index (duck-typed)
    """RTSP path of the stream; ``/cam{index}/{kind}`` unless the camera names its own."""
    path = getattr(camera, f"{kind}_path", None)
    return str(path) if path else f"/cam{camera.index}/{kind}"


def gop_of(stream: StreamLike) -> int:
    gop = getattr(stream, "gop", None)
    return int(gop) if gop else max(1, round(float(stream.fps) * 2))


def bitrate_of(stream: StreamLike) -> int:
    rate = getattr(stream, "bitrate_kbps", None)
    if rate:
        return int(rate)
    # A plausible H.264 budget: ~0.1 bit per pixel per frame.
    return max(64, round(stream.width * stream.height * float(stream.fps) * 0.1 / 1000))


def profile_of(stream: StreamLike) -> str:
    value = str(getattr(stream, "h264_profile", "Main") or "Main")
    return value if value in ("Baseline", "Main", "High", "Extended") else "Main"

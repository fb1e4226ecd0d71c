"""MediaService: the one contract between the web side (wall/) and media (streams/).

The in-process ``MediaServer`` (streams/server.py), the ``MediaCluster`` of media
processes (streams/cluster.py), and next a media node on another machine all
implement it; the web side holds a ``MediaService`` and never asks which one it
has. Every question may cross a process or a network, so every method is async,
except ``known_cameras``: the statuses as last known, for renderers that cannot
wait (indicator tiles); the cluster refreshes them every half second.

Refusals are ``MediaError`` (status, code, message, optional Retry-After) on every
implementation, so the web side maps one error type to HTTP.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from iocwall.analytics.messages import FrameHeader, ZoneSpec
    from iocwall.streams.health import HealthSnapshot
    from iocwall.streams.leadership import Leadership
    from iocwall.streams.replay.model import ReplayClip, ReplayRange
    from iocwall.streams.server import Camera, CameraStatus
    from iocwall.streams.snapshot import Snapshot
    from iocwall.streams.taps.tap import TapOptions
    from iocwall.streams.wire import SessionRef

FrameSink = Callable[["FrameHeader", bytes], None]


class ViewerSession(Protocol):
    """What an accepted WHEP offer tells the web side: the session's id (its URL)."""
    @property
    def id(self) -> str: ...


class MediaService(Protocol):
    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def follow_leader(self, leadership: Leadership) -> None:
        """Decide camera placement only while ``leadership`` says this controller leads
        (media nodes on other machines); a no-op where one process places alone."""

    # -- cameras (the registry drives these, wall/registry/sync.py) --------------------
    async def add_camera(self, camera: Camera) -> None: ...
    async def update_camera(self, camera: Camera) -> None: ...
    async def remove_camera(self, camera_id: str) -> bool: ...

    # -- what the API shows ------------------------------------------------------------
    async def refresh(self) -> None:
        """Bring the statuses up to now (an API answer must not lag a poll)."""
    async def cameras(self) -> list[CameraStatus]: ...
    async def camera(self, camera_id: str) -> CameraStatus | None: ...
    def known_cameras(self) -> list[CameraStatus]: ...
    async def check_camera(self, camera_id: str) -> None:
        """Raise MediaError: 410 "removed" for a camera deleted at run time, else 404."""
    async def health(self) -> list[HealthSnapshot]: ...
    async def media_nodes(self) -> list[dict[str, object]]:
        """Each media process (node): state and newest heartbeat; [] when media runs in
        the web process."""
    async def metrics_text(self) -> str: ...

    # -- viewers and pictures ----------------------------------------------------------
    async def whep_offer(self, camera_id: str, stream: str, sdp: str,
                         user: str = "") -> tuple[ViewerSession, str]: ...
    async def session_refs(self) -> list[SessionRef]: ...
    async def find_session(self, session_id: str) -> SessionRef | None: ...
    async def whep_delete(self, session_id: str) -> bool: ...
    async def snapshot(self, camera_id: str, stream: str = "main") -> Snapshot: ...

    # -- instant replay (streams/replay/; in the process that owns the camera) ----------
    async def replay_ranges(self, camera_id: str) -> dict[str, ReplayRange]:
        """What each buffered stream holds now (wall-clock seconds); {} when none."""
    async def replay_clip(self, camera_id: str, stream: str, start: float,
                          duration: float) -> ReplayClip:
        """[start, start + duration) as one MP4 from the keyframe at or before ``start``;
        MediaError 404 outside the buffer."""

    # -- analytics ---------------------------------------------------------------------
    async def tap(self, camera_id: str, stream: str, zones: list[ZoneSpec],
                  options: TapOptions, sink: FrameSink) -> None:
        """Run the camera's analytics tap where its frames are; its frames go to ``sink``.
        Returns when the stream ends, raises when the tap fails; cancel it to stop."""

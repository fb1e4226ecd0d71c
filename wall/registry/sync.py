"""The media server follows the registry: a camera added is playable at once, an edited one
reconnects, a deleted one ends its viewers. ``streams`` knows nothing of the registry; this
module hands it cameras through the media contract's add_camera / update_camera /
remove_camera (streams/contract.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from iocwall.streams.contract import MediaService
from iocwall.streams.server import Camera
from iocwall.wall.registry.model import RegisteredCamera
from iocwall.wall.registry.store import Change, ChangeKind, Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaCamera:
    """A registered camera in the shape the media server reads (``CameraLike``)."""
    id: str
    name: str
    main_url: str
    sub_url: str
    username: str
    password: str
    location: str
    transport: str
    allow_basic_auth: bool = False
    replay: bool = False          # buffered for instant replay ([replay] cameras = "wall")

    def __repr__(self) -> str:
        return f"MediaCamera({self.id!r})"     # never the password


class MediaSync:
    def __init__(self, registry: Registry, media: MediaService) -> None:
        self._registry = registry
        self._media = media
        self._replay: set[str] = set()       # cameras to buffer under cameras = "wall"
        registry.listen(self.apply)

    async def set_replay(self, camera_ids: set[str]) -> None:
        """Buffer exactly these cameras (those on a wall or with zones): each one whose
        choice changed is handed to the media server again with its new ``replay``."""
        changed = camera_ids ^ self._replay
        self._replay = set(camera_ids)
        for camera_id in sorted(changed):
            cam = await self._registry.get(camera_id)
            media_cam = await self._camera(cam) if cam is not None else None
            if media_cam is not None and await self._media.camera(camera_id) is not None:
                await self._media.update_camera(media_cam)

    async def _camera(self, cam: RegisteredCamera) -> Camera | None:
        if not cam.rtsp_main:
            return None                          # ONVIF address not resolved yet
        creds = await self._registry.credentials(cam.id)
        return Camera.from_config(MediaCamera(cam.id, cam.name, cam.rtsp_main, cam.rtsp_sub,
                                              creds.username, creds.password, cam.location,
                                              cam.transport.value, cam.allow_basic_auth,
                                              cam.id in self._replay))

    async def load(self) -> int:
        """Give the media server every registered camera (at start)."""
        count = 0
        for cam in await self._registry.cameras():
            media_cam = await self._camera(cam)
            if media_cam is not None and await self._media.camera(cam.id) is None:
                await self._media.add_camera(media_cam)
                count += 1
        log.info("media server follows the registry: %d cameras", count)
        return count

    async def apply(self, change: Change) -> None:
        if change.kind is ChangeKind.REMOVED or change.camera is None:
            await self._media.remove_camera(change.camera_id)
            return
        media_cam = await self._camera(change.camera)
        if media_cam is None:
            await self._media.remove_camera(change.camera_id)
        elif await self._media.camera(change.camera_id) is None:
            await self._media.add_camera(media_cam)
        else:
            await self._media.update_camera(media_cam)

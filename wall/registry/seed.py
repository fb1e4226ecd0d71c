"""Cameras that come from outside the API: ``[[cameras]]`` in config.toml (first start only)
and the demo's simulator (every start), both through the registry like any other."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from iocwall.wall.registry.model import CameraIn, CameraPatch
from iocwall.wall.registry.store import Registry
from iocwall.wall.store import Store

log = logging.getLogger(__name__)
SEEDED = "registry.seeded"


def camera_in(cam: Any, province: str, centre: str) -> CameraIn:
    """A config-style camera (id, name, main_url, sub_url, username, password, location,
    transport, allow_basic_auth)."""
    return CameraIn(id=cam.id, province=getattr(cam, "province", "") or province,
                    centre=getattr(cam, "centre", "") or centre, name=cam.name,
                    location=cam.location or "", rtsp_main=cam.main_url,
                    rtsp_sub=cam.sub_url or "", username=cam.username or "",
                    password=cam.password or "",
                    transport=getattr(cam, "transport", "auto") or "auto",
                    allow_basic_auth=bool(getattr(cam, "allow_basic_auth", False)))


async def seed_from_config(registry: Registry, store: Store, cameras: Iterable[Any],
                           province: str, centre: str) -> int:
    """At the first start only: later the registry is the one list (edits are kept)."""
    if await store.get_setting(SEEDED):
        return 0
    cams = [camera_in(c, province, centre) for c in cameras]
    if cams:
        await registry.add_many(cams, "config")
    await store.set_setting(SEEDED, "1")
    log.info("registry seeded with %d cameras from config.toml", len(cams))
    return len(cams)


async def upsert(registry: Registry, cams: Iterable[CameraIn], source: str) -> None:
    """Register each camera, or bring an existing one (same id) up to date."""
    for cam in cams:
        assert cam.id is not None
        if await registry.get(cam.id) is None:
            await registry.add(cam, source)
        else:
            data = cam.model_dump(exclude={"id"})
            await registry.update(cam.id, CameraPatch.model_validate(data))

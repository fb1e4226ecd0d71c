"""Which cameras are buffered for instant replay under ``[replay] cameras = "wall"``.

Those on a wall's current layouts or with queue zones: the ones someone watches or an
alarm can point at. Re-judged every few seconds (a layout push or a zone edit shows
within ``INTERVAL_S``) and handed to the registry sync, which tells the media server
only about cameras whose choice changed.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iocwall.wall.registry.sync import MediaSync
    from iocwall.wall.services import Services

log = logging.getLogger(__name__)
INTERVAL_S = 5.0


async def wanted(services: Services) -> set[str]:
    """Cameras on any monitor's current layout, and cameras with zones."""
    ids = set((await services.zones.all()).keys())
    if services.wall is not None:
        walls = services.wall.walls
        for wall in await walls.walls():
            for monitor in wall.monitors:
                layout = await walls.layout(wall.id, monitor.id)
                if layout is not None:
                    ids |= set(layout.cameras())
    return ids


async def follow(services: Services, sync: MediaSync, interval_s: float = INTERVAL_S) -> None:
    """Run until cancelled."""
    while True:
        try:
            await sync.set_replay(await wanted(services))
        except Exception:        # a failed pass must not end replay for good: next pass
            log.exception("replay: choosing the buffered cameras failed")
        await asyncio.sleep(interval_s)

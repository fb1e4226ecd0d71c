"""Queue zones per camera, stored in SQLite and editable at run time.

    zones = ZoneStore(store)
    await zones.seed(config.analytics.zones, "config")    # cameras never seen before only
    zones.listen(analytics.set_zones)                     # told of every change
    before, after = await zones.put("cam1", [ZoneSpec("c1", [[0, 0], ...])], "alice")

A camera whose zones were removed keeps a row with no zones, so a later seed
(config.toml, the demo) never brings back what an operator deleted. Polygons
are validated with ``analytics.zones.Zone.build`` before they are stored.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from iocwall.analytics.messages import ZoneSpec
from iocwall.analytics.zones import Zone
from iocwall.streams.clock import now_iso
from iocwall.wall.store import Store

log = logging.getLogger(__name__)
MAX_ZONES = 32

Listener = Callable[[str, list[ZoneSpec]], Awaitable[None]]
Announcer = Callable[[str, list[ZoneSpec]], Awaitable[None]]


@dataclass(frozen=True)
class CameraZones:
    camera: str
    zones: list[ZoneSpec] = field(default_factory=list)
    updated_at: str = ""
    updated_by: str = ""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"camera": self.camera, "zones": zones_json(self.zones),
                "updated_at": self.updated_at or None, "updated_by": self.updated_by,
                "source": self.source}


def zones_json(zones: Iterable[ZoneSpec]) -> list[dict[str, Any]]:
    return [{"id": z.id, "polygon": [[float(x), float(y)] for x, y in z.polygon]} for z in zones]


def validated(zones: Iterable[ZoneSpec]) -> list[ZoneSpec]:
    """The zones as stored (points as floats); raises ZoneError on a bad polygon."""
    return [ZoneSpec(z.id, [list(p) for p in Zone.build(z.id, z.polygon).points])
            for z in zones]


def _load(text: str) -> list[ZoneSpec]:
    return [ZoneSpec(z["id"], z["polygon"]) for z in json.loads(text)]


def _row(row: dict[str, Any]) -> CameraZones:
    return CameraZones(row["camera"], _load(row["zones"]), row["updated_at"],
                       row["updated_by"], row["source"])


class ZoneStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Listener] = []
        self.announce: Announcer | None = None      # tells other processes (zones/follow.py)

    def listen(self, listener: Listener) -> None:
        """``await listener(camera, zones)`` after every change (zones [] = removed)."""
        self._listeners.append(listener)

    async def get(self, camera: str) -> CameraZones:
        row = await self.store.fetchone("SELECT * FROM queue_zones WHERE camera = ?", (camera,))
        return _row(row) if row is not None else CameraZones(camera)

    async def all(self) -> dict[str, list[ZoneSpec]]:
        """Every camera that has zones now."""
        rows = await self.store.fetchall("SELECT * FROM queue_zones ORDER BY camera")
        out = {r["camera"]: _load(r["zones"]) for r in rows}
        return {camera: zones for camera, zones in out.items() if zones}

    async def put(self, camera: str, zones: list[ZoneSpec], by: str,
                  source: str = "api") -> tuple[CameraZones, CameraZones]:
        """Replace the camera's zones (already checked by the caller or not: checked again);
        returns (before, after) for the audit log."""
        zones = validated(zones)
        before = await self.get(camera)
        await self.store.execute(
            "INSERT INTO queue_zones(camera, zones, source, updated_at, updated_by) "
            "VALUES(?, ?, ?, ?, ?) ON CONFLICT(camera) DO UPDATE SET zones = excluded.zones, "
            "source = excluded.source, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by",
            (camera, json.dumps(zones_json(zones)), source, now_iso(), by))
        after = await self.get(camera)
        await self._tell(camera, after.zones)
        if self.announce is not None:
            try:
                await self.announce(camera, after.zones)
            except Exception as exc:       # stored and acted on here; others catch up on restart
                log.warning("zones of %s not announced to other processes: %s", camera, exc)
        return before, after

    async def changed_elsewhere(self, camera: str, zones: list[ZoneSpec]) -> None:
        """Another process changed the camera's zones (the bus said so): act as on a put."""
        await self._tell(camera, zones)

    async def seed(self, zones: Iterable[Any], source: str) -> list[str]:
        """Zones (``ZoneConfig``-like: camera, id, polygon) for cameras that have no row
        yet; returns the cameras seeded."""
        by_camera: dict[str, list[ZoneSpec]] = {}
        for z in zones:
            by_camera.setdefault(z.camera, []).append(ZoneSpec(z.id, z.polygon))
        seeded = []
        for camera, specs in by_camera.items():
            if await self.store.fetchone("SELECT 1 FROM queue_zones WHERE camera = ?",
                                         (camera,)) is not None:
                continue            # seen before: its zones are the operators' now
            await self.store.execute(
                "INSERT INTO queue_zones(camera, zones, source, updated_at, "
                "updated_by) VALUES(?, ?, ?, ?, ?) ON CONFLICT(camera) DO NOTHING",
                (camera, json.dumps(zones_json(validated(specs))), source, now_iso(), source))
            seeded.append(camera)
            await self._tell(camera, specs)
        if seeded:
            log.info("queue zones seeded from %s for %s", source, ", ".join(seeded))
        return seeded

    async def _tell(self, camera: str, zones: list[ZoneSpec]) -> None:
        for listener in self._listeners:
            try:
                await listener(camera, zones)
            except Exception:          # the zones are stored; analytics logs its own trouble
                log.exception("queue zone listener failed for %s", camera)

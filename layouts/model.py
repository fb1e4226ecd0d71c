"""The layout model: a grid per monitor, tiles on it, presets over several monitors.

Pure data: no I/O. ``Layout.from_json`` turns untrusted JSON into typed objects and
raises ``LayoutError`` (code, message, field) on the first thing it cannot read;
``validate`` (layouts.validate) then checks the layout against the wall's cameras
and indicators, which the caller passes in as sets.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

MAX_COLUMNS = 48
MAX_ROWS = 48
MAX_TILES = 64
MAX_TEXT = 200


class LayoutError(ValueError):
    """A layout that cannot be used; ``field`` names the JSON path (``tiles[2].w``)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class TileKind(str, enum.Enum):
    CAMERA = "camera"
    TOUR = "tour"            # several cameras, one after the other, ``dwell_s`` each
    INDICATOR = "indicator"
    QUEUE = "queue"          # queue counter of a service centre
    CLOCK = "clock"
    TEXT = "text"
    ALARMS = "alarms"        # list of open alarms


class StreamPref(str, enum.Enum):
    AUTO = "auto"            # smallest stream that covers the tile (layouts.streams)
    MAIN = "main"
    SUB = "sub"


@dataclass(frozen=True)
class Tile:
    """One rectangle on the grid, in grid cells (x, y from the top left)."""
    id: str
    kind: TileKind
    x: int
    y: int
    w: int
    h: int
    layer: int = 0           # tiles on different layers may overlap (picture in picture)
    camera: str = ""
    stream: StreamPref = StreamPref.AUTO
    cameras: tuple[str, ...] = ()
    dwell_s: int = 10
    indicator: str = ""
    style: str = "number"
    centre: str = ""
    counters: tuple[str, ...] = ()
    text: str = ""
    highlight: bool = False

    def cells(self) -> set[tuple[int, int]]:
        return {(cx, cy) for cx in range(self.x, self.x + self.w)
                for cy in range(self.y, self.y + self.h)}

    def cameras_used(self) -> tuple[str, ...]:
        if self.kind is TileKind.CAMERA:
            return (self.camera,)
        if self.kind is TileKind.TOUR:
            return self.cameras
        return ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind.value, "x": self.x, "y": self.y,
                               "w": self.w, "h": self.h}
        if self.layer:
            out["layer"] = self.layer
        if self.highlight:
            out["highlight"] = True
        extra: dict[TileKind, dict[str, Any]] = {
            TileKind.CAMERA: {"camera": self.camera, "stream": self.stream.value},
            TileKind.TOUR: {"cameras": list(self.cameras), "dwell_s": self.dwell_s,
                            "stream": self.stream.value},
            TileKind.INDICATOR: {"indicator": self.indicator, "style": self.style},
            TileKind.QUEUE: {"centre": self.centre, "counters": list(self.counters)},
            TileKind.TEXT: {"text": self.text},
        }
        out.update(extra.get(self.kind, {}))
        return out


@dataclass(frozen=True)
class Grid:
    columns: int = 4
    rows: int = 4


@dataclass(frozen=True)
class Layout:
    name: str
    grid: Grid = field(default_factory=Grid)
    tiles: tuple[Tile, ...] = ()
    version: int = 0         # set by the store: each save is a new version

    def tile(self, tile_id: str) -> Tile | None:
        return next((t for t in self.tiles if t.id == tile_id), None)

    def cameras(self) -> set[str]:
        return {c for t in self.tiles for c in t.cameras_used()}

    def counted_cameras(self) -> set[str]:
        """Cameras whose queue counts the layout shows: its cameras (count overlays) and
        the counting cameras of its queue tiles (``centre``)."""
        return self.cameras() | {t.centre for t in self.tiles
                                 if t.kind is TileKind.QUEUE and t.centre}

    def indicators(self) -> set[str]:
        return {t.indicator for t in self.tiles if t.kind is TileKind.INDICATOR}

    def with_version(self, version: int) -> Layout:
        return replace(self, version=version)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version,
                "grid": {"columns": self.grid.columns, "rows": self.grid.rows},
                "tiles": [t.to_json() for t in self.tiles]}

    @classmethod
    def from_json(cls, data: object) -> Layout:
        from iocwall.layouts.parse import parse_layout
        return parse_layout(data)


@dataclass(frozen=True)
class Preset:
    """A named set of layouts, one per monitor (by monitor id), recalled in one action."""
    name: str
    monitors: dict[str, Layout]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name,
                "monitors": {m: lay.to_json() for m, lay in sorted(self.monitors.items())}}

    @classmethod
    def from_json(cls, data: object) -> Preset:
        from iocwall.layouts.parse import parse_preset
        return parse_preset(data)

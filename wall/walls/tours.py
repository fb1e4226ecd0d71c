"""Tours started and stopped by a push: the audit says so in words of its own.

A tour is a tile of kind ``tour`` (cameras shown one after another, ``dwell_s``
each); the console starts one by pushing a layout with such a tile and stops it by
pushing the layout without it. Comparing the layouts before and after a push tells
which tours started and which stopped, whatever client made the push.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iocwall.layouts import Layout, Tile, TileKind


@dataclass(frozen=True)
class TourChange:
    started: tuple[Tile, ...]
    stopped: tuple[Tile, ...]


def _tours(layout: Layout | None) -> dict[str, Tile]:
    tiles = layout.tiles if layout is not None else ()
    return {t.id: t for t in tiles if t.kind is TileKind.TOUR}


def _same(a: Tile, b: Tile) -> bool:
    return (a.cameras, a.dwell_s) == (b.cameras, b.dwell_s)


def tour_changes(before: Layout | None, after: Layout | None) -> TourChange:
    """Tours in ``after`` but not in ``before`` (or changed: a restart) and the reverse."""
    old, new = _tours(before), _tours(after)
    started = tuple(t for i, t in new.items() if i not in old or not _same(old[i], t))
    stopped = tuple(t for i, t in old.items() if i not in new or not _same(new[i], t))
    return TourChange(started, stopped)


def tour_audit(tile: Tile) -> dict[str, Any]:
    return {"tile": tile.id, "cameras": list(tile.cameras), "dwell_s": tile.dwell_s}

"""Checks a parsed layout against its grid and the wall's cameras and indicators.

The caller passes the ids that exist (the model does no I/O). ``problems`` lists
every error; ``validate`` raises the first as a LayoutError.
"""
from __future__ import annotations

from collections.abc import Set as AbstractSet

from iocwall.layouts.model import Layout, LayoutError, Preset, TileKind


def problems(layout: Layout, cameras: AbstractSet[str], indicators: AbstractSet[str] | None = None
             ) -> list[LayoutError]:
    """Every error of ``layout``. ``indicators=None``: no indicator source yet, any id passes."""
    found: list[LayoutError] = []
    seen: set[str] = set()
    taken: dict[tuple[int, int, int], str] = {}      # (layer, x, y) -> tile id
    for i, tile in enumerate(layout.tiles):
        where = f"tiles[{i}]"
        if tile.id in seen:
            found.append(LayoutError("duplicate_tile", f"{where}: tile id {tile.id!r} used twice",
                                     f"{where}.id"))
        seen.add(tile.id)
        if tile.x + tile.w > layout.grid.columns or tile.y + tile.h > layout.grid.rows:
            found.append(LayoutError(
                "out_of_bounds", f"{where}: tile {tile.id!r} goes past the "
                f"{layout.grid.columns}x{layout.grid.rows} grid", where))
        for cell in sorted(tile.cells()):
            other = taken.get((tile.layer, *cell))
            if other is not None:
                found.append(LayoutError(
                    "overlap", f"{where}: tile {tile.id!r} overlaps {other!r} on layer "
                    f"{tile.layer} (put one on another layer to overlap on purpose)", where))
                break
        for cell in tile.cells():
            taken.setdefault((tile.layer, *cell), tile.id)
        for camera in tile.cameras_used():
            if camera not in cameras:
                field = f"{where}.camera" if tile.kind is TileKind.CAMERA else f"{where}.cameras"
                found.append(LayoutError("unknown_camera", f"{where}: no camera {camera!r}",
                                         field))
        if (tile.kind is TileKind.INDICATOR and indicators is not None
                and tile.indicator not in indicators):
            found.append(LayoutError("unknown_indicator",
                                     f"{where}: no indicator {tile.indicator!r}",
                                     f"{where}.indicator"))
    return found


def validate(layout: Layout, cameras: AbstractSet[str],
             indicators: AbstractSet[str] | None = None) -> Layout:
    """``layout`` if it has no problems; otherwise raises the first one."""
    errors = problems(layout, cameras, indicators)
    if errors:
        raise errors[0]
    return layout


def validate_preset(preset: Preset, monitors: AbstractSet[str], cameras: AbstractSet[str],
                    indicators: AbstractSet[str] | None = None) -> Preset:
    for monitor, layout in preset.monitors.items():
        if monitor not in monitors:
            raise LayoutError("unknown_monitor", f"no monitor {monitor!r} on this wall",
                              f"monitors.{monitor}")
        try:
            validate(layout, cameras, indicators)
        except LayoutError as exc:
            raise LayoutError(exc.code, f"monitors.{monitor}: {exc.message}",
                              f"monitors.{monitor}.{exc.field}" if exc.field else None) from None
    return preset

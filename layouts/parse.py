"""Untrusted JSON to layout objects: every wrong type or value is a LayoutError with its path."""
from __future__ import annotations

import re
from typing import Any

from iocwall.layouts.model import (
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_TEXT,
    MAX_TILES,
    Grid,
    Layout,
    LayoutError,
    Preset,
    StreamPref,
    Tile,
    TileKind,
)

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _obj(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise LayoutError("bad_type", f"{where or 'layout'} must be an object", where or None)
    return data


def _int(data: dict[str, Any], key: str, where: str, default: int | None = None,
         low: int = 0, high: int = 10_000) -> int:
    value = data.get(key, default)
    path = f"{where}.{key}" if where else key
    if isinstance(value, bool) or not isinstance(value, int):
        raise LayoutError("bad_type", f"{path} must be an integer", path)
    if not low <= value <= high:
        raise LayoutError("out_of_range", f"{path} must be between {low} and {high}", path)
    return value


def _str(data: dict[str, Any], key: str, where: str, default: str | None = None,
         pattern: re.Pattern[str] | None = _ID) -> str:
    value = data.get(key, default)
    path = f"{where}.{key}" if where else key
    if not isinstance(value, str):
        raise LayoutError("bad_type", f"{path} must be a string", path)
    if pattern is not None and not pattern.match(value):
        raise LayoutError("bad_value", f"{path}: 1-64 letters, digits, _ . : -", path)
    if len(value) > MAX_TEXT:
        raise LayoutError("too_long", f"{path}: at most {MAX_TEXT} characters", path)
    return value


def _ids(data: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    path = f"{where}.{key}"
    if not isinstance(value, list) or not all(isinstance(v, str) and _ID.match(v) for v in value):
        raise LayoutError("bad_type", f"{path} must be a list of ids", path)
    return tuple(value)


def _enum(enum_type: Any, data: dict[str, Any], key: str, where: str, default: str) -> Any:
    value = data.get(key, default)
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise LayoutError("bad_value", f"{where}.{key} must be one of: {allowed}",
                          f"{where}.{key}") from None


def parse_tile(data: object, where: str) -> Tile:
    d = _obj(data, where)
    kind = _enum(TileKind, d, "kind", where, "")
    common: dict[str, Any] = {
        "id": _str(d, "id", where), "kind": kind,
        "x": _int(d, "x", where, 0, 0, MAX_COLUMNS - 1),
        "y": _int(d, "y", where, 0, 0, MAX_ROWS - 1),
        "w": _int(d, "w", where, 1, 1, MAX_COLUMNS), "h": _int(d, "h", where, 1, 1, MAX_ROWS),
        "layer": _int(d, "layer", where, 0, 0, 9),
        "highlight": bool(d.get("highlight", False)),
    }
    if kind is TileKind.CAMERA:
        common.update(camera=_str(d, "camera", where),
                      stream=_enum(StreamPref, d, "stream", where, "auto"))
    elif kind is TileKind.TOUR:
        common.update(cameras=_ids(d, "cameras", where),
                      dwell_s=_int(d, "dwell_s", where, 10, 3, 3600),
                      stream=_enum(StreamPref, d, "stream", where, "auto"))
        if not common["cameras"]:
            raise LayoutError("empty_tour", f"{where}.cameras: a tour needs at least one camera",
                              f"{where}.cameras")
    elif kind is TileKind.INDICATOR:
        common.update(indicator=_str(d, "indicator", where),
                      style=_str(d, "style", where, "number"))
    elif kind is TileKind.QUEUE:
        common.update(centre=_str(d, "centre", where), counters=_ids(d, "counters", where))
    elif kind is TileKind.TEXT:
        common.update(text=_str(d, "text", where, "", pattern=None))
    return Tile(**common)


def parse_layout(data: object) -> Layout:
    d = _obj(data, "")
    name = _str(d, "name", "", "layout", pattern=None).strip()
    if not name:
        raise LayoutError("bad_value", "name must not be empty", "name")
    grid_data = _obj(d.get("grid", {}), "grid")
    grid = Grid(_int(grid_data, "columns", "grid", 4, 1, MAX_COLUMNS),
                _int(grid_data, "rows", "grid", 4, 1, MAX_ROWS))
    tiles_data = d.get("tiles", [])
    if not isinstance(tiles_data, list):
        raise LayoutError("bad_type", "tiles must be a list", "tiles")
    if len(tiles_data) > MAX_TILES:
        raise LayoutError("too_many_tiles", f"at most {MAX_TILES} tiles", "tiles")
    tiles = tuple(parse_tile(t, f"tiles[{i}]") for i, t in enumerate(tiles_data))
    version = d.get("version", 0)
    return Layout(name, grid, tiles, version if isinstance(version, int) else 0)


def parse_preset(data: object) -> Preset:
    d = _obj(data, "")
    name = _str(d, "name", "", "", pattern=None).strip()
    if not name:
        raise LayoutError("bad_value", "name must not be empty", "name")
    monitors = _obj(d.get("monitors"), "monitors")
    if not monitors:
        raise LayoutError("empty_preset", "a preset needs at least one monitor", "monitors")
    parsed: dict[str, Layout] = {}
    for key, layout in monitors.items():
        if not _ID.match(key):
            raise LayoutError("bad_value", f"monitors: bad monitor id {key!r}", "monitors")
        try:
            parsed[key] = parse_layout(layout)
        except LayoutError as exc:
            raise LayoutError(exc.code, f"monitors.{key}: {exc.message}",
                              f"monitors.{key}.{exc.field}" if exc.field else None) from None
    return Preset(name, parsed)

"""Layout model: grids, tiles, presets, tours, validation, stream choice. Pure, no I/O.

    layout = Layout.from_json(body)                    # LayoutError on bad JSON
    validate(layout, cameras={"cam-1"}, indicators=None)
    choose_stream(Size(480, 270), {"sub": Size(640, 360), "main": Size(1920, 1080)})  # "sub"
"""
from iocwall.layouts.diff import LayoutDiff, diff
from iocwall.layouts.model import Grid, Layout, LayoutError, Preset, StreamPref, Tile, TileKind
from iocwall.layouts.streams import Size, choose_stream, stream_plan, tile_pixels
from iocwall.layouts.validate import problems, validate, validate_preset

__all__ = ["Grid", "Layout", "LayoutDiff", "LayoutError", "Preset", "Size", "StreamPref", "Tile",
           "TileKind", "choose_stream", "diff", "problems", "stream_plan", "tile_pixels",
           "validate", "validate_preset"]

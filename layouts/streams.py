"""Which stream a tile plays: the smallest whose resolution covers the tile in device pixels.

A tile of 480x270 device pixels is covered by a 640x360 sub stream; a tile of
1920x1080 needs the main stream. When no stream covers the tile, the largest
one is used. An explicit ``main``/``sub`` preference wins when that stream exists.

This is the only copy of the rule: the controller runs it for each display
(``stream_plan``, from the display's screen size) and sends the decision with the
layout; the display page plays what it is told (frontend/display-tile.js).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from iocwall.layouts.model import Layout, StreamPref


@dataclass(frozen=True)
class Size:
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    def covers(self, other: Size) -> bool:
        return self.width >= other.width and self.height >= other.height


# A stream nobody pulls yet reports 0x0: its usual size stands in until it is known,
# so a tile does not start on the wrong stream just because nobody watched it yet.
NOMINAL = {"main": Size(1920, 1080), "sub": Size(640, 360)}
# A display that has not said how big it is: a full-HD monitor, the usual wall monitor.
DEFAULT_SCREEN = Size(1920, 1080)


def tile_pixels(css_width: float, css_height: float, device_pixel_ratio: float = 1.0) -> Size:
    return Size(round(css_width * device_pixel_ratio), round(css_height * device_pixel_ratio))


def _known(name: str, size: Size) -> Size:
    return size if size.width > 0 else NOMINAL.get(name, Size(0, 0))


def choose_stream(tile: Size, streams: Mapping[str, Size],
                  pref: StreamPref = StreamPref.AUTO) -> str | None:
    """The stream name to play, or None when the camera has no stream."""
    if not streams:
        return None
    if pref is not StreamPref.AUTO and pref.value in streams:
        return pref.value
    sizes = {name: _known(name, s) for name, s in streams.items()}
    covering = [(s.area, name) for name, s in sizes.items() if s.covers(tile)]
    if covering:
        return min(covering)[1]
    return max((s.area, name) for name, s in sizes.items())[1]


StreamSizes = Callable[[str], Mapping[str, Size]]


def stream_plan(layout: Layout, screen: Size, sizes: StreamSizes) -> dict[str, dict[str, str]]:
    """Tile id -> {camera id -> stream} for the camera and tour tiles of ``layout`` shown
    full screen on ``screen`` device pixels; ``sizes(camera)`` gives a camera's streams.

    A tile's pixels are its share of the screen (the page's 2 px gaps are left out:
    they move a tile by a few pixels, never across a stream's size in practice).
    """
    plan: dict[str, dict[str, str]] = {}
    for tile in layout.tiles:
        cameras = tile.cameras_used()
        if not cameras:
            continue
        px = Size(round(screen.width * tile.w / layout.grid.columns),
                  round(screen.height * tile.h / layout.grid.rows))
        chosen = {cam: choose_stream(px, sizes(cam), tile.stream) for cam in cameras}
        plan[tile.id] = {cam: s for cam, s in chosen.items() if s is not None}
    return plan

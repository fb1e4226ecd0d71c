"""Which stream a tile plays: the smallest whose resolution covers the tile in device pixels.

A tile of 480x270 device pixels is covered by a 640x360 sub stream; a tile of
1920x1080 needs the main stream. When no stream covers the tile, the largest
one is used. An explicit ``main``/``sub`` preference wins when that stream exists.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iocwall.layouts.model import StreamPref


@dataclass(frozen=True)
class Size:
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    def covers(self, other: Size) -> bool:
        return self.width >= other.width and self.height >= other.height


def tile_pixels(css_width: float, css_height: float, device_pixel_ratio: float = 1.0) -> Size:
    return Size(round(css_width * device_pixel_ratio), round(css_height * device_pixel_ratio))


def choose_stream(tile: Size, streams: Mapping[str, Size],
                  pref: StreamPref = StreamPref.AUTO) -> str | None:
    """The stream name to play, or None when the camera has no stream."""
    if not streams:
        return None
    if pref is not StreamPref.AUTO and pref.value in streams:
        return pref.value
    covering = [(s.area, name) for name, s in streams.items() if s.covers(tile)]
    if covering:
        return min(covering)[1]
    return max((s.area, name) for name, s in streams.items())[1]

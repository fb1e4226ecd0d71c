"""Queue zones: polygons on a camera's picture, and who stands in them.

A person is in a zone when the bottom centre of their box (where the feet are)
is inside the polygon or on its edge: boxes overlap zones in perspective, feet
do not. Polygons are checked once, at configuration time, with messages a
technician can act on.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

MAX_POINTS = 64


class ZoneError(ValueError):
    """A polygon that cannot be a zone; the message names the zone and the reason."""


@dataclass(frozen=True)
class Zone:
    id: str
    points: tuple[tuple[float, float], ...]

    @classmethod
    def build(cls, zone_id: str, points: Sequence[Sequence[float]]) -> Zone:
        """A validated zone; raises ZoneError (too few points, repeated points, crossing
        edges, zero area, not numbers)."""
        if not zone_id or len(zone_id) > 64:
            raise ZoneError("a zone needs an id of 1-64 characters")
        try:
            pts = tuple((float(p[0]), float(p[1])) for p in points)
        except (TypeError, ValueError, IndexError):
            raise ZoneError(f"zone {zone_id}: every point must be [x, y] numbers") from None
        if not 3 <= len(pts) <= MAX_POINTS:
            raise ZoneError(f"zone {zone_id}: needs 3 to {MAX_POINTS} points, got {len(pts)}")
        if any(not np.isfinite(v) for p in pts for v in p):
            raise ZoneError(f"zone {zone_id}: points must be finite numbers")
        if len(set(pts)) != len(pts):
            raise ZoneError(f"zone {zone_id}: a point is repeated")
        if abs(_area(pts)) < 1.0:
            raise ZoneError(f"zone {zone_id}: the polygon has no area (points on one line?)")
        if _self_intersects(pts):
            raise ZoneError(f"zone {zone_id}: edges cross each other; list the points in "
                            "order around the zone")
        return cls(zone_id, pts)

    @classmethod
    def rect(cls, zone_id: str, x: float, y: float, w: float, h: float) -> Zone:
        return cls.build(zone_id, [(x, y), (x + w, y), (x + w, y + h), (x, y + h)])

    def contains(self, x: float, y: float) -> bool:
        """Inside or on the edge."""
        contour = np.asarray(self.points, np.float32).reshape(-1, 1, 2)
        return cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0

    def scaled(self, sx: float, sy: float) -> Zone:
        return Zone(self.id, tuple((x * sx, y * sy) for x, y in self.points))


def feet(box: tuple[float, float, float, float]) -> tuple[float, float]:
    """The bottom centre of an (x1, y1, x2, y2) box."""
    x1, _, x2, y2 = box
    return (x1 + x2) / 2, y2


def count_in(zone: Zone, boxes: Iterable[tuple[float, float, float, float]]) -> int:
    return sum(1 for b in boxes if zone.contains(*feet(b)))


def _area(pts: Sequence[tuple[float, float]]) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0
                     for (x0, y0), (x1, y1) in zip(pts, [*pts[1:], pts[0]], strict=True))


def _self_intersects(pts: Sequence[tuple[float, float]]) -> bool:
    edges = list(zip(pts, [*pts[1:], pts[0]], strict=True))
    n = len(edges)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue            # neighbours share a vertex
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False


def _segments_cross(a: tuple[float, float], b: tuple[float, float],
                    c: tuple[float, float], d: tuple[float, float]) -> bool:
    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def on_segment(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> bool:
        return (min(p[0], q[0]) <= r[0] <= max(p[0], q[0])
                and min(p[1], q[1]) <= r[1] <= max(p[1], q[1]))

    d1, d2, d3, d4 = orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    return any(o == 0 and on_segment(p, q, r) for o, p, q, r in
               ((d1, c, d, a), (d2, c, d, b), (d3, a, b, c), (d4, a, b, d)))

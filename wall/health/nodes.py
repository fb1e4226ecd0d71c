"""Display nodes (the wall's presence table) and analytics workers (the tap router) on the board.

Both tables forget a node some time after it leaves, but a node that left is exactly what an
operator must see: each probe remembers the nodes it has seen and keeps showing a vanished one
as down until it comes back.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from iocwall.wall.health.model import Component, Kind, State

if TYPE_CHECKING:
    from iocwall.wall.walls.presence import Presence

# A node gone this long is dropped from the board (a display PC retired, a worker scaled down).
FORGET_AFTER_S = 24 * 3600.0


class DisplayProbe:
    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, str, float]] = {}   # node -> (wall, monitor, last up)

    def components(self, presence: Presence | None,
                   watched: set[str] | None = None) -> list[Component]:
        """``watched``: the nodes that must be on the wall (paired and not revoked, and the
        demo's); one of these that vanishes stays on the board as down. Any other node (an
        admin's preview, a node just revoked) is shown while connected and forgotten when it
        leaves: nobody should be alerted that it went away. None: every node is watched."""
        now = time.monotonic()
        up: dict[str, tuple[str, str]] = {}
        for state in presence.all() if presence is not None else []:
            if state.status.value == "up":
                up[state.node] = (state.wall, state.monitor)
        for node, (wall, monitor) in up.items():
            self._seen[node] = (wall, monitor, now)
        self._seen = {n: v for n, v in self._seen.items() if now - v[2] < FORGET_AFTER_S
                      and (n in up or watched is None or n in watched)}
        return [Component(Kind.DISPLAY_NODE, node, State.OK if node in up else State.DOWN,
                          detail={"wall": wall, "monitor": monitor,
                                  "silent_s": round(now - last, 1)})
                for node, (wall, monitor, last) in sorted(self._seen.items())]


class WorkerProbe:
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def components(self, analytics: object | None) -> list[Component]:
        """``analytics``: the AnalyticsService (wall/zones/analytics.py) or None."""
        now = time.monotonic()
        router = getattr(analytics, "router", None)
        workers = getattr(router, "workers", {}) or {}
        live = {w.name: w for w in list(workers.values())}
        for name in live:
            self._seen[name] = now
        self._seen = {n: t for n, t in self._seen.items() if now - t < FORGET_AFTER_S}
        out = []
        for name, last in sorted(self._seen.items()):
            worker = live.get(name)
            detail = {"cameras": sorted(worker.cameras) if worker else [],
                      "results": worker.results if worker else 0,
                      "silent_s": round(now - (worker.last_seen if worker else last), 1)}
            out.append(Component(Kind.WORKER, name, State.OK if worker else State.DOWN,
                                 detail=detail))
        return out

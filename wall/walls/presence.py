"""Which displays are connected to any controller, their health, and who is down.

Every controller keeps this table from the ``wall.node`` events all controllers
publish, so each one can say which displays must acknowledge a push and which
have missed their heartbeats (down after ``timeout_s``, checked every 0.5 s). Down is what
the console shows; a display connected to the pushing controller is still sent every push
and still expected to ack it (see ``WallController.announce``), and an ack makes it up again.
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from iocwall.streams.clock import iso_from_epoch
from iocwall.wall.walls.protocol import Health

PREVIEW_NODE = "preview:"   # node id prefix of a person previewing a monitor (walls/ws.py)


class NodeStatus(str, enum.Enum):
    UP = "up"
    DOWN = "down"         # missed heartbeats: still listed so the console shows it red
    GONE = "gone"         # closed its connection


@dataclass
class NodeState:
    conn: str             # one display connection (unique across controllers)
    node: str             # display node id ("demo" for loopback demo pages)
    wall: str
    monitor: str
    controller: str
    status: NodeStatus = NodeStatus.UP
    last_seen: float = field(default_factory=time.monotonic)
    last_seen_wall: float = field(default_factory=time.time)
    health: Health = field(default_factory=Health)

    def public(self) -> dict[str, Any]:
        return {"conn": self.conn, "node": self.node, "wall": self.wall,
                "monitor": self.monitor, "controller": self.controller,
                "status": self.status.value, "last_seen": iso_from_epoch(self.last_seen_wall),
                "health": self.health.to_json()}


class Presence:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._nodes: dict[str, NodeState] = {}

    def seen(self, state: NodeState) -> None:
        state.last_seen, state.last_seen_wall = time.monotonic(), time.time()
        if state.conn not in self._nodes and not state.node.startswith(PREVIEW_NODE):
            # A paired display node shows each monitor in one window: its new connection
            # (to another controller, after its own died) replaces the old one at once,
            # so a push made now does not wait for an ack from a dead controller's link
            # until its heartbeats expire. Previews (a person's browser) may be many.
            for other in self._nodes.values():
                if (other.node, other.wall, other.monitor) == (state.node, state.wall,
                                                               state.monitor):
                    other.status = NodeStatus.GONE
        self._nodes[state.conn] = state

    def answered(self, conn: str) -> None:
        """The display answered (an ack): alive, whatever its heartbeats say. A display busy
        under load may send its heartbeat late, but one that acks is not down."""
        state = self._nodes.get(conn)
        if state is not None and state.status is not NodeStatus.GONE:
            state.status = NodeStatus.UP
            state.last_seen, state.last_seen_wall = time.monotonic(), time.time()

    def gone(self, conn: str) -> None:
        state = self._nodes.get(conn)
        if state is not None:
            state.status = NodeStatus.GONE

    def keep_controllers(self, live: set[str]) -> None:
        """``live``: the controllers alive now (wall/cluster/). A display held by any other
        controller lost its socket when that controller died: it is gone at once, so a push
        made now does not wait for its ack until its heartbeats expire. It is back as soon
        as it reconnects anywhere (a new connection, a new heartbeat)."""
        for state in self._nodes.values():
            if state.status is not NodeStatus.GONE and state.controller not in live:
                state.status = NodeStatus.GONE

    def expire(self) -> list[NodeState]:
        """Mark as down every node silent for longer than the timeout; returns those."""
        now = time.monotonic()
        newly = []
        for state in self._nodes.values():
            if state.status is NodeStatus.UP and now - state.last_seen > self.timeout_s:
                state.status = NodeStatus.DOWN
                newly.append(state)
        # forget connections closed or down for a minute: the list stays small
        self._nodes = {c: s for c, s in self._nodes.items()
                       if s.status is NodeStatus.UP or now - s.last_seen < 60}
        return newly

    def up(self, wall: str, monitors: set[str] | None = None) -> set[str]:
        return {s.conn for s in self._nodes.values() if s.status is NodeStatus.UP
                and s.wall == wall and (monitors is None or s.monitor in monitors)}

    def all(self, wall: str | None = None) -> list[NodeState]:
        return [s for s in self._nodes.values() if wall is None or s.wall == wall]

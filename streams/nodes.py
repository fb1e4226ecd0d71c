"""The live media node table: who is alive, from heartbeats that expire.

One job: remember each node's newest ``wire.Heartbeat``, when it arrived (this
process's monotonic clock: a sender's clock is never compared with ours) and
the node's state. ``beat()`` is the only way in, so the source of heartbeats
is pluggable: today the supervisor feeds it from each media process's socket;
across machines a bus (Redis) subscriber would call the same ``beat()`` with
the nodes' announcements. A node whose newest heartbeat is older than
``timeout_s`` is ``expired``; what to do about it (kill, restart, fail over)
is the supervisor's business, not the table's.
"""
from __future__ import annotations

import enum
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import Metric

from iocwall.streams.metrics import Families, exposition, family
from iocwall.streams.wire import Heartbeat

HEARTBEAT_S = 1.0            # how often a media node sends one


class NodeState(enum.Enum):
    STARTING = "starting"        # spawned, has not said hello yet (first start)
    UP = "up"                    # said hello; heartbeats arrive
    RESTARTING = "restarting"    # died or was killed; comes back with the same id
    HUNG = "hung"                # killed for missing heartbeats; restarting
    DOWN = "down"                # kept failing to start: its cameras moved to the others


class Restart(enum.Enum):
    """Why a node was (re)started: counted per node in /metrics."""
    EXITED = "process_exit"      # the process died by itself
    HUNG = "node_hung"           # no heartbeat for timeout_s: killed
    MEMORY = "node_memory"       # heartbeat RSS over the cap: killed
    START_FAILED = "start_failed"   # died, or said nothing, before its hello


@dataclass
class NodeInfo:
    node: str
    state: NodeState = NodeState.STARTING
    since: float = field(default_factory=time.monotonic)      # in this state since
    last: Heartbeat | None = None
    received_at: float = 0.0                                   # monotonic, here
    restarts: Counter[Restart] = field(default_factory=Counter)

    def age(self, now: float) -> float | None:
        return now - self.received_at if self.received_at else None

    def to_json(self, now: float) -> dict[str, Any]:
        hb, age = self.last, self.age(now)
        return {"node": self.node, "state": self.state.value,
                "pid": hb.pid if hb else None,
                "cameras": hb.cameras if hb else 0,
                "sessions": hb.sessions if hb else 0,
                "rss_bytes": hb.rss_bytes if hb else 0,
                "loop_lag_s": round(hb.loop_lag_s, 4) if hb else 0.0,
                "heartbeat_age_s": round(age, 3) if age is not None else None,
                "restarts": {r.value: self.restarts[r] for r in Restart}}


class NodeTable:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._nodes: dict[str, NodeInfo] = {}

    def add(self, node: str) -> NodeInfo:
        return self._nodes.setdefault(node, NodeInfo(node))

    def get(self, node: str) -> NodeInfo:
        return self._nodes[node]

    def __iter__(self):  # noqa: ANN204
        return iter(self._nodes.values())

    def beat(self, heartbeat: Heartbeat, now: float | None = None) -> NodeInfo:
        """A heartbeat from any source. A node not seen before is added (across machines
        a node announces itself this way); one that was not up is up again."""
        at = time.monotonic() if now is None else now
        self.set_state(heartbeat.node, NodeState.UP, at)
        info = self._nodes[heartbeat.node]
        info.last, info.received_at = heartbeat, at
        return info

    def set_state(self, node: str, state: NodeState, now: float | None = None) -> None:
        info = self.add(node)
        at = time.monotonic() if now is None else now
        if info.state is not state:
            info.state = state
            info.since = at
            if state is NodeState.UP:
                info.received_at = at    # its hello: expiry counts from here
        if state is not NodeState.UP:
            info.received_at = 0.0       # its figures are not current any more
            info.last = None

    def state(self, node: str) -> NodeState:
        return self._nodes[node].state

    def expired(self, node: str, now: float) -> bool:
        """Up, and silent for longer than ``timeout_s``."""
        info = self._nodes[node]
        age = info.age(now)
        return info.state is NodeState.UP and age is not None and age > self.timeout_s

    def live(self) -> list[str]:
        return [n.node for n in self._nodes.values() if n.state is NodeState.UP]

    def to_json(self, now: float | None = None) -> list[dict[str, Any]]:
        at = time.monotonic() if now is None else now
        return [info.to_json(at) for info in self._nodes.values()]


def _families(infos: list[NodeInfo], at: float) -> Iterator[Metric]:
    def per_node(get: Callable[[NodeInfo], float]) -> list[tuple[list[str], float]]:
        return [([i.node], float(get(i))) for i in infos]

    yield family("gauge", "iocwall_media_node_state", "1 for the current state of a media node",
                 ["node", "state"], [([i.node, s.value], 1.0 if i.state is s else 0.0)
                                     for i in infos for s in NodeState])
    yield family("gauge", "iocwall_media_node_cameras",
                 "Cameras a media node serves (its heartbeat)", ["node"],
                 per_node(lambda i: i.last.cameras if i.last else 0))
    yield family("gauge", "iocwall_media_node_sessions",
                 "Viewer sessions on a media node (its heartbeat)", ["node"],
                 per_node(lambda i: i.last.sessions if i.last else 0))
    yield family("gauge", "iocwall_media_node_rss_bytes",
                 "Resident memory of a media node (its heartbeat)", ["node"],
                 per_node(lambda i: i.last.rss_bytes if i.last else 0))
    yield family("gauge", "iocwall_media_node_loop_lag_seconds",
                 "How late a media node's event loop woke for its heartbeat", ["node"],
                 per_node(lambda i: round(i.last.loop_lag_s, 4) if i.last else 0))
    yield family("gauge", "iocwall_media_node_heartbeat_age_seconds",
                 "Seconds since a media node's last heartbeat (0 when not up)", ["node"],
                 per_node(lambda i: round(i.age(at) or 0.0, 3)))
    yield family("counter", "iocwall_media_node_restarts_total", "Media node restarts, by reason",
                 ["node", "reason"], [([i.node, r.value], float(i.restarts[r]))
                                      for i in infos for r in Restart])


def metrics_text(table: NodeTable, now: float | None = None) -> str:
    """Prometheus series of the node table, each with a ``node`` label."""
    at = time.monotonic() if now is None else now
    infos = list(table)
    return exposition(Families(lambda: _families(infos, at)))

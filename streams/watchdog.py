"""When a media node must be restarted, and when it counts as down.

The decisions only; the supervisor acts on them (kill, restart, fail over).
- A node that is up but whose heartbeats stopped for ``NodeTable.timeout_s``
  (SIGSTOP, a stuck event loop) is hung: it must be killed and restarted.
- A node whose heartbeat RSS is over ``memory_limit_bytes`` (0 = no cap) is
  restarted too: a leak must not take the machine's memory from the others.
- A node spawned but silent (no hello) for ``start_timeout_s`` failed to start.
- A node whose starts keep failing (``FAILURES`` within ``WINDOW_S``; a start
  fails when the node dies or is killed before it stayed up ``STABLE_S``) is
  down: its cameras go to the other nodes. It is still retried; when it comes
  back it is up again and takes new cameras.
"""
from __future__ import annotations

from collections import deque

from iocwall.streams.nodes import NodeState, NodeTable, Restart

FAILURES = 3                 # failed starts ...
WINDOW_S = 60.0              # ... within this long: the node is down
STABLE_S = 10.0              # up this long: the start did not fail


class Watchdog:
    def __init__(self, table: NodeTable, memory_limit_bytes: int,
                 start_timeout_s: float) -> None:
        self.table = table
        self.memory_limit_bytes = memory_limit_bytes
        self.start_timeout_s = start_timeout_s
        self._failed: dict[str, deque[float]] = {}

    def verdict(self, node: str, now: float, started_at: float,
                greeted: bool) -> Restart | None:
        """Why this running process (started at ``started_at``; ``greeted``: it said
        hello) must be killed now, if it must."""
        info = self.table.get(node)
        if info.state is NodeState.UP:
            if self.table.expired(node, now):
                return Restart.HUNG
            limit = self.memory_limit_bytes
            if limit and info.last is not None and info.last.rss_bytes > limit:
                return Restart.MEMORY
            return None
        if not greeted and now - started_at > self.start_timeout_s:
            return Restart.START_FAILED
        return None

    def restarting(self, node: str, reason: Restart, now: float,
                   up_since: float | None) -> bool:
        """A process of ``node`` ended for ``reason`` and is restarted: counted, and the
        node's state set (a hung or down one stays so until it is up again). True when
        the node has just become down."""
        info = self.table.get(node)
        info.restarts[reason] += 1
        failing = self.ended(node, now, up_since)
        if failing and info.state is not NodeState.DOWN:
            self.table.set_state(node, NodeState.DOWN, now)
            return True
        if info.state not in (NodeState.DOWN, NodeState.HUNG):
            self.table.set_state(node, NodeState.RESTARTING, now)
        return False

    def ended(self, node: str, now: float, up_since: float | None) -> bool:
        """A process of ``node`` ended (it was up since ``up_since``, or never); True when
        its starts have now failed FAILURES times within WINDOW_S: the node is down."""
        if up_since is not None and now - up_since >= STABLE_S:
            self._failed.pop(node, None)
            return False
        times = self._failed.setdefault(node, deque())
        times.append(now)
        while times and now - times[0] > WINDOW_S:
            times.popleft()
        return len(times) >= FAILURES

    def failed_starts(self, node: str) -> int:
        return len(self._failed.get(node, ()))

    def explain(self, node: str, reason: Restart, now: float) -> str:
        """The log line's words for a kill."""
        info = self.table.get(node)
        if reason is Restart.HUNG:
            return (f"hung, no heartbeat for {info.age(now) or 0.0:.1f} s "
                    f"(node_timeout_s {self.table.timeout_s:g})")
        if reason is Restart.MEMORY and info.last is not None:
            return (f"over the memory cap, {info.last.rss_bytes >> 20} MiB > "
                    f"{self.memory_limit_bytes >> 20} MiB (node_memory_mb)")
        return f"no hello within {self.start_timeout_s:g} s of its start"

"""Leadership: which controller may do the things that must happen once, and its fence.

Several controllers serve one site. Duties that must run once (alarm rules, late-report
indicators, the analytics frame router, camera placement on media nodes, the health
prober and alert rules) run on the one that holds the leader lease in the shared store
(wall/cluster/lease.py). Each time the lease changes hands its **epoch** grows by one.
Everything a leader tells a display node or a media node carries that epoch, and they
refuse an epoch lower than the highest they have seen: a leader that was paused (GC,
SIGSTOP, a full disk) and wakes after another took over cannot act on stale authority.

This module is the contract only, so that streams/ (media nodes check the fence) needs
nothing from wall/. ``SoleLeader`` is the answer for a process that is alone: it is
always the leader, epoch 1.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

LeaderChange = Callable[[bool, int], Awaitable[None]]   # (is_leader, epoch)


class Leadership(Protocol):
    def is_leader(self) -> bool:
        """True while this process holds an unexpired lease (judged on its own clock,
        with a safety margin: it stops acting before the lease can expire elsewhere)."""

    def epoch(self) -> int:
        """The fencing epoch of the lease this process holds; 0 when it holds none."""

    def holder(self) -> str | None:
        """The controller id that holds the lease as last seen; None when nobody does."""

    def on_change(self, callback: LeaderChange) -> None:
        """Call ``callback(is_leader, epoch)`` each time this process gains or loses the
        lease (gaining: after the store has recorded it; losing: before anything else)."""


class SoleLeader:
    """One process, no lease to contest: leader from the start, epoch 1."""

    def __init__(self, node_id: str = "local") -> None:
        self._node_id = node_id

    def is_leader(self) -> bool:
        return True

    def epoch(self) -> int:
        return 1

    def holder(self) -> str | None:
        return self._node_id

    def on_change(self, callback: LeaderChange) -> None:
        """Never changes: nothing to call."""


class Fence:
    """The receiving side (a display node, a media node): the highest epoch seen so far;
    anything older is refused."""

    def __init__(self) -> None:
        self.highest = 0

    def admit(self, epoch: int) -> bool:
        """True (and remembered) when ``epoch`` is at least the highest seen."""
        if epoch < self.highest:
            return False
        self.highest = epoch
        return True

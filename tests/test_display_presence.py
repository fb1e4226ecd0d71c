"""Presence after a controller dies: a paired display node that reconnects elsewhere replaces
its old connection at once (a push does not wait for the dead link's ack); previews do not."""
from __future__ import annotations

from iocwall.wall.walls.presence import NodeState, NodeStatus, Presence


def _state(conn: str, node: str, controller: str, monitor: str = "1") -> NodeState:
    return NodeState(conn, node, "w1", monitor, controller)


def test_a_paired_node_reconnected_elsewhere_replaces_its_old_connection() -> None:
    presence = Presence(timeout_s=5.0)
    presence.seen(_state("old", "node-7", "controller-a"))
    presence.seen(_state("m2", "node-7", "controller-a", monitor="2"))
    presence.seen(_state("other", "node-8", "controller-a"))
    assert presence.up("w1") == {"old", "m2", "other"}
    presence.seen(_state("new", "node-7", "controller-b"))         # controller A died
    assert presence.up("w1") == {"new", "m2", "other"}     # its other monitor and node stay
    gone = {s.conn: s.status for s in presence.all("w1")}
    assert gone["old"] is NodeStatus.GONE
    presence.seen(_state("new", "node-7", "controller-b"))         # its heartbeats: no change
    assert presence.up("w1") == {"new", "m2", "other"}


def test_previews_of_one_monitor_are_many() -> None:
    presence = Presence(timeout_s=5.0)
    presence.seen(_state("a", "preview:admin", "controller-a"))
    presence.seen(_state("b", "preview:admin", "controller-b"))
    assert presence.up("w1") == {"a", "b"}


def test_displays_of_a_controller_that_died_are_gone_until_they_reconnect() -> None:
    presence = Presence(timeout_s=5.0)
    presence.seen(_state("p1", "preview:admin", "controller-a"))
    presence.seen(_state("p2", "preview:op", "controller-b"))
    presence.seen(_state("n1", "node-7", "controller-a", monitor="2"))
    presence.keep_controllers({"controller-a", "controller-b"})     # both alive: nothing moves
    assert presence.up("w1") == {"p1", "p2", "n1"}
    presence.keep_controllers({"controller-b"})                    # A's row went stale
    assert presence.up("w1") == {"p2"}                 # no push waits for A's dead sockets
    presence.seen(_state("p1b", "preview:admin", "controller-b"))  # reconnected through B
    assert presence.up("w1") == {"p2", "p1b"}

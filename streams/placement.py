"""Which media node serves which camera: rendezvous (highest random weight) hashing.

Every node (a media process here, a machine later) that knows the same list of
node ids computes the same owner for a camera, with no coordinator: the owner
is the node with the highest hash of (node, camera). When a node leaves, only
its own cameras move (each to its next-highest node); when one joins, it takes
about 1/n of the cameras from the others and nothing else moves. ``assign``
adds a load bound so a handful of cameras still spreads evenly.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def weight(node: str, camera: str) -> int:
    digest = hashlib.blake2b(f"{node}\0{camera}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(camera: str, nodes: Sequence[str]) -> str:
    """The node that serves ``camera`` among ``nodes`` (non-empty)."""
    if not nodes:
        raise ValueError("no media node to place a camera on")
    return max(nodes, key=lambda node: (weight(node, camera), node))


def assign(cameras: Iterable[str], nodes: Sequence[str]) -> dict[str, list[str]]:
    """node -> the cameras it serves, with bounded load (every node listed).

    Plain rendezvous hashing is only even for many cameras: 4 cameras on 2
    nodes all landed on one. Here each camera (in id order) goes to the node of
    highest weight that still has room below ceil(cameras / nodes). The result
    depends only on the two lists, so every node computes the same split; when a
    node leaves, its cameras move and only a few others shift to even the load.
    """
    cams = sorted(set(cameras))
    if not nodes:
        raise ValueError("no media node to place a camera on")
    room = -(-len(cams) // len(nodes))
    out: dict[str, list[str]] = {node: [] for node in nodes}
    for camera in cams:
        ranked = sorted(nodes, key=lambda node: (weight(node, camera), node), reverse=True)
        chosen = next(node for node in ranked if len(out[node]) < room)
        out[chosen].append(camera)
    return out


def place(camera: str, load: dict[str, int]) -> str:
    """The node for a camera added at run time, given each node's current camera count:
    the highest-weight node still under the bound ceil((cameras + 1) / nodes). Cameras
    already placed never move (they may be playing)."""
    if not load:
        raise ValueError("no media node to place a camera on")
    room = -(-(sum(load.values()) + 1) // len(load))
    ranked = sorted(load, key=lambda node: (weight(node, camera), node), reverse=True)
    return next(node for node in ranked if load[node] < room)


def fail_over(cameras: Iterable[str], load: dict[str, int]) -> dict[str, str]:
    """camera -> its new node, for the cameras of a node that is down. ``load``: each
    surviving node's camera count. Each camera (in id order) goes where ``place`` puts it,
    so every process computes the same moves; the survivors' own cameras never move."""
    load = dict(load)
    moved: dict[str, str] = {}
    for camera in sorted(set(cameras)):
        moved[camera] = place(camera, load)
        load[moved[camera]] += 1
    return moved


def node_ids(count: int) -> list[str]:
    """Ids of the local media processes: stable across restarts of one process."""
    return [f"media-{k}" for k in range(count)]

"""The display WebSocket protocol and the bus events between controllers (see README).

Controller -> display:  ``layout`` (full layout + what changed), ``alarm``, ``replay`` (an
                        operator rewinds one tile, or sends it back to live).
Display -> controller:  ``ack`` (a layout applied), ``heartbeat`` (health, every second),
                        ``viewport`` (its screen in device pixels, when that changes).
Each camera or tour tile of a layout carries ``play``: camera id -> the stream the
display plays there, chosen by the controller (layouts/streams.py) for that screen.
Every message is one JSON object with a ``type``; unknown types are refused. What a leader
duty sends (an alarm rule's ``layout`` and ``alarm``, a health alert's ``alarm``) also carries
``epoch`` (wall/cluster/): a display drops one below the highest epoch it has seen.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from iocwall.layouts import Layout, LayoutDiff, Size


class MessageType(str, enum.Enum):
    LAYOUT = "layout"
    ALARM = "alarm"
    REPLAY = "replay"
    ACK = "ack"
    HEARTBEAT = "heartbeat"
    VIEWPORT = "viewport"
    ERROR = "error"


class ProtocolError(ValueError):
    pass


# Bus topics shared by every controller process.
TOPIC_PUSH = "wall.push"          # a monitor's layout changed: displays apply it
TOPIC_ACK = "wall.ack"            # a display applied a push
TOPIC_NODE = "wall.node"          # a display connected, beat or left
TOPIC_ALARM = "wall.alarm"        # an alarm was raised or cleared
TOPIC_REPLAY = "wall.replay"      # an operator rewinds a display tile (or sends it live)
TOPIC_REVOKE = "wall.revoke"      # a display node was revoked: every controller drops its sockets
TOPIC_QUEUE = "analytics.queue.*"  # queue counts: QueueReading (wall/bus/queue.py)


@dataclass(frozen=True)
class TileHealth:
    fps: float = 0.0
    dropped: int = 0
    stream: str = ""
    playing: bool = False


@dataclass(frozen=True)
class Health:
    """What a display reports each heartbeat."""
    tiles: dict[str, TileHealth] = field(default_factory=dict)
    memory_mb: float = 0.0
    uptime_s: float = 0.0
    version: int = 0              # the layout version it shows

    def to_json(self) -> dict[str, Any]:
        return {"tiles": {k: vars(v) for k, v in self.tiles.items()},
                "memory_mb": self.memory_mb, "uptime_s": self.uptime_s, "version": self.version}

    @classmethod
    def from_json(cls, data: Any) -> Health:
        if not isinstance(data, dict):
            raise ProtocolError("health must be an object")
        try:
            tiles = {str(k): TileHealth(float(v.get("fps", 0)), int(v.get("dropped", 0)),
                                        str(v.get("stream", "")), bool(v.get("playing", False)))
                     for k, v in dict(data.get("tiles", {})).items()}
            return cls(tiles, float(data.get("memory_mb", 0)), float(data.get("uptime_s", 0)),
                       int(data.get("version", 0)))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ProtocolError(f"bad health: {exc}") from None


def layout_message(push_id: str, wall: str, monitor: str, layout: Layout | None,
                   change: LayoutDiff | None, alarms: list[dict[str, Any]],
                   plan: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """``plan``: tile id -> {camera id -> stream} (layouts.stream_plan), sent as each
    tile's ``play``."""
    shown = layout.to_json() if layout else None
    if shown is not None:
        for tile in shown["tiles"]:
            if plan is not None and tile["id"] in plan:
                tile["play"] = plan[tile["id"]]
    return {"type": MessageType.LAYOUT.value, "push_id": push_id, "wall": wall,
            "monitor": monitor, "layout": shown,
            "changed": None if change is None else {
                "added": list(change.added), "removed": list(change.removed),
                "changed": list(change.changed), "grid": change.grid_changed},
            "alarms": alarms}


def replay_message(wall: str, monitor: str, tile: str, camera: str,
                   start: str | None) -> dict[str, Any]:
    """Replay ``tile`` (showing ``camera``) from ``start`` (ISO, +07:00) on the displays of
    ``monitor``; ``start`` None: back to live. Not kept anywhere: a display that reconnects
    (or reloads) is live."""
    return {"type": MessageType.REPLAY.value, "wall": wall, "monitor": monitor, "tile": tile,
            "camera": camera, "start": start, "live": start is None}


@dataclass(frozen=True)
class Incoming:
    type: MessageType
    push_id: str = ""
    version: int = 0
    health: Health | None = None
    screen: Size | None = None


def parse_incoming(data: Any) -> Incoming:
    if not isinstance(data, dict):
        raise ProtocolError("a message is a JSON object")
    try:
        kind = MessageType(data.get("type"))
    except ValueError:
        raise ProtocolError(f"unknown message type {data.get('type')!r}") from None
    if kind is MessageType.ACK:
        push_id, version = data.get("push_id"), data.get("version", 0)
        if not isinstance(push_id, str) or not isinstance(version, int):
            raise ProtocolError("ack needs push_id (string) and version (integer)")
        return Incoming(kind, push_id=push_id, version=version)
    if kind is MessageType.HEARTBEAT:
        return Incoming(kind, health=Health.from_json(data.get("health", {})))
    if kind is MessageType.VIEWPORT:
        return Incoming(kind, screen=parse_screen(data.get("width"), data.get("height")))
    raise ProtocolError(f"a display does not send {kind.value!r}")


MAX_SCREEN = 16384      # device pixels a side: past 16K a number is a mistake, not a monitor


def parse_screen(width: Any, height: Any) -> Size:
    """A display's screen size in device pixels (the viewport message, the socket's query)."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError):
        raise ProtocolError("viewport needs width and height (integers)") from None
    if not (0 < w <= MAX_SCREEN and 0 < h <= MAX_SCREEN):
        raise ProtocolError(f"viewport must be 1-{MAX_SCREEN} pixels a side")
    return Size(w, h)

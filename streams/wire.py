"""Messages between the web process and its media processes or media nodes.

Each message is a dataclass (or an Enum inside one). On the local Unix socket (a private
0700 directory) and across machines alike they travel in ``netwire``'s typed frames:
a JSON header naming registered types, binary parts beside it; nothing is unpickled.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from iocwall.streams.limits import CloseReason
from iocwall.streams.settings import StreamSettings

MAX_MESSAGE = 72 << 20         # a replay clip is the largest thing sent (recorder.MAX_CLIP_BYTES)


class Op(enum.Enum):
    OFFER = "offer"            # (camera, stream, sdp, user) -> (SessionRef, answer)
    DELETE = "delete"          # (session_id,) -> bool
    CAMERAS = "cameras"        # () -> NodeStatus (statuses + counters: the 0.5 s poll)
    CAMERA = "camera"          # (camera,) -> CameraStatus | None
    HEALTH = "health"          # () -> list[HealthSnapshot]
    COUNTERS = "counters"      # () -> ServerCounters
    SNAPSHOT = "snapshot"      # (camera, stream) -> Snapshot
    SYNC = "sync"              # (list[Camera],) -> None: serve exactly these (sent on connect)
    ADD = "add"                # (Camera,) -> None
    UPDATE = "update"          # (Camera,) -> None: a changed URL reconnects under its viewers
    REMOVE = "remove"          # (camera,) -> bool: viewers closed, later requests 410
    TAP = "tap"                # (TapRequest,) -> None: start the analytics tap of a camera
    UNTAP = "untap"            # (tap_id,) -> bool
    SETTINGS = "settings"      # () -> StreamSettings: what the process's media runs with
    REPLAY_RANGES = "replay_ranges"   # (camera,) -> dict[str, ReplayRange]
    REPLAY_CLIP = "replay_clip"       # (camera, stream, start, duration) -> ReplayClip
    SESSIONS = "sessions"      # () -> list[SessionRef]: its viewer sessions (media nodes)


# what only the placement leader may send a media node on another machine: each carries
# the leader's epoch, and the node refuses one older than it has seen (leadership.Fence)
PLACEMENT_OPS = frozenset({Op.SYNC, Op.ADD, Op.UPDATE, Op.REMOVE})


@dataclass(frozen=True)
class Hello:
    """First message of a media process: who it is."""
    node: str
    pid: int


@dataclass(frozen=True)
class Heartbeat:
    """Sent by a media node every ``nodes.HEARTBEAT_S``: that it is alive and how loaded.
    The node table (streams/nodes.py) expires a node whose heartbeats stop; a bus
    announcer across machines would carry the same fields."""
    node: str
    pid: int
    cameras: int                 # cameras it serves
    sessions: int                # open viewer sessions
    rss_bytes: int               # resident memory of the process
    loop_lag_s: float            # how late its event loop woke for this heartbeat
    sent_at: float               # time.monotonic() of the sender (one clock on one machine)


@dataclass(frozen=True)
class Call:
    id: int
    op: Op
    args: tuple[Any, ...] = ()
    epoch: int = 0             # the leader's fencing epoch (placement ops to media nodes)


@dataclass(frozen=True)
class Failure:
    status: int
    code: str
    message: str
    retry_after_s: int | None = None


@dataclass(frozen=True)
class Reply:
    id: int
    value: Any = None
    error: Failure | None = None


@dataclass(frozen=True)
class SessionRef:
    """A viewer session as the web process knows it."""
    id: str
    camera: str
    stream: str
    node: str = ""
    user: str = ""


@dataclass(frozen=True)
class SessionClosed:
    """Pushed by a media process whenever one of its sessions ends."""
    session_id: str
    reason: CloseReason


@dataclass(frozen=True)
class LogLine:
    """A log record of a media process, re-emitted by the web process (one log file)."""
    name: str
    level: int
    message: str
    created: float
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeStatus:
    """A media process's answer to Op.CAMERAS, which the web process asks every 0.5 s:
    its camera statuses, and its own counters of dropped and corrupt units and of closed
    sessions (metrics.NodeCounters), shown per process in /metrics."""
    node: str
    cameras: list[Any]           # server.CameraStatus
    counters: Any                # metrics.NodeCounters


@dataclass(frozen=True)
class TapRequest:
    """Tap ``camera`` in the media process that owns it (where its frames are)."""
    tap_id: int
    camera: str
    stream: str
    zones: list[Any]             # analytics.messages.ZoneSpec
    options: Any                 # tap.TapOptions


@dataclass(frozen=True)
class TapFrame:
    """A sampled analytics frame, pushed by the media process (header + JPEG)."""
    tap_id: int
    header: Any                  # analytics.messages.FrameHeader
    jpeg: bytes


@dataclass(frozen=True)
class TapEnded:
    """A media process's tap stopped (stream ended, camera removed, or it failed)."""
    tap_id: int
    camera: str
    error: str = ""


@dataclass(frozen=True)
class WorkerSettings:
    """What a media process is started with (pickled into it by multiprocessing)."""
    node: str
    socket_path: str
    media: StreamSettings
    cameras: list[Any] = field(default_factory=list)   # server.Camera (with credentials)
    log_level: int = 20

"""What crosses ZeroMQ between the media server's tap and the analytics workers.

Every message is a multipart ZeroMQ message ``[kind, header-json, (payload)]``:
``kind`` is a :class:`Kind` value, the header a dataclass as JSON, the payload
(frames only) a JPEG. Dataclasses and an Enum on both sides, never positional
tuples: a worker on another machine of another version fails with a clear
:class:`MessageError` instead of mis-reading a field.
"""
from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

PROTOCOL = 1
MAX_HEADER_BYTES = 64 * 1024


class Kind(bytes, enum.Enum):
    HELLO = b"hello"          # worker -> tap: I exist (name, batch size)
    READY = b"ready"          # worker -> tap: send me up to N more frames
    HEARTBEAT = b"beat"       # worker -> tap: still alive while it computes
    RESULT = b"result"        # worker -> tap: counts for one frame
    FRAME = b"frame"          # tap -> worker: one decoded frame (JPEG) with its zones


class MessageError(ValueError):
    """A message that is not one of ours (wrong kind, header or protocol version)."""


@dataclass(frozen=True)
class ZoneSpec:
    """A queue zone: a polygon in the frame's own pixels."""
    id: str
    polygon: list[list[float]]


@dataclass(frozen=True)
class Hello:
    worker: str
    batch: int = 1
    protocol: int = PROTOCOL


@dataclass(frozen=True)
class Ready:
    credit: int


@dataclass(frozen=True)
class Heartbeat:
    worker: str


@dataclass(frozen=True)
class FrameHeader:
    camera: str
    seq: int
    capture_ts: float          # wall-clock time (Unix seconds) the frame reached the server
    width: int
    height: int
    zones: list[ZoneSpec] = field(default_factory=list)


@dataclass(frozen=True)
class ZoneCount:
    zone: str
    waiting: int
    wait_estimate_s: float | None   # None until a few people have been served
    served_per_hour: float
    detected: int | None = None     # found in the zone on this very frame, before tracking


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float
    track: int
    score: float


@dataclass(frozen=True)
class Result:
    camera: str
    seq: int
    capture_ts: float
    counted_ts: float             # when the worker finished counting (Unix seconds)
    worker: str
    zones: list[ZoneCount]
    boxes: list[Box] = field(default_factory=list)


T = TypeVar("T")
_HEADERS: dict[Kind, type] = {Kind.HELLO: Hello, Kind.READY: Ready, Kind.HEARTBEAT: Heartbeat,
                              Kind.RESULT: Result, Kind.FRAME: FrameHeader}


def encode(kind: Kind, header: Any, payload: bytes | None = None) -> list[bytes]:
    parts = [kind.value, json.dumps(asdict(header), separators=(",", ":")).encode()]
    if payload is not None:
        parts.append(payload)
    return parts


def decode(parts: list[bytes]) -> tuple[Kind, Any, bytes | None]:
    """``(kind, header dataclass, payload)``; raises MessageError on anything else."""
    if len(parts) not in (2, 3):
        raise MessageError(f"expected 2 or 3 parts, got {len(parts)}")
    try:
        kind = Kind(parts[0])
    except ValueError:
        raise MessageError(f"unknown message kind {parts[0][:16]!r}") from None
    if len(parts[1]) > MAX_HEADER_BYTES:
        raise MessageError("header too large")
    try:
        data = json.loads(parts[1])
        header: Any = _build(_HEADERS[kind], data)
    except (ValueError, TypeError, KeyError) as exc:
        raise MessageError(f"bad {kind.name.lower()} header: {exc}") from None
    if isinstance(header, Hello) and header.protocol != PROTOCOL:
        raise MessageError(f"protocol {header.protocol}, this side speaks {PROTOCOL}")
    return kind, header, parts[2] if len(parts) == 3 else None


def _build(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object")
    nested: dict[str, dict[type, type]] = {"zones": {FrameHeader: ZoneSpec, Result: ZoneCount},
                                           "boxes": {Result: Box}}
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        inner = nested.get(f.name, {}).get(cls)
        if inner is not None:
            if not isinstance(value, list):
                raise TypeError(f"{f.name} must be a list")
            value = [_build(inner, item) for item in value]
        kwargs[f.name] = value
    return cls(**kwargs)

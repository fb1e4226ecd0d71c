"""Typed messages between machines: a JSON header and binary parts, never pickle.

The ``wire`` messages (``Call``, ``Reply``, ``SessionClosed``, ``TapFrame`` ...) between
the web process and a media process (local Unix socket) or a media node (TLS across a
network) travel in these frames. A peer across a network is not trusted to run code in
us, so nothing here unpickles. A frame is::

    !II  header length, parts length
    header: UTF-8 JSON {"m": <value>, "parts": [len, ...]}
    parts:  the bytes values (JPEG frames, replay clips), one after another

A value is JSON, except: a dataclass ``{"$type": name, "f": {field: value}}``, an enum
``{"$enum": name, "v": value}``, bytes ``{"$bin": index into parts}``, a tuple
``{"$tuple": [...]}``, a dict whose keys are not plain strings ``{"$map": [[k, v], ...]}``.
Only the dataclasses and enums in ``REGISTRY`` decode; anything else, an unknown or
missing field, a field of the wrong basic type, a frame over the size limit, is a
``WireError`` with a clear message (and the frame is never read past its limit).
"""
from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import struct
from collections.abc import Iterable
from typing import Any

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.streams import wire
from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.limits import CloseReason
from iocwall.streams.metrics import NodeCounters, ServerCounters
from iocwall.streams.replay.model import ReplayClip, ReplayRange
from iocwall.streams.server import Camera, CameraStatus
from iocwall.streams.settings import ReplaySettings, StreamSettings
from iocwall.streams.snapshot import Snapshot
from iocwall.streams.taps.tap import TapOptions
from iocwall.streams.urls import CameraUrl, TransportMode

_SIZES = struct.Struct("!II")
MAX_HEADER = 4 << 20                   # JSON: statuses of many cameras, never megabytes more
MAX_PARTS = wire.MAX_MESSAGE           # a replay clip is the largest binary part
AUTH_LIMIT = 4096                      # before a peer has proved the secret
_MAX_DEPTH = 24


class WireError(ValueError):
    """A frame that cannot be taken: ``code`` is oversized, unknown_type or malformed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# -- messages only the network link has ---------------------------------------------------
@dataclasses.dataclass(frozen=True)
class AuthChallenge:
    """First frame of a media node on a new connection: who it is and a fresh nonce."""
    node: str
    nonce: str


@dataclasses.dataclass(frozen=True)
class AuthProof:
    """HMAC of the shared secret over both nonces (and the sender's role); the
    controller's carries its own nonce, which the node must answer in turn."""
    mac: str
    nonce: str = ""


@dataclasses.dataclass(frozen=True)
class AuthRefused:
    message: str


@dataclasses.dataclass(frozen=True)
class ProtocolError:
    """A frame the node could not take (oversized, unknown type, malformed)."""
    code: str
    message: str


@dataclasses.dataclass(frozen=True)
class NodeAnnouncement:
    """What a media node publishes on the bus every second (and keeps under a key that
    expires after ``node_timeout_s``): its heartbeat, where to reach it, what it serves."""
    heartbeat: wire.Heartbeat
    host: str                       # the machine's name (for people)
    address: str                    # host:port controllers connect to (TLS)
    ice_addresses: list[str]        # the host candidates its answers carry
    capacity: int                   # cameras it is sized for
    version: str
    serves: list[str]               # camera ids it serves now
    epoch: int                      # highest leader epoch it has admitted


_CLASSES: tuple[type, ...] = (
    wire.Call, wire.Reply, wire.Failure, wire.SessionRef, wire.SessionClosed, wire.LogLine,
    wire.NodeStatus, wire.TapRequest, wire.TapFrame, wire.TapEnded, wire.Heartbeat, wire.Hello,
    Camera, CameraUrl, CameraStatus, HealthSnapshot, NodeCounters, ServerCounters,
    ReplayRange, ReplayClip, Snapshot, TapOptions, ZoneSpec, FrameHeader, StreamSettings,
    ReplaySettings, AuthChallenge, AuthProof, AuthRefused, ProtocolError, NodeAnnouncement)
_ENUMS: tuple[type[enum.Enum], ...] = (wire.Op, CloseReason, StreamState, TransportMode)
REGISTRY: dict[str, type] = {c.__name__: c for c in _CLASSES}
ENUMS: dict[str, type[enum.Enum]] = {e.__name__: e for e in _ENUMS}
_BASIC = {"str": str, "int": int, "float": float, "bool": bool, "bytes": bytes}
_hints: dict[type, dict[str, str]] = {}


def _field_hints(cls: type) -> dict[str, str]:
    """Field name -> its annotation as written (the module uses postponed annotations)."""
    if cls not in _hints:
        _hints[cls] = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    return _hints[cls]


# -- encode -------------------------------------------------------------------------------
def _enc(value: Any, parts: list[bytes]) -> Any:
    if isinstance(value, enum.Enum):         # first: a str/int enum is a str/int too
        name = type(value).__name__
        if ENUMS.get(name) is not type(value):
            raise WireError("unknown_type", f"enum {name} is not a wire type")
        return {"$enum": name, "v": value.value}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        parts.append(bytes(value))
        return {"$bin": len(parts) - 1}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if REGISTRY.get(name) is not type(value):
            raise WireError("unknown_type", f"{name} is not a wire type")
        return {"$type": name, "f": {f.name: _enc(getattr(value, f.name), parts)
                                     for f in dataclasses.fields(value)}}
    if isinstance(value, tuple):
        return {"$tuple": [_enc(v, parts) for v in value]}
    if isinstance(value, list):
        return [_enc(v, parts) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _enc(v, parts) for k, v in value.items()}
        return {"$map": [[_enc(k, parts), _enc(v, parts)] for k, v in value.items()]}
    raise WireError("unknown_type", f"{type(value).__name__} cannot cross the network")


def encode(message: object) -> bytes:
    """One framed message (write it whole: frames never interleave)."""
    parts: list[bytes] = []
    # NaN/inf allowed (Python reads them back): a figure that went NaN must not stop a poll
    header = json.dumps({"m": _enc(message, parts), "parts": [len(p) for p in parts]},
                        separators=(",", ":"), allow_nan=True).encode()
    body = b"".join(parts)
    if len(header) > MAX_HEADER or len(body) > MAX_PARTS:
        raise WireError("oversized", f"message of {len(header) + len(body)} bytes over the limit")
    return _SIZES.pack(len(header), len(body)) + header + body


def encode_json(message: object) -> str:
    """A message with no binary part as one JSON text (the bus announcements)."""
    parts: list[bytes] = []
    text = json.dumps(_enc(message, parts), separators=(",", ":"), allow_nan=True)
    if parts:
        raise WireError("malformed", "binary data cannot go in a JSON-only message")
    return text


# -- decode -------------------------------------------------------------------------------
def _dec(value: Any, parts: list[bytes], depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise WireError("malformed", "message nested too deep")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_dec(v, parts, depth + 1) for v in value]
    if not isinstance(value, dict):
        raise WireError("malformed", f"unexpected JSON value {type(value).__name__}")
    if "$type" in value:
        return _dataclass(value, parts, depth)
    if "$enum" in value:
        cls = ENUMS.get(str(value["$enum"]))
        if cls is None:
            raise WireError("unknown_type", f"unknown enum {str(value['$enum'])[:64]!r}")
        try:
            return cls(value.get("v"))
        except ValueError:
            raise WireError("malformed", f"{cls.__name__} has no value "
                            f"{str(value.get('v'))[:64]!r}") from None
    if "$bin" in value:
        index = value["$bin"]
        if not isinstance(index, int) or not 0 <= index < len(parts):
            raise WireError("malformed", "binary reference out of range")
        return parts[index]
    if "$tuple" in value:
        items = value["$tuple"]
        if not isinstance(items, list):
            raise WireError("malformed", "$tuple takes a list")
        return tuple(_dec(v, parts, depth + 1) for v in items)
    if "$map" in value:
        pairs = value["$map"]
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2
                                                  for p in pairs):
            raise WireError("malformed", "$map takes [key, value] pairs")
        out = {}
        for k, v in pairs:
            key = _dec(k, parts, depth + 1)
            try:
                out[key] = _dec(v, parts, depth + 1)
            except TypeError:
                raise WireError("malformed", "unhashable map key") from None
        return out
    return {k: _dec(v, parts, depth + 1) for k, v in value.items()}


def _dataclass(value: dict[str, Any], parts: list[bytes], depth: int) -> Any:
    name = str(value["$type"])
    cls = REGISTRY.get(name)
    if cls is None:
        raise WireError("unknown_type", f"unknown message type {name[:64]!r}")
    raw = value.get("f")
    if not isinstance(raw, dict):
        raise WireError("malformed", f"{name}: fields missing")
    hints = _field_hints(cls)
    unknown = set(raw) - set(hints)
    if unknown:
        raise WireError("malformed", f"{name}: unknown field {sorted(unknown)[0][:64]!r}")
    fields = {k: _dec(v, parts, depth + 1) for k, v in raw.items()}
    for key, val in fields.items():
        fields[key] = _check(name, key, hints[key], val)
    try:
        return cls(**fields)
    except TypeError as exc:             # a required field missing
        raise WireError("malformed", f"{name}: {exc}") from None


def _check(name: str, key: str, hint: str, value: Any) -> Any:
    """Basic field types are checked (str, int, float, bool, bytes and their Optional)."""
    optional = hint.endswith(" | None")
    base = _BASIC.get(hint.removesuffix(" | None"))
    if base is None or (optional and value is None):
        return value
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        raise WireError("malformed", f"{name}.{key}: expected {hint}, got "
                        f"{type(value).__name__}")
    return value


def decode(header: bytes, body: bytes) -> Any:
    """The message of one frame's header and parts. Raises WireError."""
    try:
        doc = json.loads(header)
    except (ValueError, RecursionError):
        raise WireError("malformed", "header is not JSON") from None
    if not isinstance(doc, dict) or "m" not in doc or not isinstance(doc.get("parts"), list):
        raise WireError("malformed", "header has no message")
    sizes = doc["parts"]
    if not all(isinstance(s, int) and s >= 0 for s in sizes) or sum(sizes) != len(body):
        raise WireError("malformed", "binary part sizes do not match the frame")
    parts, at = [], 0
    for size in sizes:
        parts.append(body[at:at + size])
        at += size
    return _dec(doc["m"], parts)


def decode_json(text: str | bytes) -> Any:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise WireError("malformed", "not JSON") from None
    return _dec(doc, [])


def decode_frame(frame: bytes) -> Any:
    """A whole frame as ``encode`` made it (tests, and anything holding one in memory)."""
    if len(frame) < _SIZES.size:
        raise WireError("malformed", "frame shorter than its header")
    head, body = _SIZES.unpack_from(frame)
    rest = frame[_SIZES.size:]
    if len(rest) != head + body:
        raise WireError("malformed", "frame length does not match its header")
    return decode(rest[:head], rest[head:])


# -- streams ------------------------------------------------------------------------------
class FramingLost(WireError):
    """The frame was refused before it was read: the stream cannot be resynchronised."""


async def receive(reader: asyncio.StreamReader, limit: int = MAX_PARTS) -> Any:
    """The next message. Raises asyncio.IncompleteReadError when the peer is gone,
    FramingLost for a frame over ``limit`` (nothing of it read), WireError for a frame read
    whole that is not a valid message (the stream stays usable)."""
    head, body = _SIZES.unpack(await reader.readexactly(_SIZES.size))
    if head > min(MAX_HEADER, limit) or body > min(MAX_PARTS, limit):
        raise FramingLost("oversized", f"frame of {head + body} bytes over the limit of "
                          f"{min(MAX_HEADER + MAX_PARTS, limit)}")
    header = await reader.readexactly(head)
    data = await reader.readexactly(body) if body else b""
    return decode(header, data)


async def send(writer: asyncio.StreamWriter, message: object) -> None:
    writer.write(encode(message))
    await writer.drain()


def registered() -> Iterable[type]:
    return REGISTRY.values()


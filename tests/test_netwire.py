"""The typed wire format between machines: every message type round-trips; anything else
(an unknown type, a missing or extra field, a wrong basic type, an oversized frame, a
pickle) is refused with a clear WireError, and nothing is ever unpickled."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import struct

import pytest

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.streams import netwire, wire
from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.limits import CloseReason
from iocwall.streams.metrics import NodeCounters, ServerCounters
from iocwall.streams.replay.model import ReplayClip, ReplayRange
from iocwall.streams.server import Camera, CameraStatus
from iocwall.streams.settings import StreamSettings
from iocwall.streams.snapshot import Snapshot
from iocwall.streams.taps.tap import TapOptions
from iocwall.streams.urls import parse

CAM = Camera("cam1", "Quầy 1", "Hall A",
             {"main": parse("rtsp://10.0.0.9:554/main", "admin", "p@ss:w/rd"),
              "sub": parse("rtsp://10.0.0.9:554/sub", transport="udp")}, replay=True)
HEALTH = HealthSnapshot("cam1", "sub", StreamState.LIVE, 25.0, 1.5e6, 0.04, 1, 2, 3, 0, 900,
                        10**6, "h264", 640, 360, False, "", transport="tcp")
HB = wire.Heartbeat("m1", 4242, 2, 3, 50 << 20, 0.001, 123.5)
SAMPLES: list[object] = [
    wire.Hello("m1", 10), HB,
    wire.Call(1, wire.Op.OFFER, ("cam1", "sub", "v=0\r\n", "op"), epoch=4),
    wire.Call(2, wire.Op.SYNC, ([CAM],), 7),
    wire.Reply(3, (wire.SessionRef("abc", "cam1", "sub", "m1", "op"), "v=0\r\n")),
    wire.Reply(4, error=wire.Failure(409, "stale_epoch", "old", 2)),
    wire.SessionRef("abc", "cam1", "sub"),
    wire.SessionClosed("abc", CloseReason.CLIENT_DELETE),
    wire.LogLine("x", 20, "hello", 1.5, {"node": "m1"}),
    wire.NodeStatus("m1", [CameraStatus("cam1", "Quầy 1", "Hall A", {"sub": HEALTH})],
                    NodeCounters(1, 2, 3, 4, {"client_delete": 1})),
    wire.TapRequest(5, "cam1", "sub", [ZoneSpec("q1", [[0.0, 0.0], [1.0, 1.0]])],
                    TapOptions(2.0, True, 80)),
    wire.TapFrame(5, FrameHeader("cam1", 9, 1.7e9, 640, 360,
                                 [ZoneSpec("q1", [[0.0, 0.5]])]), b"\xff\xd8jpeg\x00"),
    wire.TapEnded(5, "cam1", "stream ended"),
    ServerCounters(1, 2, 3, 4, 5, {"client_delete": 2}, 6, 7),
    ReplayRange(1.0, 2.0), ReplayClip(b"\x00mp4" * 100, 1.0, 2.0, 640, 360),
    {"sub": ReplayRange(3.0, 4.0)},
    Snapshot(b"\xff\xd8", 640, 360, 1.7e9), StreamSettings(ice_addresses=("10.0.0.5",)),
    netwire.AuthChallenge("m1", "ab" * 16), netwire.AuthProof("cd" * 32, "ef" * 16),
    netwire.AuthRefused("no"), netwire.ProtocolError("unknown_type", "no"),
    netwire.NodeAnnouncement(HB, "host-a", "10.0.0.5:7450", ["10.0.0.5"], 64, "0.1.0",
                             ["cam1"], 3),
    [True, None, 1.5, "x", (1, 2)], {CloseReason.NODE_HUNG: 1, "$odd": 2},
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_type_round_trips(message):
    frame = netwire.encode(message)
    back = netwire.decode_frame(frame)
    assert back == message
    assert types(back) == types(message)          # a str enum comes back an enum, not a str
    assert b"\x80\x05" not in frame[:2]             # not a pickle


def types(value: object) -> list[str]:
    """Every value's type, depth first (== alone takes "live" for StreamState.LIVE)."""
    out = [type(value).__name__]
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            out += types(getattr(value, f.name))
    elif isinstance(value, list | tuple):
        for x in value:
            out += types(x)
    elif isinstance(value, dict):
        for k, x in value.items():
            out += types(k) + types(x)
    return out


def test_the_samples_cover_every_registered_type():
    seen: set[type] = set()

    def walk(v: object) -> None:
        seen.add(type(v))
        if dataclasses.is_dataclass(v):
            for f in dataclasses.fields(v):
                walk(getattr(v, f.name))
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
    for m in SAMPLES:
        walk(m)
    assert set(netwire.REGISTRY.values()) <= seen
    assert set(netwire.ENUMS.values()) <= seen
    assert set(wire.Op) == {wire.Op(op.value) for op in wire.Op}   # enums by value


def frame(doc: object, body: bytes = b"") -> bytes:
    header = json.dumps(doc).encode()
    return struct.pack("!II", len(header), len(body)) + header + body


@pytest.mark.parametrize("doc,code,words", [
    ({"m": {"$type": "Popen", "f": {}}, "parts": []}, "unknown_type", "Popen"),
    ({"m": {"$enum": "Signals", "v": 9}, "parts": []}, "unknown_type", "Signals"),
    ({"m": {"$type": "Hello", "f": {"node": "m1"}}, "parts": []}, "malformed", "pid"),
    ({"m": {"$type": "Hello", "f": {"node": "m1", "pid": 1, "x": 1}}, "parts": []},
     "malformed", "unknown field"),
    ({"m": {"$type": "Hello", "f": {"node": 5, "pid": 1}}, "parts": []}, "malformed",
     "Hello.node"),
    ({"m": {"$enum": "Op", "v": "exec"}, "parts": []}, "malformed", "exec"),
    ({"m": {"$bin": 3}, "parts": []}, "malformed", "binary"),
    ({"m": 1, "parts": [10]}, "malformed", "sizes"),
    ({"nothing": 1}, "malformed", "no message"),
])
def test_bad_frames_are_refused_with_a_clear_error(doc, code, words):
    with pytest.raises(netwire.WireError) as err:
        netwire.decode_frame(frame(doc))
    assert err.value.code == code and words in err.value.message


def test_a_pickle_or_deep_nesting_is_refused():
    body = pickle.dumps(wire.Hello("m1", 1))
    with pytest.raises(netwire.WireError):
        netwire.decode_frame(struct.pack("!II", len(body), 0) + body)
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(netwire.WireError, match="deep"):
        netwire.decode_frame(frame({"m": deep, "parts": []}))
    with pytest.raises(netwire.WireError, match="Evil is not a wire type"):
        netwire.encode(Evil("rm -rf"))
    with pytest.raises(netwire.WireError, match="cannot cross"):
        netwire.encode(object())


@dataclasses.dataclass
class Evil:
    command: str


async def test_an_oversized_frame_is_refused_before_it_is_read():
    reader = asyncio.StreamReader()
    reader.feed_data(struct.pack("!II", netwire.AUTH_LIMIT + 1, 0))
    with pytest.raises(netwire.FramingLost, match="over the limit"):
        await netwire.receive(reader, netwire.AUTH_LIMIT)
    reader = asyncio.StreamReader()
    reader.feed_data(struct.pack("!II", 10, netwire.MAX_PARTS + 1))
    with pytest.raises(netwire.FramingLost) as err:
        await netwire.receive(reader)
    assert err.value.code == "oversized"

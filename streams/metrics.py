"""Prometheus exposition of stream health and server counters, through ``prometheus_client``.

The values already live in our own counters (health snapshots, server and node
counters), so each scrape builds a small collector over them that yields metric
families, and ``exposition`` renders it with ``generate_latest`` (text format 0.0.4).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.limits import CloseReason

# What generate_latest writes (its CONTENT_TYPE_LATEST names a newer version in new releases)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class ServerCounters:
    sessions: int
    sessions_total: int
    sessions_refused: int
    transcode_sessions_total: int
    keyframe_requests_total: int
    sessions_closed: dict[str, int] = field(default_factory=dict)   # reason -> count
    late_drops_total: int = 0
    paced_packets_total: int = 0


def summed(parts: Sequence[ServerCounters], *, sessions: int | None = None, refused: int = 0,
           closed: Mapping[str, int] | None = None) -> ServerCounters:
    """Several media processes' counters as one (a cluster's /metrics). ``sessions``: the
    open sessions where the caller counts them itself (None: the parts' sum); ``refused``
    and ``closed``: what the caller counted on top of the parts (offers it refused,
    sessions it ended when a process was lost)."""
    ends: Counter[str] = Counter(closed or {})
    for part in parts:
        ends.update(part.sessions_closed)
    return ServerCounters(
        sessions=sum(p.sessions for p in parts) if sessions is None else sessions,
        sessions_total=sum(p.sessions_total for p in parts),
        sessions_refused=refused + sum(p.sessions_refused for p in parts),
        transcode_sessions_total=sum(p.transcode_sessions_total for p in parts),
        keyframe_requests_total=sum(p.keyframe_requests_total for p in parts),
        sessions_closed={r.value: ends[r.value] for r in CloseReason},
        late_drops_total=sum(p.late_drops_total for p in parts),
        paced_packets_total=sum(p.paced_packets_total for p in parts))


@dataclass(frozen=True)
class NodeCounters:
    """What one media process counts of its own losses; /metrics shows them per process
    (label ``node``) and summed. They ride on the half-second status poll (wire.NodeStatus)."""
    dropped_units: int = 0        # access units its streams dropped for slow subscribers
    late_dropped_units: int = 0   # of those, dropped for being over 500 ms old
    corrupt: int = 0              # corrupt packets and refused access units, all its streams
    tap_dropped_frames: int = 0   # analytics frames replaced before the socket took them
    sessions_closed: dict[str, int] = field(default_factory=dict)   # reason -> count


class Families(Collector):
    """A collector whose ``collect`` builds its families on each scrape."""

    def __init__(self, build: Callable[[], Iterable[Metric]]) -> None:
        self._build = build

    def collect(self) -> Iterator[Metric]:
        yield from self._build()


def exposition(*collectors: Collector) -> str:
    """The text format of what ``collectors`` yield now."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry).decode("utf-8")


def family(kind: str, name: str, help_text: str, labels: list[str],
           rows: Iterable[tuple[list[str], float]]) -> Metric:
    """A gauge or counter family with one sample per (label values, value) row."""
    made = (GaugeMetricFamily if kind == "gauge" else CounterMetricFamily)(
        name, help_text, labels=labels)
    for values, value in rows:
        made.add_metric(values, value)
    return made


# (name, help, kind, value of a stream's snapshot)
_STREAM_SERIES: tuple[tuple[str, str, str, Callable[[HealthSnapshot], float]], ...] = (
    ("iocwall_stream_fps", "Frames per second over the last 2 s", "gauge",
     lambda h: round(h.fps, 3)),
    ("iocwall_stream_bitrate_bps", "Bits per second over the last 2 s", "gauge",
     lambda h: round(h.bitrate_bps)),
    ("iocwall_stream_last_packet_age_seconds", "Seconds since the last packet", "gauge",
     lambda h: round(h.last_packet_age_s or 0.0, 3)),
    ("iocwall_stream_reconnects_total", "Failed sessions and retries", "counter",
     lambda h: h.reconnects),
    ("iocwall_stream_viewers", "Subscribers of a stream", "gauge", lambda h: h.viewers),
    ("iocwall_stream_dropped_units_total", "Access units dropped for slow subscribers",
     "counter", lambda h: h.drops),
    ("iocwall_stream_invalid_units_total", "Access units refused as corrupt", "counter",
     lambda h: h.invalid_units),
    ("iocwall_stream_rtp_lost_total",
     "RTP packets that never arrived (UDP; given up by the reorder buffer)", "counter",
     lambda h: h.rtp_lost),
    ("iocwall_stream_rtp_late_total",
     "RTP packets dropped for arriving after their turn or twice (UDP)", "counter",
     lambda h: h.rtp_late),
    ("iocwall_stream_rtp_reordered_total",
     "RTP packets that arrived out of order and were put back (UDP)", "counter",
     lambda h: h.rtp_reordered),
    ("iocwall_stream_rtp_corrupt_total",
     "Corrupt packets: not RTP, bad H.264 payloads, oversized units, "
     "datagrams not from the camera", "counter", lambda h: h.rtp_corrupt),
    ("iocwall_stream_packets_total", "Access units received", "counter", lambda h: h.packets),
    ("iocwall_stream_bytes_total", "Bytes received", "counter", lambda h: h.bytes),
    ("iocwall_stream_transcoding", "1 while a viewer needs transcoding", "gauge",
     lambda h: 1 if h.transcoding else 0),
)

# (name, help, kind, value of the server counters)
_SERVER_SERIES: tuple[tuple[str, str, str, Callable[[ServerCounters], float]], ...] = (
    ("iocwall_webrtc_sessions", "Open viewer sessions", "gauge", lambda c: c.sessions),
    ("iocwall_webrtc_sessions_total", "Viewer sessions opened", "counter",
     lambda c: c.sessions_total),
    ("iocwall_webrtc_sessions_refused_total", "Offers refused", "counter",
     lambda c: c.sessions_refused),
    ("iocwall_transcode_fallback_total",
     "Viewer sessions served by decode + re-encode instead of passthrough", "counter",
     lambda c: c.transcode_sessions_total),
    ("iocwall_keyframe_requests_total", "PLI/FIR received from viewers", "counter",
     lambda c: c.keyframe_requests_total),
)


def _server_families(streams: list[HealthSnapshot], counters: ServerCounters) -> Iterator[Metric]:
    yield family("gauge", "iocwall_stream_state", "1 for the current state of a camera stream",
                 ["camera", "stream", "state"],
                 [([h.camera, h.stream, s.value], 1.0 if h.state is s else 0.0)
                  for h in streams for s in StreamState])
    for name, help_text, kind, get in _STREAM_SERIES:
        yield family(kind, name, help_text, ["camera", "stream"],
                     [([h.camera, h.stream], float(get(h))) for h in streams])
    for name, help_text, kind, total in _SERVER_SERIES:
        yield family(kind, name, help_text, [], [([], float(total(counters)))])
    yield family("counter", "iocwall_webrtc_sessions_closed_total",
                 "Viewer sessions closed, by reason", ["reason"],
                 [([r], n) for r, n in sorted(counters.sessions_closed.items())])
    yield family("counter", "iocwall_late_dropped_units_total",
                 "Access units dropped because a viewer fell over 500 ms behind", [],
                 [([], counters.late_drops_total)])
    yield family("counter", "iocwall_paced_packets_total",
                 "RTP packets held back to keep large keyframes within the NACK history", [],
                 [([], counters.paced_packets_total)])


def render(streams: list[HealthSnapshot], counters: ServerCounters) -> str:
    """The /metrics body."""
    return exposition(Families(lambda: _server_families(streams, counters)))


_NODE_SERIES = (
    ("dropped_units", "Access units dropped for slow subscribers (viewers, analytics taps)"),
    ("late_dropped_units", "Access units dropped because a viewer fell over 500 ms behind"),
    ("corrupt", "Corrupt packets and access units refused as corrupt"),
    ("tap_dropped_frames", "Analytics frames replaced by a newer one before they were sent"),
)


def _node_families(nodes: dict[str, NodeCounters]) -> Iterator[Metric]:
    for key, help_text in _NODE_SERIES:
        rows = [([n], float(getattr(c, key))) for n, c in sorted(nodes.items())]
        yield family("counter", f"iocwall_node_{key}_total", f"{help_text}, per media process",
                     ["node"], rows)
        yield family("counter", f"iocwall_media_{key}_total", f"{help_text}, all media processes",
                     [], [([], sum(v for _, v in rows))])
    reasons = sorted({r for c in nodes.values() for r in c.sessions_closed})
    yield family("counter", "iocwall_node_sessions_closed_total",
                 "Viewer sessions closed, by media process and reason", ["node", "reason"],
                 [([n, r], float(c.sessions_closed.get(r, 0)))
                  for n, c in sorted(nodes.items()) for r in reasons])


def render_nodes(nodes: dict[str, NodeCounters]) -> str:
    """Per media process (label ``node``) and summed (``iocwall_media_*``): what each
    process dropped or refused, and why its sessions closed."""
    return exposition(Families(lambda: _node_families(nodes)))

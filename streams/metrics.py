"""Prometheus text exposition (format 0.0.4) of stream health and server counters."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from iocwall.streams.health import HealthSnapshot, StreamState

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


@dataclass(frozen=True)
class NodeCounters:
    """What one media process counts of its own losses; /metrics shows them per process
    (label ``node``) and summed. They ride on the half-second status poll (wire.NodeStatus)."""
    dropped_units: int = 0        # access units its streams dropped for slow subscribers
    late_dropped_units: int = 0   # of those, dropped for being over 500 ms old
    corrupt: int = 0              # corrupt packets and refused access units, all its streams
    tap_dropped_frames: int = 0   # analytics frames replaced before the socket took them
    sessions_closed: dict[str, int] = field(default_factory=dict)   # reason -> count


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(name: str, help_text: str, kind: str, rows: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in rows]
    return lines


def render(streams: list[HealthSnapshot], counters: ServerCounters) -> str:
    """The /metrics body."""
    def per_stream(get) -> list[tuple[str, float]]:  # noqa: ANN001
        return [(f'{{camera="{_label(h.camera)}",stream="{_label(h.stream)}"}}', float(get(h)))
                for h in streams]

    state_rows = [
        (f'{{camera="{_label(h.camera)}",stream="{_label(h.stream)}",state="{s.value}"}}',
         1.0 if h.state is s else 0.0)
        for h in streams for s in StreamState]
    lines: list[str] = []
    lines += _series("iocwall_stream_state", "1 for the current state of a camera stream",
                     "gauge", state_rows)
    lines += _series("iocwall_stream_fps", "Frames per second over the last 2 s", "gauge",
                     per_stream(lambda h: round(h.fps, 3)))
    lines += _series("iocwall_stream_bitrate_bps", "Bits per second over the last 2 s",
                     "gauge", per_stream(lambda h: round(h.bitrate_bps)))
    lines += _series("iocwall_stream_last_packet_age_seconds", "Seconds since the last packet",
                     "gauge", per_stream(lambda h: round(h.last_packet_age_s or 0.0, 3)))
    lines += _series("iocwall_stream_reconnects_total", "Failed sessions and retries",
                     "counter", per_stream(lambda h: h.reconnects))
    lines += _series("iocwall_stream_viewers", "Subscribers of a stream", "gauge",
                     per_stream(lambda h: h.viewers))
    lines += _series("iocwall_stream_dropped_units_total",
                     "Access units dropped for slow subscribers", "counter",
                     per_stream(lambda h: h.drops))
    lines += _series("iocwall_stream_invalid_units_total",
                     "Access units refused as corrupt", "counter",
                     per_stream(lambda h: h.invalid_units))
    lines += _series("iocwall_stream_rtp_lost_total",
                     "RTP packets that never arrived (UDP; given up by the reorder buffer)",
                     "counter", per_stream(lambda h: h.rtp_lost))
    lines += _series("iocwall_stream_rtp_late_total",
                     "RTP packets dropped for arriving after their turn or twice (UDP)",
                     "counter", per_stream(lambda h: h.rtp_late))
    lines += _series("iocwall_stream_rtp_reordered_total",
                     "RTP packets that arrived out of order and were put back (UDP)",
                     "counter", per_stream(lambda h: h.rtp_reordered))
    lines += _series("iocwall_stream_rtp_corrupt_total",
                     "Corrupt packets: not RTP, bad H.264 payloads, oversized units, "
                     "datagrams not from the camera", "counter",
                     per_stream(lambda h: h.rtp_corrupt))
    lines += _series("iocwall_stream_packets_total", "Access units received", "counter",
                     per_stream(lambda h: h.packets))
    lines += _series("iocwall_stream_bytes_total", "Bytes received", "counter",
                     per_stream(lambda h: h.bytes))
    lines += _series("iocwall_stream_transcoding", "1 while a viewer needs transcoding",
                     "gauge", per_stream(lambda h: 1 if h.transcoding else 0))
    lines += _series("iocwall_webrtc_sessions", "Open viewer sessions", "gauge",
                     [("", counters.sessions)])
    lines += _series("iocwall_webrtc_sessions_total", "Viewer sessions opened", "counter",
                     [("", counters.sessions_total)])
    lines += _series("iocwall_webrtc_sessions_refused_total", "Offers refused", "counter",
                     [("", counters.sessions_refused)])
    lines += _series("iocwall_transcode_fallback_total",
                     "Viewer sessions served by decode + re-encode instead of passthrough",
                     "counter", [("", counters.transcode_sessions_total)])
    lines += _series("iocwall_keyframe_requests_total", "PLI/FIR received from viewers",
                     "counter", [("", counters.keyframe_requests_total)])
    lines += _series("iocwall_webrtc_sessions_closed_total", "Viewer sessions closed, by reason",
                     "counter", [(f'{{reason="{_label(r)}"}}', n)
                                 for r, n in sorted(counters.sessions_closed.items())])
    lines += _series("iocwall_late_dropped_units_total",
                     "Access units dropped because a viewer fell over 500 ms behind", "counter",
                     [("", counters.late_drops_total)])
    lines += _series("iocwall_paced_packets_total",
                     "RTP packets held back to keep large keyframes within the NACK history",
                     "counter", [("", counters.paced_packets_total)])
    return "\n".join(lines) + "\n"


_NODE_SERIES = (
    ("dropped_units", "Access units dropped for slow subscribers (viewers, analytics taps)"),
    ("late_dropped_units", "Access units dropped because a viewer fell over 500 ms behind"),
    ("corrupt", "Corrupt packets and access units refused as corrupt"),
    ("tap_dropped_frames", "Analytics frames replaced by a newer one before they were sent"),
)


def render_nodes(nodes: dict[str, NodeCounters]) -> str:
    """Per media process (label ``node``) and summed (``iocwall_media_*``): what each
    process dropped or refused, and why its sessions closed."""
    lines: list[str] = []
    for key, help_text in _NODE_SERIES:
        rows = [(f'{{node="{_label(n)}"}}', float(getattr(c, key)))
                for n, c in sorted(nodes.items())]
        lines += _series(f"iocwall_node_{key}_total", f"{help_text}, per media process",
                         "counter", rows)
        lines += _series(f"iocwall_media_{key}_total", f"{help_text}, all media processes",
                         "counter", [("", sum(v for _, v in rows))])
    reasons = sorted({r for c in nodes.values() for r in c.sessions_closed})
    lines += _series("iocwall_node_sessions_closed_total",
                     "Viewer sessions closed, by media process and reason", "counter",
                     [(f'{{node="{_label(n)}",reason="{_label(r)}"}}',
                       float(c.sessions_closed.get(r, 0)))
                      for n, c in sorted(nodes.items()) for r in reasons])
    return "\n".join(lines) + "\n"

"""StreamSettings: every setting the media side reads, in one typed, frozen model.

This is the one place a media setting and its default live. wall/config.py
validates config.toml's ``[streams]`` and ``[webrtc]`` sections (its pydantic
fields take their defaults from here) and turns them into a StreamSettings with
one function (``wall.config.stream_settings``); the media server, the cluster
and every media process read this object, which crosses into the processes as
it is (a frozen dataclass pickles). A new setting is a field here, a field in
wall/config.py's section (title, bounds) and a documented line in config.toml.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Ingest = Literal["pyav", "rtp"]
ReplayCameras = Literal["wall", "all", "none"]


@dataclass(frozen=True)
class ReplaySettings:
    """[replay]: the rolling buffer of each buffered camera (streams/replay/)."""
    cameras: ReplayCameras = "wall"     # on a wall or with zones / every camera / none
    sub_seconds: float = 180.0          # history kept of the sub stream (0 = none)
    main_seconds: float = 0.0           # history kept of the main stream (0 = none)
    max_bytes_per_camera: int = 64 << 20    # per buffered stream, fragments + open GOP
    max_bytes_total: int = 1 << 30          # per media process, all buffers together


@dataclass(frozen=True)
class StreamSettings:
    # [streams]: pulling cameras
    linger_s: float = 10.0            # keep pulling this long after the last viewer
    stall_timeout_s: float = 2.0      # no packet this long = stalled
    lost_timeout_s: float = 6.0       # no packet this long = lost, reconnect
    open_timeout_s: float = 5.0       # RTSP connect/handshake timeout
    reconnect_min_s: float = 0.5      # first reconnect delay
    reconnect_max_s: float = 30.0     # cap of the reconnect backoff
    snapshot_cache_s: float = 1.0     # reuse a snapshot this long
    ingest: Ingest = "rtp"            # FFmpeg's demuxer or our RTP client
    # [streams]: viewer admission (0 = no limit)
    max_sessions: int = 256
    max_sessions_per_user: int = 64
    max_sessions_per_camera: int = 64
    retry_after_s: int = 5
    # [streams]: media processes
    processes: int = 0                # 0 = one per core, 1 = inside the web process
    node_timeout_s: float = 5.0       # silent this long: killed and restarted
    node_memory_mb: int = 1024        # over this RSS: restarted; 0 = no cap
    # [webrtc]
    ice_addresses: tuple[str, ...] = ()   # empty = 127.0.0.1 and every local IPv4
    udp_port_min: int = 0                 # 0 and 0 = any port
    udp_port_max: int = 0
    # [replay]
    replay: ReplaySettings = ReplaySettings()


DEFAULTS = StreamSettings()

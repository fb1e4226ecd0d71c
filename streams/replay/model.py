"""What the replay buffer tells the web side (crosses process boundaries: plain dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass

REPLAY_STREAMS = ("sub", "main")


@dataclass(frozen=True)
class ReplayRange:
    """What one stream has buffered now: wall-clock seconds (time.time())."""
    start: float
    end: float


@dataclass(frozen=True)
class ReplayClip:
    """A span of the buffer as one MP4 (fragmented), and the wall-clock time of its first
    and last picture: ``start`` is the keyframe at or before the asked start."""
    data: bytes
    start: float
    end: float
    width: int = 0
    height: int = 0

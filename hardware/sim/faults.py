"""Faults on demand: what a technician's flags or the HTTP control ask for, and
the per-camera state the RTSP server and packet sources consult.
"""
from __future__ import annotations

import enum
import math
import re
import time
from dataclasses import dataclass


class FaultKind(enum.Enum):
    DROP = "drop"                 # close the camera's client connections
    STALL = "stall"               # keep sockets open, send nothing
    CORRUPT = "corrupt"           # a burst of garbage / truncated packets
    REBOOT = "reboot"             # unreachable for a while (RTSP and ONVIF)
    RESOLUTION = "resolution"     # main stream switches to another size
    REJECT_AUTH = "reject_auth"   # every request gets 401
    CLEAR = "clear"               # remove every fault of the camera


DEFAULT_SECONDS = {FaultKind.CORRUPT: 2.0, FaultKind.REBOOT: 10.0}
DEFAULT_RESOLUTION = (1280, 720)
MAX_SECONDS = 24 * 3600


class FaultError(ValueError):
    """Bad fault input; the message is one clear line for the user."""


@dataclass(frozen=True)
class FaultRequest:
    camera: int
    kind: FaultKind
    seconds: float | None = None
    width: int = DEFAULT_RESOLUTION[0]
    height: int = DEFAULT_RESOLUTION[1]


@dataclass
class ActiveFault:
    kind: FaultKind
    until: float | None          # time.monotonic() when it ends; None = until cleared
    width: int = 0
    height: int = 0

    def to_json(self) -> dict:
        out: dict = {"fault": self.kind.value}
        if self.until is not None:
            out["seconds_left"] = round(max(0.0, self.until - time.monotonic()), 1)
        if self.kind is FaultKind.RESOLUTION:
            out["width"], out["height"] = self.width, self.height
        return out


class CameraFaults:
    """Active faults of one camera; expired ones vanish when looked at."""

    def __init__(self) -> None:
        self.active: dict[FaultKind, ActiveFault] = {}

    def _on(self, kind: FaultKind) -> bool:
        fault = self.active.get(kind)
        if fault is None:
            return False
        if fault.until is not None and time.monotonic() >= fault.until:
            del self.active[kind]
            return False
        return True

    def stalled(self) -> bool:
        return self._on(FaultKind.STALL)

    def corrupting(self) -> bool:
        return self._on(FaultKind.CORRUPT)

    def rebooting(self) -> bool:
        return self._on(FaultKind.REBOOT)

    def rejecting_auth(self) -> bool:
        return self._on(FaultKind.REJECT_AUTH)

    def resolution(self) -> tuple[int, int] | None:
        if not self._on(FaultKind.RESOLUTION):
            return None
        fault = self.active[FaultKind.RESOLUTION]
        return fault.width, fault.height

    def add(self, request: FaultRequest) -> None:
        seconds = request.seconds
        if seconds is None:
            seconds = DEFAULT_SECONDS.get(request.kind)
        until = time.monotonic() + seconds if seconds is not None else None
        self.active[request.kind] = ActiveFault(request.kind, until, request.width, request.height)

    def clear(self) -> None:
        self.active.clear()

    def to_json(self) -> list[dict]:
        for kind in list(self.active):
            self._on(kind)
        return [f.to_json() for f in self.active.values() if f.kind is not FaultKind.DROP]


def _camera(value: object, cameras: int) -> int:
    match = re.fullmatch(r"cam(\d+)", str(value))
    if not match or not 1 <= int(match.group(1)) <= cameras:
        raise FaultError(f"unknown camera {value!r}: use cam1..cam{cameras}")
    return int(match.group(1))


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FaultError("seconds must be a number")
    try:
        seconds = float(value)
    except ValueError:
        raise FaultError(f"seconds must be a number, not {value!r}") from None
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
        raise FaultError(f"seconds must be between 0 and {MAX_SECONDS}")
    return seconds


def _kind(value: object) -> FaultKind:
    try:
        return FaultKind(str(value))
    except ValueError:
        names = ", ".join(k.value for k in FaultKind)
        raise FaultError(f"unknown fault {value!r}: use one of {names}") from None


def _size(name: str, value: object, default: int, low: int, high: int, step: int) -> int:
    """A resolution side: whole macroblocks across (the stamp is 24 of them), even rows down."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high \
            or value % step:
        raise FaultError(f"{name} must be a multiple of {step} between {low} and {high}")
    return value


def parse_request(body: object, cameras: int) -> FaultRequest:
    """A fault from the HTTP control's JSON body."""
    if not isinstance(body, dict):
        raise FaultError('body must be a JSON object like {"camera": "cam1", "fault": "stall"}')
    unknown = set(body) - {"camera", "fault", "seconds", "width", "height"}
    if unknown:
        raise FaultError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if "camera" not in body or "fault" not in body:
        raise FaultError("both 'camera' and 'fault' are required")
    return FaultRequest(_camera(body["camera"], cameras), _kind(body["fault"]),
                        _seconds(body.get("seconds")),
                        _size("width", body.get("width"), DEFAULT_RESOLUTION[0], 384, 1920, 16),
                        _size("height", body.get("height"), DEFAULT_RESOLUTION[1], 240, 1088, 2))


def parse_flag(text: str, cameras: int) -> FaultRequest:
    """A fault from ``--fault camK:KIND[:SECONDS]``."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise FaultError(f"--fault {text!r}: use camK:KIND[:SECONDS]")
    return FaultRequest(_camera(parts[0], cameras), _kind(parts[1]),
                        _seconds(parts[2]) if len(parts) == 3 else None)

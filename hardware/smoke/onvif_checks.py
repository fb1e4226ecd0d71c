"""ONVIF rows: device information, profiles, clock skew, and each profile against its stream."""
from __future__ import annotations

from typing import Any

from iocwall.streams.urls import redact

from .checks import measured_fps, stream_sps
from .probe import ProbeResult
from .report import Check, Result, Row

CLOCK_WARN_S, CLOCK_FAIL_S = 2.0, 60.0
FPS_TOLERANCE = 0.25  # a measured rate this far from the profile's is worth a WARN


async def probe_onvif(host: str, port: int, user: str, password: str,
                      timeout: float) -> tuple[Any | None, list[Row]]:
    """(DeviceReport or None, rows). Import inside: the ONVIF stack is slow to load."""
    from iocwall.onvif.client import probe_device
    from iocwall.onvif.errors import OnvifError

    try:
        device = await probe_device(host, port, user, password, timeout)
    except OnvifError as exc:
        hint = redact(f"{exc.message}: {exc.hint}")
        return None, [Row("onvif", Check.ONVIF_DEVICE, Result.FAIL, type(exc).__name__, hint)]
    return device, device_rows(device)


def device_rows(device: Any) -> list[Row]:
    info = " ".join(x for x in (device.manufacturer, device.model) if x) or "unknown"
    if device.firmware:
        info += f", firmware {device.firmware}"
    rows = [Row("onvif", Check.ONVIF_DEVICE, Result.PASS, info)]
    rows.append(_profiles(device.profiles))
    rows.append(_clock(device.clock_skew_s))
    return rows


def _profiles(profiles: list[Any]) -> Row:
    if not profiles:
        return Row("onvif", Check.ONVIF_PROFILES, Result.FAIL, "0",
                   "the device reports no media profile: configure one in its web UI")
    parts = [f"{p.name or p.token} {p.encoding or '?'} {p.width or '?'}x{p.height or '?'}"
             for p in profiles]
    missing = [p.name or p.token for p in profiles if not p.stream_uri]
    if missing:
        return Row("onvif", Check.ONVIF_PROFILES, Result.FAIL, "; ".join(parts),
                   f"no stream URI for profile(s) {', '.join(missing)}")
    return Row("onvif", Check.ONVIF_PROFILES, Result.PASS, "; ".join(parts))


def _clock(skew: float | None) -> Row:
    if skew is None:
        return Row("onvif", Check.CLOCK, Result.SKIP, "—", "the device gave no UTC time")
    value = f"{skew:+.1f} s"
    if abs(skew) > CLOCK_FAIL_S:
        return Row("onvif", Check.CLOCK, Result.FAIL, value,
                   "camera clock is far off: set NTP on the camera (recordings and events "
                   "will carry wrong times)")
    if abs(skew) > CLOCK_WARN_S:
        return Row("onvif", Check.CLOCK, Result.WARN, value, "camera clock drifts: set NTP")
    return Row("onvif", Check.CLOCK, Result.PASS, value)


def profile_match_row(profile: Any, probe: ProbeResult) -> Row:
    """Does the stream carry what the ONVIF profile promises (codec, size, rate)?"""
    stream = f"{probe.label} {probe.transport.value}"
    if not probe.handshake_ok or probe.track is None:
        return Row(stream, Check.PROFILE_MATCH, Result.SKIP, "—", "the stream could not be read")
    said = f"{profile.encoding or '?'} {profile.width or '?'}x{profile.height or '?'}"
    actual_size = _actual_size(probe)
    codec = probe.track.encoding or "?"
    problems = []
    if profile.encoding and _norm(profile.encoding) != _norm(codec):
        problems.append(f"stream is {codec} but the ONVIF profile says {profile.encoding}")
    if actual_size and profile.width and (profile.width, profile.height) != actual_size:
        w, h = actual_size
        problems.append(f"stream is {w}x{h} but the ONVIF profile says "
                        f"{profile.width}x{profile.height}")
    shown = "x".join(map(str, actual_size)) if actual_size else "?"
    value = f"profile {said}, stream {codec} {shown}"
    if problems:
        return Row(stream, Check.PROFILE_MATCH, Result.FAIL, value, "; ".join(problems))
    fps = measured_fps(probe)
    if profile.fps and fps and abs(fps - profile.fps) > FPS_TOLERANCE * profile.fps:
        return Row(stream, Check.PROFILE_MATCH, Result.WARN, value,
                   f"stream runs at {fps:.1f} fps but the ONVIF profile says {profile.fps:g}")
    return Row(stream, Check.PROFILE_MATCH, Result.PASS, value)


def _actual_size(probe: ProbeResult) -> tuple[int, int] | None:
    if probe.decode.sizes:
        return probe.decode.sizes[-1]
    sps = stream_sps(probe)
    return (sps.width, sps.height) if sps else None


def _norm(encoding: str) -> str:
    return encoding.upper().replace(".", "").replace("AVC", "H264")

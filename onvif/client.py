"""Ask an ONVIF device who it is, what it streams and what time it thinks it is.

A thin async layer over the ``onvif-zeep-async`` library (imported as ``onvif``): it runs the
few Profile S queries iocwall needs and turns the library's many failure shapes (zeep faults,
aiohttp errors, timeouts) into one of the small ``OnvifError`` classes from ``errors.py``.
Nothing returned or raised here contains a password: stream URIs are stripped of credentials.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from iocwall.onvif.errors import (
    OnvifAuthError,
    OnvifError,
    OnvifNotOnvif,
    OnvifProtocolError,
    OnvifTimeout,
    OnvifUnreachable,
)
from iocwall.streams.urls import redact

__all__ = [
    "DeviceReport", "ProfileInfo", "probe_device", "OnvifError", "OnvifAuthError",
    "OnvifUnreachable", "OnvifNotOnvif", "OnvifTimeout", "OnvifProtocolError",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
# Beyond this skew WS-Security timestamps would be refused, so sign with the device's clock.
_ADJUST_TIME_ABOVE_S = 10.0
_STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


@dataclass(frozen=True)
class ProfileInfo:
    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None
    fps: float | None
    stream_uri: str | None  # never carries user:password
    snapshot_uri: str | None
    gov_length: int | None = None


@dataclass(frozen=True)
class DeviceReport:
    host: str
    port: int
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str
    device_time: datetime | None  # UTC-aware; None if the device gave no UTC time
    clock_skew_s: float | None  # device time minus ours (device clocks have 1 s resolution)
    profiles: list[ProfileInfo] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    xaddrs: dict[str, str] = field(default_factory=dict)


async def probe_device(
    host: str, port: int, user: str, password: str, timeout: float = 5.0
) -> DeviceReport:
    """Query device information, clock, scopes, media profiles and their URIs.

    ``timeout`` bounds each network exchange (not the one-off local WSDL parsing).
    Raises an ``OnvifError`` subclass with a one-line, password-free message.
    """
    from onvif import ONVIFCamera  # heavy import (zeep, WSDL machinery) only when used

    cam = ONVIFCamera(host, port, user, password, no_cache=True, adjust_time=False)
    prober = _Prober(cam, host, port, timeout)
    try:
        return await prober.run()
    except OnvifError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure must become one clear line
        raise _classify(exc, host, port, timeout, prober.step) from None
    finally:
        await _close_quietly(cam)


class _Prober:
    def __init__(self, cam: Any, host: str, port: int, timeout: float) -> None:
        self.cam, self.host, self.port, self.timeout = cam, host, port, timeout
        self.step = "connect"

    async def call(self, step: str, awaitable: Awaitable[T]) -> T:
        self.step = step
        try:
            async with asyncio.timeout(self.timeout):
                result = await awaitable
            return result
        except TimeoutError:
            raise OnvifTimeout(self.host, self.port, self.timeout, step) from None

    async def run(self) -> DeviceReport:
        cam = self.cam
        dm = await cam.create_devicemgmt_service()
        device_time, skew = await self.clock(dm)
        # The library re-reads the clock itself when told to adjust; only needed when skewed.
        cam.adjust_time = skew is not None and abs(skew) > _ADJUST_TIME_ABOVE_S
        await self.call("GetServices/GetCapabilities", cam.update_xaddrs())
        dm = await cam.create_devicemgmt_service()
        info = await self.call("GetDeviceInformation", dm.GetDeviceInformation())
        scopes = await self.scopes(dm)
        if MEDIA_NS not in cam.xaddrs:
            raise OnvifProtocolError("the device advertises no media service (not Profile S)")
        media = await cam.create_media_service()
        profiles = await self.profiles(media)
        return DeviceReport(
            host=self.host, port=self.port,
            manufacturer=_s(info.Manufacturer), model=_s(info.Model),
            firmware=_s(info.FirmwareVersion), serial=_s(info.SerialNumber),
            hardware_id=_s(info.HardwareId), device_time=device_time, clock_skew_s=skew,
            profiles=profiles, scopes=scopes,
            xaddrs={ns: redact(url) for ns, url in cam.xaddrs.items() if url},
        )

    async def clock(self, dm: Any) -> tuple[datetime | None, float | None]:
        # GetSystemDateAndTime needs no credentials (ONVIF Core spec), so it is also the
        # cheapest "is this ONVIF at all" question, asked before anything authenticated.
        t0 = time.time()
        answer = await self.call("GetSystemDateAndTime", dm.authless_GetSystemDateAndTime())
        t1 = time.time()
        device_time = _utc_from(answer)
        if device_time is None:
            return None, None
        # Device clocks report whole seconds (truncated): +0.5 s makes the estimate unbiased.
        return device_time, round(device_time.timestamp() + 0.5 - (t0 + t1) / 2, 3)

    async def scopes(self, dm: Any) -> list[str]:
        import zeep.exceptions

        try:
            answer = await self.call("GetScopes", dm.GetScopes())
        except zeep.exceptions.Fault as fault:
            if _is_not_authorized(fault):
                raise OnvifAuthError() from None
            return []  # scopes are informative only; a device without them is still usable
        return [_s(s.ScopeItem) for s in (answer or []) if getattr(s, "ScopeItem", None)]

    async def profiles(self, media: Any) -> list[ProfileInfo]:
        answer = await self.call("GetProfiles", media.GetProfiles())
        result = []
        for p in answer or []:
            stream = await self.call("GetStreamUri", media.GetStreamUri(
                {"StreamSetup": _STREAM_SETUP, "ProfileToken": p.token}))
            snapshot = await self.snapshot_uri(media, p.token)
            result.append(_profile_info(p, _uri(stream), snapshot))
        return result

    async def snapshot_uri(self, media: Any, token: str) -> str | None:
        import zeep.exceptions

        try:
            answer = await self.call("GetSnapshotUri",
                                     media.GetSnapshotUri({"ProfileToken": token}))
        except zeep.exceptions.Fault:
            return None  # snapshots are optional in Profile S
        return _uri(answer)


def _profile_info(p: Any, stream_uri: str | None, snapshot_uri: str | None) -> ProfileInfo:
    enc = getattr(p, "VideoEncoderConfiguration", None)
    res = getattr(enc, "Resolution", None)
    rate = getattr(enc, "RateControl", None)
    h264 = getattr(enc, "H264", None)
    return ProfileInfo(
        token=str(p.token), name=_s(getattr(p, "Name", "")),
        encoding=_opt(getattr(enc, "Encoding", None)),
        width=_int(getattr(res, "Width", None)), height=_int(getattr(res, "Height", None)),
        fps=_float(getattr(rate, "FrameRateLimit", None)),
        stream_uri=stream_uri, snapshot_uri=snapshot_uri,
        gov_length=_int(getattr(h264, "GovLength", None)),
    )


def _uri(media_uri: Any) -> str | None:
    uri = getattr(media_uri, "Uri", None)
    return redact(str(uri)) if uri else None


def _utc_from(answer: Any) -> datetime | None:
    utc = getattr(answer, "UTCDateTime", None)
    if utc is None or utc.Date is None or utc.Time is None:
        return None
    d, t = utc.Date, utc.Time
    try:
        return datetime(d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second, tzinfo=UTC)
    except (TypeError, ValueError):
        raise OnvifProtocolError("the device sent an invalid UTC date/time") from None


def _is_not_authorized(fault: Any) -> bool:
    codes = [getattr(q, "localname", str(q)) for q in (getattr(fault, "subcodes", None) or [])]
    text = f"{getattr(fault, 'code', '')} {getattr(fault, 'message', '')}".lower()
    return "NotAuthorized" in codes or "notauthorized" in text or "not authorized" in text


def _classify(exc: BaseException, host: str, port: int, timeout: float, step: str) -> OnvifError:
    """Map a library/transport exception to one of our errors (never echoing secrets)."""
    import aiohttp
    import zeep.exceptions
    from lxml.etree import XMLSyntaxError
    from onvif.exceptions import ONVIFError

    if isinstance(exc, ONVIFError) and exc.__cause__ is not None:
        return _classify(exc.__cause__, host, port, timeout, step)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return OnvifTimeout(host, port, timeout, step)
    if isinstance(exc, zeep.exceptions.Fault):
        if exc.code is None and not getattr(exc, "subcodes", None):
            # zeep invents a code-less Fault for any non-200 XML answer (e.g. an HTML 404 page).
            return OnvifNotOnvif(host, port, "its answer is not a SOAP envelope")
        if _is_not_authorized(exc):
            return OnvifAuthError()
        return OnvifProtocolError(f"{step} failed: {redact(str(exc.message or exc.code))[:200]}")
    if isinstance(exc, zeep.exceptions.TransportError):
        if exc.status_code == 401:
            return OnvifAuthError()
        return OnvifNotOnvif(host, port, f"HTTP {exc.status_code} to a SOAP request")
    if isinstance(exc, (zeep.exceptions.XMLSyntaxError, XMLSyntaxError)):
        return OnvifNotOnvif(host, port, "the answer is not SOAP XML")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return OnvifUnreachable(host, port, "host name not found")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return OnvifUnreachable(host, port, type(exc.os_error).__name__)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError,
                        aiohttp.ClientPayloadError)):
        return OnvifNotOnvif(host, port, "it does not speak HTTP/SOAP")
    if isinstance(exc, (ConnectionError, OSError)):
        return OnvifUnreachable(host, port, type(exc).__name__)
    if isinstance(exc, ONVIFError):
        return OnvifProtocolError(redact(str(exc))[:200])
    if step == "GetSystemDateAndTime":
        # The first exchange: whatever broke the SOAP parser (zeep raises AttributeError on
        # a non-XML 200 answer) means the port serves something other than ONVIF.
        return OnvifNotOnvif(host, port, "its answer is not a SOAP envelope")
    log.debug("unexpected ONVIF failure during %s: %r", step, type(exc))
    return OnvifProtocolError(f"{step} failed: {type(exc).__name__}")


async def _close_quietly(cam: Any) -> None:
    try:
        await cam.close()
    except Exception:  # noqa: BLE001 - closing must never mask the real outcome
        log.debug("closing ONVIF client failed", exc_info=True)


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None

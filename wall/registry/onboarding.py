"""ONVIF onboarding: find devices (WS-Discovery multicast on one interface, or one address),
read what they stream, and prefill the camera form; "Test connection" with the smoke test.

Every device error becomes an ApiError with one clear line (English / Vietnamese) and the
field to fix; every exchange is bounded in time, so a hostile device cannot hang a request.
"""
from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

from iocwall.onvif import discovery
from iocwall.onvif.errors import OnvifAuthError, OnvifError
from iocwall.wall.errors import ApiError
from iocwall.wall.registry import validation as check

_NAME_SCOPE = re.compile(r"^onvif://www\.onvif\.org/name/(.+)$")
_HW_SCOPE = re.compile(r"^onvif://www\.onvif\.org/hardware/(.+)$")
PROBE_STEPS = 8            # a full probe makes at most this many exchanges, each bounded


async def discover(interface: str, timeout: float) -> list[dict[str, Any]]:
    """Devices answering a multicast Probe sent out of ``interface``."""
    try:
        found = await discovery.discover(interface, timeout)
    except discovery.DiscoveryError as exc:
        raise ApiError(422, "invalid", f"interface: {exc}", "interface") from None
    return [_device_json(d) for d in found]


async def probe_one(address: str, timeout: float) -> list[dict[str, Any]]:
    """Devices answering a unicast Probe sent to ``address`` (host or host:port, UDP)."""
    host, port = _host_port(address, 3702, "address")
    try:
        found = await discovery.probe(host, port, timeout)
    except OSError as exc:
        raise ApiError(422, "unreachable", f"address: {exc.strerror or exc}", "address") from None
    return [_device_json(d) for d in found]


def _device_json(device: discovery.DiscoveredDevice) -> dict[str, Any]:
    onvif = ""
    for xaddr in device.xaddrs:
        parts = urlsplit(xaddr)
        if parts.scheme in ("http", "https") and parts.hostname:
            onvif = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
            break
    name = next((m.group(1) for s in device.scopes if (m := _NAME_SCOPE.match(s))), "")
    hardware = next((m.group(1) for s in device.scopes if (m := _HW_SCOPE.match(s))), "")
    return {"urn": device.urn, "onvif": onvif, "xaddrs": device.xaddrs[:4],
            "name": _unquote(name), "hardware": _unquote(hardware)}


def _unquote(text: str) -> str:
    from urllib.parse import unquote
    return unquote(text)[:200]


def _host_port(value: str, default: int, field: str) -> tuple[str, int]:
    try:
        return check.host_port(value, default)
    except ValueError as exc:
        raise ApiError(422, "invalid", f"{field}: {exc}", field) from None


async def read_device(onvif: str, username: str, password: str, timeout: float) -> dict[str, Any]:
    """Device info, profiles, main/sub stream URIs, snapshot URI and clock skew, as a
    prefilled camera form (no credentials in it). Raises ApiError naming the field."""
    from iocwall.onvif.client import probe_device
    host, port = _host_port(onvif, 80, "onvif")
    await _preflight(host, port, timeout)
    try:
        # each exchange is bounded by ``timeout``; the whole probe by a few of them
        async with asyncio.timeout(timeout * PROBE_STEPS):
            device = await probe_device(host, port, username, password, timeout)
    except TimeoutError:
        raise ApiError(422, "onvif_timeout", f"onvif: {host}:{port} did not finish answering "
                       f"within {timeout * PROBE_STEPS:g} s / thiết bị không trả lời kịp",
                       "onvif") from None
    except OnvifError as exc:
        field = "password" if isinstance(exc, OnvifAuthError) else "onvif"
        code = "onvif_" + re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__[5:]).lower()
        raise ApiError(422, code, f"{field}: {exc.message} — {exc.hint} / {exc.message_vi}",
                       field) from None
    name = " ".join(x for x in (device.manufacturer, device.model) if x) or host
    channels = [{"name": ch[0].name or f"{name} {n}", "rtsp_main": ch[0].stream_uri,
                 "rtsp_sub": ch[-1].stream_uri if len(ch) > 1 else "",
                 "snapshot_uri": ch[0].snapshot_uri}
                for n, ch in enumerate(_channels(device.profiles), start=1)]
    first = channels[0] if channels else {"rtsp_main": "", "rtsp_sub": "", "snapshot_uri": None}
    return {
        "form": {"onvif": f"{host}:{port}", "name": name,
                 "rtsp_main": first["rtsp_main"], "rtsp_sub": first["rtsp_sub"]},
        "channels": channels,
        "device": {"manufacturer": device.manufacturer, "model": device.model,
                   "firmware": device.firmware, "serial": device.serial,
                   "clock_skew_s": device.clock_skew_s},
        "snapshot_uri": first["snapshot_uri"],
        "profiles": [{"token": p.token, "name": p.name, "encoding": p.encoding,
                      "width": p.width, "height": p.height, "fps": p.fps,
                      "stream_uri": p.stream_uri, "snapshot_uri": p.snapshot_uri}
                     for p in device.profiles],
    }


_CLOCK_REQUEST = (
    '<?xml version="1.0" encoding="UTF-8"?><s:Envelope '
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetSystemDateAndTime '
    'xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>')
MAX_ANSWER_BYTES = 1024 * 1024       # a real GetSystemDateAndTime answer is under 2 KB


async def _preflight(host: str, port: int, timeout: float) -> None:
    """One authless question read with a size cap before the ONVIF library talks to the
    device: the library reads whole answers into memory, so a device that answers with an
    endless body is refused here after 1 MB instead of filling memory until the timeout."""
    import httpx
    url = f"http://{host}:{port}/onvif/device_service"
    headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
    try:
        async with httpx.AsyncClient(timeout=timeout) as client, \
                client.stream("POST", url, content=_CLOCK_REQUEST, headers=headers) as answer:
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                raise _too_large(host, port)
            size = 0
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _too_large(host, port)
    except (httpx.HTTPError, OSError):
        return          # unreachable, refused, timed out ...: the library says it in full


def _too_large(host: str, port: int) -> ApiError:
    return ApiError(422, "onvif_too_large", f"onvif: {host}:{port} answers with more than "
                    f"{MAX_ANSWER_BYTES // 1024} KB to a tiny question: not a sane ONVIF device"
                    " / thiết bị trả lời quá lớn, không phải thiết bị ONVIF hợp lệ", "onvif")


def _channels(profiles: list[Any]) -> list[list[Any]]:
    """Profiles grouped per video channel, in the device's order: a profile no smaller than
    the one before starts a new channel (main, sub[, third] ... of an NVR's cameras)."""
    groups: list[list[Any]] = []
    for p in (p for p in profiles if p.stream_uri):
        size = (p.width or 0) * (p.height or 0)
        if groups and size < (groups[-1][-1].width or 0) * (groups[-1][-1].height or 0):
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups

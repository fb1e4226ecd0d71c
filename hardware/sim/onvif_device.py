"""A simulated ONVIF device (Profile S subset): device + media services over SOAP 1.2/HTTP.

One device serves all simulated cameras, NVR-style (two media profiles per camera). Every
request except GetSystemDateAndTime needs a WS-Security UsernameToken (PasswordDigest or
PasswordText); the snapshot URL needs HTTP Digest or Basic. Faults for the simulator's fault
injection: ``set_unreachable(seconds)`` ("reboot") and ``reject_auth(True)`` (changed password).
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from iocwall.hardware.sim.discovery import DiscoveryResponder
from iocwall.hardware.sim.http_digest import HttpAuthGuard
from iocwall.hardware.sim.http_server import HttpServer, Request, Response
from iocwall.hardware.sim.onvif_media import MEDIA_OPS, MediaService
from iocwall.hardware.sim.onvif_model import CameraInfo, CameraLike, StreamInfo, default_cameras
from iocwall.hardware.sim.soap import (
    TDS,
    TRT,
    SoapFault,
    SoapRequest,
    action_not_supported,
    envelope,
    fault_body,
    not_authorized,
    parse_request,
    x,
)
from iocwall.hardware.sim.wsse import UsernameTokenVerifier

__all__ = ["OnvifDevice", "CameraInfo", "StreamInfo", "CameraLike", "default_cameras"]

log = logging.getLogger(__name__)

SnapshotFn = Callable[[int, str], bytes | Awaitable[bytes]]
Cameras = Sequence[CameraLike] | Callable[[], Sequence[CameraLike]]
MAX_BODY = 256 * 1024
SOAP_TYPE = "application/soap+xml; charset=utf-8"
# ONVIF Core "PRE_AUTH" operations: answered without credentials when none are sent.
_PRE_AUTH = {"GetSystemDateAndTime", "GetServices", "GetServiceCapabilities", "GetWsdlUrl",
             "GetEndpointReference"}
_WILDCARD = {"", "0.0.0.0", "::"}
DEVICE_OPS = ("GetDeviceInformation", "GetSystemDateAndTime", "GetCapabilities", "GetServices",
              "GetScopes", "GetNetworkInterfaces", "GetHostname")


class OnvifDevice:
    def __init__(self, host: str, port: int, cameras: Cameras, user: str,
                 password: str, snapshot: SnapshotFn, rtsp_port: int, *,
                 manufacturer: str = "iocwall", model: str = "SIM-NVR",
                 firmware: str = "0.1.0", max_body: int = MAX_BODY) -> None:
        """Serve ONVIF on ``http://host:port/onvif/device_service``.

        ``cameras``: a sequence, or a function returning one (called at every request, so a
        resolution change shows at once), of objects with ``index`` (1..N), ``name`` and
        ``main``/``sub`` (each with ``width``, ``height``, ``fps``; optional ``gop``,
        ``bitrate_kbps``, ``h264_profile``) or the flat ``main_width``... shape (onvif_model).
        ``snapshot(index, kind)``: a JPEG of camera ``index``, kind "main"|"sub"; a plain
        function runs in a worker thread (so it must be thread-safe), a coroutine function is
        awaited. ``rtsp_port``: where the RTSP server serves ``/cam{K}/main|sub``.
        """
        self.host, self.port, self.rtsp_port = host, port, rtsp_port
        self._cameras = cameras
        self.user = user
        self.manufacturer, self.model, self.firmware = manufacturer, model, firmware
        self._snapshot = snapshot
        self._snap_slots = asyncio.Semaphore(2)  # JPEG encoding is CPU work: bound it
        self._wsse = UsernameTokenVerifier(user, password)
        self._http_auth = HttpAuthGuard(user, password)
        self._media = MediaService(lambda: self.cameras, self._rtsp_base, self._http_base)
        self._server = HttpServer(host, port, self._handle, max_body)
        self._reject_auth = False
        self._outage: asyncio.Task[None] | None = None
        digest = hashlib.sha1(f"iocwall-sim:{host}:{port}".encode()).hexdigest()
        self.serial = digest[:12].upper()
        self.requests = 0
        self.faults = 0

    # ----- lifecycle and fault switches ------------------------------------------------------
    async def start(self) -> None:
        await self._server.open()
        log.info("ONVIF device on %s (%d cameras)", self.xaddr, len(self.cameras))

    async def stop(self) -> None:
        if self._outage is not None:
            self._outage.cancel()
            await asyncio.gather(self._outage, return_exceptions=True)
            self._outage = None
        await self._server.close()

    def set_unreachable(self, seconds: float) -> None:
        """Refuse connections for ``seconds`` (open ones drop), then come back by itself."""
        if self._outage is not None:
            self._outage.cancel()
        self._outage = asyncio.get_running_loop().create_task(self._go_dark(seconds))

    def reboot(self, seconds: float) -> None:
        """The simulator's "reboot" fault: same as ``set_unreachable``."""
        self.set_unreachable(seconds)

    def reject_auth(self, on: bool) -> None:
        """While on, every authenticated request is refused as if the password had changed."""
        self._reject_auth = on

    @property
    def reachable(self) -> bool:
        return self._server.listening

    async def _go_dark(self, seconds: float) -> None:
        await self._server.close()
        try:
            await asyncio.sleep(seconds)
        finally:
            await self._server.open()

    @property
    def cameras(self) -> Sequence[CameraLike]:
        return self._cameras() if callable(self._cameras) else self._cameras

    # ----- identity --------------------------------------------------------------------------
    @property
    def xaddr(self) -> str:
        return f"{self._http_base('127.0.0.1')}/onvif/device_service"

    @property
    def urn(self) -> str:
        """Stable endpoint id for WS-Discovery (same derivation as DiscoveryResponder's)."""
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self.xaddr)}"

    @property
    def scopes(self) -> list[str]:
        base = "onvif://www.onvif.org"
        return [f"{base}/type/video_encoder", f"{base}/Profile/Streaming",
                f"{base}/hardware/{quote(self.model)}", f"{base}/name/{quote('iocwall simulator')}",
                f"{base}/location/country/vietnam"]

    def discovery_responder(self, port: int = 3702, host: str | None = None) -> DiscoveryResponder:
        """A WS-Discovery responder advertising this device (unicast only)."""
        return DiscoveryResponder(host or self._public_host("127.0.0.1"), port, [self.xaddr],
                                  self.scopes, self.urn)

    def _public_host(self, local_host: str) -> str:
        host = local_host if self.host in _WILDCARD else self.host
        return f"[{host}]" if ":" in host else host

    def _http_base(self, local_host: str) -> str:
        return f"http://{self._public_host(local_host)}:{self.port}"

    def _rtsp_base(self, local_host: str) -> str:
        return f"rtsp://{self._public_host(local_host)}:{self.rtsp_port}"

    # ----- HTTP ------------------------------------------------------------------------------
    async def _handle(self, req: Request) -> Response:
        self.requests += 1
        if req.path == "/onvif/snapshot":
            return await self._snapshot_response(req) if req.method == "GET" else Response(405)
        if not req.path.startswith("/onvif/"):
            return Response(404, b"not found\n")
        if req.method != "POST":
            return Response(405, b"ONVIF services take SOAP over POST\n")
        try:
            if req.too_large:
                raise SoapFault("Sender", ["WellFormed"], "message too large", 413)
            soap = parse_request(req.body)
            body = self._soap(soap, req.local_host)
        except SoapFault as fault:
            self.faults += 1
            return Response(fault.http_status, fault_body(fault), SOAP_TYPE)
        return Response(200, envelope(body), SOAP_TYPE)

    def _soap(self, req: SoapRequest, local_host: str) -> str:
        known = DEVICE_OPS if req.namespace == TDS else MEDIA_OPS if req.namespace == TRT else ()
        if req.name not in known:  # before auth: an unknown action is unknown to anyone
            raise action_not_supported(f"{{{req.namespace}}}{req.name}")
        self._authorize(req)
        if req.namespace == TDS:
            return self._device(req, local_host)
        if req.namespace == TRT:
            return self._media.handle(req, local_host)
        raise action_not_supported(f"{{{req.namespace}}}{req.name}")

    def _authorize(self, req: SoapRequest) -> None:
        if not self.user:
            return  # `iocwall sim --user ""`: a camera with authentication switched off
        if req.namespace == TDS and req.name == "GetSystemDateAndTime":
            return  # clients read our clock first to correct their WS-Security timestamps
        has_token = req.header is not None and len(req.header) > 0
        if not has_token and req.namespace == TDS and req.name in _PRE_AUTH:
            return
        if self._reject_auth:
            raise not_authorized()
        self._wsse.verify(req.header, req.operation)

    async def _snapshot_response(self, req: Request) -> Response:
        token = (req.query.get("token") or [""])[0]
        try:
            ref = self._media.find(token)
        except SoapFault:
            return Response(404, b"no such profile\n")
        authorization = req.headers.get("authorization")
        if self.user and (self._reject_auth or not self._http_auth.allows("GET", authorization)):
            return Response(401, b"authentication required\n", headers=self._http_auth.challenge())
        try:
            async with self._snap_slots:
                jpeg = await self._call_snapshot(ref.camera.index, ref.kind)
        except Exception:  # noqa: BLE001 - a broken frame source must not kill the device
            log.warning("snapshot source failed for %s", token, exc_info=True)
            return Response(500, b"snapshot failed\n")
        return Response(200, jpeg, "image/jpeg")

    async def _call_snapshot(self, index: int, kind: str) -> bytes:
        if inspect.iscoroutinefunction(self._snapshot):
            return bytes(await self._snapshot(index, kind))
        result = await asyncio.to_thread(self._snapshot, index, kind)
        return bytes(await result) if inspect.isawaitable(result) else bytes(result)

    # ----- device service --------------------------------------------------------------------
    def _device(self, req: SoapRequest, local_host: str) -> str:
        name = req.name
        if name == "GetDeviceInformation":
            return self._device_information()
        if name == "GetSystemDateAndTime":
            return _system_date_and_time(datetime.now(UTC))
        if name == "GetCapabilities":
            return self._capabilities(local_host)
        if name == "GetServices":
            return self._services(local_host)
        if name == "GetScopes":
            items = "".join("<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef>"
                            f"<tt:ScopeItem>{x(s)}</tt:ScopeItem></tds:Scopes>"
                            for s in self.scopes)
            return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"
        if name == "GetNetworkInterfaces":
            return self._network_interfaces(local_host)
        if name == "GetHostname":
            return ("<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false"
                    "</tt:FromDHCP><tt:Name>iocwall-sim</tt:Name></tds:HostnameInformation>"
                    "</tds:GetHostnameResponse>")
        raise action_not_supported(name)

    def _device_information(self) -> str:
        return ("<tds:GetDeviceInformationResponse>"
                f"<tds:Manufacturer>{x(self.manufacturer)}</tds:Manufacturer>"
                f"<tds:Model>{x(self.model)}</tds:Model>"
                f"<tds:FirmwareVersion>{x(self.firmware)}</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{x(self.serial)}</tds:SerialNumber>"
                f"<tds:HardwareId>{x(self.model)}-{len(self.cameras)}CH</tds:HardwareId>"
                "</tds:GetDeviceInformationResponse>")

    def _capabilities(self, local_host: str) -> str:
        base = self._http_base(local_host)
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{x(base)}/onvif/device_service</tt:XAddr>"
            f"<tt:Network>{_false(_NETWORK_FLAGS)}</tt:Network>"
            f"<tt:System>{_false(_SYSTEM_FLAGS)}"
            "<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor>"
            "</tt:SupportedVersions></tt:System>"
            f"<tt:Security>{_false(_SECURITY_FLAGS)}</tt:Security>"
            "</tt:Device>"
            f"<tt:Media><tt:XAddr>{x(base)}/onvif/media_service</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
            "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
            "</tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _services(self, local_host: str) -> str:
        base = self._http_base(local_host)
        items = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
            f"<tds:XAddr>{x(base)}/onvif/{path}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for ns, path in ((TDS, "device_service"), (TRT, "media_service")))
        return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"

    def _network_interfaces(self, local_host: str) -> str:
        address = local_host if self.host in _WILDCARD else self.host
        prefix = 8 if address.startswith("127.") else 24
        mac = ":".join(["02"] + [self.serial[i:i + 2].lower() for i in range(0, 10, 2)])
        return (
            '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
            "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
            f"<tt:HwAddress>{mac}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>"
            "<tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
            f"<tt:Address>{x(address)}</tt:Address><tt:PrefixLength>{prefix}</tt:PrefixLength>"
            "</tt:Manual><tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
            "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>"
        )


# Capabilities this device does not have, in onvif.xsd order (every one is a required element).
_NETWORK_FLAGS = ("IPFilter", "ZeroConfiguration", "IPVersion6", "DynDNS")
_SYSTEM_FLAGS = ("DiscoveryResolve", "DiscoveryBye", "RemoteDiscovery", "SystemBackup",
                 "SystemLogging", "FirmwareUpgrade")
_SECURITY_FLAGS = ("TLS1.1", "TLS1.2", "OnboardKeyGeneration", "AccessPolicyConfig",
                   "X.509Token", "SAMLToken", "KerberosToken", "RELToken")


def _false(names: tuple[str, ...]) -> str:
    return "".join(f"<tt:{n}>false</tt:{n}>" for n in names)


def _system_date_and_time(now: datetime) -> str:
    stamp = (f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
             f"<tt:Second>{now.second}</tt:Second></tt:Time>"
             f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
             f"<tt:Day>{now.day}</tt:Day></tt:Date>")
    return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{stamp}</tt:UTCDateTime><tt:LocalDateTime>{stamp}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

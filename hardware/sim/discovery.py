"""WS-Discovery responder for the simulated ONVIF device (answers Probe with ProbeMatches).

Bound to one unicast address (127.0.0.1:3702 by default). When that address is a real
(non-loopback, non-wildcard) IPv4 address, the responder also joins 239.255.255.250 on that
interface, so standard ONVIF tools find the simulator by multicast and read its own address in
the XAddrs; ``multicast=True/False`` forces the choice. Tests multicast only inside network
namespaces they create (tests/test_registry_discovery.py). Datagrams that are
oversized, not XML, carry a DTD, or are not a Probe are dropped silently: over UDP, answering
garbage only helps an attacker reflect traffic.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
import uuid
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from iocwall.onvif.discovery import parse_soap

__all__ = ["DiscoveryResponder"]

log = logging.getLogger(__name__)

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN = "http://www.onvif.org/ver10/network/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"
MULTICAST_GROUP = "239.255.255.250"
MAX_DATAGRAM = 8192  # a real Probe is < 1 KB
# What this device is; a Probe naming other types (or other namespaces) gets no answer.
DEFAULT_SCOPES = ("onvif://www.onvif.org/type/video_encoder",
                  "onvif://www.onvif.org/Profile/Streaming")
OUR_TYPES = {f"{{{DN}}}NetworkVideoTransmitter", f"{{{TDS}}}Device"}


class DiscoveryResponder:
    def __init__(self, host: str, port: int, xaddrs: list[str], scopes: list[str] | None = None,
                 urn: str | None = None, multicast: bool | None = None) -> None:
        """Answer Probes on UDP ``host:port``.

        ``xaddrs``: device service URLs (http://host:port/onvif/device_service);
        ``scopes``: onvif:// scope URIs (default: Profile S streaming);
        ``urn``: stable endpoint id (default: a UUID derived from the first XAddr);
        ``multicast``: also join the WS-Discovery group; None = when ``host`` is a real
        interface address (not loopback, not 0.0.0.0).
        """
        self.host, self.port = host, port
        self.xaddrs = list(xaddrs)
        self.scopes = list(scopes) if scopes is not None else list(DEFAULT_SCOPES)
        # Same derivation as OnvifDevice.urn, so both name the device alike.
        self.urn = urn or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, (xaddrs or [host])[0])}"
        self.multicast = _advertises(host) if multicast is None else multicast
        self.answered = 0
        self.dropped = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self._socket()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        log.info("WS-Discovery responder on udp://%s:%d%s", self.host, self.port,
                 f" and {MULTICAST_GROUP}" if self.multicast else "")

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            if self.multicast:
                sock.bind(("", self.port))
                # Join on the interface of ``host`` (0.0.0.0 lets the kernel pick).
                mreq = struct.pack("4s4s", socket.inet_aton(MULTICAST_GROUP),
                                   socket.inet_aton(self.host))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            else:
                sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    def answer(self, data: bytes) -> bytes | None:
        """The ProbeMatches for a Probe datagram, or None when it deserves no answer."""
        if len(data) > MAX_DATAGRAM:
            return None
        parsed = parse_soap(data)
        if parsed is None:
            return None
        root, prefixes = parsed
        action = (root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}Action") or "").strip()
        message_id = (root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}MessageID") or "").strip()
        probe = root.find(f"{{{SOAP}}}Body/{{{WSD}}}Probe")
        if probe is None or action != f"{WSD}/Probe" or not message_id:
            return None
        if not _types_match(probe, prefixes):
            return None
        return self._matches(message_id)

    def _matches(self, relates_to: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP}" xmlns:wsa="{WSA}" xmlns:d="{WSD}" '
            f'xmlns:dn="{DN}" xmlns:tds="{TDS}">'
            "<SOAP-ENV:Header>"
            f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>"
            f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>"
            f"<wsa:To>{WSA}/role/anonymous</wsa:To>"
            f"<wsa:Action>{WSD}/ProbeMatches</wsa:Action>"
            "</SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>"
            f"<wsa:EndpointReference><wsa:Address>{escape(self.urn)}</wsa:Address>"
            "</wsa:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
            f"<d:Scopes>{escape(' '.join(self.scopes))}</d:Scopes>"
            f"<d:XAddrs>{escape(' '.join(self.xaddrs))}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion>"
            "</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ).encode()


def _advertises(host: str) -> bool:
    """Join the multicast group only on a real IPv4 interface address."""
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified or address.is_multicast)


def _types_match(probe: Element, prefixes: dict[str, str]) -> bool:
    """An empty Types matches every device; otherwise every listed type must be ours."""
    wanted = (probe.findtext(f"{{{WSD}}}Types") or "").split()
    for qname in wanted:
        prefix, _, local = qname.rpartition(":")
        uri = prefixes.get(prefix, "")
        if f"{{{uri}}}{local}" not in OUR_TYPES:
            return False
    return True


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, responder: DiscoveryResponder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.responder.answer(data)
        except Exception:  # noqa: BLE001 - a hostile datagram must never stop the responder
            log.warning("WS-Discovery: unexpected error on a datagram", exc_info=True)
            reply = None
        if reply is None:
            self.responder.dropped += 1
            return
        self.responder.answered += 1
        if self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("WS-Discovery responder: %s", exc)

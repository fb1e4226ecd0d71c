"""WS-Discovery client: find ONVIF cameras (NetworkVideoTransmitter).

``probe`` sends a unicast Probe to one address (default 127.0.0.1:3702). ``discover`` sends
it to the multicast group 239.255.255.250:3702 out of ONE chosen interface (TTL 1, as
every ONVIF tool does), so nothing goes out of any other interface. Replies are parsed with
defusedxml (no DTDs, no entities) because anything on the network can answer a UDP port.
"""
from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import logging
import socket
import struct
import uuid
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

__all__ = [
    "DiscoveredDevice",
    "DiscoveryError",
    "build_probe",
    "discover",
    "interface_address",
    "parse_probe_matches",
    "probe",
]

log = logging.getLogger(__name__)

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DN = "http://www.onvif.org/ver10/network/wsdl"
NVT = f"{{{DN}}}NetworkVideoTransmitter"
_MAX_DATAGRAM = 65507
MULTICAST_GROUP = "239.255.255.250"
_SIOCGIFADDR = 0x8915
MAX_DEVICES = 256                     # a flood of fake answers must not grow memory


class DiscoveryError(Exception):
    """The interface cannot be used for a search; the message says why."""


@dataclass(frozen=True)
class DiscoveredDevice:
    urn: str  # the device's endpoint reference, e.g. urn:uuid:...
    xaddrs: list[str] = field(default_factory=list)  # device service URLs
    scopes: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)  # expanded QNames: "{namespace}Local"


async def probe(address: str = "127.0.0.1", port: int = 3702, timeout: float = 2.0,
                types: str = "dn:NetworkVideoTransmitter") -> list[DiscoveredDevice]:
    """Send one unicast Probe to ``address:port`` and collect the ProbeMatches for ``timeout`` s.

    Several answers from one endpoint (duplicates over UDP) are merged by URN.
    """
    message_id = f"urn:uuid:{uuid.uuid4()}"
    loop = asyncio.get_running_loop()
    found: dict[str, DiscoveredDevice] = {}
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Collector(message_id, found), remote_addr=(address, port))
    try:
        transport.sendto(build_probe(message_id, types))
        await asyncio.sleep(timeout)
    finally:
        transport.close()
    return list(found.values())


async def discover(interface: str, timeout: float = 2.0, port: int = 3702,
                   types: str = "dn:NetworkVideoTransmitter") -> list[DiscoveredDevice]:
    """Multicast a Probe out of ``interface`` (a name such as eth0, or its IPv4 address) and
    collect the ProbeMatches for ``timeout`` s. Raises DiscoveryError for a bad interface."""
    address = interface_address(interface)
    message_id = f"urn:uuid:{uuid.uuid4()}"
    found: dict[str, DiscoveredDevice] = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((address, 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)   # never routed on
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise DiscoveryError(f"cannot search on {interface}: {exc.strerror}") from None
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Collector(message_id, found), sock=sock)
    try:
        transport.sendto(build_probe(message_id, types), (MULTICAST_GROUP, port))
        await asyncio.sleep(timeout)
    finally:
        transport.close()
    return list(found.values())


def interface_address(interface: str) -> str:
    """The IPv4 address of a network interface name, or the address itself."""
    text = (interface or "").strip()
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    if not text or len(text) > 15 or not all(c.isalnum() or c in "-_.@" for c in text):
        raise DiscoveryError(f"'{text}' is not a network interface name or IPv4 address")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_sock:
        try:
            packed = fcntl.ioctl(probe_sock.fileno(), _SIOCGIFADDR,
                                 struct.pack("256s", text.encode()))
        except OSError as exc:
            raise DiscoveryError(f"interface '{text}': {exc.strerror} (no such interface, or "
                                 "it has no IPv4 address)") from None
    return socket.inet_ntoa(packed[20:24])


def interfaces() -> list[dict[str, str]]:
    """Interfaces with an IPv4 address, for the portal's interface menu."""
    out = []
    for _, name in socket.if_nameindex():
        try:
            out.append({"name": name, "address": interface_address(name)})
        except DiscoveryError:
            continue
    return out


def build_probe(message_id: str, types: str = "dn:NetworkVideoTransmitter") -> bytes:
    """A SOAP 1.2 WS-Discovery Probe (2005/04 draft, as ONVIF devices expect)."""
    body = f"<d:Types>{escape(types)}</d:Types>" if types else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}" xmlns:d="{WSD}" xmlns:dn="{DN}">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{WSD}/Probe</a:Action>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{WSA}/role/anonymous</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        f"<s:Body><d:Probe>{body}</d:Probe></s:Body></s:Envelope>"
    ).encode()


def parse_probe_matches(data: bytes, message_id: str) -> list[DiscoveredDevice]:
    """Devices in a ProbeMatches datagram answering ``message_id``; [] for anything else."""
    parsed = parse_soap(data)
    if parsed is None:
        return []
    root, prefixes = parsed
    relates = root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}RelatesTo")
    if relates is None or relates.strip() != message_id:
        return []
    matches = root.findall(f"{{{SOAP}}}Body/{{{WSD}}}ProbeMatches/{{{WSD}}}ProbeMatch")
    return [d for d in (_device(m, prefixes) for m in matches) if d is not None]


def parse_soap(data: bytes) -> tuple[Element, dict[str, str]] | None:
    """Parse without DTDs or entities, keeping the prefix bindings that Types values use."""
    import io
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    prefixes: dict[str, str] = {}
    try:
        events = SafeET.iterparse(io.BytesIO(data), events=("start-ns",), forbid_dtd=True)
        for _, (prefix, uri) in events:
            prefixes.setdefault(prefix, uri)
        root = events.root
    except (ParseError, DefusedXmlException, ValueError):
        return None
    return (root, prefixes) if root is not None else None


def _device(match: Element, prefixes: dict[str, str]) -> DiscoveredDevice | None:
    urn = (match.findtext(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address") or "").strip()
    if not urn:
        return None
    return DiscoveredDevice(
        urn=urn,
        xaddrs=(match.findtext(f"{{{WSD}}}XAddrs") or "").split(),
        scopes=(match.findtext(f"{{{WSD}}}Scopes") or "").split(),
        types=[_expand(t, prefixes) for t in (match.findtext(f"{{{WSD}}}Types") or "").split()],
    )


def _expand(qname: str, prefixes: dict[str, str]) -> str:
    """``prefix:Local`` -> ``{namespace}Local``; an unknown prefix is kept as written."""
    prefix, _, local = qname.rpartition(":")
    uri = prefixes.get(prefix)
    return f"{{{uri}}}{local}" if prefix and uri else qname


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, message_id: str, found: dict[str, DiscoveredDevice]) -> None:
        self.message_id = message_id
        self.found = found

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > _MAX_DATAGRAM:
            return
        for device in parse_probe_matches(data, self.message_id):
            if len(self.found) < MAX_DEVICES:
                self.found.setdefault(device.urn, device)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable arrives here when nothing listens: simply no answer.
        log.debug("WS-Discovery probe: %s", exc)

"""Which local addresses and UDP ports WebRTC media uses ([webrtc] in config.toml).

aioice 0.13 gathers every interface address except 127.0.0.1, on a random
port, and offers no settings for either. Real sites need the opposite
control (advertise the address the wall displays can reach, open one UDP port
range in the firewall), and a loopback demo needs 127.0.0.1. So each ICE
connection of a peer gets its host-candidate gathering replaced, on that
instance only, before candidates are gathered: ``apply(pc, settings)``. This is
the one patch point on aioice; it is pinned (aioice 0.13) and covered by tests.

An address that is not on this machine (a 1:1 NAT's public address) is
advertised while the socket binds the wildcard address on the same port.
"""
from __future__ import annotations

import errno
import logging
import random
import socket
from dataclasses import dataclass

import aioice.ice as aioice_ice
from aiortc import RTCPeerConnection

log = logging.getLogger(__name__)

RECV_BUFFER = 4 << 20   # room for a 1080p keyframe burst


@dataclass(frozen=True)
class IceSettings:
    addresses: tuple[str, ...] = ()   # empty = every local IPv4 address, loopback included
    port_min: int = 0
    port_max: int = 0                 # 0 and 0 = any port

    def ports(self) -> list[int]:
        if not self.port_min or not self.port_max:
            return [0]
        ports = list(range(self.port_min, self.port_max + 1))
        random.shuffle(ports)
        return ports


def local_addresses() -> list[str]:
    found = aioice_ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    return ["127.0.0.1", *[a for a in found if a != "127.0.0.1"]]


def apply(pc: RTCPeerConnection, settings: IceSettings) -> None:
    """Make every not-yet-gathered ICE connection of ``pc`` follow ``settings``.

    Call after the transceivers exist (after setRemoteDescription on a server,
    after addTransceiver on a client) and before setLocalDescription.
    """
    for connection in _connections(pc):
        if connection._local_candidates_start:
            continue
        # the one patch point on aioice (see the module docstring), on this instance only
        connection.get_component_candidates = _gatherer(  # type: ignore[method-assign]
            connection, settings)


def _connections(pc: RTCPeerConnection) -> list[aioice_ice.Connection]:
    found: dict[int, aioice_ice.Connection] = {}
    dtls_transports = [t.sender.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        dtls_transports.append(pc.sctp.transport)
    for dtls in dtls_transports:
        conn = dtls.transport.iceGatherer._connection
        found[id(conn)] = conn
    return list(found.values())


def _gatherer(connection: aioice_ice.Connection, settings: IceSettings):  # noqa: ANN202
    async def get_component_candidates(component: int, addresses: list[str],
                                       timeout: int = 5) -> list[aioice_ice.Candidate]:
        import asyncio
        loop = asyncio.get_running_loop()
        candidates = []
        for address in settings.addresses or local_addresses():
            bound = await _bind(loop, connection, address, settings)
            if bound is None:
                continue
            protocol, port = bound
            protocol.local_candidate = aioice_ice.Candidate(
                foundation=aioice_ice.candidate_foundation("host", "udp", address),
                component=component, transport="udp",
                priority=aioice_ice.candidate_priority(component, "host"),
                host=address, port=port, type="host")
            connection._protocols.append(protocol)
            candidates.append(protocol.local_candidate)
        if not candidates:
            log.warning("ICE: no usable address among %s", list(settings.addresses))
        return candidates

    return get_component_candidates


async def _bind(loop, connection, address: str, settings: IceSettings):  # noqa: ANN001, ANN202
    for port in settings.ports():
        for local in (address, "0.0.0.0"):
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: aioice_ice.StunProtocol(connection), local_addr=(local, port))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL and local == address:
                    continue    # not ours: a NAT address, bind the wildcard instead
                break           # port taken: next port
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
            return protocol, transport.get_extra_info("sockname")[1]
    log.warning("ICE: cannot bind %s in ports %s-%s", address, settings.port_min,
                settings.port_max)
    return None

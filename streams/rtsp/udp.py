"""A pair of UDP sockets (RTP on an even port, RTCP on the next) for RTP over UDP.

Datagrams are accepted only from the camera's address (anything else is
counted and dropped: a stranger must not be able to inject pictures), and the
pair can send towards the camera: RTCP receiver reports, and the small
packets that open a NAT/firewall pinhole for the camera's media.
"""
from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

_BUFFER = 4 * 1024 * 1024  # a 1080p keyframe burst must fit while the decoder is busy

DatagramSink = Callable[[bytes, float], None]


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, sink: DatagramSink | None, owner: UdpPair | None = None) -> None:
        self.sink = sink
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        owner = self.owner
        if owner is not None and owner.peer_host is not None and addr[0] != owner.peer_host:
            owner.foreign += 1
            return
        if self.sink is not None:
            self.sink(data, time.monotonic())


class UdpPair:
    def __init__(self, rtp: asyncio.DatagramTransport, rtcp: asyncio.DatagramTransport,
                 rtp_port: int) -> None:
        self.rtp, self.rtcp, self.rtp_port = rtp, rtcp, rtp_port
        self.peer_host: str | None = None        # the camera: the only sender we accept
        self.server_ports: tuple[int, int] | None = None
        self.foreign = 0                         # datagrams from anyone else, dropped

    def connect(self, host: str, ports: tuple[int, int] | None) -> None:
        """Accept datagrams from ``host`` only; send RTCP to its ``ports`` (RTP, RTCP)."""
        self.peer_host, self.server_ports = host, ports

    def send_rtcp(self, data: bytes) -> None:
        if self.server_ports is not None and self.peer_host is not None \
                and not self.rtcp.is_closing():
            self.rtcp.sendto(data, (self.peer_host, self.server_ports[1]))

    def punch(self, rtp_probe: bytes, rtcp_probe: bytes) -> None:
        """Send one packet from each socket to the camera's ports: a NAT between us then
        lets its media in (the mapping is made by our outgoing packet)."""
        if self.server_ports is None or self.peer_host is None or self.rtp.is_closing():
            return
        self.rtp.sendto(rtp_probe, (self.peer_host, self.server_ports[0]))
        self.rtcp.sendto(rtcp_probe, (self.peer_host, self.server_ports[1]))

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


async def open_udp_pair(host: str, sink: DatagramSink,
                        rtcp_sink: DatagramSink | None = None) -> UdpPair:
    loop = asyncio.get_running_loop()
    for _ in range(20):
        rtp_sock = _bound(host, 0)
        port = rtp_sock.getsockname()[1]
        if port % 2 or port == 65535:
            rtp_sock.close()
            continue
        try:
            rtcp_sock = _bound(host, port + 1)
        except OSError:
            rtp_sock.close()
            continue
        rtp_rx, rtcp_rx = _Receiver(sink), _Receiver(rtcp_sink)
        rtp, _ = await loop.create_datagram_endpoint(_factory(rtp_rx), sock=rtp_sock)
        rtcp, _ = await loop.create_datagram_endpoint(_factory(rtcp_rx), sock=rtcp_sock)
        pair = UdpPair(rtp, rtcp, port)
        rtp_rx.owner = rtcp_rx.owner = pair
        return pair
    raise OSError("no free even/odd UDP port pair")


def _factory(receiver: _Receiver) -> Callable[[], _Receiver]:
    return lambda: receiver


def _bound(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock

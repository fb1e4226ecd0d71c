"""A pair of UDP sockets (RTP on an even port, RTCP on the next) for RTP over UDP.

Each socket is drained in one go when it becomes readable: asyncio's datagram
transport reads a single datagram per loop iteration, so a keyframe of ~60
packets took ~60 iterations of a busy loop to arrive (tens of ms of added
latency under load that TCP, read in large chunks, never had).

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
_BATCH = 512               # datagrams read per wake-up at most, so one socket cannot hog the loop
_MAX_DATAGRAM = 65536

DatagramSink = Callable[[bytes, float], None]


class _Endpoint:
    """One non-blocking UDP socket read on the loop's readiness callback."""

    def __init__(self, sock: socket.socket, sink: DatagramSink | None, pair: UdpPair) -> None:
        self.sock, self.sink, self.pair = sock, sink, pair
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._ready)
        self.closed = False

    def _ready(self) -> None:
        for _ in range(_BATCH):
            try:
                data, addr = self.sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:         # e.g. ICMP port unreachable from an earlier send
                continue
            peer = self.pair.peer_host
            if peer is not None and addr[0] != peer:
                self.pair.foreign += 1
                continue
            if self.sink is not None:
                self.sink(data, time.monotonic())

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.closed:
            return
        try:
            self.sock.sendto(data, addr)
        except OSError:             # a full buffer or an unreachable camera: RTCP is best effort
            pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()


class UdpPair:
    def __init__(self, rtp_port: int) -> None:
        self.rtp_port = rtp_port
        self.peer_host: str | None = None        # the camera: the only sender we accept
        self.server_ports: tuple[int, int] | None = None
        self.foreign = 0                         # datagrams from anyone else, dropped
        self.rtp: _Endpoint | None = None
        self.rtcp: _Endpoint | None = None

    def connect(self, host: str, ports: tuple[int, int] | None) -> None:
        """Accept datagrams from ``host`` only; send RTCP to its ``ports`` (RTP, RTCP)."""
        self.peer_host, self.server_ports = host, ports

    def send_rtcp(self, data: bytes) -> None:
        if self.server_ports is not None and self.peer_host is not None and self.rtcp:
            self.rtcp.sendto(data, (self.peer_host, self.server_ports[1]))

    def punch(self, rtp_probe: bytes, rtcp_probe: bytes) -> None:
        """Send one packet from each socket to the camera's ports: a NAT between us then
        lets its media in (the mapping is made by our outgoing packet)."""
        if self.server_ports is None or self.peer_host is None or not self.rtp or not self.rtcp:
            return
        self.rtp.sendto(rtp_probe, (self.peer_host, self.server_ports[0]))
        self.rtcp.sendto(rtcp_probe, (self.peer_host, self.server_ports[1]))

    def close(self) -> None:
        for endpoint in (self.rtp, self.rtcp):
            if endpoint is not None:
                endpoint.close()


async def open_udp_pair(host: str, sink: DatagramSink,
                        rtcp_sink: DatagramSink | None = None) -> UdpPair:
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
        pair = UdpPair(port)
        pair.rtp = _Endpoint(rtp_sock, sink, pair)
        pair.rtcp = _Endpoint(rtcp_sock, rtcp_sink, pair)
        return pair
    raise OSError("no free even/odd UDP port pair")


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

"""A pair of UDP sockets (RTP on an even port, RTCP on the next) for RTP over UDP."""
from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

_BUFFER = 4 * 1024 * 1024  # a 1080p keyframe burst must fit while the decoder is busy


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, sink: Callable[[bytes, float], None] | None) -> None:
        self.sink = sink

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.sink is not None:
            self.sink(data, time.monotonic())


class UdpPair:
    def __init__(self, rtp: asyncio.DatagramTransport, rtcp: asyncio.DatagramTransport,
                 rtp_port: int) -> None:
        self.rtp, self.rtcp, self.rtp_port = rtp, rtcp, rtp_port

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


async def open_udp_pair(host: str, sink: Callable[[bytes, float], None]) -> UdpPair:
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
        rtp, _ = await loop.create_datagram_endpoint(lambda: _Receiver(sink), sock=rtp_sock)
        rtcp, _ = await loop.create_datagram_endpoint(lambda: _Receiver(None), sock=rtcp_sock)
        return UdpPair(rtp, rtcp, port)
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

"""RTSP sessions and their RTP transports (TCP interleaved, UDP unicast).

A session is one viewer of one stream. It starts at a keyframe, numbers its
own packets (rtp.RtpStream), sends an RTCP sender report about every second,
and drops frames (counted) rather than queueing when a TCP viewer is slow.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import random
import secrets
import time
from typing import Protocol

from iocwall.streams.rtsp.message import interleaved

from . import rtp
from .media import Frame, StreamSource

log = logging.getLogger(__name__)
TCP_BUFFER_LIMIT = 2 * 1024 * 1024   # per viewer; beyond it frames are dropped
SR_INTERVAL_S = 1.0


class State(enum.Enum):
    READY = "ready"
    PLAYING = "playing"
    CLOSED = "closed"


class Transport(Protocol):
    kind: str

    def send_rtp(self, packets: list[bytes]) -> bool: ...
    def send_rtcp(self, data: bytes) -> None: ...
    def describe(self) -> str: ...
    def close(self) -> None: ...
    def alive(self) -> bool: ...


class TcpInterleaved:
    """RTP and RTCP inside the RTSP connection, framed with '$', channel, length."""
    kind = "tcp"

    def __init__(self, writer: asyncio.WriteTransport, channel: int) -> None:
        self.writer = writer
        self.channel = channel

    def send_rtp(self, packets: list[bytes]) -> bool:
        if self.writer.is_closing() or self.writer.get_write_buffer_size() > TCP_BUFFER_LIMIT:
            return False
        self.writer.write(b"".join(interleaved(self.channel, p) for p in packets))
        return True

    def send_rtcp(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(interleaved(self.channel + 1, data))

    def describe(self) -> str:
        return f"RTP/AVP/TCP;unicast;interleaved={self.channel}-{self.channel + 1}"

    def close(self) -> None:
        pass  # the RTSP connection owns the socket

    def alive(self) -> bool:
        return not self.writer.is_closing()


class _RtcpIn(asyncio.DatagramProtocol):
    """Receiver reports from the client keep a UDP session alive."""

    def __init__(self) -> None:
        self.last_seen = time.monotonic()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last_seen = time.monotonic()


class UdpUnicast:
    kind = "udp"

    def __init__(self, rtp_t: asyncio.DatagramTransport, rtcp_t: asyncio.DatagramTransport,
                 rtcp_in: _RtcpIn, client: tuple[str, int, int], ports: tuple[int, int]) -> None:
        self.rtp_t, self.rtcp_t, self.rtcp_in = rtp_t, rtcp_t, rtcp_in
        self.host, self.client_rtp, self.client_rtcp = client
        self.ports = ports

    @classmethod
    async def open(cls, bind_host: str, client: tuple[str, int, int]) -> UdpUnicast:
        loop = asyncio.get_running_loop()
        for _ in range(40):
            port = random.randrange(20000, 60000, 2)  # RTP even, RTCP the odd port above
            try:
                rtp_t, _ = await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=(bind_host, port))
            except OSError:
                continue
            try:
                rtcp_t, rtcp_in = await loop.create_datagram_endpoint(
                    _RtcpIn, local_addr=(bind_host, port + 1))
            except OSError:
                rtp_t.close()
                continue
            return cls(rtp_t, rtcp_t, rtcp_in, client, (port, port + 1))
        raise OSError("no free UDP port pair")

    def send_rtp(self, packets: list[bytes]) -> bool:
        # asyncio queues datagrams the kernel would not take; never let that grow.
        # asyncio's UDP transports have get_write_buffer_size (typeshed omits it)
        queued = self.rtp_t.get_write_buffer_size()  # type: ignore[attr-defined]
        if self.rtp_t.is_closing() or queued > TCP_BUFFER_LIMIT:
            return False
        for packet in packets:
            self.rtp_t.sendto(packet, (self.host, self.client_rtp))
        return True

    def send_rtcp(self, data: bytes) -> None:
        self.rtcp_t.sendto(data, (self.host, self.client_rtcp))

    def describe(self) -> str:
        return (f"RTP/AVP;unicast;client_port={self.client_rtp}-{self.client_rtcp};"
                f"server_port={self.ports[0]}-{self.ports[1]}")

    def close(self) -> None:
        self.rtp_t.close()
        self.rtcp_t.close()

    def alive(self) -> bool:
        return not self.rtp_t.is_closing()


class Session:
    """One viewer: SETUP made it READY, PLAY attaches it to the stream's source."""

    def __init__(self, camera: int, stream: str, source: StreamSource, transport: Transport,
                 connection_id: int) -> None:
        self.id = secrets.token_hex(8)
        self.camera, self.stream = camera, stream
        self.source = source
        self.transport = transport
        self.connection_id = connection_id
        self.state = State.READY
        self.rtp = rtp.RtpStream()
        self.waiting_for_key = True
        self.frames_dropped = 0
        self.last_seen = time.monotonic()
        self.last_sent = time.monotonic()
        self._last_sr = 0.0

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def idle_for(self) -> float:
        seen = self.last_seen
        if isinstance(self.transport, UdpUnicast):
            seen = max(seen, self.transport.rtcp_in.last_seen)
        return time.monotonic() - seen

    def stuck_for(self) -> float:
        """Seconds a playing viewer has taken nothing (a TCP reader that stopped reading)."""
        if self.state is not State.PLAYING:
            return 0.0
        return time.monotonic() - self.last_sent

    def play(self) -> tuple[int, int]:
        """Start sending; returns (first seq, first rtptime) for RTP-Info."""
        self.last_sent = time.monotonic()
        first = (self.rtp.seq, self.rtp.timestamp(self.source.next_keyframe_ts()))
        self.waiting_for_key = True
        self.state = State.PLAYING
        self.source.attach(self)
        return first

    def pause(self) -> None:
        self.state = State.READY
        self.source.detach(self)

    def close(self) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.source.detach(self)
        self.transport.close()

    # --- Viewer protocol ------------------------------------------------------
    def resync(self) -> None:
        self.waiting_for_key = True

    def deliver(self, frame: Frame) -> None:
        if self.state is not State.PLAYING:
            return
        if self.waiting_for_key:
            if not frame.keyframe:
                return
            self.waiting_for_key = False
        packets = self.rtp.packets_for(frame.payloads, frame.ts90k, frame.wall)
        if not self.transport.send_rtp(packets):
            self.frames_dropped += 1
            self.waiting_for_key = True  # a gap: the decoder needs a fresh IDR
            return
        self.last_sent = time.monotonic()
        if frame.wall - self._last_sr >= SR_INTERVAL_S:
            self._last_sr = frame.wall
            self.transport.send_rtcp(self.rtp.sender_report())

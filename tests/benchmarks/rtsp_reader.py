"""A minimal RTSP/TCP client for load: DESCRIBE, SETUP (interleaved), PLAY, then it
counts RTP packets, marker bits (= frames) and bytes without decoding.

Much lighter than one ffmpeg process per stream, so 64 of them in one asyncio
loop leave the CPU to the simulator being measured. No authentication (the
benchmark simulators run without it).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class ReadStats:
    path: str
    packets: int = 0
    frames: int = 0
    bytes: int = 0
    error: str = ""


class RtspReader:
    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port = host, port
        self.url = f"rtsp://{host}:{port}{path}"
        self.stats = ReadStats(path)
        self._cseq = 0
        self._buffer = b""

    async def run(self, seconds: float) -> ReadStats:
        try:
            await asyncio.wait_for(self._run(seconds), seconds + 15)
        except (TimeoutError, OSError, ValueError) as exc:
            self.stats.error = f"{type(exc).__name__}: {exc}"
        return self.stats

    async def _run(self, seconds: float) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            _, headers, _ = await self._request(reader, writer, "DESCRIBE", self.url,
                                                "Accept: application/sdp\r\n")
            base = headers.get("content-base", self.url + "/")
            _, headers, _ = await self._request(
                reader, writer, "SETUP", base + "trackID=0",
                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
            session = headers["session"].split(";")[0]
            await self._request(reader, writer, "PLAY", self.url, f"Session: {session}\r\n")
            await self._count(reader, asyncio.get_running_loop().time() + seconds)
            writer.write(self._message("TEARDOWN", self.url, f"Session: {session}\r\n"))
            await writer.drain()
        finally:
            writer.close()

    def _message(self, method: str, url: str, extra: str) -> bytes:
        self._cseq += 1
        return f"{method} {url} RTSP/1.0\r\nCSeq: {self._cseq}\r\n{extra}\r\n".encode()

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       method: str, url: str, extra: str) -> tuple[int, dict[str, str], bytes]:
        writer.write(self._message(method, url, extra))
        await writer.drain()
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += await self._more(reader)
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            self._buffer += await self._more(reader)
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        if status != 200:
            raise ValueError(f"{method} answered {status}")
        return status, headers, body

    @staticmethod
    async def _more(reader: asyncio.StreamReader) -> bytes:
        data = await reader.read(65536)
        if not data:
            raise ValueError("connection closed")
        return data

    async def _count(self, reader: asyncio.StreamReader, until: float) -> None:
        """Walk the interleaved frames ($, channel, 16-bit length, RTP) until ``until``."""
        loop = asyncio.get_running_loop()
        buf = self._buffer
        while loop.time() < until:
            pos = 0
            while len(buf) - pos >= 4 and buf[pos] == 0x24:
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                if len(buf) - pos < 4 + length:
                    break
                if buf[pos + 1] == 0 and length >= 12:
                    self.stats.packets += 1
                    self.stats.bytes += length
                    if buf[pos + 5] & 0x80:      # RTP marker: last packet of a frame
                        self.stats.frames += 1
                pos += 4 + length
            if len(buf) - pos >= 4 and buf[pos] != 0x24:
                raise ValueError("lost interleaved framing")
            buf = buf[pos:]
            try:
                buf += await asyncio.wait_for(self._more(reader), max(0.01, until - loop.time()))
            except TimeoutError:
                break

"""A small HTTP/1.1 server on asyncio streams for the simulated ONVIF device.

Why not uvicorn: the simulator must be able to vanish ("reboot": refuse connections for S
seconds) and come back in the same process, and must not touch signal handlers of the process
it lives in. This server owns its listener and every connection, so ``close()`` is immediate.
Hostile clients are bounded: header block size, body size (answered 413), and read timeouts.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
DRAIN_LIMIT = 16 * 1024 * 1024  # an oversized body up to this is read and discarded, then 413
READ_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 128  # a camera's web server is small; a connection flood must not grow memory
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
            500: "Internal Server Error", 501: "Not Implemented"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    local_host: str  # the address the client reached us on (for URLs we hand out)
    too_large: bool = False


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    def __init__(self, host: str, port: int, handler: Handler, max_body: int) -> None:
        self.host, self.port, self.handler, self.max_body = host, port, handler, max_body
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                      limit=MAX_HEAD)

    async def close(self) -> None:
        """Stop listening and drop every open connection (like a device losing power)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Abort the sockets rather than cancel the tasks: each handler then ends on its own
        # (a cancelled stream handler makes asyncio log a spurious error on Python 3.11).
        for writer in self._connections.values():
            writer.transport.abort()
        tasks = list(self._connections)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=1.0)
            for task in stuck:  # e.g. a snapshot callback still running
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= MAX_CONNECTIONS:
            writer.close()
            return
        self._connections[task] = writer
        try:
            local = writer.get_extra_info("sockname")
            while await self._one(reader, writer, str(local[0]) if local else self.host):
                pass
        # OSError covers ConnectionError and TimeoutError
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
            pass  # a client that breaks the protocol or goes silent just loses its connection
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   local_host: str) -> bool:
        """Serve one request; True to keep the connection open."""
        async with asyncio.timeout(READ_TIMEOUT_S):
            head = await reader.readuntil(b"\r\n\r\n")
        method, target, version, headers = _parse_head(head)
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if "transfer-encoding" in headers:
            await _write(writer, Response(411, b"send Content-Length\n"), False)
            return False
        length = int(headers.get("content-length", "0") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        body, too_large = await self._body(reader, length)
        url = urlsplit(target)
        request = Request(method, url.path, parse_qs(url.query), headers, body, local_host,
                          too_large)
        response = await self._dispatch(request)
        keep = keep and not too_large
        await _write(writer, response, keep)
        return keep

    async def _body(self, reader: asyncio.StreamReader, length: int) -> tuple[bytes, bool]:
        if length <= self.max_body:
            async with asyncio.timeout(READ_TIMEOUT_S):
                body = await reader.readexactly(length)
            return body, False
        if length > DRAIN_LIMIT:
            return b"", True  # answer at once; the connection closes after the 413
        left = length
        while left:  # drain so the client can read our 413 instead of a reset
            async with asyncio.timeout(READ_TIMEOUT_S):   # not wait_for: see rtsp_server
                chunk = await reader.read(min(left, 65536))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", left)
            left -= len(chunk)
        return b"", True

    async def _dispatch(self, request: Request) -> Response:
        try:
            return await self.handler(request)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad request must never take the device down
            log.exception("ONVIF simulator: handler failed for %s %s", request.method, request.path)
            return Response(500, b"internal error\n")


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError("bad request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("bad header line")
        headers[name.strip().lower()] = value.strip()
    return parts[0].upper(), parts[1], parts[2], headers


async def _write(writer: asyncio.StreamWriter, response: Response, keep: bool) -> None:
    reason = _REASONS.get(response.status, "Unknown")
    head = [f"HTTP/1.1 {response.status} {reason}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Server: iocwall-sim",
            f"Connection: {'keep-alive' if keep else 'close'}"]
    head += [f"{k}: {v}" for k, v in response.headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
    async with asyncio.timeout(READ_TIMEOUT_S):
        await writer.drain()

"""The simulator's small HTTP control: ground truth and faults.

GET /truth (``?at=<Unix seconds>``: the truth at that moment of the last minute, e.g. a
counted frame's capture time), GET /faults, POST /faults, GET /stats. Plain asyncio HTTP/1.1 with
Connection: close; bounded request size; every error is a JSON body with one
clear message.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any, Protocol

from .faults import FaultError

log = logging.getLogger(__name__)
MAX_HEAD = 8192
MAX_BODY = 65536
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error"}


class Control(Protocol):
    def truth(self, at: float | None = None) -> dict[str, Any]: ...
    def faults_json(self) -> dict[str, Any]: ...
    def apply_fault_json(self, body: object) -> dict[str, Any]: ...   # raises FaultError
    def stats(self) -> dict[str, Any]: ...


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpApi:
    def __init__(self, host: str, port: int, control: Control) -> None:
        self.host, self.port, self.control = host, port, control
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            async with asyncio.timeout(5):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(10):
                    method, target, body = await self._read(reader)
                path, _, query = target.partition("?")
                status, payload = 200, self._route(method, path, body, query)
            except HttpError as exc:
                status, payload = exc.status, {"error": str(exc)}
            except FaultError as exc:
                status, payload = 400, {"error": str(exc)}
            except Exception:
                log.exception("control request failed")
                status, payload = 500, {"error": "internal error"}
            data = json.dumps(payload).encode()
            writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                         "Connection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HttpError(413, "request header too large") from None
        if len(head) > MAX_HEAD:
            raise HttpError(413, "request header too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise HttpError(400, "malformed request line")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise HttpError(400, "bad Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise HttpError(413, "body too large")
        body = await reader.readexactly(length) if length else b""
        return parts[0].upper(), parts[1], body

    def _route(self, method: str, path: str, body: bytes, query: str = "") -> dict[str, Any]:
        routes = {"/truth": ("GET",), "/faults": ("GET", "POST"), "/stats": ("GET",)}
        if path not in routes:
            raise HttpError(404, f"no such path {path[:64]}; try /truth, /faults, /stats")
        if method not in routes[path]:
            raise HttpError(405, f"{method[:10]} not allowed on {path}")
        if path == "/truth":
            return self.control.truth(_at(query))
        if path == "/stats":
            return self.control.stats()
        if method == "GET":
            return self.control.faults_json()
        try:
            parsed = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "body is not valid JSON") from None
        return self.control.apply_fault_json(parsed)


def _at(query: str) -> float | None:
    """``at=<Unix seconds>`` from a query string; None when absent."""
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "at":
            try:
                at = float(value)
            except ValueError:
                raise HttpError(400, "at must be Unix seconds, e.g. at=1765000000.25") from None
            if not math.isfinite(at):
                raise HttpError(400, "at must be a finite number")
            return at
    return None

"""RTSP/1.0 messages (RFC 2326): parse requests from a byte buffer, build responses.

The parser is incremental and bounded: a client that sends an endless header,
a huge body or binary garbage gets an ``RtspError`` with the status to answer,
never an exception that escapes the connection.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from iocwall.streams.rtsp.message import HeadError, parse_head

_METHOD = re.compile(r"[A-Za-z_]{1,32}")
MAX_HEADER_BYTES = 8192
MAX_BODY_BYTES = 65536
METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER",
           "SET_PARAMETER")
REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 413: "Request Entity Too Large", 454: "Session Not Found",
    455: "Method Not Valid in This State", 459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable", 505: "RTSP Version Not Supported",
}


class RtspError(Exception):
    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]       # lower-case names
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")

    @property
    def path(self) -> str:
        return urlsplit(self.url).path if "://" in self.url else self.url

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    cseq: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encode(self) -> bytes:
        reason = REASONS.get(self.status, "Error")
        lines = [f"RTSP/1.0 {self.status} {reason}", f"CSeq: {self.cseq}",
                 "Server: iocwall-sim/1.0"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def take_interleaved(buffer: bytearray) -> bytes | None:
    """Remove one '$' interleaved frame from the buffer start; None if incomplete."""
    if len(buffer) < 4:
        return None
    size = int.from_bytes(buffer[2:4], "big")
    if len(buffer) < 4 + size:
        return None
    frame = bytes(buffer[:4 + size])
    del buffer[:4 + size]
    return frame


def take_request(buffer: bytearray) -> Request | None:
    """Remove one complete request from the buffer start; None if more bytes are needed."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEADER_BYTES:
            raise RtspError(400, "request header too large", close=True)
        return None
    if end > MAX_HEADER_BYTES:
        raise RtspError(400, "request header too large", close=True)
    request = _parse_head(bytes(buffer[:end]).decode("utf-8", "replace"))
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        raise RtspError(400, "bad Content-Length", close=True) from None
    if length < 0 or length > MAX_BODY_BYTES:
        raise RtspError(413, "body too large", close=True)
    if len(buffer) < end + 4 + length:
        return None
    request.body = bytes(buffer[end + 4:end + 4 + length])
    del buffer[:end + 4 + length]
    return request


def _parse_head(text: str) -> Request:
    parts = text.split("\r\n", 1)[0].split(" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]):
        raise RtspError(400, "malformed request line", close=True)
    method, url, version = parts
    try:
        _, lists = parse_head(text, strict=True)
    except HeadError:
        raise RtspError(400, "malformed header line") from None
    headers = {name: values[-1] for name, values in lists.items()}
    request = Request(method.upper(), url, headers)
    if not version.startswith("RTSP/"):
        raise RtspError(400, "not an RTSP request", close=True)
    if version != "RTSP/1.0":
        raise RtspError(505, "only RTSP/1.0 is spoken here")
    return request

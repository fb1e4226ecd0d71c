"""RTSP/1.0 messages (RFC 2326 6, 7, 10.12): requests, responses and the one reader.

Both sides of the protocol use this module: the client (``rtsp_client``) writes
requests and reads cameras' answers; the simulator (``hardware.sim.rtsp_server``)
reads its clients' requests and writes answers. ``MessageReader`` is incremental
(feed it what the socket gave, take what is complete) and bounded: a head longer
than ``max_head``, a Content-Length past ``max_body`` or one that is not a number
raise ``MessageError`` before anything more is buffered. Interleaved binary data
(``$``, channel, length, RTP/RTCP packet) is taken from the same byte stream.
Header names are matched without case; a header that repeats (WWW-Authenticate)
keeps every value, in order.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
_METHOD = re.compile(r"[A-Za-z_]{1,32}")
_MAX_LENGTH_DIGITS = 18     # int() of a longer string is slow (and refused past 4300 digits)
Headers = list[tuple[str, str]]


class Fault(enum.Enum):
    HEAD_TOO_LARGE = "message head too large"
    BAD_LENGTH = "bad Content-Length"
    BODY_TOO_LARGE = "body too large"
    BAD_START_LINE = "malformed start line"
    BAD_HEADER = "malformed header line"
    NOT_RTSP = "not an RTSP message"
    HTTP = "HTTP, not RTSP"
    VERSION = "only RTSP/1.0 is spoken here"


class MessageError(ValueError):
    """A message we cannot take. ``fatal``: the byte stream can no longer be followed (the
    connection must close); otherwise the bad message was consumed and the next may follow.
    ``length``: the announced Content-Length, for BODY_TOO_LARGE."""

    def __init__(self, fault: Fault, fatal: bool = True, length: int | None = None) -> None:
        super().__init__(fault.value)
        self.fault, self.fatal, self.length = fault, fatal, length


class _Headed:
    headers: Headers

    def header(self, name: str, default: str = "") -> str:
        """The first value of header ``name`` (any case), or ``default``."""
        key = name.lower()
        return next((v for k, v in self.headers if k.lower() == key), default)

    def header_values(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self.headers if k.lower() == key]

    def _encode(self, start: str, body: bytes) -> bytes:
        lines = [start, *(f"{k}: {v}" for k, v in self.headers)]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Request(_Headed):
    method: str
    url: str
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    @property
    def cseq(self) -> str:
        return self.header("CSeq", "0")

    @property
    def path(self) -> str:
        return urlsplit(self.url).path if "://" in self.url else self.url

    def encode(self) -> bytes:
        return self._encode(f"{self.method} {self.url} RTSP/1.0", self.body)


@dataclass
class Response(_Headed):
    status: int
    reason: str = ""
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    def encode(self) -> bytes:
        return self._encode(f"RTSP/1.0 {self.status} {self.reason}", self.body)


@dataclass(frozen=True)
class Interleaved:
    """One ``$`` frame (RFC 2326 10.12): an RTP or RTCP packet on ``channel``."""
    channel: int
    data: bytes


def interleaved(channel: int, data: bytes) -> bytes:
    """``data`` framed for ``channel`` of the RTSP connection (``$``, channel, length)."""
    return b"$" + bytes((channel,)) + len(data).to_bytes(2, "big") + data


def split_head(text: str) -> tuple[str, Headers, str | None]:
    """A head (without the blank line) -> (start line, headers, first malformed line)."""
    start, *lines = text.split("\r\n")
    headers: Headers = []
    malformed = None
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            malformed = malformed if malformed is not None else line
            continue
        headers.append((name.strip(), value.strip()))
    return start, headers, malformed


def parse_request(start: str, headers: Headers, malformed: str | None) -> Request:
    """A request's head, strictly: a server answers what is wrong with it."""
    parts = start.split(" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]):
        raise MessageError(Fault.BAD_START_LINE)
    method, url, version = parts
    if not version.startswith("RTSP/"):
        raise MessageError(Fault.NOT_RTSP)
    if malformed is not None:
        raise MessageError(Fault.BAD_HEADER, fatal=False)
    if version != "RTSP/1.0":
        raise MessageError(Fault.VERSION, fatal=False)
    return Request(method.upper(), url, headers)


def parse_response(start: str, headers: Headers, malformed: str | None = None) -> Response:
    """A response's head, leniently: odd header lines are skipped (cameras send them)."""
    if start.startswith("HTTP/"):
        raise MessageError(Fault.HTTP)
    parts = start.split(" ", 2)
    if not start.startswith("RTSP/") or len(parts) < 2 or len(parts[1]) != 3 \
            or not (parts[1].isascii() and parts[1].isdigit()):
        raise MessageError(Fault.NOT_RTSP)
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)


def content_length(headers: Headers, limit: int) -> int:
    text = next((v for k, v in headers if k.lower() == "content-length"), "") or "0"
    if not (text.isascii() and text.isdigit()):
        raise MessageError(Fault.BAD_LENGTH)
    length = int(text) if len(text) <= _MAX_LENGTH_DIGITS else None
    if length is None or length > limit:
        raise MessageError(Fault.BODY_TOO_LARGE, length=length)
    return length


M = TypeVar("M", Request, Response)
Parse = Callable[[str, Headers, str | None], M]


@dataclass
class _Pending(Generic[M]):
    """A head taken, its body still arriving."""
    message: M | None
    error: MessageError | None
    body_at: int
    length: int


class MessageReader(Generic[M]):
    """Bytes in, messages and interleaved frames out, within the limits.

    ``parse`` judges a head (``parse_request`` or ``parse_response``) before its body is
    awaited, so a peer that is not speaking RTSP is caught at once. A bad message that
    can be skipped is consumed, body and all, before its error is raised.
    """

    def __init__(self, parse: Parse[M], max_head: int = MAX_HEAD_BYTES,
                 max_body: int = MAX_BODY_BYTES, encoding: str = "utf-8") -> None:
        self._parse: Parse[M] = parse
        self.max_head, self.max_body, self.encoding = max_head, max_body, encoding
        self._buffer = bytearray()
        self._pending: _Pending[M] | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def take(self) -> M | Interleaved | None:
        """The next complete message or frame; None until more bytes are fed."""
        if self._pending is None:
            if not self._buffer:
                return None
            if self._buffer[0] == 0x24:
                return self._interleaved()
            if not self._head():
                return None
        return self._body()

    def unfinished_head(self) -> str | None:
        """At the end of the stream: the start of a head that never ended, if that is what
        is left (a peer that closed mid-answer); None if nothing or other data is left."""
        if self._pending is not None or not self._buffer or self._buffer[0] == 0x24:
            return None
        return bytes(self._buffer).decode(self.encoding, "replace").removesuffix("\r\n")

    def _interleaved(self) -> Interleaved | None:
        buffer = self._buffer
        if len(buffer) < 4:
            return None
        end = 4 + ((buffer[2] << 8) | buffer[3])
        if len(buffer) < end:
            return None
        frame = Interleaved(buffer[1], bytes(buffer[4:end]))
        del buffer[:end]            # from the front of a bytearray: no copy of the rest
        return frame

    def _head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n", 0, self.max_head + 4)
        if end < 0:
            if len(self._buffer) > self.max_head + 3:
                raise MessageError(Fault.HEAD_TOO_LARGE)
            return False
        start, headers, malformed = split_head(
            bytes(self._buffer[:end]).decode(self.encoding, "replace"))
        message: M | None = None
        error = None
        try:
            message = self._parse(start, headers, malformed)
        except MessageError as exc:
            if exc.fatal:
                raise
            error = exc
        length = content_length(headers, self.max_body)
        self._pending = _Pending(message, error, end + 4, length)
        return True

    def _body(self) -> M | None:
        pending = self._pending
        assert pending is not None
        end = pending.body_at + pending.length
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[pending.body_at:end])
        del self._buffer[:end]
        self._pending = None
        if pending.error is not None:
            raise pending.error
        assert pending.message is not None
        pending.message.body = body
        return pending.message

"""The simulator's side of RTSP/1.0 messages: which methods it knows, the status lines
it answers with, and how a request it cannot take maps to a status.

Reading and writing messages is the one protocol layer's (``iocwall.streams.rtsp.message``,
shared with the client): the same bounded reader, request and response types.
"""
from __future__ import annotations

from iocwall.streams.rtsp.message import (
    Fault,
    MessageError,
    MessageReader,
    Request,
    Response,
    parse_request,
)

MAX_HEADER_BYTES = 8192
MAX_BODY_BYTES = 65536
SERVER = "iocwall-sim/1.0"
METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER",
           "SET_PARAMETER")
REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 413: "Request Entity Too Large", 454: "Session Not Found",
    455: "Method Not Valid in This State", 459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable", 505: "RTSP Version Not Supported",
}
_STATUS = {Fault.BODY_TOO_LARGE: 413, Fault.VERSION: 505}   # any other fault: 400


class RtspError(Exception):
    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.close = close

    @classmethod
    def of(cls, exc: MessageError) -> RtspError:
        """What to answer a request the reader refused (and whether to hang up)."""
        return cls(_STATUS.get(exc.fault, 400), str(exc), close=exc.fatal)


def request_reader() -> MessageReader[Request]:
    """One connection's reader of requests (strict: a bad header line is answered 400)."""
    return MessageReader(parse_request, MAX_HEADER_BYTES, MAX_BODY_BYTES, "utf-8")


def reply(status: int, cseq: str, headers: list[tuple[str, str]] | None = None,
          body: bytes = b"") -> Response:
    """An answer as the simulator writes it: CSeq and Server first."""
    return Response(status, REASONS.get(status, "Error"),
                    [("CSeq", cseq), ("Server", SERVER), *(headers or [])], body)


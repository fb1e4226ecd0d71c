"""What went wrong talking to a camera, as an Enum plus one line for the technician."""
from __future__ import annotations

import enum


class Problem(enum.Enum):
    REFUSED = "refused"            # nothing listens on the port
    TIMEOUT = "timeout"            # TCP connect got no answer
    UNRESOLVED = "unresolved"      # DNS
    UNREACHABLE = "unreachable"    # other socket errors (no route...)
    NO_ANSWER = "no-answer"        # connected, but the RTSP request got no reply
    HTTP = "http"                  # the port speaks HTTP
    NOT_RTSP = "not-rtsp"          # the port speaks something else
    AUTH_NEEDED = "auth-needed"    # 401 and we had no credentials
    AUTH_REFUSED = "auth-refused"  # 401/403 with credentials
    NOT_FOUND = "not-found"        # 404: wrong path
    NO_VIDEO = "no-video"          # SDP without a video track
    TRANSPORT = "transport"        # 461: transport refused
    STATUS = "status"              # any other RTSP error status
    CLOSED = "closed"              # the camera closed the connection
    TOO_BIG = "too-big"            # an answer past our size limits (a broken or hostile peer)


class RtspError(Exception):
    """A failure with its Problem and a one-line message (never with credentials)."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.method: str | None = None  # the RTSP request that failed, when one did
        self.status: int | None = None  # the camera's RTSP status code, when it sent one

    def __str__(self) -> str:
        return self.message

"""Is a camera there? OPTIONS and DESCRIBE with its credentials, then close: no SETUP, no media.

The health service asks this of cameras nobody pulls (wall/health/probe.py): a few hundred
bytes each way instead of a stream. The client is the one live pulls use, so Digest (and
Basic only where the camera's profile allows it) works exactly as it does for them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from iocwall.streams.urls import CameraUrl

from .errors import Problem, RtspError
from .rtsp_client import RtspClient

_USER_AGENT = "iocwall-probe/0.1"


class Reason(str, enum.Enum):
    OK = "ok"
    UNREACHABLE = "unreachable"          # nothing answers RTSP at the address and port
    WRONG_PASSWORD = "wrong_password"    # the camera refused our login
    NO_STREAM = "no_stream"              # it answers, but the registered path has no video


_REASON = {Problem.AUTH_NEEDED: Reason.WRONG_PASSWORD, Problem.AUTH_REFUSED: Reason.WRONG_PASSWORD,
           Problem.NOT_FOUND: Reason.NO_STREAM, Problem.NO_VIDEO: Reason.NO_STREAM,
           Problem.STATUS: Reason.NO_STREAM, Problem.TRANSPORT: Reason.NO_STREAM}


@dataclass(frozen=True)
class Reach:
    reason: Reason
    message: str = ""        # the client's one line (never credentials)

    @property
    def reachable(self) -> bool:
        return self.reason is Reason.OK


async def reach(url: CameraUrl, timeout: float) -> Reach:
    """OPTIONS + DESCRIBE on ``url``; each step bounded by ``timeout``; never raises RtspError."""
    client = RtspClient(url, timeout, _ignore, _USER_AGENT)
    try:
        await client.connect()
        await client.options()
        await client.describe()
    except RtspError as exc:
        return Reach(_REASON.get(exc.problem, Reason.UNREACHABLE), exc.message)
    finally:
        await client.close()
    return Reach(Reason.OK)


def _ignore(data: bytes, at: float) -> None:
    """No media is asked for; a camera that sends some anyway is not listened to."""

"""The RTSP/1.0 server (RFC 2326): one coroutine per connection, sessions
shared across connections (UDP viewers outlive their TCP connection until the
session times out), a reaper for vanished clients.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from typing import Protocol

from iocwall.streams.rtsp.message import (
    Interleaved,
    MessageError,
    MessageReader,
    Request,
    Response,
)
from iocwall.streams.rtsp.transport import parse_transport, port_pair

from . import sdp
from .faults import CameraFaults
from .media import StreamSource
from .rtsp_auth import Authenticator
from .rtsp_message import METHODS, RtspError, reply, request_reader
from .session import Session, State, TcpInterleaved, UdpUnicast

log = logging.getLogger(__name__)
_PATH = re.compile(r"^/cam(\d+)/(main|sub)(?:/(trackID=0)?)?$")
PUBLIC = ", ".join(m for m in METHODS if m != "SET_PARAMETER")
# Requests that name their session: clients send them to the aggregate URL, to "*" or to
# the URL they started from (some send PAUSE, then TEARDOWN, that way at the end).
_SESSION_METHODS = ("PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER")
MAX_CONNECTIONS = 512


class Directory(Protocol):
    cameras: int

    def source(self, camera: int, stream: str) -> StreamSource | None: ...
    def faults(self, camera: int) -> CameraFaults: ...


class _Close(Exception):
    """Drop the connection without an answer (a rebooting camera)."""


class RtspServer:
    def __init__(self, host: str, port: int, directory: Directory, auth: Authenticator,
                 session_timeout: float = 60.0) -> None:
        self.host, self.port = host, port
        self.directory = directory
        self.auth = auth
        self.session_timeout = session_timeout
        self.sessions: dict[str, Session] = {}
        self._server: asyncio.AbstractServer | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._connections: dict[int, tuple[asyncio.StreamWriter, set[int]]] = {}
        self._ids = itertools.count(1)
        self.sessions_reaped = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=65536)
        self._reaper = asyncio.create_task(self._reap(), name="rtsp reaper")

    async def stop(self) -> None:
        if self._reaper:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        if self._server:
            self._server.close()
        for session in list(self.sessions.values()):
            self._end(session)
        for writer, _ in list(self._connections.values()):
            writer.transport.abort()
        if self._server:
            async with asyncio.timeout(5):
                await self._server.wait_closed()

    def close_camera(self, camera: int) -> int:
        """End every session and connection that touched ``camera``; returns how many sessions."""
        ended = [s for s in self.sessions.values() if s.camera == camera]
        for session in ended:
            self._end(session)
        for writer, cams in list(self._connections.values()):
            if camera in cams:
                writer.transport.abort()
        return len(ended)

    def viewers(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sessions.values():
            key = f"cam{s.camera}/{s.stream}"
            out[key] = out.get(key, 0) + (s.state is State.PLAYING)
        return out

    def _has_session(self, conn: int) -> bool:
        return any(s.connection_id == conn for s in self.sessions.values())

    def _abort(self, conn: int) -> None:
        entry = self._connections.get(conn)
        if entry:
            entry[0].transport.abort()

    def _end(self, session: Session) -> None:
        session.close()
        self.sessions.pop(session.id, None)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.session_timeout / 4))
            for session in list(self.sessions.values()):
                gone = not session.transport.alive()
                limit = self.session_timeout
                silent = session.transport.kind == "udp" and session.idle_for() > limit
                # A TCP viewer that stopped reading (but never closed) is dropped the same way.
                stuck = session.transport.kind == "tcp" and session.stuck_for() > limit
                if stuck:
                    self._abort(session.connection_id)
                if gone or silent or stuck:
                    log.info("session %s (cam%d/%s) ended: client gone", session.id,
                             session.camera, session.stream)
                    self.sessions_reaped += 1
                    self._end(session)

    # --- connections -----------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_CONNECTIONS:
            writer.write(reply(503, "0", [("Retry-After", "5")]).encode())
            writer.close()
            return
        conn = next(self._ids)
        cams: set[int] = set()
        self._connections[conn] = (writer, cams)
        messages = request_reader()
        try:
            while True:
                # A connection without a session that sends nothing useful (a half-sent
                # request held open) is closed after the session timeout.
                idle = None if self._has_session(conn) else self.session_timeout
                try:
                    # not wait_for: on Python 3.11 it can swallow a cancellation that lands
                    # as the read completes, and this loop would serve on after stop()
                    async with asyncio.timeout(idle):
                        chunk = await reader.read(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                messages.feed(chunk)
                if not await self._drain(messages, conn, cams, writer):
                    break
        except (ConnectionError, _Close):
            pass
        except Exception:
            log.exception("RTSP connection %d failed", conn)
        finally:
            self._connections.pop(conn, None)
            for session in [s for s in self.sessions.values() if s.connection_id == conn]:
                if session.transport.kind == "tcp":
                    self._end(session)
            writer.transport.abort()

    async def _drain(self, reader: MessageReader[Request], conn: int, cams: set[int],
                     writer: asyncio.StreamWriter) -> bool:
        """Handle every complete message read so far; False closes the connection."""
        while True:
            try:
                item = reader.take()
            except MessageError as exc:
                error = RtspError.of(exc)
                writer.write(reply(error.status, "0", [("Content-Type", "text/plain")],
                                   (str(error) + "\r\n").encode()).encode())
                if error.close:
                    return False
                continue
            if item is None:
                return True
            if isinstance(item, Interleaved):  # RTCP from the client: a sign of life
                for s in self.sessions.values():
                    if s.connection_id == conn:
                        s.touch()
                continue
            response = await self._answer(item, conn, cams)
            writer.write(response.encode())

    async def _answer(self, request: Request, conn: int, cams: set[int]) -> Response:
        try:
            return await self._handle(request, conn, cams)
        except RtspError as exc:
            headers = [("Public", PUBLIC)] if exc.status in (405, 501) else []
            headers.append(("Content-Type", "text/plain"))
            return reply(exc.status, request.cseq, headers, (str(exc) + "\r\n").encode())

    async def _handle(self, request: Request, conn: int, cams: set[int]) -> Response:
        if request.method not in METHODS:
            raise RtspError(501, f"method {request.method[:32]} is not implemented")
        camera, stream = self._target(request)
        if camera:
            cams.add(camera)
            faults = self.directory.faults(camera)
            if faults.rebooting():
                raise _Close()
            challenge = self._auth_failure(request, faults)
            if challenge is not None:
                return challenge
        handler = getattr(self, "_" + request.method.lower())
        response: Response = await handler(request, conn, camera, stream)
        return response

    def _target(self, request: Request) -> tuple[int, str]:
        match = None
        if request.url != "*":
            match = _PATH.match(request.path.rstrip("/") if request.path != "/" else "/")
        if not match:
            session = self.sessions.get(request.header("Session").split(";")[0].strip())
            if session is not None and request.method in _SESSION_METHODS:
                return session.camera, session.stream   # its camera's auth applies
            if request.url == "*" or request.method in ("OPTIONS", "GET_PARAMETER",
                                                        "SET_PARAMETER"):
                return 0, ""
            raise RtspError(404, f"no such stream {request.path[:64]}; use /camK/main or /camK/sub")
        camera = int(match.group(1))
        if not 1 <= camera <= self.directory.cameras:
            raise RtspError(404, f"no camera {camera}; cameras are 1..{self.directory.cameras}")
        return camera, match.group(2)

    def _auth_failure(self, request: Request, faults: CameraFaults) -> Response | None:
        rejecting = faults.rejecting_auth()
        if request.method == "OPTIONS" and not rejecting:
            return None
        if not rejecting and self.auth.check(request.method, request.header("Authorization")):
            return None
        return reply(401, request.cseq, self.auth.challenges())

    def _session(self, request: Request) -> Session:
        sid = request.header("Session").split(";")[0].strip()
        session = self.sessions.get(sid)
        if session is None:
            raise RtspError(454, "session not found")
        session.touch()
        return session

    # --- methods ----------------------------------------------------------------
    async def _options(self, request: Request, conn: int, camera: int, stream: str) -> Response:
        return reply(200, request.cseq, [("Public", PUBLIC)])

    async def _get_parameter(self, request: Request, conn: int, camera: int,
                             stream: str) -> Response:
        if request.header("Session"):
            self._session(request)
        return reply(200, request.cseq)

    async def _set_parameter(self, request: Request, conn: int, camera: int,
                             stream: str) -> Response:
        raise RtspError(405, "SET_PARAMETER is not supported")

    def _source(self, camera: int, stream: str) -> StreamSource:
        source = self.directory.source(camera, stream) if camera else None
        if source is None:
            raise RtspError(404, "no such stream")
        return source

    async def _describe(self, request: Request, conn: int, camera: int, stream: str) -> Response:
        source = self._source(camera, stream)
        loop = source.loop
        size = sum(len(f) for f in loop.frames)
        kbps = max(1, size * 8 * loop.spec.fps // max(1, len(loop.frames)) // 1000)
        body = sdp.describe(self.host, int(time.time()), f"cam{camera} {stream}", loop.sps,
                            loop.pps,
                            loop.spec.fps, loop.spec.width, loop.spec.height, kbps).encode()
        base = f"rtsp://{self.host}:{self.port}/cam{camera}/{stream}/"
        return reply(200, request.cseq, [("Content-Type", "application/sdp"),
                                            ("Content-Base", base)], body)

    async def _setup(self, request: Request, conn: int, camera: int, stream: str) -> Response:
        source = self._source(camera, stream)
        if request.header("Session"):
            raise RtspError(459, "one stream per session: SETUP without a Session header")
        spec = parse_transport(request.header("Transport"))
        writer = self._connections[conn][0]
        if spec.multicast:
            raise RtspError(461, "multicast is not offered; use unicast UDP or TCP")
        if spec.tcp:
            channel = _first_number(spec.get("interleaved") or "0-1", 0, 254)
            transport: TcpInterleaved | UdpUnicast = TcpInterleaved(writer.transport, channel)
        elif spec.udp and "client_port" in spec.params:
            rtp_port = _first_number(spec.get("client_port"), 1, 65534)
            peer = writer.get_extra_info("peername")[0]
            transport = await UdpUnicast.open(self.host, (peer, rtp_port, rtp_port + 1))
        else:
            raise RtspError(461, "use RTP/AVP/TCP;interleaved=0-1 or "
                                 "RTP/AVP;unicast;client_port=a-b")
        session = Session(camera, stream, source, transport, conn)
        self.sessions[session.id] = session
        headers = [("Transport", f"{transport.describe()};ssrc={session.rtp.ssrc:08X}"),
                   ("Session", f"{session.id};timeout={int(self.session_timeout)}")]
        return reply(200, request.cseq, headers)

    async def _play(self, request: Request, conn: int, camera: int, stream: str) -> Response:
        session = self._session(request)
        session.connection_id = conn
        seq, rtptime = session.play()
        url = f"rtsp://{self.host}:{self.port}/cam{session.camera}/{session.stream}/{sdp.TRACK}"
        return reply(200, request.cseq, [("Session", session.id), ("Range", "npt=now-"),
                                            ("RTP-Info", f"url={url};seq={seq};rtptime={rtptime}")])

    async def _pause(self, request: Request, conn: int, camera: int, stream: str) -> Response:
        session = self._session(request)
        session.pause()
        return reply(200, request.cseq, [("Session", session.id)])

    async def _teardown(self, request: Request, conn: int, camera: int, stream: str) -> Response:
        session = self._session(request)
        self._end(session)
        return reply(200, request.cseq, [("Session", session.id)])


def _first_number(text: str, low: int, high: int) -> int:
    pair = port_pair(text)
    if pair is None:
        raise RtspError(461, f"bad port/channel {text[:20]!r}")
    value = pair[0]
    if not low <= value <= high:
        raise RtspError(461, f"port/channel {value} out of range")
    return value

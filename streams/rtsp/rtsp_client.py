"""A small RTSP/1.0 client (RFC 2326), built for diagnosis and used for live ingest.

It keeps what a technician needs to know: how long the TCP connect took,
which step failed and why (refused, silent, HTTP instead of RTSP, 401, 404),
which auth scheme the camera wanted, and the raw RTP packets with their arrival
times, over TCP interleaved or UDP. Every failure is an ``RtspError`` carrying a
``Problem`` and one line of text without credentials.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import socket
import time
from collections.abc import Callable

from iocwall.streams.urls import CameraUrl

from .auth import Authenticator, AuthScheme, parse_challenges
from .errors import Problem, RtspError
from .message import (
    Fault,
    Interleaved,
    MessageError,
    MessageReader,
    Request,
    Response,
    interleaved,
    parse_response,
    split_head,
)
from .sdp import VideoTrack, resolve_control, video_track
from .transport import parse_transport
from .udp import UdpPair, open_udp_pair

log = logging.getLogger(__name__)

PacketSink = Callable[[bytes, float], None]
_USER_AGENT = "iocwall/0.1"
# A camera's answers are small (an SDP is a few hundred bytes): anything bigger is a
# broken or hostile peer, and must not make us buffer it.
MAX_BODY_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
READ_BYTES = 65536


class Transport(enum.Enum):
    TCP = "TCP"
    UDP = "UDP"


class RtspClient:
    """One RTSP session to one stream URL. Use: connect, describe, setup, play, close."""

    def __init__(self, url: CameraUrl, timeout: float, on_packet: PacketSink,
                 user_agent: str = _USER_AGENT) -> None:
        self.url = url
        self.user_agent = user_agent
        self.timeout = timeout
        self.on_packet = on_packet
        self.on_rtcp: PacketSink | None = None   # the camera's RTCP (sender reports)
        self.transport: Transport | None = None  # what SETUP agreed on
        self.auth_scheme = AuthScheme.NONE
        self.closed = asyncio.Event()  # set when the camera closes the control connection
        self.session_timeout = 60.0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Response]] = {}
        self._cseq = 0
        self._auth: Authenticator | None = None
        self._session: str | None = None
        self._udp: UdpPair | None = None
        self._base = url.public()
        self._rtp_channel = 0  # the camera may pick another pair in its SETUP answer

    @property
    def where(self) -> str:
        return f"{self.url.host}:{self.url.port}"

    async def connect(self) -> float:
        """Open the TCP connection; the time it took, in seconds."""
        started = time.monotonic()
        try:
            # asyncio.timeout, never wait_for, in this client: on Python 3.11 wait_for returns
            # the result when a cancellation lands just as its awaitable completes, and the
            # pull that was cancelled (its camera removed) would go on playing
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self.url.host, self.url.port, limit=MAX_HEADER_BYTES)
        except ConnectionRefusedError:
            raise RtspError(Problem.REFUSED, f"nothing listens on {self.where}: check the port "
                            "(RTSP is usually 554) and that the camera is powered and booted"
                            ) from None
        except TimeoutError:
            raise RtspError(Problem.TIMEOUT, f"no answer from {self.where} within "
                            f"{self.timeout:g} s: check the address, the cable/VPN link and "
                            "any firewall") from None
        except socket.gaierror:
            raise RtspError(Problem.UNRESOLVED, f"cannot resolve host '{self.url.host}': "
                            "check the spelling or use the camera's IP address") from None
        except OSError as exc:
            raise RtspError(Problem.UNREACHABLE, f"cannot reach {self.where}: "
                            f"{exc.strerror or exc}: check the address and the network path"
                            ) from None
        self._read_task = asyncio.create_task(self._read_loop(), name=f"rtsp-read {self.where}")
        return time.monotonic() - started

    async def options(self) -> Response:
        return await self._checked("OPTIONS", self._base)

    async def describe(self) -> VideoTrack:
        resp = await self._checked("DESCRIBE", self._base, {"Accept": "application/sdp"})
        track = video_track(resp.body.decode("utf-8", "replace"))
        if track is None:
            raise RtspError(Problem.NO_VIDEO, "the stream description (SDP) has no video track: "
                            "check the stream path")
        base = resp.header("content-base") or resp.header("content-location") or self._base
        track.control = resolve_control(base, track.control)
        return track

    async def setup(self, track: VideoTrack, transport: Transport) -> None:
        """SETUP over ``transport``; on a refusal the client can SETUP again (auto fallback)."""
        if transport is Transport.TCP:
            spec = "RTP/AVP/TCP;unicast;interleaved=0-1"
        else:
            host = self._writer.get_extra_info("sockname")[0] if self._writer else "0.0.0.0"
            if self._udp is None:
                self._udp = await open_udp_pair(host, self.on_packet, self._rtcp_in)
            spec = f"RTP/AVP;unicast;client_port={self._udp.rtp_port}-{self._udp.rtp_port + 1}"
        resp = await self._checked("SETUP", track.control, {"Transport": spec}, transport=transport)
        answer = parse_transport(resp.header("transport"))
        channels = answer.pair("interleaved")
        if channels is not None and channels[0] <= 254:
            self._rtp_channel = channels[0]   # the camera may pick another pair than ours
        if transport is Transport.UDP and self._udp is not None:
            peer = self._writer.get_extra_info("peername")[0] if self._writer else self.url.host
            ports = answer.pair("server_port")
            self._udp.connect(answer.get("source") or peer,
                              ports if ports is not None and ports[0] > 0 else None)
        self.transport = transport
        session = resp.header("session")
        self._session = session.split(";")[0].strip() or None
        for part in session.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "timeout" and value.isdigit() and int(value) > 0:
                self.session_timeout = float(value)

    def punch(self, rtp_probe: bytes, rtcp_probe: bytes) -> None:
        """UDP only: one packet to each of the camera's ports, so a NAT lets its media in."""
        if self.transport is Transport.UDP and self._udp is not None:
            self._udp.punch(rtp_probe, rtcp_probe)

    def send_rtcp(self, data: bytes) -> None:
        """An RTCP packet to the camera: its UDP port, or the interleaved RTCP channel."""
        if self.transport is Transport.UDP and self._udp is not None:
            self._udp.send_rtcp(data)
        elif self.transport is Transport.TCP and self._writer is not None \
                and not self._writer.is_closing() and not self.closed.is_set():
            self._writer.write(interleaved((self._rtp_channel + 1) & 0xFF, data))

    @property
    def foreign_datagrams(self) -> int:
        """UDP datagrams from someone other than the camera (dropped)."""
        return self._udp.foreign if self._udp is not None else 0

    def _rtcp_in(self, data: bytes, at: float) -> None:
        if self.on_rtcp is not None:
            self.on_rtcp(data, at)

    async def play(self) -> None:
        await self._checked("PLAY", self._base, {"Range": "npt=0.000-"})

    async def keepalive(self) -> None:
        """GET_PARAMETER, as cameras expect from a client that watches for a long time."""
        try:
            await self._request("GET_PARAMETER", self._base)
        except RtspError:
            pass  # the measurement notices a dead session by itself

    async def close(self) -> None:
        """TEARDOWN politely, then drop everything; never hangs. A cancellation that lands
        during the TEARDOWN (a second one, when close runs in a cancelled task's finally)
        cuts the TEARDOWN short but never the dropping: no reader task or socket outlives it."""
        try:
            if self._writer is not None and self._session and not self.closed.is_set():
                try:
                    async with asyncio.timeout(1.0):
                        await self._request("TEARDOWN", self._base)
                except (TimeoutError, RtspError, OSError):
                    pass
        finally:
            # dropped before any await, so a cancellation here cannot skip it
            if self._read_task is not None:
                self._read_task.cancel()
            if self._writer is not None:
                self._writer.close()
            if self._udp is not None:
                self._udp.close()
        if self._read_task is not None:
            await asyncio.gather(self._read_task, return_exceptions=True)

    async def _checked(self, method: str, uri: str, headers: dict[str, str] | None = None,
                       transport: Transport | None = None) -> Response:
        try:
            resp = await self._request(method, uri, headers)
            if resp.status == 401:
                resp = await self._retry_with_auth(resp, method, uri, headers)
        except RtspError as exc:
            exc.method = exc.method or method
            if exc.problem is Problem.CLOSED:
                exc.message = (f"{self.where} closed the connection during {method} without "
                               "answering: the camera may be rebooting or limit its clients; "
                               "try again in a minute")
            raise
        if resp.status >= 300:
            error = _status_error(method, resp, transport, self.url.username)
            error.method, error.status = method, resp.status
            raise error
        return resp

    async def _retry_with_auth(self, resp: Response, method: str, uri: str,
                               headers: dict[str, str] | None) -> Response:
        challenges = parse_challenges(resp.header_values("www-authenticate"))
        if self.url.username is None:
            raise RtspError(Problem.AUTH_NEEDED, "the camera wants a user name and password (401): "
                            "put user:pass@ in the URL or use --user/--password")
        if not challenges:
            raise RtspError(Problem.AUTH_REFUSED, "the camera answered 401 without an auth scheme "
                            "we know (Basic/Digest)")
        if challenges[0].scheme is AuthScheme.BASIC and not self.url.allow_basic_auth:
            raise RtspError(Problem.AUTH_REFUSED, "the camera asks for Basic auth, which sends the "
                            "password in clear text; we did not send it. If this really is the "
                            "camera, allow Basic auth in its profile (allow_basic_auth; "
                            "iocwall smoke --allow-basic)")
        self._auth = Authenticator(self.url.username, self.url.password or "", challenges[0])
        self.auth_scheme = self._auth.scheme
        return await self._request(method, uri, headers)

    async def _request(self, method: str, uri: str,
                       headers: dict[str, str] | None = None) -> Response:
        if self._writer is None or self.closed.is_set():
            raise RtspError(Problem.CLOSED, f"the camera closed the connection before {method}")
        self._cseq += 1
        cseq = self._cseq
        request = Request(method, uri, [("CSeq", str(cseq)), ("User-Agent", self.user_agent)])
        if self._auth is not None:
            request.headers.append(("Authorization", self._auth.header(method, uri)))
        if self._session:
            request.headers.append(("Session", self._session))
        request.headers += (headers or {}).items()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[cseq] = future
        self._writer.write(request.encode())
        try:
            await self._writer.drain()
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            raise RtspError(Problem.NO_ANSWER, f"{self.where} accepted the connection but did not "
                            f"answer {method} within {self.timeout:g} s: is this the camera's "
                            "RTSP port?") from None
        except (ConnectionError, OSError):
            raise RtspError(Problem.CLOSED,
                            f"the camera closed the connection during {method}") from None
        finally:
            self._pending.pop(cseq, None)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        # the one bounded reader (shared with the simulator's server side); answers are
        # read as latin-1, so any byte a camera sends in a header survives
        messages = MessageReader(parse_response, MAX_HEADER_BYTES, MAX_BODY_BYTES, "latin-1")
        error: RtspError | None = None
        try:
            while True:
                data = await self._reader.read(READ_BYTES)
                if not data:
                    self._ended(messages)
                messages.feed(data)
                now = time.monotonic()
                while (item := messages.take()) is not None:
                    if isinstance(item, Interleaved):
                        self._interleaved(item, now)
                    else:
                        self._deliver(item)
        except MessageError as exc:
            error = self._refused(exc)
        except RtspError as exc:
            error = exc
        except (ConnectionError, OSError):
            error = RtspError(Problem.CLOSED, "the camera closed the connection")
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error or RtspError(Problem.CLOSED, "connection closed"))

    def _interleaved(self, frame: Interleaved, at: float) -> None:
        if frame.channel == self._rtp_channel:
            self.on_packet(frame.data, at)
        elif frame.channel == self._rtp_channel + 1 and self.on_rtcp is not None:
            self.on_rtcp(frame.data, at)

    def _ended(self, messages: MessageReader[Response]) -> None:
        """The camera closed the connection: an answer it cut short is still read (an HTTP
        server's is how we know it is one); anything else left was not RTSP."""
        head = messages.unfinished_head()
        if head is not None and not head.startswith(("RTSP/", "HTTP/")):
            raise RtspError(Problem.NOT_RTSP, f"{self.where} closed the connection without an "
                            "RTSP answer: is this the camera's RTSP port?")
        if head is not None:
            self._deliver(parse_response(*split_head(head)))
        raise RtspError(Problem.CLOSED, "the camera closed the connection")

    def _refused(self, exc: MessageError) -> RtspError:
        if exc.fault is Fault.HTTP:
            return RtspError(Problem.HTTP, f"{self.where} answers HTTP, not RTSP: is this the "
                             "web port? RTSP is usually on 554")
        if exc.fault is Fault.HEAD_TOO_LARGE:
            return RtspError(Problem.NOT_RTSP, f"{self.where} sends something that is not RTSP: "
                             "is this the camera's RTSP port?")
        if exc.fault is Fault.BAD_LENGTH:
            return RtspError(Problem.NOT_RTSP, f"{self.where} sent a bad Content-Length")
        if exc.fault is Fault.BODY_TOO_LARGE:
            size = f"{exc.length}-byte" if exc.length is not None else "huge"
            return RtspError(Problem.TOO_BIG, f"{self.where} announced a {size} answer "
                             f"(our limit is {MAX_BODY_BYTES}): not a camera we can talk to")
        return RtspError(Problem.NOT_RTSP, f"{self.where} does not speak RTSP: is this the "
                         "camera's RTSP port?")

    def _deliver(self, resp: Response) -> None:
        cseq = resp.header("cseq")
        future = self._pending.get(int(cseq)) if cseq.isdigit() else None
        if future is None and len(self._pending) == 1:
            future = next(iter(self._pending.values()))  # some cameras drop CSeq on errors
        if future is not None and not future.done():
            future.set_result(resp)


def _status_error(method: str, resp: Response, transport: Transport | None,
                  user: str | None) -> RtspError:
    code = f"{resp.status} {resp.reason}".strip()
    if resp.status == 401:
        return RtspError(Problem.AUTH_REFUSED, f"the camera refused the credentials ({code}) for "
                         f"user '{user}': check --user/--password (some cameras lock the account "
                         "after a few failures)")
    if resp.status == 403:
        return RtspError(Problem.AUTH_REFUSED, f"the camera forbids this user the stream ({code}): "
                         "give the account live-view rights")
    if resp.status == 404:
        return RtspError(Problem.NOT_FOUND, f"stream path not found ({code}): check the path in "
                         "the URL, or use onvif:// to ask the camera for its stream URIs")
    if resp.status == 461 and transport is Transport.UDP:
        return RtspError(Problem.TRANSPORT, f"the camera refused RTP over UDP ({code}): "
                         "use --transport tcp")
    if resp.status == 454:
        return RtspError(Problem.CLOSED, f"the camera lost the session ({code}) during {method}")
    return RtspError(Problem.STATUS, f"the camera answered {method} with {code}")

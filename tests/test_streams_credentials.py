"""Camera credentials (issue 9): Basic only where the camera's profile allows it, MD5-sess
Digest that works, and no password in any repr.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import re

import pytest

from iocwall.streams.rtsp.errors import Problem, RtspError
from iocwall.streams.rtsp.rtsp_client import RtspClient
from iocwall.streams.urls import CameraUrl, parse
from tests.smoke_helpers import smoke

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "viewer", "S3cret-pw!"
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
       "a=rtpmap:96 H264/90000\r\na=control:track1\r\n")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def rfc2617_response(params: dict[str, str], method: str, password: str) -> str:
    """The Digest response as RFC 2617 3.2.2 defines it, written here from the RFC."""
    ha1 = _md5(f"{params['username']}:{params['realm']}:{password}")
    if params.get("algorithm", "").upper() == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{params['nonce']}:{params['cnonce']}")
    ha2 = _md5(f"{method}:{params['uri']}")
    if params.get("qop") == "auth":
        return _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    return _md5(f"{ha1}:{params['nonce']}:{ha2}")


class AuthCamera:
    """An RTSP server that asks for one auth scheme and checks it; records what it got."""

    def __init__(self, challenge: str) -> None:
        self.challenge = challenge
        self.authorizations: list[str] = []
        self.accepted: list[str] = []     # methods that passed
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    def _ok(self, method: str, header: str) -> bool:
        scheme, _, rest = header.partition(" ")
        if scheme == "Basic":
            return base64.b64decode(rest).decode() == f"{USER}:{PASSWORD}"
        if scheme == "Digest":
            params = {m[0]: m[1] or m[2]
                      for m in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', rest)}
            return params.get("response") == rfc2617_response(params, method, PASSWORD)
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                method = head.split(" ", 1)[0]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in head.split("\r\n")[1:] if line)}
                cseq = headers.get("cseq", "0")
                auth = headers.get("authorization", "")
                if auth:
                    self.authorizations.append(auth)
                if not self._ok(method, auth):
                    writer.write(f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                                 f"WWW-Authenticate: {self.challenge}\r\n\r\n".encode())
                elif method == "DESCRIBE":
                    self.accepted.append(method)
                    writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: "
                                 f"application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n"
                                 f"{SDP}".encode())
                else:
                    self.accepted.append(method)
                    writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _describe_and_options(url: CameraUrl) -> RtspClient:
    client = RtspClient(url, 3.0, lambda data, at: None)
    try:
        await client.connect()
        await client.describe()
        await client.options()
        await client.options()
    finally:
        await client.close()
    return client


async def test_a_camera_asking_for_basic_never_gets_the_password_unless_allowed():
    cam = AuthCamera('Basic realm="spoofed"')
    async with cam as port:
        url = parse(f"rtsp://127.0.0.1:{port}/x", USER, PASSWORD)
        with pytest.raises(RtspError) as caught:
            await _describe_and_options(url)
        assert caught.value.problem is Problem.AUTH_REFUSED
        assert "allow_basic_auth" in str(caught.value) and PASSWORD not in str(caught.value)
        assert cam.authorizations == [], "nothing was sent: the password stays with us"
        allowed = parse(f"rtsp://127.0.0.1:{port}/x", USER, PASSWORD, allow_basic_auth=True)
        client = await _describe_and_options(allowed)
    assert client.auth_scheme.value == "Basic" and cam.accepted == ["DESCRIBE", "OPTIONS",
                                                                   "OPTIONS"]


@pytest.mark.parametrize("qop", ['qop="auth", ', ""])
async def test_md5_sess_digest_is_accepted_on_every_request(qop: str):
    cam = AuthCamera(f'Digest realm="cam", nonce="5f1e2d", {qop}algorithm=MD5-sess, '
                     'opaque="abc"')
    async with cam as port:
        client = await _describe_and_options(parse(f"rtsp://127.0.0.1:{port}/x", USER, PASSWORD))
    assert client.auth_scheme.value == "Digest"
    assert cam.accepted == ["DESCRIBE", "OPTIONS", "OPTIONS"]
    cnonces = {re.search(r'cnonce="([^"]+)"', a)[1] for a in cam.authorizations}  # type: ignore[index]
    assert len(cnonces) == 1, "one client nonce per session, the one H(A1) was made with"


async def test_digest_is_chosen_over_basic_when_both_are_offered():
    cam = AuthCamera('Digest realm="cam", nonce="abc", algorithm=MD5')
    cam.challenge += '\r\nWWW-Authenticate: Basic realm="cam"'
    async with cam as port:
        client = await _describe_and_options(parse(f"rtsp://127.0.0.1:{port}/x", USER, PASSWORD,
                                                   allow_basic_auth=True))
    assert client.auth_scheme.value == "Digest"
    assert all(a.startswith("Digest ") for a in cam.authorizations)


def test_no_password_in_any_repr():
    from iocwall.streams.server import Camera
    from iocwall.wall.config import CameraConfig

    url = parse("rtsp://viewer:Url-Secret-1@192.0.2.1/s", transport="udp")
    cfg = CameraConfig(id="c1", name="C1", main_url="rtsp://192.0.2.1/s", username="viewer",
                       password="Cfg-Secret-2")
    cam = Camera.from_config(cfg)
    for obj in (url, cfg, cam, cam.urls["main"]):
        for text in (repr(obj), str(obj)):
            assert "Secret" not in text, text
    assert url.password == "Url-Secret-1" and cam.urls["main"].password == "Cfg-Secret-2"
    assert cfg.transport == "auto" and cfg.allow_basic_auth is False
    assert cam.urls["main"].allow_basic_auth is False


async def test_smoke_sends_basic_only_with_allow_basic():
    """`iocwall smoke` against a camera that asks for Basic only (run as a real subprocess)."""
    cam = AuthCamera('Basic realm="spoofed"')
    async with cam as port:
        target = f"rtsp://{USER}@127.0.0.1:{port}/x"
        env = {"IOCWALL_SMOKE_PASSWORD": PASSWORD}
        args = (target, "--json", "--transport", "tcp", "--seconds", "1", "--timeout", "2")
        refused = await asyncio.to_thread(smoke, *args, secret=PASSWORD, env=env)
        assert cam.authorizations == [], "the password never left without --allow-basic"
        allowed = await asyncio.to_thread(smoke, *args, "--allow-basic", secret=PASSWORD,
                                          env=env)
    auth = refused.rows("auth")
    assert auth and auth[0]["result"] == "FAIL", refused.report["rows"]
    assert "--allow-basic" in refused.stdout
    assert cam.authorizations and cam.authorizations[0].startswith("Basic ")
    assert allowed.rows("auth")[0]["value"] == "Basic"

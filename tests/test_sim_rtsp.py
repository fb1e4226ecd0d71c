"""RTSP protocol behaviour of the simulator: auth, sessions, many clients, hostile input."""
from __future__ import annotations

import base64
import re
import socket
import subprocess
import time

import pytest

from tests.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(120)


class RawRtsp:
    """A minimal hand-written RTSP client, to send exactly what a test needs."""

    def __init__(self, sim) -> None:
        self.sim = sim
        self.sock = socket.create_connection((sim.host, sim.rtsp_port), timeout=10)
        self.cseq = 0
        self.buffer = b""

    def url(self, path: str) -> str:
        return "*" if path == "*" else f"rtsp://{self.sim.host}:{self.sim.rtsp_port}{path}"

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                basic: bool = True) -> tuple[int, dict[str, str], bytes]:
        self.cseq += 1
        lines = [f"{method} {self.url(path)} RTSP/1.0", f"CSeq: {self.cseq}"]
        if basic:
            token = base64.b64encode(f"{self.sim.user}:{self.sim.password}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.response()

    def _strip_media(self) -> int:
        """Drop complete interleaved frames from the buffer start; returns their bytes."""
        total = 0
        while self.buffer.startswith(b"$") and len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[2:4], "big")
            if len(self.buffer) < 4 + size:
                break
            self.buffer = self.buffer[4 + size:]
            total += 4 + size
        return total

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while True:
            self._strip_media()
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0 and self.buffer.startswith(b"RTSP/"):
                head = self.buffer[:end].decode()
                headers = {}
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    headers.setdefault(k.strip().lower(), v.strip())
                length = int(headers.get("content-length", 0))
                if len(self.buffer) >= end + 4 + length:
                    body = self.buffer[end + 4:end + 4 + length]
                    self.buffer = self.buffer[end + 4 + length:]
                    return int(head.split(" ")[1]), headers, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk

    def read_media(self, seconds: float) -> int:
        """Bytes of interleaved media received within ``seconds``."""
        total, deadline = 0, time.monotonic() + seconds
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            self.buffer += chunk
            total += self._strip_media()
        self.sock.settimeout(10)
        return total

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(simulator):
    clients = []

    def make():
        client = RawRtsp(simulator)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def probe(url: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                           "stream=width", "-of", "csv=p=0", url],
                          capture_output=True, text=True, timeout=40)


def test_no_credentials_gets_401(simulator):
    out = probe(simulator.url(1, "sub", auth=False))
    assert out.returncode != 0 and "401" in out.stderr


def test_wrong_password_gets_401(simulator):
    out = probe(simulator.url(1, "sub", auth=False).replace("rtsp://", "rtsp://admin:wrong@"))
    assert out.returncode != 0 and "401" in out.stderr


def test_digest_via_ffprobe(simulator, raw):
    client = raw()
    status, headers, _ = client.request("DESCRIBE", "/cam1/sub", basic=False)
    assert status == 401 and "digest" in headers["www-authenticate"].lower()
    out = probe(simulator.url(1, "sub"))  # ffmpeg answers the Digest challenge
    assert out.returncode == 0 and out.stdout.strip() == "640"


def test_basic_auth_and_sdp(raw):
    status, headers, body = raw().request("DESCRIBE", "/cam1/main", {"Accept": "application/sdp"})
    sdp = body.decode()
    assert status == 200 and headers["content-type"] == "application/sdp"
    assert "a=rtpmap:96 H264/90000" in sdp and "packetization-mode=1" in sdp
    assert re.search(r"profile-level-id=(64|4d)[0-9a-f]{4}", sdp)   # one case, as streams.h264
    assert "sprop-parameter-sets=Z" in sdp and "a=control:trackID=0" in sdp


def test_full_session_tcp_with_rtp_info_pause_teardown(raw):
    c = raw()
    status, headers, _ = c.request("SETUP", "/cam2/sub/trackID=0",
                                   {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    assert status == 200 and "interleaved=0-1" in headers["transport"]
    session = headers["session"].split(";")[0]
    assert "timeout=" in headers["session"]
    status, headers, _ = c.request("PLAY", "/cam2/sub/", {"Session": session, "Range": "npt=0-"})
    assert status == 200 and re.search(r"seq=\d+;rtptime=\d+", headers["rtp-info"])
    assert c.read_media(2.5) > 10_000
    assert c.request("GET_PARAMETER", "/cam2/sub/", {"Session": session})[0] == 200
    assert c.request("PAUSE", "/cam2/sub/", {"Session": session})[0] == 200
    c.read_media(0.5)  # drain what was in flight
    assert c.read_media(1.5) < 2000
    assert c.request("TEARDOWN", "/cam2/sub/", {"Session": session})[0] == 200
    assert c.request("PLAY", "/cam2/sub/", {"Session": session})[0] == 454


@pytest.mark.parametrize("target", ["/", "*", ""])
def test_pause_and_teardown_by_session_on_the_aggregate_url(raw, target: str):
    """Clients end a session with PAUSE then TEARDOWN sent to the aggregate URL (or '*'):
    the Session header names the stream."""
    c = raw()
    status, headers, _ = c.request("SETUP", "/cam3/sub/trackID=0",
                                   {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    session = headers["session"].split(";")[0]
    assert c.request("PLAY", target, {"Session": session})[0] == 200
    assert c.read_media(1.0) > 2000
    assert c.request("PAUSE", target, {"Session": session})[0] == 200
    c.read_media(0.5)  # drain what was in flight
    assert c.read_media(1.0) < 2000
    assert c.request("PAUSE", target, {"Session": session})[0] == 200       # twice: still fine
    assert c.request("TEARDOWN", target, {"Session": session})[0] == 200
    assert c.request("PAUSE", target, {"Session": session})[0] in (404, 454)  # gone
    assert c.request("PAUSE", target, {"Session": session}, basic=False)[0] in (404, 454)
    assert raw().request("PAUSE", "/", {"Session": "nope"})[0] == 404


def test_session_requests_on_the_aggregate_url_still_need_auth(raw):
    c = raw()
    status, headers, _ = c.request("SETUP", "/cam3/sub/trackID=0",
                                   {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    session = headers["session"].split(";")[0]
    assert c.request("PAUSE", "*", {"Session": session}, basic=False)[0] == 401


def test_many_clients_share_a_stream(simulator):
    procs = [subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", t, "-i",
                               simulator.url(4, "sub"), "-t", "4", "-f", "null", "-"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for t in ("tcp", "tcp", "udp", "udp", "tcp")]
    try:
        time.sleep(3)
        viewers = simulator.stats()["sources"]["cam4/sub"]["viewers"]
        results = [p.communicate(timeout=40) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert viewers == 5
    assert all(p.returncode == 0 for p in procs) and all(err == "" for _, err in results), results


@pytest.mark.parametrize("garbage", [
    b"\x00\xff\x13garbage\r\n\r\n",
    b"HELLO WORLD\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n",
    b"DESCRIBE rtsp://x/cam1/main RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -5\r\n\r\n",
    b"DESCRIBE rtsp://x/cam1/main RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n",
    b"DESCRIBE rtsp://x/cam1/main RTSP/1.0\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
    b"SETUP rtsp://x/cam1/main RTSP/1.0\r\nCSeq: 2\r\nnot a header\r\n\r\n",
])
def test_hostile_input_gets_an_error_and_server_lives(simulator, raw, garbage):
    c = raw()
    c.send_raw(garbage)
    status, _, _ = c.response()
    assert 400 <= status < 600
    assert probe(simulator.url(1, "sub")).returncode == 0


def test_unknown_method_path_and_transport(raw):
    c = raw()
    assert c.request("BREW", "/cam1/main")[0] == 501
    assert c.request("DESCRIBE", "/cam99/main")[0] == 404
    assert c.request("DESCRIBE", "/nothing")[0] == 404
    assert c.request("SETUP", "/cam1/main/trackID=0", {"Transport": "RTP/AVP;multicast"})[0] == 461
    assert c.request("PLAY", "/cam1/main", {"Session": "nope"})[0] == 454


def test_udp_session_of_vanished_client_is_reaped(simulator_factory):
    sim = simulator_factory(cameras=1, extra=["--session-timeout", "3"])
    c = RawRtsp(sim)
    status, headers, _ = c.request("SETUP", "/cam1/sub/trackID=0",
                                   {"Transport": "RTP/AVP;unicast;client_port=40000-40001"})
    assert status == 200 and "server_port=" in headers["transport"]
    session = headers["session"].split(";")[0]
    assert c.request("PLAY", "/cam1/sub/", {"Session": session})[0] == 200
    c.close()  # vanish: no TEARDOWN, no RTCP receiver reports
    time.sleep(1)              # time passing is the test: a silent UDP client is not reaped at once
    assert sim.stats()["sessions"] == 1
    wait_until_sync(lambda: not sim.stats()["sessions"], 10, "the silent session reaped", step=0.5)
    stats = sim.stats()
    assert stats["sessions"] == 0 and stats["sessions_reaped"] == 1
    assert stats["sources"]["cam1/sub"]["viewers"] == 0


def test_tcp_client_killed_is_cleaned_up_at_once(simulator):
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i",
                             simulator.url(3, "sub"), "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def viewers() -> int:
            return simulator.stats()["sources"]["cam3/sub"]["viewers"]
        wait_until_sync(lambda: viewers() >= 1, 15, "ffmpeg viewing cam3/sub", step=0.3)
        assert viewers() == 1
    finally:
        proc.kill()
        proc.wait()
    # "at once": gone within 1.5 s of the kill
    wait_until_sync(lambda: viewers() == 0, 1.5, "the killed client's viewer gone", step=0.1)


def test_half_sent_request_is_closed_after_the_timeout(simulator_factory):
    sim = simulator_factory(cameras=1, extra=["--session-timeout", "2"])
    c = RawRtsp(sim)
    c.send_raw(b"OPTIONS rtsp://127.0.0.1/cam1/main RTSP/1.0\r\nCSeq: 1\r\n")  # never finished
    c.sock.settimeout(8)
    started = time.monotonic()
    assert c.sock.recv(100) == b""  # the server closed it
    assert 1.5 < time.monotonic() - started < 7
    c.close()
    assert probe(sim.url(1, "sub")).returncode == 0


def test_live_udp_client_keeps_its_session_alive(simulator_factory):
    """ffmpeg over UDP sends keep-alives (GET_PARAMETER / RTCP RR): a short timeout spares it."""
    sim = simulator_factory(cameras=1, extra=["--session-timeout", "3"])
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp", "-i",
                          sim.url(1, "sub"), "-t", "8", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert sim.stats()["sessions_reaped"] == 0

"""Debian's ``onvif-util`` (libonvif, package onvif-tools) against the simulator, for real:
multicast WS-Discovery inside two network namespaces this test creates and removes (joined
by a veth pair; nothing leaves them), then a logged-in session that lists the profiles and
asks for stream URIs, and ffprobe plays the URI it gave. libonvif keeps one WS-Security
nonce for its whole session (a new Created each request, sometimes two requests in one
millisecond): the simulator must accept that, as common cameras do."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.fixtures.netns import CAMERA_ADDR, Link
from tests.fixtures.netns_sim import namespaces, simulator_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

USER, PASSWORD = "admin", "Util-pass-9"


@pytest.fixture
def netns() -> Iterator[Link]:
    with namespaces() as link:
        yield link


@pytest.fixture
def camera(netns: Link) -> Iterator[Link]:
    with simulator_in(netns, USER, PASSWORD):
        yield netns


def _in_server_ns(link: Link, argv: list[str], stdin: str | None = None,
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", link.server_ns, *argv], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_onvif_util_discovers_reads_profiles_and_gets_a_uri_that_plays(camera: Link) -> None:
    assert shutil.which("onvif-util"), "onvif-util is missing: apt-get install onvif-tools"
    assert shutil.which("ffprobe"), "ffprobe is missing: apt-get install ffmpeg"
    # the server namespace has no default route: multicast goes out of its veth end only
    route = _in_server_ns(camera, ["ip", "route", "add", "224.0.0.0/4", "dev",
                                   camera.server_if])
    assert route.returncode == 0, route.stderr

    # onvif-util listens for answers for a fixed short time: on a loaded machine the first
    # probe can end before the simulator answers, so a technician (and this test) asks again
    for _ in range(3):
        found = _in_server_ns(camera, ["onvif-util", "-a"])
        if "Found 1 cameras" in found.stdout:
            break
    assert found.returncode == 0, found.stdout + found.stderr
    assert "Found 1 cameras" in found.stdout, found.stdout
    assert f"{CAMERA_ADDR} " in found.stdout and "iocwall simulator" in found.stdout

    # one session, one nonce: device information, profiles, two stream URIs
    session = _in_server_ns(
        camera, ["onvif-util", "-u", USER, "-p", PASSWORD, CAMERA_ADDR],
        stdin="get profiles\nget rtsp\nget rtsp pass 1\nquit\n")
    out = session.stdout
    assert session.returncode == 0, out + session.stderr
    assert "successfully connected to host" in out, out
    assert "ERROR" not in out and "NotAuthorized" not in out, out
    tokens = re.findall(r"Token \d+: (\S+)", out)
    assert tokens == ["cam1_main", "cam1_sub", "cam2_main", "cam2_sub"], out
    assert f"rtsp://{CAMERA_ADDR}:8554/cam1/main" in out, out
    uri = f"rtsp://{USER}:{PASSWORD}@{CAMERA_ADDR}:8554/cam1/sub"
    assert uri in out, out

    probe = _in_server_ns(camera, ["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                                   "-show_streams", "-of", "json", uri], timeout=30)
    assert probe.returncode == 0, probe.stderr
    streams = json.loads(probe.stdout)["streams"]
    assert [s["codec_name"] for s in streams if s["codec_type"] == "video"] == ["h264"]

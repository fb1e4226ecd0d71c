"""WS-Discovery by real multicast, inside two network namespaces this test creates and
removes (joined by a veth pair; nothing leaves them): the simulator listens on its veth
address, joins 239.255.255.250 and advertises its own address; a server in the other
namespace finds it on the interface it is told, reads it over ONVIF, registers its camera
and plays it; then a person does the same in Chromium (run inside that namespace too)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fixtures.browser import CHROMIUM
from tests.fixtures.netns import CAMERA_ADDR, Link
from tests.fixtures.netns_sim import namespaces, simulator_in
from tests.fixtures.simulator import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SIM_ADDR = CAMERA_ADDR
USER, PASSWORD = "admin", "Netns-pass-7"


@pytest.fixture
def netns() -> Iterator[Link]:
    """The two namespaces and their veth pair, from the shared fixture (also the lossy
    camera link's); removed at the end."""
    with namespaces() as link:
        yield link


def _in_ns(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def test_the_simulator_is_found_by_multicast_and_registered(netns: Link) -> None:
    with simulator_in(netns, USER, PASSWORD):
        client = subprocess.run(
            _in_ns(netns.server_ns, [sys.executable, "-m", "tests.registry_netns_client",
                                "--interface", netns.server_if, "--user", USER,
                                "--password", PASSWORD,
                                *(["--browser"] if os.path.exists(CHROMIUM) else [])]),
            cwd=REPO, capture_output=True, text=True, timeout=150, check=False)
    result_lines = [ln for ln in client.stdout.splitlines() if ln.startswith("RESULT ")]
    assert client.returncode == 0 and result_lines, client.stdout[-3000:] + client.stderr[-3000:]
    result = json.loads(result_lines[-1].removeprefix("RESULT "))
    devices = result["discover"]["devices"]
    assert [d["onvif"] for d in devices] == [f"{SIM_ADDR}:8000"], result["discover"]
    assert devices[0]["xaddrs"] == [f"http://{SIM_ADDR}:8000/onvif/device_service"]
    form = result["read"]["form"]
    assert form["rtsp_main"] == f"rtsp://{SIM_ADDR}:8554/cam1/main"
    assert form["rtsp_sub"] == f"rtsp://{SIM_ADDR}:8554/cam1/sub"
    assert result["created"]["id"] == "da-nang-1"
    assert result["whep_status"] == 201 and result["first_frame_s"] < 10
    assert PASSWORD not in client.stdout + client.stderr
    if os.path.exists(CHROMIUM):           # the same through the page, in the namespace too
        page = result["browser"]
        assert page["found"] == f"{SIM_ADDR}:8000"
        assert page["rows"] == ["da-nang-1", "da-nang-2"]
        assert page["password_on_page"] is False

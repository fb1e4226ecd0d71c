"""WS-Discovery by real multicast, inside two network namespaces this test creates and
removes (joined by a veth pair; nothing leaves them): the simulator listens on its veth
address, joins 239.255.255.250 and advertises its own address; a server in the other
namespace finds it on the interface it is told, reads it over ONVIF, registers its camera
and plays it; then a person does the same in Chromium (run inside that namespace too)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fixtures.browser import CHROMIUM
from tests.fixtures.simulator import CACHE, REPO, _command

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SIM_ADDR, WALL_ADDR = "10.231.0.1", "10.231.0.2"
USER, PASSWORD = "admin", "Netns-pass-7"


@dataclass
class Netns:
    sim: str
    wall: str
    sim_if: str
    wall_if: str


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False,
                          timeout=20)


@pytest.fixture
def netns() -> Iterator[Netns]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed: cannot make network namespaces")
    tag = str(os.getpid() % 100000)
    ns = Netns(f"iocw-sim-{tag}", f"iocw-wall-{tag}", f"vsim{tag}", f"vwall{tag}")
    made = _ip("netns", "add", ns.sim)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace here (needs root/CAP_SYS_ADMIN): "
                    f"{made.stderr.strip()}")
    try:
        steps = [
            ("netns", "add", ns.wall),
            ("link", "add", ns.sim_if, "type", "veth", "peer", "name", ns.wall_if),
            ("link", "set", ns.sim_if, "netns", ns.sim),
            ("link", "set", ns.wall_if, "netns", ns.wall),
            ("-n", ns.sim, "addr", "add", f"{SIM_ADDR}/24", "dev", ns.sim_if),
            ("-n", ns.wall, "addr", "add", f"{WALL_ADDR}/24", "dev", ns.wall_if),
            ("-n", ns.sim, "link", "set", ns.sim_if, "up"),
            ("-n", ns.wall, "link", "set", ns.wall_if, "up"),
            ("-n", ns.sim, "link", "set", "lo", "up"),
            ("-n", ns.wall, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr}"
        yield ns
    finally:
        for name in (ns.sim, ns.wall):          # deleting a namespace removes its veth end
            _ip("netns", "del", name)


def _in_ns(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def test_the_simulator_is_found_by_multicast_and_registered(netns: Netns) -> None:
    sim = subprocess.Popen(
        _in_ns(netns.sim, [*_command(), "sim", "--host", SIM_ADDR, "--cameras", "2",
                           "--rtsp-port", "8554", "--onvif-port", "8000", "--http-port", "8001",
                           "--discovery-port", "3702", "--user", USER, "--password", PASSWORD,
                           "--cache-dir", str(CACHE)]),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()
    lines: list[str] = []

    def pump() -> None:
        assert sim.stdout is not None
        for line in sim.stdout:
            lines.append(line.rstrip())
            if line.strip() == "READY":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(180), "simulator did not start:\n" + "\n".join(lines[-30:])
        client = subprocess.run(
            _in_ns(netns.wall, [sys.executable, "-m", "tests.registry_netns_client",
                                "--interface", netns.wall_if, "--user", USER,
                                "--password", PASSWORD,
                                *(["--browser"] if os.path.exists(CHROMIUM) else [])]),
            cwd=REPO, capture_output=True, text=True, timeout=150, check=False)
    finally:
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait(5)
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

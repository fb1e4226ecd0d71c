"""Faults on demand and the ground truth of the simulator's HTTP control."""
from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import datetime

import pytest

from iocwall.onvif.client import probe_device
from tests.test_sim_rtsp import RawRtsp, probe
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(240)


def _playing(sim, camera: int, stream: str = "sub") -> RawRtsp:
    c = RawRtsp(sim)
    status, headers, _ = c.request("SETUP", f"/cam{camera}/{stream}/trackID=0",
                                   {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    assert status == 200
    c.session = headers["session"].split(";")[0]
    assert c.request("PLAY", f"/cam{camera}/{stream}/", {"Session": c.session})[0] == 200
    return c


def test_drop_closes_client_connections(simulator):
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i",
                             simulator.url(1, "sub"), "-t", "60", "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_sync(lambda: simulator.stats()["sources"]["cam1/sub"]["viewers"] == 1, 15,
                        "one viewer on cam1/sub", 0.5)
        simulator.fault(1, "drop")
        proc.wait(timeout=20)  # ffmpeg notices the closed connection long before its 60 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert simulator.stats()["sources"]["cam1/sub"]["viewers"] == 0
    assert probe(simulator.url(1, "sub")).returncode == 0  # a drop is not an outage


def test_stall_keeps_socket_but_sends_nothing(simulator):
    c = _playing(simulator, 2)
    try:
        assert c.read_media(1.5) > 5000
        simulator.fault(2, "stall")
        c.read_media(0.3)
        assert c.read_media(1.5) == 0
        assert c.request("GET_PARAMETER", "/cam2/sub/", {"Session": c.session})[0] == 200
        simulator.fault(2, "clear")
        assert c.read_media(2.5) > 5000  # resumes at the next keyframe
    finally:
        c.close()


def test_corrupt_burst_is_seen_by_decoder_then_recovers(simulator):
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i",
                             simulator.url(3, "sub"), "-t", "8", "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_sync(lambda: simulator.stats()["sources"]["cam3/sub"]["viewers"] == 1, 15,
                        "one viewer on cam3/sub", 0.5)
        # clean pictures first, so the decoder is running when the burst comes
        def sent() -> int:
            return simulator.stats()["sources"]["cam3/sub"]["frames_sent"]
        before = sent()
        wait_until_sync(lambda: sent() >= before + 10, 15, "ten clean frames to the viewer", 0.2)
        body = simulator.fault(3, "corrupt", seconds=1.5)
        assert body["faults"]["cam3"][0]["fault"] == "corrupt"
        _, errors = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert errors.strip(), "the decoder saw no damage"
    assert probe(simulator.url(3, "sub")).returncode == 0


def test_reboot_makes_camera_unreachable_for_a_while(simulator):
    simulator.fault(4, "reboot", seconds=4)
    started = time.monotonic()
    out = probe(simulator.url(4, "sub"))
    assert out.returncode != 0
    assert probe(simulator.url(1, "sub")).returncode == 0  # the other cameras still answer
    wait_until_sync(lambda: probe(simulator.url(4, "sub")).returncode == 0, 20,
                    "cam4/sub probes", 1.0)
    assert time.monotonic() - started >= 3.5


def test_reject_auth_then_clear(simulator):
    simulator.fault(2, "reject_auth")
    out = probe(simulator.url(2, "sub"))
    assert out.returncode != 0 and "401" in out.stderr
    assert simulator.http("GET", "/faults")[1]["faults"]["cam2"][0]["fault"] == "reject_auth"
    simulator.fault(2, "clear")
    assert probe(simulator.url(2, "sub")).returncode == 0


def test_resolution_change_shows_in_describe(simulator):
    simulator.fault(1, "resolution", width=960, height=544)

    def width() -> str:
        return probe(simulator.url(1, "main")).stdout.strip()

    wait_until_sync(lambda: width() == "960", 150, "main stream switched to 960x544", 2.0)
    assert simulator.truth()["cameras"]["cam1"]["counters"][0]["zone"][2] < 400
    simulator.fault(1, "clear")
    wait_until_sync(lambda: width() == "1920", 30, "main stream back to 1920", 1.0)


def test_timed_resolution_change_ends_by_itself(simulator):
    simulator.fault(1, "resolution", width=960, height=544, seconds=4)

    def width() -> str:
        return probe(simulator.url(1, "main")).stdout.strip()

    wait_until_sync(lambda: width() == "960", 150, "main stream switched to 960x544", 1.0)
    wait_until_sync(lambda: width() == "1920", 60, "main stream back to 1920 after expiry", 1.0)


def test_onvif_profile_keeps_the_configured_size_during_a_resolution_fault(simulator):
    simulator.fault(1, "resolution", width=960, height=544)
    wait_until_sync(lambda: probe(simulator.url(1, "main")).stdout.strip() == "960", 150,
                    "cam1/main probed at 960 wide", 2.0)
    report = asyncio.run(probe_device("127.0.0.1", simulator.onvif_port, simulator.user,
                                      simulator.password))
    main = next(p for p in report.profiles if p.token == "cam1_main")
    assert (main.width, main.height) == (1920, 1080)


@pytest.mark.parametrize("body,needle", [
    ({"camera": "cam9", "fault": "drop"}, "unknown camera"),
    ({"camera": "cam1", "fault": "explode"}, "unknown fault"),
    ({"camera": "cam1", "fault": "stall", "seconds": -1}, "seconds"),
    ({"camera": "cam1", "fault": "stall", "seconds": "soon"}, "seconds"),
    ({"camera": "cam1", "fault": "resolution", "width": 100}, "width"),
    ({"camera": "cam1"}, "required"),
    ({"camera": "cam1", "fault": "drop", "color": "red"}, "unknown field"),
    ([1, 2], "JSON object"),
])
def test_bad_fault_requests_get_400_with_a_message(simulator, body, needle):
    status, answer = simulator.http("POST", "/faults", body)
    assert status == 400 and needle in answer["error"]
    assert simulator.http("GET", "/faults")[1] == {"faults": {}}


def test_unknown_path_and_bad_json(simulator):
    import urllib.error
    import urllib.request

    assert simulator.http("GET", "/nope")[0] == 404
    assert simulator.http("DELETE", "/truth")[0] == 405
    request = urllib.request.Request(f"http://127.0.0.1:{simulator.http_port}/faults",
                                     data=b"{oops", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400 and "JSON" in json.loads(err.value.read())["error"]


def test_truth_is_consistent_and_changes(simulator):
    first = simulator.truth()["cameras"]
    assert sorted(first) == ["cam1", "cam2", "cam3", "cam4"]
    for cam in first.values():
        assert cam["time"].endswith("+07:00")
        assert cam["total"] == sum(c["count"] for c in cam["counters"])
        for counter in cam["counters"]:
            x, y, w, h = counter["zone"]
            assert counter["count"] >= 0 and 0 <= x and 0 <= y and x + w <= 1920 and y + h <= 1080
    snapshots = [first]
    for _ in range(4):
        time.sleep(1.5)
        snapshots.append(simulator.truth()["cameras"])
    assert snapshots[-1]["cam1"]["frame"] > first["cam1"]["frame"] + 100
    counts = {json.dumps([c["count"] for c in s[k]["counters"]]) for s in snapshots for k in s}
    assert len(counts) > 2, "the ground truth never changes"


def test_fault_flag_and_truth_file(simulator_factory, tmp_path):
    truth = tmp_path / "truth.jsonl"
    sim = simulator_factory(cameras=1, extra=["--fault", "cam1:reject_auth",
                                              "--truth-file", str(truth)])
    assert "401" in probe(sim.url(1, "sub")).stderr
    wait_until_sync(lambda: truth.exists() and len(truth.read_text().splitlines()) >= 2, 10,
                    "two truth lines", 0.5)
    line = json.loads(truth.read_text().splitlines()[0])
    assert "cam1" in line["cameras"] and len(line["cameras"]["cam1"]["counters"]) == 4


def test_bad_command_line_gets_one_clear_line():
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "iocwall"
    cases = ([["--cameras", "0"], "--cameras"], [["--fault", "cam1:boom"], "unknown fault"],
             [["--fault", "camX"], "camK:KIND"], [["--password", "x"], "--user"])
    for args, needle in cases:
        out = subprocess.run([str(exe), "sim", *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr


def test_port_in_use_gets_one_clear_line(tmp_path):
    import socket
    import sys
    from pathlib import Path

    from tests.fixtures.ports import free_ports
    from tests.fixtures.simulator import CACHE

    exe = Path(sys.executable).parent / "iocwall"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        onvif, http = free_ports(2)
        out = subprocess.run([str(exe), "sim", "--cameras", "1", "--rtsp-port",
                              str(busy.getsockname()[1]), "--onvif-port", str(onvif),
                              "--http-port", str(http), "--cache-dir", str(CACHE)],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "cannot listen" in out.stderr
    assert "Traceback" not in out.stderr and "READY" not in out.stdout


def test_truth_at_a_past_moment_is_the_frame_shown_then(simulator):
    """/truth?at= answers for a counted frame's capture time, so a count is judged against
    its own frame; out of range or not a number is a 400."""
    now = simulator.truth()["cameras"]["cam1"]
    at = datetime.fromisoformat(now["time"]).timestamp() - 2.0
    status, body = simulator.http("GET", f"/truth?at={at}")
    past = body["cameras"]["cam1"]
    assert status == 200
    assert abs(datetime.fromisoformat(past["time"]).timestamp() - at) < 0.01
    assert now["frame"] - 25 * 2 - 3 <= past["frame"] <= now["frame"] - 25 * 2 + 3
    assert simulator.http("GET", "/truth?at=nope")[0] == 400
    assert simulator.http("GET", f"/truth?at={at - 3600}")[0] == 400

"""Each simulator fault makes `iocwall smoke` fail with its own one-line reason."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.smoke_helpers import SmokeRun, smoke


def _later(seconds: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def _failed(run: SmokeRun, reason: str) -> None:
    assert run.code == 1, run.stdout
    assert reason in run.summary_line, run.summary_line


def test_stall_before_play(simulator: Any) -> None:
    simulator.fault(1, "stall", seconds=10)
    run = smoke(simulator.url(1, "sub"), "--transport", "tcp", "--seconds", "2", "--timeout", "2",
                secret=simulator.password)
    _failed(run, "stream stalled after 0.0 s: PLAY was accepted but no video came")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_stall_mid_stream(simulator: Any, transport: str) -> None:
    timer = _later(2.5, lambda: simulator.fault(1, "stall", seconds=10))
    try:
        run = smoke(simulator.url(1, "sub"), "--transport", transport, "--seconds", "6",
                    secret=simulator.password)
    finally:
        timer.cancel()
    _failed(run, "stream stalled after")
    match = re.search(r"stalled after (\d+\.\d) s: no packets for (\d+\.\d) s while the "
                      r"connection stayed open", run.summary_line)
    assert match and float(match.group(1)) > 0.5 and float(match.group(2)) >= 2.0, run.summary_line


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_drop_mid_stream(simulator: Any, transport: str) -> None:
    timer = _later(2.5, lambda: simulator.fault(1, "drop"))
    try:
        run = smoke(simulator.url(1, "sub"), "--transport", transport, "--seconds", "6",
                    secret=simulator.password)
    finally:
        timer.cancel()
    _failed(run, "the camera closed the connection after")


def test_corrupt_burst_is_counted(simulator: Any) -> None:
    simulator.fault(1, "corrupt", seconds=4)
    run = smoke(simulator.url(1, "main"), "--transport", "tcp", "--seconds", "2", "--json",
                secret=simulator.password)
    row = run.rows("corruption")[0]
    assert row["result"] in ("FAIL", "WARN"), row
    bad_packets = int(row["value"].split()[0])
    assert bad_packets > 0 or "damaged" in row["value"], row
    if row["result"] == "FAIL":
        assert run.code == 1 and "corrupt video:" in run.report["summary"]["reason"]


def test_reboot_makes_the_camera_unreachable(simulator: Any) -> None:
    simulator.fault(1, "reboot", seconds=4)
    started = time.monotonic()
    try:
        run = smoke(simulator.url(1, "main"), "--seconds", "1", secret=simulator.password)
        _failed(run, "closed the connection during OPTIONS without answering: "
                     "the camera may be rebooting")
        onvif = f"onvif://{simulator.user}:{simulator.password}@127.0.0.1:{simulator.onvif_port}"
        run = smoke(onvif, "--seconds", "1", secret=simulator.password)
        _failed(run, f"nothing listens on 127.0.0.1:{simulator.onvif_port}")
    finally:
        time.sleep(max(0.0, 4.5 - (time.monotonic() - started)))  # let it come back


def test_reject_auth(simulator: Any) -> None:
    simulator.fault(1, "reject_auth", seconds=10)
    run = smoke(simulator.url(1, "main"), "--seconds", "1", secret=simulator.password)
    _failed(run, "the camera refused the credentials (401")


def test_resolution_change_against_onvif_profile(simulator_factory: Any) -> None:
    # The fault makes the camera send 1280x720 while its ONVIF profile (its configuration)
    # still says 1920x1080: the smoke test must catch the mismatch.
    sim = simulator_factory(cameras=1, extra=["--fault", "cam1:resolution"])
    onvif = f"onvif://{sim.user}:{sim.password}@127.0.0.1:{sim.onvif_port}"
    run = smoke(onvif, "--transport", "tcp", "--seconds", "2", secret=sim.password)
    _failed(run, "stream is 1280x720 but the ONVIF profile says 1920x1080")

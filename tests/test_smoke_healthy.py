"""`iocwall smoke` against a healthy simulated camera: every check passes, the figures are sane."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.smoke_helpers import smoke

ISO_VN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+07:00$")
EXPECTED = {"main": ("1920x1080", 25.0), "sub": ("640x360", 15.0)}


@pytest.mark.parametrize("stream", ["main", "sub"])
def test_healthy_stream_passes_over_tcp_and_udp(simulator, stream: str) -> None:
    run = smoke(simulator.url(1, stream), "--json", "--seconds", "2", secret=simulator.password)
    assert run.code == 0, run.stdout
    report = run.report
    assert report["summary"]["fail"] == 0 and report["summary"]["result"] in ("PASS", "WARN")
    assert simulator.password not in report["target"]
    assert report["target"].endswith(f"/cam1/{stream}")
    assert ISO_VN.match(report["started"]) and ISO_VN.match(report["finished"])
    size, fps = EXPECTED[stream]
    for transport in ("TCP", "UDP"):
        def one(check: str, transport: str = transport) -> dict[str, str]:
            rows = run.rows(check, f"{stream} {transport}")
            assert len(rows) == 1, (check, transport, report["rows"])
            return rows[0]

        assert one("reachability")["result"] == "PASS"
        assert one("rtsp_handshake")["result"] == "PASS"
        assert one("auth")["value"] in ("Digest", "Basic")
        assert one("codec")["value"].startswith("H.264 ")
        assert one("codec")["value"].split(",")[0] in ("H.264 Main", "H.264 High")
        assert one("resolution") == {**one("resolution"), "result": "PASS", "value": size}
        measured = float(one("fps")["value"].split()[0])
        assert abs(measured - fps) < fps * 0.2, one("fps")
        assert one("keyframe_interval")["result"] in ("PASS", "WARN")
        assert one("timestamps")["result"] == "PASS"
        assert one("packet_loss")["result"] == "PASS"
        assert one("corruption")["result"] == "PASS"
        assert one("continuity")["result"] == "PASS"
        assert one("time_to_first_frame")["result"] == "PASS"
        latency = one("latency")
        assert latency["result"] == "PASS", latency
        p50, p95 = (float(x) for x in re.findall(r"p(?:50|95) (-?\d+) ms", latency["value"]))
        assert 0 <= p50 <= p95 < 500  # loop mode: the stamp is the send time, so this is transit


def test_table_is_aligned_bilingual_and_shows_progress(simulator: Any) -> None:
    run = smoke(simulator.url(1, "sub"), "--transport", "tcp", "--seconds", "2",
                secret=simulator.password)
    assert run.code == 0, run.stdout
    lines = run.stdout.splitlines()
    header = next(ln for ln in lines if ln.startswith("Luồng / Stream"))
    for title in ("Kiểm tra / Check", "Kết quả / Result", "Giá trị / Value", "Gợi ý / Hint"):
        assert title in header
    col = header.index("Kết quả / Result")
    body = [ln for ln in lines if ln.startswith("sub TCP")]
    assert len(body) >= 12
    assert all(ln[col:col + 4] in ("PASS", "WARN", "SKIP") for ln in body), body
    assert any("Độ trễ / Glass-to-glass" in ln for ln in body)
    assert run.summary_line.startswith(("Tổng kết / Summary: PASS", "Tổng kết / Summary: WARN"))
    assert "measuring sub over TCP… 1/2 s" in run.stderr


def test_credentials_from_options_and_environment(simulator: Any) -> None:
    url = simulator.url(1, "sub", auth=False)
    run = smoke(url, "--user", simulator.user, "--transport", "udp", "--seconds", "1", "--json",
                env={"IOCWALL_SMOKE_PASSWORD": simulator.password}, secret=simulator.password)
    assert run.code == 0, run.stdout
    assert run.rows("auth")[0]["result"] == "PASS"
    run = smoke(url, "--user", simulator.user, "--password", simulator.password, "--transport",
                "tcp", "--seconds", "1", secret=simulator.password)
    assert run.code == 0, run.stdout


def test_onvif_target_checks_device_profiles_and_each_stream(
        simulator_factory: Any) -> None:
    simulator = simulator_factory(cameras=1)  # one camera: two profiles keep the test short
    target = f"onvif://{simulator.user}:{simulator.password}@127.0.0.1:{simulator.onvif_port}"
    run = smoke(target, "--json", "--seconds", "2", secret=simulator.password)
    assert run.code == 0, run.stdout
    device = run.rows("onvif_device")[0]
    assert device["result"] == "PASS" and device["value"]
    profiles = run.rows("onvif_profiles")[0]
    assert profiles["result"] == "PASS" and "1920x1080" in profiles["value"]
    assert "640x360" in profiles["value"]
    assert run.rows("clock_skew")[0]["result"] == "PASS"
    matches = run.rows("profile_match")
    assert len(matches) == 4 and all(m["result"] == "PASS" for m in matches), matches  # 2 x TCP/UDP
    sizes = {r["value"] for r in run.rows("resolution")}
    assert {"1920x1080", "640x360"} <= sizes
    assert run.report["target"] == f"onvif://127.0.0.1:{simulator.onvif_port}"

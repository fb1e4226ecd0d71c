"""`iocwall demo` as a user runs it: the printed block, secrets, bad input, Ctrl+C."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD, CAMERA_PASSWORD, RunningDemo, login
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def run_demo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iocwall.wall.cli", "demo", "--no-browser", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_demo_prints_console_block_and_no_secret(demo):
    out = demo.output
    assert demo.live_url == f"http://127.0.0.1:{demo.port}/live"
    for label in ("User / Tài khoản:           admin", "Data / Dữ liệu:", "Log / Nhật ký:",
                  "Alerts / Cảnh báo:          none configured", "/admin/outbox",
                  "Ctrl+C to stop"):
        assert label in out
    assert out.count("Console / Bảng điều khiển") == 1, "the block is printed once"
    assert str(demo.data_dir) in out
    log_file = demo.data_dir / "logs" / "iocwall.log"
    assert str(log_file) in out and log_file.is_file()
    # the simulated cameras' login is printed (a registrar connects one by hand), never logged
    assert demo.line_value("Camera login") == "demo" and f"demo / {CAMERA_PASSWORD}" in out
    assert CAMERA_PASSWORD not in demo.errors + log_file.read_text(encoding="utf-8")
    assert ADMIN_PASSWORD not in out + demo.errors + log_file.read_text(encoding="utf-8")


def test_demo_api_lists_playable_cameras_without_credentials(demo):
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        assert client.post("/api/login", json={"username": "admin",
                                                "password": ADMIN_PASSWORD}).status_code == 200
        reply = client.get("/api/cameras")
    assert reply.status_code == 200
    cameras = reply.json()
    assert [c["id"] for c in cameras] == ["cam1", "cam2", "cam3", "cam4"]
    for cam in cameras:
        assert set(cam["whep"]) == {"main", "sub"}
    assert CAMERA_PASSWORD not in reply.text and "rtsp://" not in reply.text
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:   # the registry page's
        client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        login_info = client.get("/api/registry/access").json()["demo_camera"]
    assert login_info["username"] == "demo" and login_info["password"] == CAMERA_PASSWORD
    assert login_info["rtsp_main"].endswith("/cam1/main")


def test_demo_leader_tiles_of_ha_noi_count_its_cameras_and_queues(demo):
    """The demo's cameras are registered in Hà Nội (code HA-NOI): the leader view of Hà Nội
    counts them online and their queues, as the nation's view does."""
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})

        def tiles() -> dict:
            reply = client.get("/api/indicators/summary", params={"province": "Hà Nội"})
            return {t["id"]: t for t in reply.json()["tiles"]}

        wait_until_sync(lambda: tiles()["cameras_online_share"]["value"] is not None
                        and tiles()["queue_length"]["value"] is not None, 60,
                        "Hà Nội's cameras online and people waiting", step=0.5)
        online = tiles()["cameras_online_share"]
    assert online["detail"]["total"] == 4 and online["scope"] == "Hà Nội"


@pytest.mark.browser
def test_generated_password_login_rate_limit_and_ctrl_c(tmp_path, chromium):
    running = RunningDemo(tmp_path / "data", admin_password=None, cameras=1)
    try:
        running.wait_ready()
        generated = running.line_value("Password / Mật khẩu")
        assert len(generated) >= 12 and "generated" in running.output
        context = chromium.new_context()
        try:
            page = context.new_page()
            login(page, running, password=generated)        # the printed password works
            page.wait_for_selector("#user[data-user='admin']")   # the page's script is running
            page.click("#logout")
            page.wait_for_url("**/login")
            for _ in range(5):                              # then 5 failures: rate limited
                page.fill("#username", "nobody")
                page.fill("#password", "wrong")
                page.click("#submit")
                page.wait_for_function("() => !document.getElementById('submit').disabled"
                                       " && !document.getElementById('login-error').hidden")
            page.fill("#password", "wrong")
            page.click("#submit")
            error = page.locator('#login-error[data-code="login.err.limited"]')
            error.wait_for(state="visible", timeout=5_000)
            assert "thử lại sau" in error.text_content()
            assert page.locator("#submit").is_disabled()
        finally:
            context.close()
        started = time.monotonic()
        code = running.stop(timeout=20)
        took = time.monotonic() - started
    finally:
        running.stop()
    assert code == 0, running.errors
    assert took < 15, f"Ctrl+C took {took:.1f} s"
    assert "Traceback" not in running.errors
    assert generated not in (tmp_path / "data" / "logs" / "iocwall.log").read_text("utf-8")


@pytest.mark.parametrize("args, message", [
    (["--cameras", "0"], "--cameras 0: use 1 to 16"),
    (["--port", "70000"], "--port 70000: use a port number 0-65535"),
    (["--port", "abc"], "invalid int value"),
])
def test_bad_arguments_give_one_clear_line(args, message):
    done = run_demo(*args, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_demo("--port", str(port), "--cameras", "1", "--data-dir", str(tmp_path),
                        timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr

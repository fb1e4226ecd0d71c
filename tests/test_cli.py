"""The `iocwall` command: help lists every subcommand; `serve` starts, prints once, refuses bad
config with one line per problem, and keeps secrets out of its log."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.fixtures.ports import free_port
from tests.fixtures.serve_process import wait_healthy

REPO = Path(__file__).resolve().parent.parent
IOCWALL = [sys.executable, "-m", "iocwall.wall.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOCWALL, *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=env)


def test_help_lists_every_command() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("demo", "serve", "sim", "smoke", "worker", "display-agent"):
        assert command in out.stdout, command
    serve = run_cli("serve", "--help")
    for flag in ("--config", "--host", "--port", "--data-dir"):
        assert flag in serve.stdout


def test_serve_bad_config_is_one_line_per_problem_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nport = "x"\nfoo = 1\n')
    out = run_cli("serve", "--config", str(config), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in out.stderr
    assert f"{config}:2" in lines[0] and "server.port" in lines[0]
    assert f"{config}:3" in lines[1] and "server.foo" in lines[1]


def test_serve_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    import socket
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        out = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                      cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


def _start_serve(data: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*IOCWALL, "serve", "--port", str(port), "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=data.parent, env=env)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("serve did not stop within 20 s of SIGTERM") from None
    return out, err


def test_serve_prints_generated_password_once_and_never_logs_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOCWALL_")}
    data = tmp_path / "data"
    port = free_port()
    proc = _start_serve(data, port, env)
    try:
        health = wait_healthy(port, proc)
    finally:
        out, err = _stop(proc)
    assert health["status"] == "ok"
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out
    password = next(line.split()[-1] for line in out.splitlines() if "Password" in line)
    assert len(password) >= 16
    log_text = (data / "logs" / "iocwall.log").read_text()
    assert password not in log_text and password not in err
    for line in log_text.splitlines():
        json.loads(line)                                   # JSON lines
    # the password works
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    proc = _start_serve(data, port, env)
    try:
        wait_healthy(port, proc)
        conn.request("POST", "/api/login", json.dumps({"username": "admin",
                                                       "password": password}),
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200, response.read()
    finally:
        conn.close()
        out2, _ = _stop(proc)
    assert "Password" not in out2 and password not in out2      # printed only the first time


def test_serve_admin_password_from_env(tmp_path: Path) -> None:
    env = {**os.environ, "IOCWALL_ADMIN_PASSWORD": "From-Env-Pass-1"}
    port = free_port()
    proc = _start_serve(tmp_path / "data", port, env)
    try:
        wait_healthy(port, proc)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/login", method="POST",
            data=json.dumps({"username": "admin", "password": "From-Env-Pass-1"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200 and "HttpOnly" in r.headers["Set-Cookie"]
    finally:
        out, _ = _stop(proc)
    assert "Password" not in out and "From-Env-Pass-1" not in out

"""Bad targets: each gets one clear line with what is wrong and what to try; never a traceback."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.ports import free_port
from tests.smoke_helpers import SmokeRun, one_line_error, smoke

SECRET = "Typo-s3cret!"


@pytest.mark.parametrize("target,expected", [
    (f"rstp://admin:{SECRET}@127.0.0.1:554/cam1/main",
     "unsupported scheme 'rstp://' (did you mean rtsp://?)"),
    (f"admin:{SECRET}@127.0.0.1:554/cam1/main", "has no scheme"),
    (f"rtsp://admin:{SECRET}@:554/cam1/main", "has no host"),
    (f"rtsp://admin:{SECRET}@127.0.0.1:55a4/cam1/main", "invalid port: expected a number"),
    (f"rtsp://admin:{SECRET}@127.0.0.1:/cam1/main", "is empty: expected a number"),
    (f"rtsp://admin:{SECRET}@127.0.0.1:554", "has no stream path"),
])
def test_url_typos_get_one_line_and_exit_2(target: str, expected: str) -> None:
    line = one_line_error(smoke(target, secret=SECRET))
    assert line.startswith("iocwall smoke: ") and expected in line


def test_display_target_without_an_agent_fails_with_a_hint() -> None:
    run = smoke(f"display://127.0.0.1:{free_port()}")
    assert run.code == 1 and "no display agent answers there" in run.stdout
    assert "Traceback" not in run.stderr


def test_bad_options_are_refused_by_the_parser() -> None:
    run = smoke("rtsp://127.0.0.1:554/x", "--seconds", "soon")
    assert run.code == 2 and "'soon' is not a number" in run.stderr


def _failed(run: SmokeRun, reason: str) -> None:
    """Exit 1, the reason in the summary line, and the same reason in exactly one row."""
    assert run.code == 1, run.stdout
    assert reason in run.summary_line, run.summary_line
    assert sum(reason in line for line in run.stdout.splitlines()) == 2  # its row + summary


def test_wrong_password(simulator: Any) -> None:
    url = simulator.url(1, "main", auth=False)
    url = url.replace("rtsp://", f"rtsp://{simulator.user}:{SECRET}@")
    run = smoke(url, "--seconds", "1", secret=SECRET)
    _failed(run, "the camera refused the credentials (401")
    assert "check --user/--password" in run.summary_line
    assert "TCP" in run.stdout and "UDP" not in run.stdout  # no point retrying over UDP


def test_missing_credentials(simulator: Any) -> None:
    run = smoke(simulator.url(1, "main", auth=False), "--seconds", "1")
    _failed(run, "the camera wants a user name and password (401)")


def test_closed_port() -> None:
    port = free_port()
    run = smoke(f"rtsp://admin:{SECRET}@127.0.0.1:{port}/cam1/main", secret=SECRET)
    _failed(run, f"nothing listens on 127.0.0.1:{port}")


def test_port_that_speaks_http(simulator: Any) -> None:
    run = smoke(f"rtsp://{simulator.user}:{simulator.password}@127.0.0.1:{simulator.http_port}"
                "/cam1/main", secret=simulator.password)
    _failed(run, "answers HTTP, not RTSP: is this the web port?")


def test_wrong_path_is_404(simulator: Any) -> None:
    url = simulator.url(1, "main").replace("/cam1/main", "/cam1/mian")
    run = smoke(url, "--seconds", "1", secret=simulator.password)
    _failed(run, "stream path not found (404")


@pytest.fixture
def unanswering_host() -> Iterator[int]:
    """A port whose accept queue is full: SYNs go unanswered, like a host behind a dead link."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    try:
        yield port
    finally:
        for s in fillers:
            s.close()
        server.close()


def test_unreachable_host_times_out(unanswering_host: int) -> None:
    run = smoke(f"rtsp://admin:{SECRET}@127.0.0.1:{unanswering_host}/x", "--timeout", "1.5",
                secret=SECRET)
    _failed(run, f"no answer from 127.0.0.1:{unanswering_host} within 1.5 s")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop, held = threading.Event(), []

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_port_that_never_answers(silent_port: int) -> None:
    run = smoke(f"rtsp://127.0.0.1:{silent_port}/x", "--timeout", "1")
    _failed(run, "accepted the connection but did not answer OPTIONS within 1 s")

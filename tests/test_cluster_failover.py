"""Two `iocwall serve` processes on one PostgreSQL database: the leader lease moves when its
holder is killed (kill -9) or paused (SIGSTOP), and a paused leader steps down when it wakes.

Takeover is measured from the signal to the moment the survivor holds the lease in the store
(GET /api/cluster on the survivor); the bound is ttl + renew_s (the holder's last renewal
was at most renew_s before the kill, and the follower tries right when the lease expires).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.ports import free_port
from tests.fixtures.serve_process import ADMIN_PASSWORD, IOCWALL, serve_env, wait_healthy
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
TTL_S, RENEW_S = 2.0, 0.5


def _config(data: Path, store_url: str) -> Path:
    path = data.parent / "config.toml"
    path.write_text(f'[server]\ndata_dir = "{data}"\n'
                    f'[storage]\nurl = "{store_url}"\n'
                    '[streams]\nprocesses = 1\n'
                    '[logging]\nfile = ""\nlevel = "WARNING"\n'
                    '[alerts]\nsample_s = 0.2\n'
                    f'[cluster]\nlease_ttl_s = {TTL_S}\nlease_renew_s = {RENEW_S}\n')
    return path


@contextlib.contextmanager
def controller(config: Path) -> Iterator[tuple[subprocess.Popen[str], httpx.Client]]:
    """`iocwall serve` on a free port, and an admin client logged in to it."""
    port = free_port()
    proc = subprocess.Popen([*IOCWALL, "serve", "--config", str(config), "--host", "127.0.0.1",
                             "--port", str(port)], env=serve_env(), text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_healthy(port, proc)
        r = http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        yield proc, http
    finally:
        http.close()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()


def _leader(http: httpx.Client) -> dict | None:
    controllers = http.get("/api/cluster").json()["controllers"]
    return next((c for c in controllers if c["leader"]), None)


def _board_controller(http: httpx.Client) -> dict:
    board = http.get("/api/health").json()
    return next(c for c in board["system"] if c["kind"] == "controller")


@pytest.fixture
def two_controllers(tmp_path: Path, postgres_db: str
                    ) -> Iterator[tuple[tuple[subprocess.Popen[str], httpx.Client], ...]]:
    config = _config(tmp_path / "data", postgres_db)
    with controller(config) as a:
        wait_until_sync(lambda: _leader(a[1]), 10, "A leads")
        with controller(config) as b:
            yield a, b


def _takeover(survivor: httpx.Client, old: dict) -> tuple[float, dict]:
    start = time.monotonic()
    new = wait_until_sync(lambda: (lead := _leader(survivor)) and lead["id"] != old["id"]
                          and lead, TTL_S + RENEW_S + 5, "the survivor takes the lease",
                          step=0.02)
    return time.monotonic() - start, new


def test_kill_9_the_leader_the_other_takes_the_lease_within_ttl(two_controllers) -> None:
    (pa, a), (pb, b) = two_controllers
    for http in (a, b):                              # both see both, and one leader
        controllers = http.get("/api/cluster").json()["controllers"]
        assert {c["pid"] for c in controllers} == {pa.pid, pb.pid}, controllers
        assert [c["pid"] for c in controllers if c["leader"]] == [pa.pid], controllers
    old = _leader(b)
    assert old is not None and old["pid"] == pa.pid
    os.kill(pa.pid, signal.SIGKILL)
    took, new = _takeover(b, old)
    print(f"\nlease moved {took:.2f} s after kill -9 (ttl {TTL_S} s, renew {RENEW_S} s)")
    assert new["pid"] == pb.pid
    assert took <= TTL_S + RENEW_S, took
    ctrl = wait_until_sync(lambda: (c := _board_controller(b))["detail"]["leader"] and c,
                           3, "B's board: B leads")
    assert ctrl["detail"]["epoch"] == 2 and ctrl["detail"]["lease_holder"] == new["id"]


def test_sigstop_the_leader_the_other_takes_over_and_the_old_one_steps_down(
        two_controllers) -> None:
    (pa, a), (pb, b) = two_controllers
    old = _leader(b)
    assert old is not None and old["pid"] == pa.pid
    before = _board_controller(a)["detail"]
    assert before["leader"] is True and before["epoch"] == 1
    os.kill(pa.pid, signal.SIGSTOP)                 # paused: a GC, a full disk, a debugger
    took, new = _takeover(b, old)
    print(f"\nlease moved {took:.2f} s after SIGSTOP (ttl {TTL_S} s, renew {RENEW_S} s)")
    assert new["pid"] == pb.pid and took <= TTL_S + RENEW_S, took
    os.kill(pa.pid, signal.SIGCONT)
    woke = time.monotonic()
    # A knows at once that it does not lead (its own clock), and then learns who does
    after = wait_until_sync(lambda: (d := _board_controller(a)["detail"])["lease_holder"]
                            == new["id"] and d, 5, "A's board: B holds the lease")
    print(f"old leader saw the new holder {time.monotonic() - woke:.2f} s after SIGCONT")
    assert after["leader"] is False and after["epoch"] == 2
    assert _leader(a) == new                          # A's view of the store agrees

"""A burst of 20 concurrent logins against a real `iocwall serve` process: argon2 needs
64 MiB per check, so only a small pool checks passwords; the rest are told to retry (503)
at once, and the server's memory stays flat (RSS before/after, and its high-water mark)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fixtures.serve_process import post_json, serve_process

MIB = 1024
ARGON2_MIB = 64            # argon2-cffi's default memory cost
POOL = 2                   # [auth] password_checks default
QUEUE = 6                  # [auth] password_queue default


@pytest.mark.slow
def test_a_burst_of_logins_keeps_memory_flat(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    # a high address limit, so the pool (not the rate limit) is what holds the burst back
    config.write_text("[auth]\nlogin_max_failures_per_address = 100\n")
    with serve_process(tmp_path / "data", config=config) as server:
        post_json(server.url + "/api/login", {"username": "warm-up", "password": "x" * 12})
        before = server.rss_kib()

        def attempt(i: int) -> tuple[int, float]:
            started = time.monotonic()
            status, _ = post_json(server.url + "/api/login",
                                  {"username": f"user{i}", "password": f"guess-{i}-xyz"})
            return status, time.monotonic() - started

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(attempt, range(20)))
        peak = server.peak_kib()
        time.sleep(0.5)        # a settling window before reading RSS: measured, not awaited
        after = server.rss_kib()
    codes = sorted(status for status, _ in results)
    print(f"\nRSS before {before / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB, "
          f"after {after / MIB:.0f} MiB; replies {codes}")
    assert set(codes) <= {401, 503} and codes.count(401) <= POOL + QUEUE
    assert codes.count(503) >= 20 - POOL - QUEUE
    assert max(seconds for status, seconds in results if status == 503) < 2.0
    assert peak - before < (POOL * ARGON2_MIB + 48) * MIB      # never more than the pool's work
    assert after - before < 32 * MIB

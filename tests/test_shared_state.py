"""Issue 19: nothing a request needs lives in one process's memory. Two controllers on one
PostgreSQL database, each with its own data dir (two machines): what a guesser spent on
one controller counts on the other."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from iocwall.wall.config import Config
from tests.fixtures.app import ADMIN_PASSWORD, LiveServer, make_config, start_live_server

GUESSER = {"X-Forwarded-For": "203.0.113.9"}


def _controller(tmp_path: Path, name: str, database: str) -> Config:
    config = make_config(tmp_path / name, login_max_failures=3)
    config.storage.url = database
    config.server.trusted_proxies = ["127.0.0.1"]      # the balancer names the client
    config.wall.pair_per_address = 2
    return config


@contextlib.asynccontextmanager
async def _two(tmp_path: Path, database: str) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    async with start_live_server(_controller(tmp_path, "a", database)) as a, \
            start_live_server(_controller(tmp_path, "b", database)) as b:
        yield a, b


async def test_failed_logins_on_one_controller_block_on_the_other(
        tmp_path: Path, postgres_db: str) -> None:
    async with _two(tmp_path, postgres_db) as (a, b), a.client() as http_a, \
            b.client() as http_b:
        for _ in range(3):
            r = await http_a.post("/api/login", json={"username": "admin", "password": "guess"},
                                  headers=GUESSER)
            assert r.status_code == 401, r.text
        refused = await http_b.post("/api/login", json={"username": "admin",
                                                         "password": ADMIN_PASSWORD},
                                    headers=GUESSER)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        # ... the guesser only: the admin elsewhere logs in on either
        elsewhere = {"X-Forwarded-For": "198.51.100.4"}
        for http in (http_a, http_b):
            ok = await http.post("/api/login", json={"username": "admin",
                                                      "password": ADMIN_PASSWORD},
                                 headers=elsewhere)
            assert ok.status_code == 200, ok.text


async def test_pairing_starts_are_counted_across_controllers(
        tmp_path: Path, postgres_db: str) -> None:
    async with _two(tmp_path, postgres_db) as (a, b), a.client() as http_a, \
            b.client() as http_b:
        for http in (http_a, http_b):                  # one start on each: the limit of 2
            r = await http.post("/api/display/pair", json={}, headers=GUESSER)
            assert r.status_code == 201, r.text
        for http in (http_a, http_b):
            refused = await http.post("/api/display/pair", json={}, headers=GUESSER)
            assert refused.status_code == 429, refused.text
        other = await http_b.post("/api/display/pair", json={},
                                  headers={"X-Forwarded-For": "198.51.100.4"})
        assert other.status_code == 201, other.text

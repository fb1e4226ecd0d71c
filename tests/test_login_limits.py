"""Login and password checks under attack: limits per (user, address) and per address with
backoff, attempts counted before they are checked, X-Forwarded-For only from configured
proxies, the own-password form limited and audited, and audited names that leak nothing."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from iocwall.wall.access import Role
from iocwall.wall.audit import AuditQuery
from iocwall.wall.auth import LoginLimiter, Passwords
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store
from tests.fixtures.app import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    LiveServer,
    make_config,
    start_live_server,
)

FROM_LOCAL_PROXY = ["127.0.0.1"]


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _login(http, username: str, password: str, address: str | None = None):  # type: ignore[no-untyped-def]
    return await http.post("/api/login", json={"username": username, "password": password},
                           headers=_from(address) if address else {})


async def _entries(server: LiveServer, action: str) -> list:  # type: ignore[type-arg]
    return (await server.services.audit.query(AuditQuery(action=action))).entries


def _config(tmp_path: Path, **auth: object):  # type: ignore[no-untyped-def]
    config = make_config(tmp_path / "d", **auth)
    config.server.trusted_proxies = FROM_LOCAL_PROXY     # lets a test speak from many addresses
    return config


async def test_guesses_from_one_address_do_not_lock_the_admin_out_elsewhere(
        tmp_path: Path) -> None:
    async with start_live_server(_config(tmp_path, login_max_failures=3)) as server, \
            server.client() as http:
        for _ in range(3):
            assert (await _login(http, "admin", "guess-guess", "203.0.113.9")).status_code == 401
        refused = await _login(http, "admin", ADMIN_PASSWORD, "203.0.113.9")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert (await _login(http, "admin", ADMIN_PASSWORD, "198.51.100.4")).status_code == 200
        audited = await _entries(server, "login.refused")
    assert [(e.actor, e.client, e.after["reason"]) for e in audited] == \
        [("admin", "203.0.113.9", "rate_limited")]


async def test_an_address_is_limited_across_usernames(tmp_path: Path) -> None:
    config = _config(tmp_path, login_max_failures=3, login_max_failures_per_address=4)
    async with start_live_server(config) as server, server.client() as http:
        for name in ("ann", "binh", "chi", "dung"):
            assert (await _login(http, name, "guess-guess", "203.0.113.9")).status_code == 401
        assert (await _login(http, "admin", ADMIN_PASSWORD, "203.0.113.9")).status_code == 429
        assert (await _login(http, "admin", ADMIN_PASSWORD, "198.51.100.4")).status_code == 200


async def test_blocks_back_off_and_are_forgotten_later(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "limits.db")
    await store.open()
    limiter = LoginLimiter(store, per_pair=2, per_address=10, window_s=60, max_block_s=600,
                           clock=lambda: now[0])

    async def fail() -> int | None:
        wait = await limiter.begin("lan", "10.0.0.1")
        if wait is None:
            await limiter.finish("lan", "10.0.0.1", ok=False)
        return wait

    blocks = []
    try:
        for _ in range(5):
            assert await fail() is None and await fail() is None  # two failures: a block
            blocks.append(await limiter.begin("lan", "10.0.0.1"))
            assert await limiter.begin("lan", "10.0.0.2") is None  # another address: never
            await limiter.finish("lan", "10.0.0.2", ok=True)
            now[0] += blocks[-1] or 0
        assert blocks == [60, 120, 240, 480, 600]             # doubling, capped
        now[0] += 601                                         # quiet for long: back to 60
        assert await fail() is None and await fail() is None
        assert await limiter.begin("lan", "10.0.0.1") == 60
        # nothing typed is stored: a name may be a password typed into the wrong field
        rows = await store.fetchall("SELECT key, state FROM rate_limits")
        assert rows and "lan" not in str(rows) and "10.0.0" not in str(rows)
    finally:
        await store.close()


async def test_parallel_guesses_are_counted_before_they_are_checked(
        live_server: LiveServer) -> None:
    async with live_server.client() as http:
        replies = await asyncio.gather(*(_login(http, "admin", f"guess-{i}") for i in range(20)))
    codes = sorted(r.status_code for r in replies)
    assert codes.count(401) == 5, codes
    assert codes.count(429) == 15, codes


async def test_forwarded_for_is_ignored_from_a_peer_that_is_not_a_proxy(tmp_path: Path) -> None:
    config = make_config(tmp_path / "d", login_max_failures=3)    # no trusted_proxies
    async with start_live_server(config) as server, server.client() as http:
        for i in range(3):
            assert (await _login(http, "admin", "guess", f"10.1.1.{i}")).status_code == 401
        assert (await _login(http, "admin", ADMIN_PASSWORD, "10.1.1.99")).status_code == 429
        failed = await _entries(server, "login.failed")
    assert {e.client for e in failed} == {"127.0.0.1"}


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    async with start_live_server(_config(tmp_path)) as server, server.client() as http:
        # a client may prepend anything; the proxy appends the address it saw
        await _login(http, "admin", "guess", "1.2.3.4, 203.0.113.7")
        await _login(http, "admin", "guess", "not-an-address")
        failed = await _entries(server, "login.failed")
    assert [e.client for e in failed] == ["127.0.0.1", "203.0.113.7"]


async def test_own_password_change_is_limited_and_audited(tmp_path: Path) -> None:
    async with start_live_server(make_config(tmp_path / "d", login_max_failures=3)) as server:
        await server.add_user("op1", Role.OPERATOR)
        async with server.client() as http:
            await server.login(http, "op1", USER_PASSWORD)
            body = {"current_password": "not-mine-1", "new_password": "New-Pass-000"}
            for _ in range(3):
                assert (await http.post("/api/me/password", json=body)).status_code == 403
            body["current_password"] = USER_PASSWORD
            refused = await http.post("/api/me/password", json=body)
            assert refused.status_code == 429 and "retry-after" in refused.headers
        failed = await _entries(server, "user.password.failed")
        refusals = await _entries(server, "user.password.refused")
    assert [(e.actor, e.target, e.client) for e in failed] == [("op1", "user:op1", "127.0.0.1")] * 3
    assert len(refusals) == 1


async def test_failed_logins_audit_only_names_that_exist(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await _login(http, "Tr0ub4dor&3", "admin")        # the password typed as the name
        await _login(http, "ADMIN", "wrong-password")
    failed = await _entries(live_server, "login.failed")
    assert [(e.actor, e.target) for e in failed] == [("admin", "user:admin"),
                                                     ("(unknown user)", "user:(unknown user)")]
    assert "tr0ub4dor" not in str([e.public() for e in failed]).lower()


async def test_password_checks_run_in_a_small_bounded_pool() -> None:
    import threading

    from argon2 import PasswordHasher

    all_asked = threading.Event()

    class HeldHasher(PasswordHasher):
        """Real argon2, but each check starts only once all 10 were asked for: on a busy
        machine a fast check could otherwise end (and free its slot) before the last ask."""

        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            all_asked.wait(10)
            return super().verify(hash, password)

    passwords = Passwords(HeldHasher(time_cost=2, memory_cost=8192, parallelism=1),
                          workers=2, queue=2)
    stored = await passwords.hash("right-password")

    async def ask() -> bool:
        return await passwords.verify(stored, "wrong")

    try:
        tasks = [asyncio.ensure_future(ask()) for _ in range(10)]
        await asyncio.sleep(0)                  # every ask reaches the pool (or is refused)
        all_asked.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        passwords.close()
    busy = [r for r in results if isinstance(r, ApiError)]
    assert results.count(False) == 4 and len(busy) == 6
    assert {(e.status, e.code) for e in busy} == {(503, "busy")}


@pytest.mark.parametrize("bad", ["1.2.3.4/40", "example.org"])
def test_trusted_proxies_must_be_addresses(tmp_path: Path, bad: str) -> None:
    from iocwall.wall.config import ConfigError, load
    path = tmp_path / "config.toml"
    path.write_text(f'[server]\ntrusted_proxies = ["10.0.0.0/8", "{bad}"]\n')
    with pytest.raises(ConfigError, match=rf"'server.trusted_proxies.1' = '{re.escape(bad)}'"):
        load(path, env={})
    path.write_text('[server]\ntrusted_proxies = ["10.0.0.0/8", "::1"]\n')
    assert load(path, env={}).server.trusted_proxies == ["10.0.0.0/8", "::1"]


def test_shipped_config_documents_every_new_key_with_its_default() -> None:
    from iocwall.wall.config import AuthConfig, load
    repo = Path(__file__).resolve().parent.parent
    text = (repo / "config.toml").read_text()
    keys = ["trusted_proxies", "login_max_failures_per_address", "login_max_block_s",
            "password_checks", "password_queue", "token_ttl_days", "token_max_ttl_days"]
    assert all(re.search(rf"^{k} = .*# ", text, re.MULTILINE) for k in keys)
    shipped = load(repo / "config.toml", env={})
    assert shipped.auth == AuthConfig() and shipped.server.trusted_proxies == []

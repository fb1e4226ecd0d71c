"""Bearer tokens: they expire (default and maximum in config), die with their creator's
account, cannot mint tokens or users themselves, and are unique by label."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from iocwall.streams.clock import parse_iso
from iocwall.wall.access import Role
from tests.fixtures.app import USER_PASSWORD, LiveServer, make_config, start_live_server

# every test on SQLite and on PostgreSQL (issue 19)
pytestmark = pytest.mark.usefixtures("both_stores")


async def _admin_token(server: LiveServer, http, label: str, **extra: object) -> dict:  # type: ignore[no-untyped-def]
    reply = await http.post("/api/tokens", json={"label": label, "role": "admin", **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_tokens_expire_by_default_and_within_the_maximum(tmp_path: Path) -> None:
    config = make_config(tmp_path / "d", token_ttl_days=30, token_max_ttl_days=90)
    async with start_live_server(config) as server, server.client() as http:
        await server.login(http)
        made = await _admin_token(server, http, "script-1")
        days = (parse_iso(made["expires_at"]).timestamp() - time.time()) / 86400
        assert 29.9 < days <= 30
        longer = await _admin_token(server, http, "script-2", expires_in_days=90)
        assert 89.9 < (parse_iso(longer["expires_at"]).timestamp() - time.time()) / 86400 <= 90
        too_long = await http.post("/api/tokens", json={"label": "script-3", "role": "display",
                                                        "expires_in_days": 91})
        assert too_long.status_code == 422
        assert too_long.json()["error"]["field"] == "expires_in_days"
        await server.services.store.execute("UPDATE tokens SET expires = ? WHERE id = ?",
                                            (time.time() - 1, made["id"]))
        async with server.client(headers={"Authorization": f"Bearer {made['token']}"}) as bot:
            assert (await bot.get("/api/me")).status_code == 401
        async with server.client(headers={"Authorization": f"Bearer {longer['token']}"}) as bot:
            assert (await bot.get("/api/me")).status_code == 200


async def test_a_token_dies_with_its_creators_account(live_server: LiveServer) -> None:
    uid = await live_server.add_user("admin2", Role.ADMIN)
    async with live_server.client() as second, live_server.client() as first:
        await live_server.login(second, "admin2", USER_PASSWORD)
        made = await _admin_token(live_server, second, "by-admin2")
        async with live_server.client(headers={"Authorization": f"Bearer {made['token']}"}) as bot:
            assert (await bot.get("/api/me")).status_code == 200
            await live_server.login(first)
            reply = await first.patch(f"/api/users/{uid}", json={"role": "operator"})
            assert reply.status_code == 200
            assert (await bot.get("/api/me")).status_code == 401       # creator no longer admin
            await first.patch(f"/api/users/{uid}", json={"role": "admin", "disabled": True})
            assert (await bot.get("/api/me")).status_code == 401       # creator disabled
            await first.patch(f"/api/users/{uid}", json={"disabled": False})
            assert (await bot.get("/api/me")).status_code == 200
            await live_server.services.store.execute("DELETE FROM users WHERE id = ?", (uid,))
            assert (await bot.get("/api/me")).status_code == 401       # creator deleted


async def test_a_token_cannot_mint_tokens_or_users(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        made = await _admin_token(live_server, http, "automation")
    async with live_server.client(headers={"Authorization": f"Bearer {made['token']}"}) as bot:
        for role in ("admin", "display"):
            reply = await bot.post("/api/tokens", json={"label": f"more-{role}", "role": role})
            assert reply.status_code == 403, role
            assert reply.json()["error"]["code"] == "needs_person"
        reply = await bot.post("/api/users", json={"username": "backdoor", "password":
                                                   "Backdoor-Pass-1", "role": "admin"})
        assert reply.status_code == 403
        assert (await bot.get("/api/tokens")).status_code == 200        # reading is fine
    assert await live_server.services.users.by_name("backdoor") is None
    assert [t.label for t in await live_server.services.tokens.list()] == ["automation"]


async def test_token_labels_are_unique(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        await _admin_token(live_server, http, "wall-pc-1")
        again = await http.post("/api/tokens", json={"label": "Wall-PC-1 ", "role": "display"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "label"

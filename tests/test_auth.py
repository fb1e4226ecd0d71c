"""Auth: passwords, users, sessions, tokens, login limit, first admin — services and HTTP."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from iocwall.wall.access import Role
from iocwall.wall.auth import LoginLimiter, Passwords, ensure_admin, generate_password
from iocwall.wall.auth.tokens import token_hash
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store
from tests.fixtures.app import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    LiveServer,
    make_config,
    start_live_server,
)


async def test_passwords_hash_and_verify() -> None:
    pw = Passwords()
    hashed = await pw.hash("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert await pw.verify(hashed, "correct horse")
    assert not await pw.verify(hashed, "wrong horse")
    assert not await pw.verify(None, "anything")        # unknown user: same work, False
    assert not await pw.verify("not-a-hash", "x")


def test_generated_passwords_are_strong_and_distinct() -> None:
    made = {generate_password() for _ in range(50)}
    assert len(made) == 50 and all(len(p) == 20 for p in made)


async def test_user_rules(live_server: LiveServer) -> None:
    users = live_server.services.users
    with pytest.raises(ApiError) as err:
        await users.create("reg1", USER_PASSWORD, Role.REGISTRAR)
    assert err.value.status == 422 and err.value.field == "unit"
    reg = await users.create("Reg1", USER_PASSWORD, Role.REGISTRAR, "hn")
    assert reg.username == "reg1" and reg.unit == "HN"
    with pytest.raises(ApiError) as err:
        await users.create("REG1", USER_PASSWORD, Role.OPERATOR)
    assert err.value.status == 409
    with pytest.raises(ApiError) as err:
        await users.create("node", USER_PASSWORD, Role.DISPLAY)
    assert err.value.field == "role"
    with pytest.raises(ApiError) as err:
        await users.create("bad name!", USER_PASSWORD, Role.OPERATOR)
    assert err.value.field == "username"
    admin = await users.by_name("admin")
    assert admin is not None
    with pytest.raises(ApiError) as err:                    # the last admin stays
        await users.update(admin.id, disabled=True)
    assert err.value.code == "last_admin"
    assert await users.authenticate("reg1", USER_PASSWORD) is not None
    await users.update(reg.id, disabled=True)
    assert await users.authenticate("reg1", USER_PASSWORD) is None


async def test_login_limiter_window(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "limits.db")
    await store.open()
    limiter = LoginLimiter(store, per_pair=3, per_address=5, window_s=60, clock=lambda: now[0])

    async def fail(user: str, address: str) -> None:
        assert await limiter.begin(user, address) is None
        await limiter.finish(user, address, ok=False)

    try:
        for _ in range(3):
            await fail("lan", "10.0.0.1")
        assert await limiter.begin("lan", "10.0.0.1") == 60      # this name from this address
        assert await limiter.begin("lan", "10.0.0.2") is None    # never the name from everywhere
        await limiter.finish("lan", "10.0.0.2", ok=True)
        await fail("mai", "10.0.0.1")
        await fail("hoa", "10.0.0.1")
        assert await limiter.begin("tuan", "10.0.0.1") == 60     # the address, any name
        now[0] += 45
        assert await limiter.begin("lan", "10.0.0.1") == 15
        now[0] += 16
        assert await limiter.begin("lan", "10.0.0.1") is None    # block over
    finally:
        await store.close()


async def test_login_sets_a_safe_cookie_and_logout_ends_it(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        r = await live_server.login(http)
        assert r.json() == {"user": "admin", "role": "admin", "unit": "",
                            "display_name": "Administrator"}
        header = r.headers["set-cookie"].lower()
        assert "iocwall_session=" in header and "httponly" in header
        assert "samesite=lax" in header and "secure" not in header
        assert "max-age=43200" in header and "path=/" in header
        cookie = http.cookies["iocwall_session"]
        assert (await http.get("/api/me")).json()["user"] == "admin"
        assert (await http.post("/api/logout")).status_code == 200
        assert (await http.get("/api/me")).status_code == 401
    # the old cookie is dead on the server too, not just deleted in this client
    async with live_server.client(cookies={"iocwall_session": cookie}) as http:
        assert (await http.get("/api/me")).status_code == 401


async def test_secure_cookie_when_configured(tmp_path: Path) -> None:
    config = make_config(tmp_path / "d", cookie_secure=True, session_max_age_s=600)
    async with start_live_server(config) as server, server.client() as http:
        header = (await server.login(http)).headers["set-cookie"].lower()
        assert "; secure" in header and "max-age=600" in header


async def test_tampered_and_expired_cookies_are_refused(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        good = http.cookies["iocwall_session"]
    sessions = live_server.services.sessions
    sid = sessions.session_id(good)
    assert sid is not None
    forged = URLSafeTimedSerializer("guessed-secret", salt="iocwall.session").dumps(sid)
    assert sessions.session_id(forged) is None
    assert sessions.session_id(good[:-2] + "xx") is None
    await live_server.services.store.execute("UPDATE sessions SET expires = ?",
                                             (time.time() - 1,))
    async with live_server.client(cookies={"iocwall_session": good}) as http:
        assert (await http.get("/api/me")).status_code == 401


async def test_session_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    config = make_config(tmp_path / "d")
    async with start_live_server(config) as server, server.client() as http:
        await server.login(http)
        cookie = http.cookies["iocwall_session"]
        key = config.data_path / "session.key"
        secret = key.read_text()
        assert len(secret.strip()) >= 40
    async with start_live_server(config) as server:        # restart: same secret, still logged in
        assert key.read_text() == secret
        async with server.client(cookies={"iocwall_session": cookie}) as http:
            assert (await http.get("/api/me")).json()["user"] == "admin"


async def test_disabling_a_user_ends_their_session(live_server: LiveServer) -> None:
    uid = await live_server.add_user("op1", Role.OPERATOR)
    async with live_server.client() as op, live_server.client() as admin:
        await live_server.login(op, "op1", USER_PASSWORD)
        await live_server.login(admin)
        assert (await op.get("/api/me")).status_code == 200
        assert (await admin.patch(f"/api/users/{uid}", json={"disabled": True})).status_code == 200
        assert (await op.get("/api/me")).status_code == 401
        r = await op.post("/api/login", json={"username": "op1", "password": USER_PASSWORD})
        assert r.status_code == 401


async def test_password_changes(live_server: LiveServer) -> None:
    uid = await live_server.add_user("op2", Role.OPERATOR)
    async with live_server.client() as op, live_server.client() as admin:
        await live_server.login(op, "op2", USER_PASSWORD)
        wrong = await op.post("/api/me/password", json={"current_password": "nope-nope",
                                                        "new_password": "New-Pass-000"})
        assert wrong.status_code == 403
        ok = await op.post("/api/me/password", json={"current_password": USER_PASSWORD,
                                                     "new_password": "New-Pass-000"})
        assert ok.status_code == 200 and (await op.get("/api/me")).status_code == 200
        await live_server.login(admin)
        assert (await admin.put(f"/api/users/{uid}/password",
                                json={"password": "Admin-Set-111"})).status_code == 200
        assert (await op.get("/api/me")).status_code == 401     # admin reset ends sessions
        await live_server.login(op, "op2", "Admin-Set-111")


async def test_tokens_shown_once_hashed_and_revocable(live_server: LiveServer) -> None:
    async with live_server.client() as admin:
        await live_server.login(admin)
        created = await admin.post("/api/tokens", json={"label": "wall-pc-1", "role": "display"})
        assert created.status_code == 201
        token, token_id = created.json()["token"], created.json()["id"]
        listed = (await admin.get("/api/tokens")).text
        assert token not in listed and "token_hash" not in listed
    row = await live_server.services.store.fetchone("SELECT * FROM tokens WHERE id = ?",
                                                    (token_id,))
    assert row is not None and row["token_hash"] == token_hash(token)
    assert token not in str(row)
    async with live_server.client(headers={"Authorization": f"Bearer {token}"}) as node:
        assert (await node.get("/api/me")).json()["user"] == "token:wall-pc-1"
        info = await live_server.services.tokens.require(token_id)
        assert info.last_used is not None
        async with live_server.client() as admin:
            await live_server.login(admin)
            assert (await admin.delete(f"/api/tokens/{token_id}")).status_code == 200
        r = await node.get("/api/me")
        assert r.status_code == 401 and r.json()["error"]["code"] == "bad_token"
    async with live_server.client(headers={"Authorization": "Bearer iwt_made-up"}) as bad:
        assert (await bad.get("/healthz")).status_code == 401


async def test_registrar_token_needs_unit(live_server: LiveServer) -> None:
    async with live_server.client() as admin:
        await live_server.login(admin)
        r = await admin.post("/api/tokens", json={"label": "portal", "role": "registrar"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "unit"


async def test_login_rate_limit_gives_429_with_retry_after(tmp_path: Path) -> None:
    config = make_config(tmp_path / "d", login_max_failures=3, login_window_s=120,
                         login_max_failures_per_address=3)
    async with start_live_server(config) as server, server.client() as http:
        for _ in range(3):
            r = await http.post("/api/login", json={"username": "admin", "password": "bad-1"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
        r = await http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 120
        # the same address is blocked for other names too
        r = await http.post("/api/login", json={"username": "other", "password": "x"})
        assert r.status_code == 429


async def test_unknown_user_and_wrong_password_look_the_same(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        a = await http.post("/api/login", json={"username": "ghost", "password": "x-x-x-x"})
        b = await http.post("/api/login", json={"username": "admin", "password": "x-x-x-x"})
    assert a.status_code == b.status_code == 401 and a.json() == b.json()


async def test_first_admin_generated_or_from_env(tmp_path: Path) -> None:
    from iocwall.wall.config import load
    from iocwall.wall.services import Services

    generated = make_config(tmp_path / "g")
    generated.auth.admin_password = ""
    services = Services(generated)
    admin = await services.start()
    try:
        assert admin is not None and admin.generated_password
        assert len(admin.generated_password) >= 16
        assert await services.users.authenticate("admin", admin.generated_password)
        assert await ensure_admin(services.users, generated.auth) is None   # only once
    finally:
        await services.stop()
    again = Services(generated)
    assert await again.start() is None                                    # restart: nothing new
    await again.stop()

    from_env = load(None, env={"IOCWALL_ADMIN_PASSWORD": "env-admin-pw-1"})
    from_env.server.data_dir = str(tmp_path / "e")
    services = Services(from_env)
    admin = await services.start()
    try:
        assert admin is not None and admin.generated_password is None
        assert await services.users.authenticate("admin", "env-admin-pw-1")
    finally:
        await services.stop()


async def test_admin_moves_a_registrar_to_another_province(live_server: LiveServer) -> None:
    uid = await live_server.add_user("reg-move", Role.REGISTRAR, unit="HNI")
    async with live_server.client() as admin:
        await live_server.login(admin)
        bad = await admin.patch(f"/api/users/{uid}", json={"province": "Atlantis"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "province"
        moved = await admin.patch(f"/api/users/{uid}", json={"province": "Đà Nẵng"})
        assert moved.status_code == 200, moved.text
        unit = moved.json()["unit"]
        assert unit and unit != "HNI"
        # a registrar becoming an operator leaves its province behind
        op = await admin.patch(f"/api/users/{uid}", json={"role": "operator", "province": ""})
        assert op.status_code == 200 and op.json()["unit"] == ""
        audit = (await admin.get("/api/audit", params={"action": "user.update"})).json()
        assert any(e["target"] == "user:reg-move" for e in audit["entries"])

"""CSRF: state-changing requests that carry a foreign Origin are refused; scripts keep working."""
from __future__ import annotations

from pathlib import Path

from iocwall.wall.access import Role
from tests.fixtures.app import LiveServer, make_config, start_live_server

EVIL = "http://evil.example"
NEW_USER = {"username": "mai", "password": "Mai-Pass-123", "role": "operator"}


async def test_cookie_session_with_foreign_origin_is_refused(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        for method, path, body in [("POST", "/api/users", NEW_USER),
                                   ("PATCH", "/api/users/1", {"display_name": "x"}),
                                   ("PUT", "/api/users/1/password", {"password": "Pw-123456789"}),
                                   ("DELETE", "/api/tokens/1", None),
                                   ("POST", "/api/logout", None)]:
            r = await http.request(method, path, json=body, headers={"Origin": EVIL})
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"]["code"] == "csrf"
        for origin in ("null", "http://127.0.0.1.evil.example", live_server.url + ".evil"):
            r = await http.post("/api/users", json=NEW_USER, headers={"Origin": origin})
            assert r.status_code == 403, origin
        assert await live_server.services.users.by_name("mai") is None   # nothing happened
        assert (await http.get("/api/me")).status_code == 200          # still logged in
        # reads are not state changes: a foreign Origin on GET is fine
        assert (await http.get("/api/users", headers={"Origin": EVIL})).status_code == 200


async def test_same_origin_and_no_origin_work(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        same = await http.post("/api/users", json=NEW_USER, headers={"Origin": live_server.url})
        assert same.status_code == 201, same.text
        script = await http.post("/api/users", json={**NEW_USER, "username": "lan"})
        assert script.status_code == 201                           # no Origin: a script


async def test_login_from_foreign_origin_is_refused(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        r = await http.post("/api/login", json={"username": "admin", "password": "whatever-1"},
                            headers={"Origin": EVIL})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"


async def test_bearer_token_requests_are_exempt(live_server: LiveServer) -> None:
    _, token = await live_server.services.tokens.create("script", Role.ADMIN)
    other, _ = await live_server.services.tokens.create("old-node", Role.DISPLAY)
    async with live_server.client(headers={"Authorization": f"Bearer {token}",
                                           "Origin": EVIL}) as http:
        # (a token may revoke tokens, but not create users: tests/test_tokens_policy.py)
        r = await http.delete(f"/api/tokens/{other.id}")
    assert r.status_code == 200, r.text


async def test_trusted_and_public_origins(tmp_path: Path) -> None:
    config = make_config(tmp_path / "d", trusted_origins=["https://ioc.example.vn/"])
    config.server.public_url = "https://wall.example.vn"
    async with start_live_server(config) as server, server.client() as http:
        login = await server.login(http)
        # public_url is https, so the cookie is Secure; this client plays the TLS proxy
        # and speaks plain http to the server, so it sends the cookie regardless.
        assert "secure" in login.headers["set-cookie"].lower()
        http.cookies.set("iocwall_session", login.cookies["iocwall_session"])
        for i, origin in enumerate(["https://ioc.example.vn", "https://WALL.example.vn"]):
            r = await http.post("/api/users", json={**NEW_USER, "username": f"u{i}"},
                                headers={"Origin": origin})
            assert r.status_code == 201, (origin, r.text)
        r = await http.post("/api/users", json={**NEW_USER, "username": "u9"},
                            headers={"Origin": "http://ioc.example.vn"})   # scheme differs
        assert r.status_code == 403

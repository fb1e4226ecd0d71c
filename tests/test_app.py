"""The web app over a real uvicorn: health, JSON errors, static files, extra routes, secrets."""
from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from iocwall.streams.clock import parse_iso
from iocwall.wall.access import PUBLIC, route
from tests.fixtures.app import ADMIN_PASSWORD, LiveServer, start_live_server


async def test_healthz_needs_no_login_and_reports_parts(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        r = await http.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["store"] is True and body["bus"] is True
    assert body["version"] == "0.1.0" or body["version"]
    assert body["uptime_s"] >= 0
    assert parse_iso(body["time"]).utcoffset().total_seconds() == 7 * 3600  # type: ignore[union-attr]


async def test_healthz_degraded_when_store_is_down(live_server: LiveServer) -> None:
    await live_server.services.store.close()
    async with live_server.client() as http:
        r = await http.get("/healthz")
    assert r.status_code == 503
    assert r.json()["store"] is False and r.json()["status"] == "degraded"


async def test_errors_are_json(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        cases = [
            (await http.get("/no/such/page"), 404, "not_found"),
            (await http.delete("/healthz"), 405, "method_not_allowed"),
            (await http.post("/api/users", content=b"{not json",
                             headers={"Content-Type": "application/json"}), 400, "bad_json"),
            (await http.post("/api/users", json=[1]), 400, "bad_json"),
            (await http.post("/api/users", json={"username": "x1", "password": "long-enough-1",
                                                  "role": "emperor"}), 422, "invalid"),
            (await http.post("/api/users", json={"username": "x1", "password": "short",
                                                  "role": "operator"}), 422, "invalid"),
            (await http.post("/api/users", json={"username": "x1", "password": "long-enough-1",
                                                  "role": "operator", "extra": 1}), 422, "invalid"),
            (await http.get("/api/users/999999"), 404, "not_found"),
            (await http.get("/api/audit?limit=abc"), 422, "invalid"),
            (await http.get("/api/audit?since=yesterday"), 422, "invalid"),
        ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["code"] == code
        assert set(response.json()["error"]) == {"code", "message", "field"}
    assert cases[4][0].json()["error"]["field"] == "role"
    assert cases[5][0].json()["error"]["field"] == "password"
    assert cases[6][0].json()["error"]["field"] == "extra"


async def test_unhandled_error_is_json_500_not_a_traceback(app_config, caplog) -> None:  # type: ignore[no-untyped-def]
    async def broken(request: Request) -> Response:
        raise RuntimeError("kaboom-internal-detail")
    async with start_live_server(app_config, [route("/broken", broken, roles=PUBLIC)]) as server:
        async with server.client() as http:
            with caplog.at_level(logging.ERROR):
                r = await http.get("/broken")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal"
    assert "kaboom" not in r.text and "Traceback" not in r.text
    assert any("kaboom" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


async def test_extra_routes_and_static_files(app_config) -> None:  # type: ignore[no-untyped-def]
    async def extra(request: Request) -> Response:
        return JSONResponse({"page": "extra"})
    async with start_live_server(app_config, [route("/extra", extra, roles=PUBLIC)]) as server:
        async with server.client() as http:
            assert (await http.get("/extra")).json() == {"page": "extra"}
            static = await http.get("/static/whep.js")
            missing = await http.get("/static/nope.js")
            await server.login(http)
            index = await http.get("/")
    frontend = Path(__file__).resolve().parent.parent / "frontend"
    assert static.status_code == 200 and static.text == (frontend / "whep.js").read_text()
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert index.status_code == 200 and "html" in index.headers["content-type"]


async def test_passwords_and_hashes_never_leave(live_server: LiveServer, caplog) -> None:  # type: ignore[no-untyped-def]
    secret_pw = "Very-Secret-Pw-789"
    with caplog.at_level(logging.DEBUG):
        async with live_server.client() as http:
            login = await live_server.login(http)
            created = await http.post("/api/users", json={
                "username": "hoa", "password": secret_pw, "role": "operator"})
            uid = created.json()["id"]
            changed = await http.put(f"/api/users/{uid}/password",
                                     json={"password": secret_pw + "2"})
            bodies = [login.text, created.text, changed.text,
                      (await http.get("/api/users")).text,
                      (await http.get(f"/api/users/{uid}")).text,
                      (await http.get("/api/me")).text,
                      (await http.get("/api/audit?limit=1000")).text,
                      (await http.get("/api/audit.csv")).text]
    row = await live_server.services.store.fetchone(
        "SELECT password_hash FROM users WHERE username = 'hoa'")
    assert row is not None and row["password_hash"].startswith("$argon2id$")
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for text in [*bodies, logs]:
        for secret in (secret_pw, ADMIN_PASSWORD, row["password_hash"], "$argon2",
                       "password_hash"):
            assert secret not in text


async def test_lifespan_starts_and_stops_services_it_owns(app_config) -> None:  # type: ignore[no-untyped-def]
    from iocwall.wall.app import build_app
    from iocwall.wall.services import Services
    services = Services(app_config)
    app = build_app(services)
    async with app.router.lifespan_context(app):
        assert services.started
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            assert (await http.get("/healthz")).json()["store"] is True
    assert not services.started and await services.store.ping() is False


@pytest.mark.parametrize("path", ["/api/me", "/api/users"])
async def test_garbage_cookie_is_anonymous(live_server: LiveServer, path: str) -> None:
    async with live_server.client(cookies={"iocwall_session": "forged.value.sig"}) as http:
        r = await http.get(path)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"

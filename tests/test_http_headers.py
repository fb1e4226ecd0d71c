"""Host allow-list, static allow-list, pages behind a login, security headers: real server."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from iocwall.wall import pages
from iocwall.wall.app import build_app
from iocwall.wall.config import Config
from iocwall.wall.services import Services
from tests.fixtures.app import LiveServer, start_live_server

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


@pytest.fixture
async def server(app_config: Config) -> AsyncIterator[LiveServer]:
    async with start_live_server(app_config, extra_routes=pages.routes()) as running:
        yield running


async def test_foreign_host_header_is_400(server: LiveServer) -> None:
    port = server.info.port
    async with server.client() as http:
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example",
                     f"rebind.attacker.test:{port}"):
            r = await http.get("/healthz", headers={"Host": host})
            assert r.status_code == 400, (host, r.text)
            assert r.json()["error"]["code"] == "bad_host"
        # the DNS-rebinding shape: Origin and Host agree, both the attacker's name
        r = await http.post("/api/login", json={"username": "admin", "password": "x"},
                            headers={"Host": f"evil.example:{port}",
                                     "Origin": f"http://evil.example:{port}"})
        assert r.status_code == 400
        # the /static redirect never echoes a foreign host
        r = await http.get("/static", headers={"Host": "evil.example"})
        assert r.status_code == 400 and "evil" not in r.headers.get("location", "")
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST"):
            assert (await http.get("/healthz", headers={"Host": host})).status_code == 200
        r = await http.post("/api/login", json={"username": "admin", "password": "x"},
                            headers={"Host": f"localhost:{port}",
                                     "Origin": f"http://localhost:{port}"})
        assert r.status_code == 401                    # got past the host and Origin checks


async def test_configured_hosts_and_public_url_are_allowed(app_config: Config) -> None:
    app_config.server.allowed_hosts = ["wall.ioc.example"]
    app_config.server.public_url = "https://ioc.example.vn/"
    async with start_live_server(app_config) as running, running.client() as http:
        for host in ("wall.ioc.example", "ioc.example.vn", "ioc.example.vn:443"):
            assert (await http.get("/healthz", headers={"Host": host})).status_code == 200
        assert (await http.get("/healthz", headers={"Host": "other.example"})).status_code == 400
        # public_url's origin may post even though the request reached us over plain http
        r = await http.post("/api/login", json={"username": "admin", "password": "x"},
                            headers={"Host": "ioc.example.vn",
                                     "Origin": "https://ioc.example.vn"})
        assert r.status_code == 401, r.text


async def test_static_serves_only_what_pages_need(server: LiveServer) -> None:
    async with server.client() as http:
        for name in ("style.css", "login.js", "i18n.js", "whep.js"):
            r = await http.get(f"/static/{name}")
            assert r.status_code == 200, name
            assert r.headers["x-content-type-options"] == "nosniff"
        assert (await http.get("/static/style.css")).headers["content-type"].startswith("text/css")
        for name in ("package.json", "package-lock.json", "node_modules/.installed",
                     "node_modules/", "live.html", "index.html", "../pyproject.toml",
                     "%2e%2e/pyproject.toml", ".installed", "", "nope.js"):
            r = await http.get(f"/static/{name}")
            assert r.status_code == 404, (name, r.status_code)
            assert r.json()["error"]["code"] == "not_found"


async def test_vendored_files_come_from_an_explicit_list(tmp_path: Path,
                                                         app_config: Config) -> None:
    (tmp_path / "node_modules" / "chartlib" / "dist").mkdir(parents=True)
    (tmp_path / "node_modules" / "chartlib" / "dist" / "chart.min.js").write_text("chart();")
    (tmp_path / "node_modules" / "chartlib" / "package.json").write_text("{}")
    (tmp_path / "page.js").write_text("page();")
    from iocwall.wall.http.static import static_route
    route = static_route(tmp_path, {"chart.min.js": "chartlib/dist/chart.min.js"})
    app = build_app(Services(app_config), [route])
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                              base_url="http://127.0.0.1") as http:
        assert (await http.get("/static/vendor/chart.min.js")).text == "chart();"
        assert (await http.get("/static/page.js")).text == "page();"
        for path in ("/static/vendor/package.json", "/static/vendor/chartlib/package.json",
                     "/static/node_modules/chartlib/dist/chart.min.js"):
            assert (await http.get(path)).status_code == 404, path


async def test_pages_other_than_login_need_a_session(server: LiveServer) -> None:
    async with server.client() as http:
        home = await http.get("/", headers=BROWSER)
        assert home.status_code == 303 and home.headers["location"] == "/login?next=/"
        assert (await http.get("/login", headers=BROWSER)).status_code == 200
        await server.login(http)
        home = await http.get("/", headers=BROWSER)
    assert home.status_code == 200 and 'id="cards"' in home.text
    assert "<!-- shell:head -->" not in home.text and "/static/shell.js" in home.text


async def test_security_headers_on_every_response(server: LiveServer) -> None:
    async with server.client() as http:
        replies = [await http.get("/healthz"), await http.get("/api/me"),
                   await http.get("/no/such"), await http.get("/static/style.css"),
                   await http.get("/login", headers=BROWSER),
                   await http.get("/", headers=BROWSER),
                   await http.post("/api/login", content="x",
                                   headers={"Content-Type": "text/plain"}),
                   await http.get("/healthz", headers={"Host": "evil.example"})]
    for r in replies:
        for name in HEADERS:
            assert name in r.headers, (r.url, r.status_code, name)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in r.headers   # plain http: no HSTS
    assert replies[4].headers["cache-control"] == "no-store"


async def test_https_public_url_gives_hsts_and_secure_cookies(app_config: Config) -> None:
    app_config.server.public_url = "https://ioc.example.vn"
    async with start_live_server(app_config) as running, running.client() as http:
        login = await running.login(http)
        health = await http.get("/healthz")
    assert "max-age=" in health.headers["strict-transport-security"]
    cookie = login.headers["set-cookie"].lower()
    assert "; secure" in cookie and "httponly" in cookie


async def test_security_headers_on_a_500(app_config: Config) -> None:
    """A handler that fails: Starlette answers its 500 outside every user middleware."""
    from starlette.requests import Request
    from starlette.responses import Response

    from iocwall.wall.access import PUBLIC, route

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    failing = route("/broken", broken, roles=PUBLIC, methods=["GET"])
    async with start_live_server(app_config, extra_routes=[failing]) as running, \
            running.client() as http:
        r = await http.get("/broken")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
    assert "a bug" not in r.text
    for name in HEADERS:
        assert name in r.headers, name
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]

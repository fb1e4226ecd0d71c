"""Every route declares its roles; anonymous calls to protected ones get 401, wrong roles 403."""
from __future__ import annotations

import re

from starlette.routing import Route, WebSocketRoute

from iocwall.wall.access import ALL, Role
from iocwall.wall.app import build_app
from tests.fixtures.app import USER_PASSWORD, LiveServer

# Routes anyone may call without logging in. Adding one here is a decision: say why.
PUBLIC_ROUTES = {
    "/api/login": "how a login starts",
    "/login": "the login page itself",
    "/healthz": "monitoring probes have no account",
    "/static/{path:path}": "scripts and styles of the login page (an allow-list, no pages)",
    "/api/display/pair": "a display node asks for a pairing code before it has any credential",
    "/api/display/pair/{node}/poll": "the node polls with the secret it got from /pair",
    "/pair": "the pairing page a new display shows (its code, nothing else)",
}


def concrete(path: str) -> str:
    """A request path for a route template: every {param} becomes 1."""
    return re.sub(r"\{[^}]+\}", "1", path)


def all_routes(live_server: LiveServer) -> list[Route]:
    services = live_server.services
    app = build_app(services)     # exactly what serve builds: the route table, wall/routes.py
    routes = [r for r in app.routes if isinstance(r, Route)]
    others = [r for r in app.routes if not isinstance(r, Route)]
    sockets = [r for r in others if isinstance(r, WebSocketRoute)]
    assert all(hasattr(r, "roles") and r.roles for r in sockets), sockets  # type: ignore[attr-defined]
    assert [r for r in others if r not in sockets] == [], \
        "mounts bypass the role guard; add routes with access.route"
    return routes


async def test_every_route_declares_roles(live_server: LiveServer) -> None:
    routes = all_routes(live_server)
    assert len(routes) >= 15
    for r in routes:
        assert hasattr(r, "roles"), f"{r.path} was not built with iocwall.wall.access.route"
    public = {r.path for r in routes if not r.roles}  # type: ignore[attr-defined]
    assert public == set(PUBLIC_ROUTES), "a public route needs a reason in PUBLIC_ROUTES"


async def test_anonymous_is_refused_on_every_protected_route(live_server: LiveServer) -> None:
    checked = 0
    async with live_server.client() as http:
        for r in all_routes(live_server):
            if not r.roles:  # type: ignore[attr-defined]
                continue
            for method in sorted(r.methods or []):
                response = await http.request(method, concrete(r.path), json={})
                assert response.status_code == 401, (method, r.path, response.text)
                if method != "HEAD":
                    assert response.json()["error"]["code"] == "unauthenticated"
                checked += 1
    assert checked >= 15


async def test_wrong_role_gets_403_on_every_route_it_lacks(live_server: LiveServer) -> None:
    """Each role logs in for real and calls every route it is not declared for."""
    for role in (Role.OPERATOR, Role.LEADER, Role.REGISTRAR, Role.TECHNICIAN):
        await live_server.add_user(f"u-{role.value}", role)
    checked = 0
    for role in (Role.OPERATOR, Role.LEADER, Role.REGISTRAR, Role.TECHNICIAN):
        async with live_server.client() as http:
            await live_server.login(http, f"u-{role.value}", USER_PASSWORD)
            for r in all_routes(live_server):
                roles = r.roles  # type: ignore[attr-defined]
                if not roles or role in roles:
                    continue
                for method in sorted(r.methods or []):
                    response = await http.request(method, concrete(r.path), json={})
                    assert response.status_code == 403, (role, method, r.path, response.text)
                    checked += 1
    assert checked >= 20


async def test_display_token_only_reaches_display_routes(live_server: LiveServer) -> None:
    _, token = await live_server.services.tokens.create("wall-pc-1", Role.DISPLAY)
    async with live_server.client(headers={"Authorization": f"Bearer {token}"}) as http:
        me = await http.get("/api/me")
        assert me.status_code == 200 and me.json()["role"] == "display"
        assert me.json()["via"] == "token"
        for r in all_routes(live_server):
            roles = r.roles  # type: ignore[attr-defined]
            if roles and Role.DISPLAY not in roles:
                response = await http.request(sorted(r.methods or ["GET"])[0],
                                              concrete(r.path), json={})
                assert response.status_code == 403, (r.path, response.text)


async def test_admin_reaches_admin_routes(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        for path in ("/api/users", "/api/tokens", "/api/audit", "/api/audit.csv", "/api/me"):
            assert (await http.get(path)).status_code == 200, path


def test_all_is_every_role() -> None:
    assert ALL == frozenset(Role)

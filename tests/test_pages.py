"""wall/pages.py over HTTP on a real server: who gets /live, /login, and how."""
from __future__ import annotations

import pytest

from iocwall.wall import pages
from iocwall.wall.access import ANY_USER, Role
from tests.fixtures.app import USER_PASSWORD, start_live_server

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
async def server(app_config):
    async with start_live_server(app_config, extra_routes=pages.routes()) as running:
        yield running


def test_routes_declare_their_roles():
    by_path = {r.path: r for r in pages.routes()}
    assert by_path["/login"].roles == frozenset()
    assert by_path["/live"].roles == ANY_USER


async def test_login_page_is_public_and_locked_down(server):
    async with server.client() as http:
        reply = await http.get("/login", headers=BROWSER)
    assert reply.status_code == 200
    assert 'id="login-form"' in reply.text
    assert reply.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in reply.headers["content-security-policy"]


async def test_anonymous_browser_is_sent_to_login_and_back(server):
    async with server.client() as http:
        reply = await http.get("/live?wall=2", headers=BROWSER)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=/live%3Fwall%3D2"


async def test_anonymous_script_gets_json_401(server):
    async with server.client() as http:
        reply = await http.get("/live")
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthenticated"


async def test_every_person_role_gets_live(server):
    for role in (Role.OPERATOR, Role.LEADER, Role.REGISTRAR, Role.TECHNICIAN):
        await server.add_user(f"p-{role.value}", role)
        async with server.client() as http:
            await server.login(http, f"p-{role.value}", USER_PASSWORD)
            reply = await http.get("/live", headers=BROWSER)
        assert reply.status_code == 200, role
        assert 'data-ready="0"' in reply.text


async def test_display_token_may_not_open_live(server):
    _, token = await server.services.tokens.create("wall-pc-9", Role.DISPLAY)
    async with server.client(headers={"Authorization": f"Bearer {token}", **BROWSER}) as http:
        reply = await http.get("/live")
    assert reply.status_code == 403


async def test_nav_lists_the_pages_each_role_may_open_and_its_home(server):
    expected = {
        Role.OPERATOR: ("/console", {"/", "/live", "/console", "/leader", "/register", "/zones"}),
        Role.LEADER: ("/leader", {"/", "/live", "/console", "/leader", "/register", "/audit"}),
        Role.REGISTRAR: ("/register", {"/", "/live", "/register", "/zones", "/health"}),
        Role.TECHNICIAN: ("/health", {"/", "/live", "/console", "/register", "/health"}),
    }
    for role, (home, paths) in expected.items():
        await server.add_user(f"n-{role.value}", role, unit="HNI" if role is Role.REGISTRAR else "")
        async with server.client() as http:
            await server.login(http, f"n-{role.value}", USER_PASSWORD)
            answer = (await http.get("/api/nav")).json()
            assert answer["home"] == home and answer["role"] == role.value
            assert {p["path"] for p in answer["pages"] if not p["menu"]} == paths, role
            # My settings, for everyone, in the user menu rather than the navigation
            assert [p["path"] for p in answer["pages"] if p["menu"]] == ["/settings"], role
            for page in answer["pages"]:              # every listed page opens for this role
                assert (await http.get(page["path"], headers=BROWSER)).status_code == 200
    async with server.client() as http:
        assert (await http.get("/api/nav")).status_code == 401
        await server.login(http)
        answer = (await http.get("/api/nav")).json()
        assert answer["home"] == "/"
        assert {"/admin/users", "/admin/tokens", "/audit"} <= {p["path"] for p in answer["pages"]}

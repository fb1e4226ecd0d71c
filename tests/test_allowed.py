"""GET /api/allowed: which routes the caller may use, from the route table's own roles
(pages ask it instead of calling a route and absorbing the 403)."""
from __future__ import annotations

from pathlib import Path

from tests.fixtures.app import make_config, start_live_server

ASKED = ["/api/queues", "/api/indicators", "POST /api/registry/test", "/api/registry/interfaces"]


async def test_allowed_answers_per_role_from_the_route_table(tmp_path: Path) -> None:
    async with start_live_server(make_config(tmp_path / "data")) as server, \
            server.client() as admin, server.client() as registrar:
        await server.login(admin)
        made = await admin.post("/api/users", json={"username": "hn-reg", "password":
                                                    "registrar-pass-1", "role": "registrar",
                                                    "province": "Hà Nội"})
        assert made.status_code == 201, made.text
        await server.login(registrar, "hn-reg", "registrar-pass-1")
        query = [("path", p) for p in ASKED]
        assert (await admin.get("/api/allowed", params=query)).json() == dict.fromkeys(ASKED, True)
        answer = (await registrar.get("/api/allowed", params=query)).json()
        assert answer == {"/api/queues": False, "/api/indicators": True,
                          "POST /api/registry/test": True, "/api/registry/interfaces": True}
        # the answer is the route's own: what it says is refused is refused
        assert (await registrar.get("/api/queues")).status_code == 403
        bad = await admin.get("/api/allowed", params={"path": "/api/nothing-here"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "path"
        assert (await admin.get("/api/allowed")).status_code == 422
        async with server.client() as anonymous:
            assert (await anonymous.get("/api/allowed", params=query)).status_code == 401

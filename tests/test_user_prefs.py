"""My settings through the real server: GET/PUT /api/me/prefs, their validation by role, the
landing page /api/nav (and so the login page) uses, the audit, and tokens (no settings)."""
from __future__ import annotations

from iocwall.wall.access import Role
from tests.fixtures.app import USER_PASSWORD, LiveServer


async def test_each_user_keeps_their_own_settings(live_server: LiveServer) -> None:
    await live_server.add_user("op-prefs", Role.OPERATOR)
    async with live_server.client() as admin, live_server.client() as op:
        await live_server.login(admin)
        made = await admin.post("/api/walls", json={"id": "hall", "name": "Hall", "columns": 1,
                                                    "rows": 1, "monitors": ["1"]})
        assert made.status_code == 201, made.text
        await live_server.login(op, "op-prefs", USER_PASSWORD)
        first = (await op.get("/api/me/prefs")).json()
        assert {k: first[k] for k in ("landing", "lang", "province", "wall")} == \
            {"landing": "", "lang": "", "province": "", "wall": ""}
        assert {"path": "/console", "key": "nav.console"} in first["choices"]["landing"]
        assert "/settings" not in [p["path"] for p in first["choices"]["landing"]]
        assert len(first["choices"]["province"]) == 34
        assert {"id": "hall", "name": "Hall"} in first["choices"]["wall"]
        assert (await op.get("/api/nav")).json()["home"] == "/console"   # the role's home

        reply = await op.put("/api/me/prefs", json={"landing": "/leader", "lang": "en",
                                                     "province": "Huế", "wall": "hall"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["province"] == "HUE"                       # stored as its code
        nav = (await op.get("/api/nav")).json()
        assert nav["home"] == "/leader"
        assert nav["prefs"] == {"landing": "/leader", "lang": "en", "province": "HUE",
                                "wall": "hall"}
        assert (await admin.get("/api/nav")).json()["prefs"]["lang"] == ""  # only theirs
        # '' goes back to the role's default; other fields are left as they are
        assert (await op.put("/api/me/prefs", json={"landing": ""})).status_code == 200
        nav = (await op.get("/api/nav")).json()
        assert nav["home"] == "/console" and nav["prefs"]["lang"] == "en"

        audit = (await admin.get("/api/audit", params={"action": "user.prefs"})).json()
        entries = audit["entries"] if isinstance(audit, dict) else audit
        assert entries and entries[0]["actor"] == "op-prefs"
        assert entries[0]["after"]["landing"] == ""


async def test_a_choice_the_role_may_not_use_is_a_422_naming_it(
        live_server: LiveServer) -> None:
    await live_server.add_user("reg-prefs", Role.REGISTRAR, unit="HA-NOI")
    async with live_server.client() as reg:
        await live_server.login(reg, "reg-prefs", USER_PASSWORD)
        choices = (await reg.get("/api/me/prefs")).json()["choices"]
        assert choices["province"] == [{"code": "HA-NOI", "name": "Hà Nội"}]
        assert choices["wall"] == []                                   # registrars see no wall
        for body, field in (({"landing": "/admin/users"}, "landing"),  # an admin page
                            ({"landing": "/console"}, "landing"),      # not a registrar's
                            ({"landing": "https://evil.example/"}, "landing"),
                            ({"lang": "fr"}, "lang"),
                            ({"province": "Huế"}, "province"),         # another province
                            ({"province": "Hải Dương"}, "province"),   # merged in 2025
                            ({"wall": "demo"}, "wall"),
                            ({"colour": "red"}, "colour")):
            reply = await reg.put("/api/me/prefs", json=body)
            assert reply.status_code == 422, (body, reply.text)
            assert reply.json()["error"]["field"] == field, (body, reply.text)
        assert (await reg.get("/api/me/prefs")).json()["landing"] == ""   # nothing kept
        ok = await reg.put("/api/me/prefs", json={"landing": "/zones", "province": "ha noi"})
        assert ok.status_code == 200 and ok.json()["province"] == "HA-NOI"
        assert (await reg.get("/api/nav")).json()["home"] == "/zones"


async def test_a_landing_page_the_role_lost_falls_back_to_the_roles_home(
        live_server: LiveServer) -> None:
    uid = await live_server.add_user("was-admin", Role.ADMIN)
    async with live_server.client() as admin, live_server.client() as user:
        await live_server.login(admin)
        await live_server.login(user, "was-admin", USER_PASSWORD)
        chosen = await user.put("/api/me/prefs", json={"landing": "/admin/users"})
        assert chosen.status_code == 200
        changed = await admin.patch(f"/api/users/{uid}", json={"role": "leader"})
        assert changed.status_code == 200
        await live_server.login(user, "was-admin", USER_PASSWORD)
        assert (await user.get("/api/nav")).json()["home"] == "/leader"


async def test_tokens_have_no_settings(live_server: LiveServer) -> None:
    async with live_server.client() as admin:
        await live_server.login(admin)
        made = await admin.post("/api/tokens", json={"label": "probe", "role": "technician"})
        assert made.status_code == 201, made.text
        secret = made.json()["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    async with live_server.client(headers=bearer) as bot:
        assert (await bot.get("/api/me/prefs")).status_code == 200
        reply = await bot.put("/api/me/prefs", json={"lang": "en"})
        assert reply.status_code == 400 and reply.json()["error"]["code"] == "not_a_user"
    async with live_server.client() as anonymous:
        assert (await anonymous.get("/api/me/prefs")).status_code == 401

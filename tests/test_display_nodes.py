"""GET /api/display/nodes through the real server: paired nodes with their wall, address and
live connections (last seen +07:00), display pages connected without a pairing, admins only."""
from __future__ import annotations

from iocwall.wall.access import Role
from tests.fixtures.app import USER_PASSWORD, LiveServer
from tests.waiting import wait_until
from tests.wall_helpers import make_wall, open_display


async def test_paired_and_connected_displays_are_listed(live_server: LiveServer) -> None:
    await live_server.add_user("op-nodes", Role.OPERATOR)
    async with live_server.client() as admin, live_server.client() as node, \
            live_server.client() as op:
        await live_server.login(admin)
        await make_wall(admin, "hall")
        started = (await node.post("/api/display/pair", json={"name": "hall-pc"})).json()
        approved = await admin.post(f"/api/display/pairings/{started['code']}/approve",
                                    json={"wall": "hall", "monitors": {"1": "HDMI-1"}})
        assert approved.status_code == 200, approved.text
        listed = (await admin.get("/api/display/nodes")).json()
        assert [(n["node"], n["name"], n["wall"], n["address"], n["paired"], n["connections"])
                for n in listed] == [(started["node"], "hall-pc", "hall", "127.0.0.1", True, [])]
        assert listed[0]["first_seen"].endswith("+07:00")

        preview = await open_display(live_server.url, "hall", "2", dict(admin.cookies))
        try:
            async def connected() -> list:
                found = (await admin.get("/api/display/nodes")).json()
                return [n for n in found if not n["paired"]]
            shown = await wait_until(connected, 10, "the preview is listed", step=0.1)
            assert shown[0]["node"] == "preview:admin" and shown[0]["wall"] == "hall"
            assert shown[0]["connections"][0]["monitor"] == "2"
            assert shown[0]["connections"][0]["status"] == "up"
            assert shown[0]["connections"][0]["last_seen"].endswith("+07:00")
            on_board = await wait_until(lambda: _board_displays(admin), 10,
                                        "the preview on the health board", step=0.1)
            assert on_board == {"preview:admin": "ok"}
        finally:
            await preview.close()
        # A preview that closes is not a display that went down: no node is left "down" on
        # the board (only paired nodes are watched when they vanish).
        await wait_until(lambda: _board_empty(admin), 10, "the preview leaves the board",
                         step=0.1)

        revoked = await admin.post(f"/api/display/nodes/{started['node']}/revoke")
        assert revoked.status_code == 200
        assert all(n["node"] != started["node"] for n in
                   (await admin.get("/api/display/nodes")).json())
        await live_server.login(op, "op-nodes", USER_PASSWORD)
        assert (await op.get("/api/display/nodes")).status_code == 403


async def _board_displays(admin) -> dict[str, str]:  # noqa: ANN001
    board = (await admin.get("/api/health")).json()
    return {c["id"]: c["state"] for c in board["system"] if c["kind"] == "display_node"}


async def _board_empty(admin) -> bool:  # noqa: ANN001
    return await _board_displays(admin) == {}

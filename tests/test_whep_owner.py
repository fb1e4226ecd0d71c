"""Only the viewer who opened a WHEP session, or an admin, may end it: two operators play the
simulator's camera through the real server; one cannot end the other's session (the same 404
as an unknown id), an admin can (and that is audited), the owner can (not audited)."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from iocwall.wall.access import Role
from iocwall.wall.audit import AuditQuery
from tests.fixtures.app import USER_PASSWORD
from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import play, registry_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_only_the_viewer_or_an_admin_ends_a_whep_session(
        simulator: SimProcess, tmp_path: Path) -> None:
    async with registry_server(tmp_path) as server, server.client() as admin, \
            server.client() as alice, server.client() as bob:
        await server.login(admin)
        created = await admin.post("/api/cameras", json={
            "province": "Hà Nội", "centre": "TT PVHCC", "name": "Quầy 1",
            "rtsp_main": simulator.url(1, "main", auth=False),
            "rtsp_sub": simulator.url(1, "sub", auth=False),
            "username": simulator.user, "password": simulator.password})
        assert created.status_code == 201, created.text
        camera = created.json()["id"]
        for name, http in (("op-alice", alice), ("op-bob", bob)):
            await server.add_user(name, Role.OPERATOR)
            await server.login(http, name, USER_PASSWORD)

        viewer, answer = await play(alice, camera)
        other, other_answer = await play(bob, camera)
        try:
            assert answer.status_code == 201 and other_answer.status_code == 201
            await viewer.first_frame(timeout=10)
            location = answer.headers["Location"]
            session_id = location.rsplit("/", 1)[1]
            media = server.services.media

            async def alive(sid: str) -> bool:
                found = media.find_session(sid)      # async on a MediaCluster
                return (await found if inspect.isawaitable(found) else found) is not None

            refused = await bob.delete(location)
            unknown = await bob.delete(location.rsplit("/", 1)[0] + "/" + "0" * len(session_id))
            assert refused.status_code == 404 == unknown.status_code
            assert refused.json() == unknown.json()          # existence is not confirmed
            assert await alive(session_id)
            assert len(await viewer.count_during(1.0)) > 0        # still playing

            assert (await admin.delete(location)).status_code == 200
            assert not await alive(session_id)
            ended = (await server.services.audit.query(AuditQuery(action="whep.delete"))).entries
            assert [(e.actor, e.target) for e in ended] == [
                ("admin", f"camera:{camera}/whep:{session_id}")]
            assert ended[0].before == {"viewer": "op-alice", "stream": "sub"}

            own = other_answer.headers["Location"]
            assert (await bob.delete(own)).status_code == 200   # the owner ends its own
            assert (await bob.delete(own)).status_code == 404
            ended = (await server.services.audit.query(AuditQuery(action="whep.delete"))).entries
            assert len(ended) == 1                               # not audited: its own
        finally:
            await viewer.close()
            await other.close()

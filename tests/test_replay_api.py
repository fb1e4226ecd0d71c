"""Instant replay over HTTP through the whole server: which cameras are buffered
([replay] cameras = "wall": those with zones or on a wall), login, roles, the registrar's
province scope, the media processes that own the cameras (a cluster of two), and the
replayed MP4 and an export checked by FFmpeg's own tools."""
from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from iocwall.wall.access import Role
from tests.fixtures.app import USER_PASSWORD
from tests.fixtures.simulator import SimProcess
from tests.fixtures.tools import require_tool
from tests.registry_helpers import registry_config, registry_server
from tests.test_registry_api import camera_body
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, tile

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def ffprobe_frames(data: bytes, tmp: Path) -> int:
    path = tmp / "clip.mp4"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=codec_name,nb_read_frames",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    codec, frames = out.stdout.strip().split(",")
    assert codec == "h264"
    decode = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=60)
    assert decode.returncode == 0 and not decode.stderr.strip(), decode.stderr
    return int(frames)


ZONE = {"zones": [{"id": "c1", "polygon": [[10, 10], [200, 10], [200, 200], [10, 200]]}]}


async def test_replay_api_roles_scope_export_and_audit(simulator: SimProcess,
                                                       tmp_path: Path) -> None:
    require_tool("ffprobe")
    config = registry_config(tmp_path / "data")
    config.streams.processes = 2                 # the cameras' owners are media processes
    config.analytics.enabled = False             # zones stored, nobody taps them
    assert config.replay.cameras == "wall"       # the default: on a wall or with zones
    config.replay.sub_seconds = 60
    async with registry_server(tmp_path, config) as server, server.client() as http:
        await server.login(http)
        hn = (await http.post("/api/cameras", json=camera_body(simulator, 1))).json()["id"]
        hue = (await http.post("/api/cameras", json=camera_body(
            simulator, 2, province="Huế"))).json()["id"]
        made = await http.post("/api/users", json={"username": "hue-reg", "password":
                                                   USER_PASSWORD, "role": "registrar",
                                                   "province": "Thừa Thiên Huế"})
        assert made.status_code == 201, made.text
        await server.add_user("op1", Role.OPERATOR)
        await server.add_user("lead1", Role.LEADER)
        plain = (await http.post("/api/cameras", json=camera_body(simulator, 3))).json()["id"]
        for camera in (hn, hue):
            put = await http.put(f"/api/cameras/{camera}/zones", json=ZONE)
            assert put.status_code == 200, put.text

        async def span(camera: str) -> dict | None:
            r = await http.get(f"/api/cameras/{camera}/replay")
            assert r.status_code == 200, r.text
            sub = r.json()["streams"].get("sub")
            if sub and (datetime.fromisoformat(sub["to"]) -
                        datetime.fromisoformat(sub["from"])).total_seconds() >= 4:
                return sub
            return None

        sub = await wait_until(lambda: span(hn), 60, "4 s of the HN camera buffered", 0.3)
        assert sub["from"].endswith("+07:00") and sub["to"].endswith("+07:00")
        await wait_until(lambda: span(hue), 30, "the Huế camera buffered", 0.3)
        # no zones, on no wall: not buffered
        assert (await http.get(f"/api/cameras/{plain}/replay")).json() == {"streams": {}}
        url = f"/api/cameras/{hn}/replay/sub.mp4"
        start = sub["from"]

        # the operator plays and exports; the export is a named file, audited
        await server.login(http, "op1", USER_PASSWORD)
        played = await http.get(url, params={"start": start, "duration": "3"})
        assert played.status_code == 200, played.text
        assert played.headers["content-type"] == "video/mp4"
        assert "content-disposition" not in played.headers
        assert played.headers["x-replay-start"].endswith("+07:00")
        assert ffprobe_frames(played.content, tmp_path) >= 30
        export = await http.get(url, params={"start": start, "duration": "4", "download": "1"})
        assert export.status_code == 200, export.text
        disposition = export.headers["content-disposition"]
        assert disposition.startswith(f'attachment; filename="{hn}-sub-') and \
            disposition.endswith('+0700.mp4"')
        assert ffprobe_frames(export.content, tmp_path) >= 40

        # outside the buffer, bad input
        gone = await http.get(url, params={"start": "2020-01-01T08:00:00+07:00"})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "outside_buffer"
        bad = await http.get(url, params={"start": "yesterday"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "start"
        bad = await http.get(url, params={"start": start, "duration": "9999"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "duration"
        assert (await http.get(f"/api/cameras/{hn}/replay/side.mp4",
                               params={"start": start})).status_code == 404

        # a leader may watch, not export
        await server.login(http, "lead1", USER_PASSWORD)
        assert (await http.get(url, params={"start": start})).status_code == 200
        refused = await http.get(url, params={"start": start, "download": "1"})
        assert refused.status_code == 403

        # a registrar replays its own province's camera only
        await server.login(http, "hue-reg", USER_PASSWORD)
        assert (await http.get(f"/api/cameras/{hn}/replay")).status_code == 404
        assert (await http.get(url, params={"start": start})).status_code == 404
        own = (await http.get(f"/api/cameras/{hue}/replay")).json()["streams"]["sub"]
        mine = await http.get(f"/api/cameras/{hue}/replay/sub.mp4",
                              params={"start": own["from"], "duration": "2"})
        assert mine.status_code == 200 and len(mine.content) > 1000

        await server.login(http)
        entries = (await http.get("/api/audit", params={"action": "replay.export"})).json()
        rows = entries["entries"] if isinstance(entries, dict) else entries
        assert len(rows) == 1, rows
        row = rows[0]
        assert (row["actor"], row["target"]) == ("op1", f"camera:{hn}")
        assert row["after"]["stream"] == "sub"
        assert row["after"]["from"] == export.headers["x-replay-start"]
        assert row["after"]["to"] == export.headers["x-replay-end"]

        # its zones gone, a camera is no longer buffered (within a pass of the follower)
        assert (await http.put(f"/api/cameras/{hue}/zones", json={"zones": []})).status_code \
            == 200

        async def dropped() -> bool:
            r = await http.get(f"/api/cameras/{hue}/replay")
            return r.json() == {"streams": {}}
        await wait_until(dropped, 20, "the Huế camera's buffer dropped", 0.5)

        # a camera put on a wall is buffered
        await make_wall(http)
        shown = await http.put("/api/walls/w1/monitors/1/layout", json=layout(
            tile("a", 0, 0, plain)))
        assert shown.status_code == 200, shown.text

        async def on_wall() -> bool:
            r = await http.get(f"/api/cameras/{plain}/replay")
            return "sub" in r.json()["streams"]
        await wait_until(on_wall, 30, "the camera on the wall buffered", 0.5)


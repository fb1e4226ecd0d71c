"""The registry over HTTP with a real media server and the real simulator: a camera added
plays at once, an edit reconnects, a delete ends its viewers; test connection; import;
bad input; and no password in any response, audit entry or log line."""
from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest

from tests.fixtures.app import ADMIN_PASSWORD
from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import Recorder, play, recording_client, registry_server
from tests.waiting import seconds_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def camera_body(sim: SimProcess, k: int, **over: object) -> dict:
    body = {"province": "Hà Nội", "centre": "TT PVHCC Hà Nội", "name": f"Quầy {k}",
            "location": f"Sảnh {k}", "rtsp_main": sim.url(k, "main", auth=False),
            "rtsp_sub": sim.url(k, "sub", auth=False), "username": sim.user,
            "password": sim.password, "tags": ["sảnh"]}
    body.update(over)
    return body




async def test_added_camera_plays_edit_reconnects_delete_ends_viewers(
        simulator: SimProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder()
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http)
        events = await server.services.bus.subscribe("camera.*")
        created = await http.post("/api/cameras", json=camera_body(simulator, 1))
        assert created.status_code == 201, created.text
        cam = created.json()
        event = await events.get(timeout=5)     # other processes hear of it (bus)
        assert event is not None
        assert (event.topic, event.kind.value) == ("camera.ha-noi-1", "created")
        assert event.payload["has_credentials"] is True
        assert simulator.password not in event.to_json()
        assert cam["id"] == "ha-noi-1" and cam["has_credentials"] is True
        assert "password" not in cam and "username" not in cam

        registered_at = time.monotonic()
        viewer, answer = await play(http, cam["id"])
        try:
            assert answer.status_code == 201, answer.text
            first = await viewer.first_frame(timeout=10)
            assert first < 8, f"first frame after {first:.1f} s"
            print(f"\nregistered -> first decoded WHEP frame: "
                  f"{viewer.frames[0].at - registered_at:.2f} s")
            listed = (await http.get("/api/cameras")).json()
            mine = next(c for c in listed if c["id"] == cam["id"])
            assert mine["province"] == "HA-NOI" and mine["state"] in ("live", "connecting")

            # a wrong password: the stream reconnects with it and is lost ...
            wrong = await http.patch(f"/api/cameras/{cam['id']}", json={"password": "nope"})
            assert wrong.status_code == 200, wrong.text
            media = server.services.media

            async def lost() -> bool:
                return (await media.camera(cam["id"])).streams["sub"].state.value == "lost"
            await seconds_until(lost, 15, "lost after a wrong password")
            # ... the right one again: the same viewer gets pictures again
            right = await http.patch(f"/api/cameras/{cam['id']}",
                                     json={"password": simulator.password, "name": "Quầy 1A"})
            assert right.json()["name"] == "Quầy 1A"
            mark = time.monotonic()

            async def flowing() -> bool:
                return any(f.at > mark for f in viewer.frames)
            await seconds_until(flowing, 15, "frames after the fix")

            deleted = await http.delete(f"/api/cameras/{cam['id']}")
            assert deleted.status_code == 200 and deleted.json()["state"] == "removed"

            async def closed() -> bool:
                return viewer.pc.connectionState == "closed" or any(
                    e.get("state") == "removed" for e in viewer.events)
            ended = await seconds_until(closed, 10, "viewer ended after delete")
            print(f"deleted -> viewer ended: {ended:.2f} s")
            gone = await http.get(f"/api/cameras/{cam['id']}")
            assert gone.status_code == 410 and gone.json()["error"]["code"] == "removed"
            again, refused = await play(http, cam["id"])
            await again.close()
            assert refused.status_code == 410
        finally:
            await viewer.close()

        audit = (await http.get("/api/audit", params={"action": "camera.*"})).json()
        actions = [e["action"] for e in audit["entries"]]
        assert actions.count("camera.update") == 2 and "camera.create" in actions
        assert "camera.delete" in actions
        update = next(e for e in audit["entries"] if e["action"] == "camera.update")
        assert update["before"]["name"] == "Quầy 1" and update["after"]["name"] == "Quầy 1A"
        assert update["after"]["credentials_changed"] is True
        everything = await http.get("/api/audit", params={"limit": 1000})
        assert everything.json()["total"] >= 4
        rows = await server.services.store.fetchall("SELECT before, after FROM audit")
        audit_text = json.dumps(rows, ensure_ascii=False)
        log_text = caplog.text
    for where, text in (("responses", rec.text()), ("log", log_text), ("audit", audit_text)):
        assert simulator.password not in text, f"camera password in {where}"
        assert "nope" not in text.replace("nope/", ""), f"patched password in {where}"


async def test_test_connection_is_stored_and_shown_in_the_checklist(
        simulator: SimProcess, tmp_path: Path) -> None:
    rec = Recorder()
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http)
        profile = {"province": "Hà Nội", "centre": "TT PVHCC Hà Nội",
                   "transmission": {"bandwidth": "20 Mbps", "channel": "gov_network"}}
        put = await http.put("/api/registry/profiles/HA-NOI", json=profile)
        assert put.status_code == 200, put.text
        audit = (await http.get("/api/audit", params={"action": "registry.profile"})).json()
        assert audit["entries"][0]["after"]["transmission"]["bandwidth"] == "20 Mbps"
        assert audit["entries"][0]["target"] == "province:HA-NOI"
        cam = (await http.post("/api/cameras", json=camera_body(
            simulator, 2, transport="tcp", rtsp_sub=""))).json()
        tested = await http.post(f"/api/cameras/{cam['id']}/test", timeout=60)
        assert tested.status_code == 200, tested.text
        result = tested.json()
        assert result["status"] in ("PASS", "WARN"), result["reason"]
        assert result["reachable"] and result["streaming"] and result["transport"] == "tcp"
        assert result["codec"].startswith("H.264") and result["resolution"] == "1920x1080"
        assert result["bitrate_bps"] > 100_000 and result["declared_bps"] == 20_000_000
        assert 0 < result["bitrate_share_of_declared"] < 1
        assert result["time"].endswith("+07:00")
        checks = {r["check"] for r in result["report"]["rows"]}
        assert {"reachability", "rtsp_handshake", "codec", "bitrate"} <= checks

        checklist = (await http.get("/api/registry/checklist",
                                    params={"province": "Hà Nội"})).json()
        row = next(r for r in checklist["cameras"] if r["id"] == cam["id"])
        assert row["registered"] and row["reachable"] and row["streaming"]
        assert row["on_wall"] is False                # no wall shows it yet
        assert row["last_test"]["time"] == result["time"]
        assert result["explain"]["code"] == "ok"
        assert server.services.wall is not None
        from iocwall.wall.walls.demo import ensure_demo_wall  # a wall showing the camera
        await ensure_demo_wall(server.services.wall.walls, [cam["id"]])
        checklist = (await http.get("/api/registry/checklist",
                                    params={"province": "Hà Nội"})).json()
        assert next(r for r in checklist["cameras"] if r["id"] == cam["id"])["on_wall"] is True

        await http.patch(f"/api/cameras/{cam['id']}", json={"password": "wrong-one"})
        failed = (await http.post(f"/api/cameras/{cam['id']}/test", timeout=60)).json()
        assert failed["status"] == "FAIL" and failed["streaming"] is False
        assert failed["explain"]["code"] == "wrong_password"
        assert "wrong-one" not in json.dumps(failed)
    assert simulator.password not in rec.text()


async def test_test_connection_before_saving_says_why_and_stores_nothing(
        simulator: SimProcess, tmp_path: Path) -> None:
    """The camera form's values, tested before "Add camera": a reason in words, no camera."""
    rec = Recorder()
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http)
        form = {k: v for k, v in camera_body(simulator, 1, rtsp_sub="", transport="tcp").items()
                if k not in ("centre", "name", "location", "tags")}
        good = await http.post("/api/registry/test", json=form, timeout=60)
        assert good.status_code == 200, good.text
        assert good.json()["status"] in ("PASS", "WARN") and good.json()["explain"]["code"] == "ok"
        wrong = (await http.post("/api/registry/test", json={**form, "password": "nope-x"},
                                 timeout=60)).json()
        assert wrong["explain"]["code"] == "wrong_password"
        assert "wrong user name or password" in wrong["explain"]["en"].lower()
        with socket.socket() as s:          # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        gone = (await http.post("/api/registry/test", json={
            **form, "rtsp_main": f"rtsp://127.0.0.1:{closed}/x"}, timeout=60)).json()
        assert gone["explain"]["code"] == "unreachable", gone
        assert "unreachable" in gone["explain"]["en"].lower()
        simulator.fault(1, "stall")             # answers the connection, sends nothing
        try:
            mute = (await http.post("/api/registry/test", json=form, timeout=60)).json()
        finally:
            simulator.clear_faults()
        assert mute["explain"]["code"] == "no_picture", mute
        assert "no frame in 1 s" in mute["explain"]["en"]
        bad = await http.post("/api/registry/test", json={**form, "rtsp_main": "http://x/"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "rtsp_main"
        assert (await http.get("/api/cameras")).json() == []          # nothing stored
        assert (await http.get("/api/registry/access")).json() == {
            "edit": True, "test": True, "demo_camera": None}            # not the demo
        audit = (await http.get("/api/audit", params={"action": "camera.test_unsaved"})).json()
        assert len(audit["entries"]) == 4
    assert simulator.password not in rec.text() and "nope-x" not in rec.text()


async def test_bad_inputs_get_clear_errors_and_never_a_500(tmp_path: Path) -> None:
    async with registry_server(tmp_path) as server, server.client() as http:
        await server.login(http)
        base = {"province": "Hà Nội", "centre": "TT", "name": "Q",
                "rtsp_main": "rtsp://10.9.9.9:554/a"}
        cases = [
            ({**base, "province": "Vĩnh Phúc"}, "province", "Phú Thọ"),
            ({**base, "rtsp_main": "http://10.9.9.9/a"}, "rtsp_main", "rtsp://"),
            ({**base, "rtsp_main": "rtsp://10.9.9.9:554"}, "rtsp_main", "stream path"),
            ({**base, "rtsp_main": "rtsp://u:hunter22@10.9.9.9:554/a"}, "rtsp_main", "fields"),
            ({**base, "rtsp_main": "", "onvif": "10.9.9.9:99999"}, "onvif", "port"),
            ({**base, "transport": "carrier-pigeon"}, "transport", None),
            ({**base, "id": "Bad Id!"}, "id", None),
            ({**base, "colour": "red"}, "colour", "unknown field"),
            ({k: v for k, v in base.items() if k != "name"}, "name", None),
        ]
        for body, field, words in cases:
            response = await http.post("/api/cameras", json=body)
            assert response.status_code == 422, (body, response.text)
            error = response.json()["error"]
            assert error["field"] == field, (body, error)
            if words:
                assert words in error["message"], error
            assert "hunter22" not in response.text
        assert (await http.post("/api/cameras", content=b"{nope",
                                headers={"Content-Type": "application/json"})).status_code == 400
        profile = {"province": "Huế", "centre": "TT",
                   "contacts": [{"name": "A", "phone": "12345", "role": "technical"}]}
        bad = await http.put("/api/registry/profiles/HUE", json=profile)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "contacts.0.phone"
        mismatch = await http.put("/api/registry/profiles/HA-NOI",
                                  json={**profile, "contacts": []})
        assert mismatch.status_code == 422 and mismatch.json()["error"]["field"] == "province"
        assert (await http.get("/api/registry/profiles/Atlantis")).status_code == 404
        assert (await http.patch("/api/cameras/nope", json={})).status_code == 404
        ok = await http.post("/api/cameras", json=base)
        assert ok.status_code == 201
        taken = await http.post("/api/cameras", json={**base, "id": ok.json()["id"]})
        assert taken.status_code == 409 and taken.json()["error"]["field"] == "id"
        cleared = await http.patch(f"/api/cameras/{ok.json()['id']}", json={"rtsp_main": ""})
        assert cleared.status_code == 422 and cleared.json()["error"]["field"] == "rtsp_main"
        discover = await http.post("/api/registry/discover", json={"interface": "nosuch0"})
        assert discover.status_code == 422 and "nosuch0" in discover.json()["error"]["message"]
        # odd shapes on every registry write: a 4xx each, never a 500
        odd = [[], "x", 123, None, {"province": 5}, {"tags": "a"}, {"contacts": "x"},
               {"province": "Huế", "centre": "c", "name": "n", "rtsp_main": ["rtsp://a/b"]},
               {"format": "xlsx", "content": 5}, {"interface": 12}, {"onvif": {"a": 1}},
               {"path": [1, 2]}, {"transmission": {"bandwidth": 100}}, {"a" * 5000: 1}]
        writes = [("POST", "/api/cameras"), ("PATCH", f"/api/cameras/{ok.json()['id']}"),
                  ("PUT", "/api/registry/profiles/HUE"), ("POST", "/api/registry/import"),
                  ("POST", "/api/registry/discover"), ("POST", "/api/registry/probe"),
                  ("POST", "/api/registry/onvif")]
        for method, path in writes:
            for body in odd:
                response = await http.request(method, path, json=body)
                assert 400 <= response.status_code < 500, (method, path, body, response.text)
                assert "error" in response.json(), (method, path, body)
        user = await http.post("/api/users", json={"username": "reg-x", "password":
                                                   "Long-Enough-1!", "role": "registrar",
                                                   "province": "Hà Tây"})
        assert user.status_code == 422 and user.json()["error"]["field"] == "province"


async def test_bulk_import_is_all_or_nothing_with_a_report_per_row(
        simulator: SimProcess, tmp_path: Path) -> None:
    header = "Tỉnh/Thành phố,Trung tâm,Tên camera,Vị trí,RTSP luồng chính,RTSP luồng phụ," \
             "Giao thức,Tài khoản,Mật khẩu"
    good = [f"Hà Nội,TT PVHCC,Quầy {k},Sảnh,{simulator.url(k, 'main', auth=False)},"
            f"{simulator.url(k, 'sub', auth=False)},tcp,{simulator.user},{simulator.password}"
            for k in (3, 4)]
    bad = "Hà Nội,TT PVHCC,,Sảnh,rtsp://10.0.0.9/x,,tcp,,"
    rec = Recorder()
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http)
        mixed = "\n".join([header, good[0], bad, good[1]])
        refused = await http.post("/api/registry/import",
                                  json={"format": "csv", "content": mixed})
        assert refused.status_code == 422
        rows = refused.json()["rows"]
        assert [r["ok"] for r in rows] == [True, False, True]
        assert rows[1]["row"] == 3 and rows[1]["errors"][0]["field"] == "name"
        assert (await http.get("/api/cameras")).json() == []          # nothing saved
        accepted = await http.post("/api/registry/import",
                                   json={"format": "csv", "content": "\n".join([header, *good])})
        assert accepted.status_code == 201, accepted.text
        ids = [r["id"] for r in accepted.json()["rows"]]
        assert ids == ["ha-noi-1", "ha-noi-2"]
        viewer, answer = await play(http, ids[1])
        try:
            assert answer.status_code == 201
            await viewer.first_frame(timeout=10)
        finally:
            await viewer.close()
        again = await http.post("/api/registry/import", json={
            "format": "csv", "content": header + ",Mã camera\n" + good[0] + ",ha-noi-1"})
        assert again.status_code == 422
        assert again.json()["rows"][0]["errors"][0]["field"] == "id"
    assert simulator.password not in rec.text()


async def test_config_cameras_seed_the_registry_only_at_first_start(
        simulator: SimProcess, tmp_path: Path) -> None:
    from iocwall.wall.config import CameraConfig
    from tests.registry_helpers import registry_config

    config = registry_config(tmp_path / "data")
    config.cameras = [CameraConfig(id="seed1", name="Seed", main_url=simulator.url(1, "main",
                                   auth=False), username=simulator.user,
                                   password=simulator.password, province="Huế")]
    async with registry_server(tmp_path, config) as server, server.client() as http:
        await server.login(http, "admin", ADMIN_PASSWORD)
        listed = (await http.get("/api/cameras")).json()
        assert [(c["id"], c["province"]) for c in listed] == [("seed1", "HUE")]
        await http.delete("/api/cameras/seed1")
    async with registry_server(tmp_path, config) as server, server.client() as http:
        await server.login(http)
        assert (await http.get("/api/cameras")).json() == []      # the registry decides now

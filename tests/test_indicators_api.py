"""The indicator API on a real server: submit, revise, roles, CSV import, history, export."""
from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from iocwall.wall.access import Role
from iocwall.wall.audit import AuditQuery
from tests.fixtures.app import USER_PASSWORD, LiveServer

# every test on SQLite and on PostgreSQL (issue 19)
pytestmark = pytest.mark.usefixtures("both_stores")

URL = "/api/indicators/dossiers_received/values"


@contextlib.asynccontextmanager
async def logged_in(server: LiveServer, name: str, role: Role,
                    unit: str = "") -> AsyncIterator[httpx.AsyncClient]:
    await server.add_user(name, role, unit)
    async with server.client() as http:
        await server.login(http, name, USER_PASSWORD)
        yield http


async def test_list_submit_revise_and_history(live_server: LiveServer) -> None:
    async with logged_in(live_server, "reg-hn", Role.REGISTRAR, "HA-NOI") as reg, \
            logged_in(live_server, "boss", Role.LEADER) as leader:
        listing = (await reg.get("/api/indicators")).json()
        assert len(listing["provinces"]) == 34 and len(listing["historical"]) == 63
        assert any(i["id"] == "online_dossier_rate" and i["targets"][-1]["value"] == 70.0
                   for i in listing["indicators"])
        body = {"province": "Hà Nội", "period": "2024-08", "value": 1200, "unit": "hồ sơ"}
        first = await reg.post(URL, json=body)
        assert first.status_code == 201, first.text
        assert first.json()["value"]["revision"] == 1
        again = await reg.post(URL, json={**body, "value": 1250})
        assert again.status_code == 409 and again.json()["error"]["code"] == "exists"
        revised = await reg.post(URL, json={**body, "value": 1250, "revise": True,
                                            "reason": "count corrected"})
        assert revised.status_code == 201
        assert revised.json()["previous"]["value"] == 1200
        other = await reg.post(URL, json={**body, "province": "Hải Phòng"})
        assert other.status_code == 403 and other.json()["error"]["field"] == "province"
        # a leader reads, never writes
        assert (await leader.post(URL, json=body)).status_code == 403
        history = (await leader.get(URL, params={"province": "Hà Nội", "since": "2024"})).json()
        assert [v["value"] for v in history["values"]] == [1250]
        full = (await leader.get(URL, params={"province": "Hà Nội", "revisions": "1"})).json()
        assert [(v["value"], v["superseded"]) for v in full["values"]] == \
            [(1250, False), (1200, True)]
        assert (await leader.get(URL, params={"since": "2030"})).json()["total"] == 0
    audit = await live_server.services.audit.query(AuditQuery(action="indicator.*"))
    assert [(e.action, e.actor, e.unit) for e in audit.entries] == [
        ("indicator.revise", "reg-hn", "HA-NOI"), ("indicator.submit", "reg-hn", "HA-NOI")]


async def test_bad_input_is_a_clear_4xx(live_server: LiveServer) -> None:
    async with live_server.client() as admin:
        await live_server.login(admin)
        cases = [
            ({"province": "Hà Nội", "period": "2024-08", "value": "many"}, 422, "value"),
            ({"province": "Hà Nội", "period": "2099-01", "value": 1}, 422, "period"),
            ({"province": "Hà Nội", "period": "2024-08", "value": 1, "unit": "%"}, 422, "unit"),
            ({"province": "Nowhere", "period": "2024-08", "value": 1}, 422, "province"),
            ({"province": "Hà Nội", "period": "2024-08", "value": 1, "extra": 1}, 422, "extra"),
            ({"period": "2024-08", "value": 1}, 422, "province"),
        ]
        for body, status, field in cases:
            r = await admin.post(URL, json=body)
            assert r.status_code == status, (body, r.text)
            assert r.json()["error"]["field"] == field, (body, r.text)
        r = await admin.post(URL, content=b"{not json", headers={"content-type":
                                                                 "application/json"})
        assert r.status_code == 400
        assert (await admin.post("/api/indicators/nope/values", json={})).status_code == 404
        assert (await admin.get(URL, params={"since": "last year"})).status_code == 422
        assert (await admin.get(URL, params={"limit": "0"})).status_code == 422
        assert (await admin.get(URL, params={"province": "Atlantis"})).status_code == 422
        assert (await admin.get("/api/indicators/summary",
                                params={"province": "Atlantis"})).status_code == 422
        assert (await admin.get("/api/indicators/online_dossier_rate/map",
                                params={"units": "12"})).status_code == 422
        assert (await admin.get("/api/indicators/reporting",
                                params={"period": "2024-13"})).status_code == 422
        assert await live_server.services.indicators.values.count() == 0


async def test_csv_import_reports_each_row(live_server: LiveServer) -> None:
    text = ("\ufeffindicator,province,period,value,unit,revise,reason\n"
            "# a comment line\n"
            "dossiers_received,Ninh Bình,2024-08,500,hồ sơ,,\n"
            "dossiers_received,Hà Nam,2024-08,700,,,\n"
            "dossiers_received,Hà Nam,2024-08,710,,yes,recount\n"
            "dossiers_received,Hà Nội,2024-08,900,,,\n"
            "dossiers_received,Hà Nam,2031-01,1,,,\n"
            "online_dossier_rate,Hà Nam,2024-08,101,%,,\n")
    async with logged_in(live_server, "reg-nb", Role.REGISTRAR, "NINH-BINH") as reg:
        r = await reg.post("/api/indicators/import", json={"csv": text})
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["stored"], report["revised"], report["errors"]) == (2, 1, 3)
        rows = {row["line"]: row for row in report["rows"]}
        assert rows[5]["status"] == "revised"
        assert rows[6]["code"] == "forbidden" and rows[6]["field"] == "province"
        assert rows[7]["field"] == "period" and rows[8]["field"] == "value"
        bad = await reg.post("/api/indicators/import", json={"csv": "indicator,value\nx,1\n"})
        assert bad.status_code == 422 and "province" in bad.json()["error"]["message"]
        assert (await reg.post("/api/indicators/import", json={"text": ""})).status_code == 422
    entries = (await live_server.services.audit.query(AuditQuery(action="indicator.*"))).entries
    assert len(entries) == 3 and all(e.after and e.after["source"] == "csv" for e in entries)
    async with live_server.client() as admin:
        await live_server.login(admin)
        summary = (await admin.get("/api/indicators/summary",
                                   params={"province": "Ninh Bình", "rollup": "1"})).json()
        tile = next(t for t in summary["tiles"] if t["id"] == "dossiers_received")
        assert tile["value"] == 500 + 710 and tile["method"]["en"].startswith("sum of units")


async def test_history_paging_and_formula_safe_csv(live_server: LiveServer) -> None:
    services = live_server.services
    async with live_server.client() as admin:
        await live_server.login(admin)
        for month in range(1, 8):
            r = await admin.post(URL, json={"province": "Hà Nội", "period": f"2024-0{month}",
                                            "value": month * 10,
                                            "note": "=HYPERLINK(\"http://x\")"})
            assert r.status_code == 201, r.text
        seen, offset = [], 0
        while offset is not None:
            page = (await admin.get(URL, params={"limit": 3, "offset": offset})).json()
            seen += [v["period"] for v in page["values"]]
            offset = page["next_offset"]
        assert seen == [f"2024-0{m}" for m in range(7, 0, -1)]
        exported = await admin.get(URL.replace("/values", "/values.csv"),
                                   params={"province": "Hà Nội"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert len(rows) == 7 and rows[0]["period"] == "2024-07" and rows[0]["value"] == "70.0"
        assert all(row["note"].startswith("'=") for row in rows)
    assert await services.indicators.values.count() == 7


async def test_vendored_chart_library_is_allow_listed(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        script = await http.get("/static/vendor/uPlot.esm.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "export" in script.text and len(script.text) > 10_000
        assert (await http.get("/static/vendor/uPlot.min.css")).status_code == 200
        # (a name with a slash is not this route's: it falls through to the /static mount,
        # whose own allow-list is being written in another branch)
        for name in ("package.json", "uPlot.cjs.js", "uPlot.d.ts"):
            refused = await http.get(f"/static/vendor/{name}")
            assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"

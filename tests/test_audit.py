"""Audit: every state change is recorded (who, role, unit, what, before/after, when, where);
queries filter and page; CSV export is complete and spreadsheet-safe."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from iocwall.streams.clock import iso_from_epoch, parse_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.audit import AuditAction, AuditLog, AuditQuery, export_csv
from iocwall.wall.errors import ApiError
from tests.fixtures.app import USER_PASSWORD, LiveServer, store_of_test

# every test on SQLite and on PostgreSQL (issue 19)
pytestmark = pytest.mark.usefixtures("both_stores")


@pytest.fixture
async def audit(tmp_path: Path, both_stores: str):  # type: ignore[no-untyped-def]
    store = store_of_test(tmp_path / "a.sqlite3")
    await store.open()
    try:
        yield AuditLog(store)
    finally:
        await store.close()


async def test_record_and_filters(audit: AuditLog) -> None:
    admin = Principal("admin", Role.ADMIN)
    reg = Principal("lan", Role.REGISTRAR, "HN", 2)
    e = await audit.record(admin, AuditAction.USER_CREATE, "user:lan", None,
                           {"role": "registrar"}, "10.0.0.5")
    assert e.actor == "admin" and e.role == "admin" and e.client == "10.0.0.5"
    assert parse_iso(e.time).utcoffset().total_seconds() == 7 * 3600  # type: ignore[union-attr]
    assert e.after == {"role": "registrar"} and e.before is None
    await audit.record(reg, "camera.create", "camera:hn-01", None, {"name": "Quầy 1"})
    await audit.record(reg, "camera.update", "camera:hn-01", {"name": "Quầy 1"},
                       {"name": "Quầy 2"})
    await audit.record("ghost", AuditAction.LOGIN_FAILED, "user:ghost")

    async def actions(**kw: object) -> list[str]:
        page = await audit.query(AuditQuery(**kw))  # type: ignore[arg-type]
        return [x.action for x in page.entries]
    assert await actions() == ["login.failed", "camera.update", "camera.create", "user.create"]
    assert await actions(actor="lan") == ["camera.update", "camera.create"]
    assert await actions(unit="HN") == ["camera.update", "camera.create"]
    assert await actions(action="camera.*") == ["camera.update", "camera.create"]
    assert await actions(action="login.failed") == ["login.failed"]
    assert await actions(target="user:*") == ["login.failed", "user.create"]
    assert await actions(target="camera:hn-01", action="camera.update") == ["camera.update"]
    assert await actions(since=iso_from_epoch(e.epoch + 3600)) == []
    assert await actions(until=iso_from_epoch(e.epoch)) == []
    assert len(await actions(since=e.time)) == 4
    with pytest.raises(ApiError):
        await audit.query(AuditQuery(limit=0))
    with pytest.raises(ApiError):
        await audit.query(AuditQuery(since="not a time"))


async def test_paging_by_offset_and_cursor(audit: AuditLog) -> None:
    for i in range(25):
        await audit.record("admin", "test.step", f"n:{i}")
    page1 = await audit.query(AuditQuery(limit=10))
    assert page1.total == 25 and page1.next_offset == 10 and page1.next_before_id
    assert [x.target for x in page1.entries] == [f"n:{i}" for i in range(24, 14, -1)]
    page3 = await audit.query(AuditQuery(limit=10, offset=20))
    assert len(page3.entries) == 5 and page3.next_offset is None
    # a cursor page stays put while new entries arrive
    await audit.record("admin", "test.step", "n:new")
    page2 = await audit.query(AuditQuery(limit=10, before_id=page1.next_before_id or 0))
    assert [x.target for x in page2.entries] == [f"n:{i}" for i in range(14, 4, -1)]


async def test_csv_export(audit: AuditLog) -> None:
    await audit.record(Principal("lan", Role.REGISTRAR, "HN"), "camera.update", "camera:hn-01",
                       {"name": "=HYPERLINK(\"http://x\")"}, {"name": "Quầy 2"})
    for i in range(1500):                       # more than one internal page
        await audit.record("admin", "test.step", f"n:{i}")
    text = await export_csv(audit, AuditQuery())
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["id", "time", "actor", "role", "unit", "action", "target", "before",
                       "after", "client", "province"]
    assert len(rows) == 1 + 1501
    assert len({r[0] for r in rows[1:]}) == 1501            # no duplicates across pages
    last = rows[-1]
    assert last[2:7] == ["lan", "registrar", "HN", "camera.update", "camera:hn-01"]
    assert last[8] == '{"name": "Quầy 2"}'
    assert last[7].startswith('{"name": "=HYPERLINK')     # starts with "{": plain text
    formula = await audit.record("=cmd|' /C calc'!A0", "x", "-2+3")
    rows = list(csv.reader(io.StringIO((await export_csv(
        audit, AuditQuery(action="x"))).lstrip("\ufeff"))))
    assert rows[1][0] == str(formula.id)
    assert rows[1][2].startswith("'=") and rows[1][6] == "'-2+3"


async def test_every_state_change_so_far_is_audited(live_server: LiveServer) -> None:
    async with live_server.client() as admin, live_server.client() as op:
        await live_server.login(admin)
        r = await admin.post("/api/users", json={"username": "op1", "password": USER_PASSWORD,
                                                 "role": "operator"})
        uid = r.json()["id"]
        await admin.patch(f"/api/users/{uid}", json={"display_name": "Người vận hành"})
        await admin.put(f"/api/users/{uid}/password", json={"password": "Reset-Pass-1"})
        await live_server.login(op, "op1", "Reset-Pass-1")
        await op.post("/api/me/password", json={"current_password": "Reset-Pass-1",
                                                "new_password": "Own-Pass-22"})
        await op.post("/api/logout")
        await admin.patch(f"/api/users/{uid}", json={"disabled": True})
        await admin.patch(f"/api/users/{uid}", json={"disabled": False})
        t = (await admin.post("/api/tokens", json={"label": "wall-1", "role": "display"})).json()
        await admin.delete(f"/api/tokens/{t['id']}")
        await admin.post("/api/login", json={"username": "op1", "password": "wrong-one"})
        page = (await admin.get("/api/audit", params={"limit": 100})).json()
    entries = list(reversed(page["entries"]))
    got = [(e["action"], e["actor"], e["target"]) for e in entries]
    assert got == [
        ("user.create", "system", "user:admin"),
        ("login", "admin", "user:admin"),
        ("user.create", "admin", "user:op1"),
        ("user.update", "admin", "user:op1"),
        ("user.password", "admin", "user:op1"),
        ("login", "op1", "user:op1"),
        ("user.password", "op1", "user:op1"),
        ("logout", "op1", "user:op1"),
        ("user.disable", "admin", "user:op1"),
        ("user.enable", "admin", "user:op1"),
        ("token.create", "admin", f"token:{t['id']}"),
        ("token.revoke", "admin", f"token:{t['id']}"),
        ("login.failed", "op1", "user:op1"),
    ]
    by_action = {e["action"]: e for e in entries}
    upd = by_action["user.update"]
    assert upd["before"]["display_name"] == "" and upd["after"]["display_name"] == "Người vận hành"
    assert upd["role"] == "admin" and upd["client"] == "127.0.0.1"
    assert by_action["user.disable"]["after"]["disabled"] is True
    assert by_action["token.revoke"]["before"]["revoked"] is False
    assert by_action["token.revoke"]["after"]["revoked"] is True
    assert by_action["login.failed"]["after"] == {"reason": "bad_credentials"}
    for e in entries:
        assert e["time"].endswith("+07:00")
        assert "Reset-Pass-1" not in str(e) and "Own-Pass-22" not in str(e)


async def test_audit_api_filters_and_csv(live_server: LiveServer) -> None:
    await live_server.add_user("boss", Role.LEADER)
    async with live_server.client() as http:
        await live_server.login(http, "boss", USER_PASSWORD)
        logins = (await http.get("/api/audit", params={"action": "login"})).json()
        assert [e["actor"] for e in logins["entries"]] == ["boss"]
        r = await http.get("/api/audit.csv", params={"actor": "boss"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][2] == "boss" and rows[1][5] == "login"

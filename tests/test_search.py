"""Search (GET /api/search) and the audit filters (GET /api/audit, /api/audit.csv) over real
HTTP on a real server: case and diacritics folded, results scoped to the caller's role and
province, audit pages by keyset, CSV with the same filters, bad parameters a 422."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from iocwall.streams.clock import VN_TZ, parse_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.audit import AuditLog, AuditQuery
from iocwall.wall.audit.log import COUNT_CAP
from iocwall.wall.store import Store
from iocwall.wall.store.migrations import migrate
from iocwall.wall.store.store import connect
from iocwall.wall.text import fold
from tests.fixtures.app import USER_PASSWORD, LiveServer

CAMERAS = [
    ("Hà Nội", "TT PVHCC Hà Nội", "Quầy 3", "Sảnh tầng 1", ["tiếp dân"]),
    ("Hà Nội", "TT PVHCC Hà Nội", "Cổng chính", "Đường Láng", []),
    ("Huế", "Trung tâm Huế", "Quầy 3", "Sảnh B", []),
    ("Đà Nẵng", "TT Đà Nẵng", "Bàn đón tiếp", "Tầng 2", ["đông người"]),
]


async def _add_cameras(http: httpx.AsyncClient) -> dict[str, str]:
    """name@province -> id, added through the API as an admin does."""
    made = {}
    for k, (province, centre, name, location, tags) in enumerate(CAMERAS, 1):
        r = await http.post("/api/cameras", json={
            "province": province, "centre": centre, "name": name, "location": location,
            "rtsp_main": f"rtsp://192.0.2.{k}:554/main", "tags": tags})
        assert r.status_code == 201, r.text
        made[f"{name}@{province}"] = r.json()["id"]
    return made


def _group(body: dict, kind: str) -> dict:
    found = [g for g in body["groups"] if g["kind"] == kind]
    assert len(found) == 1, (kind, [g["kind"] for g in body["groups"]])
    return found[0]


async def _search(http: httpx.AsyncClient, q: str) -> dict:
    r = await http.get("/api/search", params={"q": q})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.usefixtures("both_stores")      # SQLite and PostgreSQL (issue 19)
async def test_search_ignores_case_and_diacritics(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        ids = await _add_cameras(http)
        answers = [await _search(http, q) for q in ("ha noi", "HÀ NỘI", "Hà Nội")]
        cams = [[c["id"] for c in _group(a, "cameras")["results"]] for a in answers]
        assert cams[0] == sorted([ids["Quầy 3@Hà Nội"], ids["Cổng chính@Hà Nội"]])
        assert cams[0] == cams[1] == cams[2]
        units = [[p["code"] for p in _group(a, "provinces")["results"]] for a in answers]
        assert units[0] == units[1] == units[2] == ["HA-NOI"]
        for a in answers:                    # the admins' audit: the two cameras' creation
            audit = _group(a, "audit")
            assert audit["total"] == 2 and {e["province"] for e in audit["results"]} == {"HA-NOI"}

        quay = await _search(http, "quay 3")
        hits = _group(quay, "cameras")
        assert hits["total"] == 2 and {c["name"] for c in hits["results"]} == {"Quầy 3"}
        assert {c["link"] for c in hits["results"]} == {
            f"/register?camera={ids['Quầy 3@Hà Nội']}", f"/register?camera={ids['Quầy 3@Huế']}"}
        # location, tags, đ folded to d
        assert [c["name"] for c in _group(await _search(http, "duong lang"),
                                          "cameras")["results"]] == ["Cổng chính"]
        assert [c["name"] for c in _group(await _search(http, "DONG NGUOI"),
                                          "cameras")["results"]] == ["Bàn đón tiếp"]
        # a province merged on 1 July 2025 says into which unit
        merged = _group(await _search(http, "vinh phuc"), "provinces")["results"]
        assert merged == [{"code": "PHU-THO", "name": "Vĩnh Phúc", "kind": "merged",
                           "merged_into": "Phú Thọ", "link": "/register?province=PHU-THO"}]
        # an edit keeps the folded column in step
        r = await http.patch(f"/api/cameras/{ids['Cổng chính@Hà Nội']}",
                             json={"name": "Cổng phụ Đông"})
        assert r.status_code == 200, r.text
        assert [c["name"] for c in _group(await _search(http, "cong phu dong"),
                                          "cameras")["results"]] == ["Cổng phụ Đông"]
        assert _group(await _search(http, "cong chinh"), "cameras")["total"] == 0


@pytest.mark.usefixtures("both_stores")      # SQLite and PostgreSQL (issue 19)
async def test_a_registrar_sees_only_its_province(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        ids = await _add_cameras(http)
    await live_server.add_user("hue-reg", Role.REGISTRAR, "HUE")
    async with live_server.client() as http:
        await live_server.login(http, "hue-reg", USER_PASSWORD)
        for q in ("quay", "ha noi", "da nang", "sanh", "tt", "cam"):
            body = await _search(http, q)
            assert {g["kind"] for g in body["groups"]} == {"cameras", "provinces", "indicators",
                                                           "alerts"}
            for c in _group(body, "cameras")["results"]:
                assert c["province"] == "HUE", (q, c)
            for p in _group(body, "provinces")["results"]:
                assert p["code"] == "HUE", (q, p)
        quay = _group(await _search(http, "quay 3"), "cameras")
        assert quay["total"] == 1 and quay["results"][0]["id"] == ids["Quầy 3@Huế"]
        assert _group(await _search(http, "ha noi"), "cameras")["total"] == 0
        assert (await http.get("/api/audit")).status_code == 403
        # what the registrar changes is audited against its own province
        r = await http.patch(f"/api/cameras/{ids['Quầy 3@Huế']}", json={"location": "Sảnh C"})
        assert r.status_code == 200, r.text
    entries = (await live_server.services.audit.query(AuditQuery(actor="hue-reg"))).entries
    assert [(e.action, e.province) for e in entries] == [("camera.update", "HUE"), ("login", "HUE")]


@pytest.mark.usefixtures("both_stores")      # SQLite and PostgreSQL (issue 19)
async def test_audit_filters_keyset_pages_and_csv(live_server: LiveServer) -> None:
    audit = live_server.services.audit
    lan = Principal("lan", Role.REGISTRAR, "HUE")
    for i in range(23):
        await audit.record(lan, "camera.update", f"camera:hue-{i}", None, {"name": f"Quầy {i}"})
        await audit.record("admin", "wall.push", f"wall:ioc-{i}")
    await audit.record(Principal("minh", Role.OPERATOR), "camera.test", "camera:x",
                       None, {"province": "HA-NOI"})
    async with live_server.client() as http:
        await live_server.login(http)
        # keyset pages of 5 over lan's 23 entries: newest first, no gap, no repeat
        seen: list[int] = []
        cursor = 0
        while True:
            params = {"user": "lan", "province": "HUE", "action": "camera.*", "limit": "5"}
            if cursor:
                params["before_id"] = str(cursor)
            page = (await http.get("/api/audit", params=params)).json()
            seen += [e["id"] for e in page["entries"]]
            assert all(e["actor"] == "lan" and e["province"] == "HUE" for e in page["entries"])
            if page["next_before_id"] is None:
                break
            cursor = page["next_before_id"]
        assert len(seen) == 23 and seen == sorted(seen, reverse=True)
        # free text, folded: the target's "hue 1" matches hue-1 and hue-10..19
        text = (await http.get("/api/audit", params={"q": "HUẾ 1", "limit": "100"})).json()
        assert sorted(e["target"] for e in text["entries"]) == sorted(
            ["camera:hue-1", *[f"camera:hue-{i}" for i in range(10, 20)]])
        # the unit of an entry: from the camera's change
        hn = (await http.get("/api/audit", params={"province": "HA-NOI"})).json()["entries"]
        assert [(e["actor"], e["action"]) for e in hn] == [("minh", "camera.test")]
        # when: from/to in +07:00
        newest = parse_iso(hn[0]["time"])
        before = (newest - timedelta(hours=1)).astimezone(VN_TZ).isoformat()
        after = (newest + timedelta(hours=1)).astimezone(VN_TZ).isoformat()
        window = (await http.get("/api/audit", params={"from": before, "to": after,
                                                       "user": "admin"})).json()
        assert window["total"] >= 23 and all(e["time"].endswith("+07:00")
                                             for e in window["entries"])
        empty = (await http.get("/api/audit", params={"to": before, "user": "lan"})).json()
        assert empty["total"] == 0
        # CSV: the same filters, the same rows
        r = await http.get("/api/audit.csv", params={"user": "lan", "q": "hue 1"})
        assert r.status_code == 200
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert rows[0][-1] == "province"
        assert sorted(int(x[0]) for x in rows[1:]) == sorted(e["id"] for e in text["entries"])
        assert {x[-1] for x in rows[1:]} == {"HUE"}


async def test_bad_parameters_are_422(live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        cases = [
            ("/api/search", {}, "q"), ("/api/search", {"q": "  "}, "q"),
            ("/api/search", {"q": "a" * 101}, "q"),
            ("/api/audit", {"province": "ATLANTIS"}, "province"),
            ("/api/audit", {"from": "yesterday"}, "from"),
            ("/api/audit", {"to": "2026-13-01"}, "to"),
            ("/api/audit", {"limit": "0"}, "limit"), ("/api/audit", {"limit": "1001"}, "limit"),
            ("/api/audit", {"before_id": "-1"}, "before_id"),
            ("/api/audit", {"before_id": "x"}, "before_id"),
            ("/api/audit", {"user": "u" * 101}, "user"), ("/api/audit", {"q": "q" * 101}, "q"),
            ("/api/audit.csv", {"province": "nowhere"}, "province"),
            ("/api/audit.csv", {"from": "soon"}, "from"),
        ]
        for path, params, field in cases:
            r = await http.get(path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert r.json()["error"]["field"] == field, (path, params, r.text)
        assert (await http.get("/api/search", params={"q": "a" * 100})).status_code == 200
    async with live_server.client() as anonymous:
        assert (await anonymous.get("/api/search", params={"q": "x"})).status_code == 401


def test_migration_fills_the_search_columns(tmp_path: Path) -> None:
    """A database made before version 10 gets its cameras' and audit entries' folded text."""
    conn = connect(tmp_path / "old.sqlite3")
    migrate(conn, target=9)
    conn.execute("INSERT INTO registry_cameras(id, province, centre, name, location, tags,"
                 " created_at, updated_at) VALUES('hue-1', 'HUE', 'TT Huế', 'Quầy 3',"
                 " 'Sảnh Đông', '[\"đông\"]', 't', 't')")
    conn.execute("INSERT INTO audit(time, epoch, actor, action, target) VALUES"
                 "('t', 0, 'Lê Văn Đức', 'camera.create', 'camera:hue-1')")
    assert migrate(conn) >= 10
    row = conn.execute("SELECT search_folded FROM registry_cameras").fetchone()
    assert row[0] == "hue 1 hue tt hue quay 3 sanh dong dong"
    row = conn.execute("SELECT search_folded, province FROM audit").fetchone()
    assert tuple(row) == ("le van duc camera create camera hue 1", None)
    conn.close()


async def test_audit_total_is_capped_over_huge_sets(tmp_path: Path) -> None:
    """Past COUNT_CAP matches the total is a lower bound (no full count per page), and
    paging still knows there is more."""
    store = Store(tmp_path / "big.sqlite3")
    await store.open()
    try:
        await store.executemany(
            "INSERT INTO audit(time, epoch, actor, action, target, search_folded) "
            "VALUES(?, ?, ?, ?, ?, ?)",
            [("t", float(i), "admin", "wall.push", f"wall:w{i}", f"admin wall push wall w{i}")
             for i in range(COUNT_CAP + 50)])
        audit = AuditLog(store)
        page = await audit.query(AuditQuery(limit=10))
        assert (page.total, page.total_exact) == (COUNT_CAP, False)
        assert page.next_before_id == page.entries[-1].id
        few = await audit.query(AuditQuery(text="W1000", limit=100))  # w1000, w10000..w10009
        assert (few.total, few.total_exact, few.next_before_id) == (11, True, None)
        assert len(few.entries) == 11
    finally:
        await store.close()


def _seed_audit(conn, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` entries with folded texts drawn from a few words, so some texts match
    many rows, some few, some none."""
    import random
    rng = random.Random(11)
    words = ["quay", "3", "ha", "noi", "hue", "7", "camera", "update", "sanh", "b", "12"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
             for _ in range(count)]
    conn.executemany("INSERT INTO audit(time, epoch, actor, action, target, search_folded)"
                     " VALUES('t', ?, 'a', 'x', '', ?)", list(enumerate(texts)))
    return texts


async def test_text_index_answers_what_a_scan_answers(tmp_path: Path) -> None:
    """The trigram index (migration 11) gives the same ids, order, totals and keyset pages as
    the LIKE scan, for rows written before the migration (rebuilt) and after it (trigger),
    and for texts too short for trigrams; an entry deleted leaves the index too."""
    path = tmp_path / "idx.sqlite3"
    conn = connect(path)
    migrate(conn, target=10)
    conn.execute("BEGIN")
    texts = _seed_audit(conn, 1500)
    conn.execute("COMMIT")
    migrate(conn)
    conn.execute("BEGIN")
    texts += _seed_audit(conn, 1500)
    conn.execute("COMMIT")
    conn.execute("DELETE FROM audit WHERE id % 97 = 0")
    conn.close()
    store = Store(path)
    await store.open()
    try:
        audit = AuditLog(store)
        for text in ["quay 3", "QUẦY 3", "ha noi hue", "noi", "7 c", "b 12 s", "upd", "zzz",
                     "3", "camera update camera update camera"]:
            q = AuditQuery(text=text, limit=25)
            used = bool(q.indexed_text())
            assert used == (len(text.strip()) >= 3), text
            want = [i for i in range(len(texts), 0, -1)
                    if i % 97 and fold(text) in texts[i - 1]]
            page = await audit.query(q)
            assert [e.id for e in page.entries] == want[:25], text
            assert page.total == min(len(want), COUNT_CAP), text
            if page.next_before_id:
                nxt = await audit.query(AuditQuery(text=text, limit=25,
                                                   before_id=page.next_before_id))
                assert [e.id for e in nxt.entries] == want[25:50], text
            deep = await audit.query(AuditQuery(text=text, limit=5, offset=40))
            assert [e.id for e in deep.entries] == want[40:45], text
        plan = await store.fetchall(
            "EXPLAIN QUERY PLAN SELECT rowid FROM audit_text WHERE search_folded LIKE ?",
            ("%quay%",))
        assert any("VIRTUAL TABLE INDEX" in str(r["detail"]) for r in plan), plan
    finally:
        await store.close()


async def test_alerts_are_found_by_folded_text_within_the_callers_province(
        live_server: LiveServer) -> None:
    """Alerts (wall/health/) in the search box: by rule, subject and either language's title,
    case and diacritics ignored; a registrar finds only its own province's."""
    store = live_server.services.store
    for rule, subject, province, vi, en in [
            ("camera_lost", "hue-3", "HUE", "Mất tín hiệu camera Quầy 3", "Camera Counter 3 lost"),
            ("camera_lost", "hn-3", "HA-NOI", "Mất tín hiệu camera Quầy 3 Hà Nội",
             "Camera Counter 3 Ha Noi lost"),
            ("disk_low", "data", "", "Ổ đĩa sắp đầy", "Disk nearly full")]:
        await store.execute(
            "INSERT INTO health_alerts(rule, subject, state, province, severity, title_vi,"
            " title_en, raised_at) VALUES(?, ?, 'raised', ?, 'critical', ?, ?, ?)",
            (rule, subject, province, vi, en, "2026-12-07T10:00:00.000+07:00"))
    async with live_server.client() as http:
        await live_server.login(http)
        for q in ("tin hieu camera quay 3", "MẤT TÍN HIỆU", "camera_lost", "counter 3"):
            found = _group(await _search(http, q), "alerts")
            assert found["total"] == 2, (q, found)
        disk = _group(await _search(http, "o dia"), "alerts")
        assert [a["rule"] for a in disk["results"]] == ["disk_low"]
        assert disk["results"][0]["link"].startswith("/health?alert=")
    await live_server.add_user("hue-reg", Role.REGISTRAR, "HUE")
    async with live_server.client() as http:
        await live_server.login(http, "hue-reg", USER_PASSWORD)
        found = _group(await _search(http, "quay 3"), "alerts")
        assert [a["subject"] for a in found["results"]] == ["hue-3"], found
        assert _group(await _search(http, "o dia"), "alerts")["total"] == 0

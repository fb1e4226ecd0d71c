"""`iocwall store copy`: a SQLite site with data in every table moves into PostgreSQL and
the app serves the same data from there; a non-empty target is refused."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from iocwall.wall.access import Role
from iocwall.wall.registry.model import CameraIn
from tests.fixtures.app import USER_PASSWORD, LiveServer, make_config, start_live_server
from tests.test_cli import run_cli
from tests.wall_helpers import make_wall

NOW = "2026-12-07T10:00:00.000+07:00"
# rows for the tables the API cannot fill without cameras, displays or analytics running
FILL = [
    "INSERT INTO presets(wall, name, body, updated_at, updated_by) VALUES('w1', 'p', '{}', "
    f"'{NOW}', 'admin')",
    "INSERT INTO layouts(wall, monitor, version, body, created_at, created_by) VALUES("
    f"'w1', '1', 1, '{{}}', '{NOW}', 'admin')",
    "INSERT INTO display_nodes(id, name, code, poll_hash, state, wall, created_at) VALUES("
    f"'n1', 'Màn 1', '', 'h', 'approved', 'w1', '{NOW}')",
    "INSERT INTO display_sessions(id, node, created_at, expires) VALUES('s', 'n1', "
    f"'{NOW}', 1767200400.5)",
    "INSERT INTO alarm_rules(wall, name, centre, counter, threshold, duration_s, camera,"
    " monitor) VALUES('w1', 'Quầy đông', 'c', 'q1', 5, 30.0, 'hn-1', '1')",
    f"INSERT INTO alarms(rule, raised_at, count, restore_version) VALUES(1, '{NOW}', 7, 0)",
    "INSERT INTO registry_profiles(province, data, updated_at) VALUES('HA-NOI', "
    f"'{{\"centre\": \"TT PVHCC\"}}', '{NOW}')",
    f"INSERT INTO registry_tests(camera, time, status, result) VALUES('hn-1', '{NOW}', 'PASS',"
    " '{}')",
    f"INSERT INTO queue_zones(camera, zones, updated_at) VALUES('hn-1', '[]', '{NOW}')",
    "INSERT INTO indicator_values(indicator, province, period, period_start, value, revision,"
    " submitted_at, submitted_epoch, submitted_by, source) VALUES('online_dossiers', 'HA-NOI',"
    f" '2026-11', '2026-11-01', 31.25, 1, '{NOW}', 1767200400.25, 'lan', 'api')",
    "INSERT INTO notify_outbox(channel, recipient, idem_key, state, next_attempt_at, due_epoch,"
    f" created_at) VALUES('email', 'ops@example.org', 'k1', 'failed', '{NOW}', 1767200400.0,"
    f" '{NOW}')",
    "INSERT INTO user_prefs(user_id, landing, lang, province, wall, updated_at) VALUES("
    f"(SELECT id FROM users WHERE username = 'lan'), '/console', 'en', 'HA-NOI', 'w1', '{NOW}')",
    "INSERT INTO camera_availability(camera, day, province, up_s, observed_s) VALUES('hn-1',"
    " '2026-12-07', 'HA-NOI', 3540.5, 3600.0)",
    "INSERT INTO health_alerts(rule, subject, state, province, severity, title_vi, title_en,"
    " raised_at, open_key) VALUES('camera_lost', 'hn-1', 'raised', 'HA-NOI', 'critical',"
    f" 'Mất camera hn-1', 'Camera hn-1 lost', '{NOW}', 'camera_lost:hn-1')",
    # a controller that died (a clean stop removes its own row)
    "INSERT INTO controllers(id, pid, url, started_at, seen_at) VALUES('gone-1', 4242,"
    f" 'http://10.0.0.9:8080', '{NOW}', 1767200400.5)",
]


async def _fill_site(server: LiveServer) -> None:
    async with server.client() as http:
        await server.login(http)
        await server.add_user("lan", Role.OPERATOR)
        token = await http.post("/api/tokens", json={"label": "script", "role": "operator"})
        assert token.status_code == 201, token.text
        await make_wall(http)
    await server.services.registry.add(CameraIn(
        id="hn-1", province="Hà Nội", centre="TT PVHCC Hà Nội", name="Quầy 1",
        rtsp_main="rtsp://10.0.0.5/main", username="u", password="camera-secret"))
    for sql in FILL:
        await server.services.store.execute(sql)


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        # plain tables: not the audit's trigram index (FTS5) and its shadow tables
        names = [r[1] for r in conn.execute("PRAGMA main.table_list")
                 if r[2] == "table" and not r[1].startswith("sqlite_")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


async def test_copy_moves_every_table_and_the_app_serves_it(postgres_db: str,
                                                            tmp_path: Path) -> None:
    data = tmp_path / "site"
    config = make_config(data)
    async with start_live_server(config) as server:
        await _fill_site(server)
        async with server.client() as http:
            await server.login(http)
            audit_before = (await http.get("/api/audit?limit=500")).json()
            cameras_before = (await http.get("/api/cameras")).json()
    counts = _counts(data / "iocwall.sqlite3")
    empty = [t for t, n in counts.items() if n == 0]
    assert not empty, f"the site should have data in every table: {empty}"

    out = run_cli("store", "copy", "--to", postgres_db, "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    for table, n in counts.items():
        if table != "schema_version":
            assert any(line.split()[:2] == [table, str(n)] and "verified" in line
                       for line in out.stdout.splitlines()), (table, out.stdout)
    again = run_cli("store", "copy", "--to", postgres_db, "--data-dir", str(data))
    assert again.returncode == 1 and "not empty" in again.stderr, again.stderr
    assert "Traceback" not in again.stderr

    config.storage.url = postgres_db
    async with start_live_server(config) as server, server.client() as http:
        await server.login(http)
        async with server.client() as other:
            await server.login(other, "lan", USER_PASSWORD)     # a copied user and hash
        assert (await http.get("/api/cameras")).json() == cameras_before
        audit_after = (await http.get("/api/audit?limit=500")).json()
        copied = audit_after["entries"][-len(audit_before["entries"]):]
        assert copied == audit_before["entries"]                 # same ids, same text
        # the camera's sealed credentials (a BYTEA now) still open with the site's key
        secret = await server.services.registry.credentials("hn-1")
        assert secret.password == "camera-secret"
        # identity sequences continue after the copied ids
        new_id = await server.services.store.execute(
            "INSERT INTO registry_tests(camera, time, status, result) VALUES('hn-1', ?, 'PASS',"
            " '{}')", (NOW,))
        assert new_id == counts["registry_tests"] + 1

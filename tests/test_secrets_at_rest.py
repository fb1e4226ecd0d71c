"""Secrets at rest: the data folder is private whatever the umask, the database keeps only
hashes of session ids, the signing key lives in a private file, and a data folder that other
users can read stops the server with one clear line."""
from __future__ import annotations

import hashlib
import stat
import subprocess
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer

from iocwall.wall.store import Store, connect, migrate
from tests.fixtures.app import LiveServer
from tests.fixtures.ports import free_port
from tests.fixtures.serve_process import (
    ADMIN_PASSWORD,
    post_json,
    serve_argv,
    serve_env,
    serve_process,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_folder_and_its_files_are_private_with_a_loose_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_process(data, umask=0o022) as server:
        status, _ = post_json(server.url + "/api/login", {"username": "admin",
                                                         "password": ADMIN_PASSWORD})
        assert status == 200
        db = data / "iocwall.sqlite3"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), data / "logs" / "iocwall.log",
                 data / "session.key"]
        modes = {p.name: oct(_mode(p)) for p in files}
        dirs = {p.name: oct(_mode(p)) for p in (data, data / "logs")}
    assert modes == {p.name: "0o600" for p in files}
    assert dirs == {"data": "0o700", "logs": "0o700"}


def test_a_data_folder_others_can_read_stops_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    out = subprocess.run(serve_argv(data, free_port()), env=serve_env(), capture_output=True,
                         text=True, timeout=60, cwd=tmp_path, check=False)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert str(data) in lines[0] and "chmod 700" in lines[0]
    assert list(data.iterdir()) == []            # nothing written into it


async def test_sessions_are_stored_as_hashes_and_the_key_is_not_in_the_database(
        live_server: LiveServer) -> None:
    async with live_server.client() as http:
        await live_server.login(http)
        cookie = http.cookies["iocwall_session"]
        sid = live_server.services.sessions.session_id(cookie)
        assert sid is not None
        rows = await live_server.services.store.fetchall("SELECT * FROM sessions")
        assert sid not in str(rows)
        assert [r["id_hash"] for r in rows] == [hashlib.sha256(sid.encode()).hexdigest()]
        settings = await live_server.services.store.fetchall("SELECT * FROM settings")
        for row in settings:     # no stored value signs our cookie
            serializer = URLSafeTimedSerializer(row["value"], salt="iocwall.session")
            assert serializer.dumps(sid) != cookie
        key = live_server.services.config.data_path / "session.key"
        assert _mode(key) == 0o600
        assert URLSafeTimedSerializer(key.read_text().strip(),
                                      salt="iocwall.session").loads(cookie) == sid
        assert (await http.get("/api/me")).json()["user"] == "admin"


async def test_upgrade_drops_clear_session_ids_and_the_stored_secret(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = connect(path)
    migrate(conn, target=2)
    conn.execute("INSERT INTO users(username, password_hash, role, created_at, updated_at)"
                 " VALUES('lan', 'h', 'operator', 't', 't')")
    conn.execute("INSERT INTO sessions(id, user_id, created_at, expires)"
                 " VALUES('clear-session-id', 1, 't', 9e12)")
    conn.execute("INSERT INTO settings(key, value) VALUES('session_secret', 'leaked')")
    conn.close()
    store = Store(path)
    await store.open()
    try:
        assert await store.fetchall("SELECT * FROM sessions") == []
        assert await store.get_setting("session_secret") is None
        assert await store.fetchone("SELECT username FROM users") == {"username": "lan"}
    finally:
        await store.close()


async def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    import pytest

    from iocwall.wall.private_files import UnsafeDataDir
    from iocwall.wall.services import Services
    from tests.fixtures.app import make_config

    config = make_config(tmp_path / "d")
    services = Services(config)
    await services.start()
    await services.stop()
    key = config.data_path / "session.key"
    key.chmod(0o644)
    with pytest.raises(UnsafeDataDir, match=r"session.key can be read by other accounts"):
        await Services(config).start()

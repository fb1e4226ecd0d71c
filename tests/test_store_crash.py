"""Crash safety: kill -9 a writer in the middle of writing, several times; nothing is lost.

The writer prints the id of each row only after its transaction committed. After
every kill the database must pass ``PRAGMA integrity_check`` and hold every
printed id.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

WRITER = r"""
import asyncio, sys
from iocwall.wall.store import Store

async def main(path):
    if path.startswith("postgresql://"):
        from iocwall.wall.store.pg_store import PgStore
        store = PgStore(path)
    else:
        store = Store(path)
    await store.open()
    print("ready", flush=True)
    while True:
        rid = await store.execute(
            "INSERT INTO audit(time, epoch, actor, action, target, after) VALUES(?,?,?,?,?,?)",
            ("2026-01-01T00:00:00.000+07:00", 0.0, "writer", "test.write", "x",
             "{\"pad\": \"" + "p" * 2000 + "\"}"))
        print(rid, flush=True)

asyncio.run(main(sys.argv[1]))
"""


def _run_and_kill(path: Path | str, after_s: float) -> list[int]:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(after_s)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return [int(line) for line in out.split()]


def test_kill_9_mid_write_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    committed: set[int] = set()
    rounds = 5
    for _ in range(rounds):
        ids = _run_and_kill(path, random.uniform(0.3, 0.8))
        assert ids, "the writer committed nothing before the kill"
        committed.update(ids)
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            stored = {r[0] for r in conn.execute("SELECT id FROM audit")}
        finally:
            conn.close()
        missing = committed - stored
        assert not missing, f"{len(missing)} committed rows lost, e.g. {sorted(missing)[:5]}"
    assert len(committed) > rounds


def test_kill_9_mid_write_loses_nothing_on_postgres(postgres_db: str) -> None:
    """The same on PostgreSQL: every id the writer printed (committed) is there."""
    import psycopg
    committed: set[int] = set()
    for _ in range(3):
        ids = _run_and_kill(postgres_db, random.uniform(0.3, 0.8))
        assert ids, "the writer committed nothing before the kill"
        committed.update(ids)
        with psycopg.connect(postgres_db) as conn:
            stored = {r[0] for r in conn.execute("SELECT id FROM audit")}
        missing = committed - stored
        assert not missing, f"{len(missing)} committed rows lost, e.g. {sorted(missing)[:5]}"
    assert len(committed) > 3

"""The controllers that share this store: each one's renew loop writes its row.

    members = Members(store, "a1b2c3", pid, "http://10.0.0.5:8080", started_at)
    await members.beat()           # with each lease renewal: seen now (database clock)
    await members.live(window_s)   # rows seen within window_s, oldest start first
    await members.leave()          # a clean stop
"""
from __future__ import annotations

from typing import Any

from iocwall.wall.store import Store
from iocwall.wall.store.dialect import DB_NOW

FORGET_AFTER_S = 24 * 3600.0      # a controller gone this long leaves the table


class Members:
    def __init__(self, store: Store, me: str, pid: int, url: str, started_at: str) -> None:
        self._store, self.me, self.pid, self.url, self.started_at = store, me, pid, url, started_at
        self._now = DB_NOW[store.dialect]

    async def beat(self) -> None:
        await self._store.execute(
            "INSERT INTO controllers(id, pid, url, started_at, seen_at)"
            f" VALUES(:id, :pid, :url, :started, {self._now})"
            " ON CONFLICT(id) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at",
            {"id": self.me, "pid": self.pid, "url": self.url, "started": self.started_at})

    async def live(self, window_s: float) -> list[dict[str, Any]]:
        return await self._store.fetchall(
            "SELECT id, pid, url, started_at FROM controllers"
            f" WHERE seen_at > {self._now} - :window ORDER BY started_at, id",
            {"window": window_s})

    async def forget_old(self) -> None:
        await self._store.execute(f"DELETE FROM controllers WHERE seen_at < {self._now} - :age",
                                  {"age": FORGET_AFTER_S})

    async def leave(self) -> None:
        await self._store.execute("DELETE FROM controllers WHERE id = ?", (self.me,))

"""Walls, monitors, layout versions, presets in SQLite (wall/store/migrations/0005_wall.sql).

Several controller processes may share one database file: a layout save is one
transaction that takes the next version number, so two saves never collide.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from iocwall.layouts import Layout, Preset
from iocwall.streams.clock import now_iso
from iocwall.wall.cluster.lease import fenced
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store

WALL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MONITOR_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Monitor:
    wall: str
    id: str
    col: int
    row: int
    node: str
    output: str
    layout_version: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "col": self.col, "row": self.row, "node": self.node,
                "output": self.output, "layout_version": self.layout_version}


@dataclass(frozen=True)
class Wall:
    id: str
    name: str
    columns: int
    rows: int
    monitors: tuple[Monitor, ...]

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "columns": self.columns, "rows": self.rows,
                "monitors": [m.public() for m in self.monitors]}


def _monitor(row: dict[str, Any]) -> Monitor:
    return Monitor(row["wall"], row["id"], int(row["col"]), int(row["row"]), row["node"],
                   row["output"], int(row["layout_version"]))


class WallStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_wall(self, wall_id: str, name: str, columns: int, rows: int,
                          monitors: list[str]) -> Wall:
        """A wall of ``columns`` x ``rows`` monitors, ids in reading order."""
        if not WALL_ID.match(wall_id):
            raise ApiError(422, "invalid", "wall id: a-z0-9_- (1-64)", "id")
        if not 1 <= columns * rows <= 64 or len(monitors) != columns * rows:
            raise ApiError(422, "invalid", "monitors must fill columns x rows (at most 64)",
                           "monitors")
        if any(not MONITOR_ID.match(m) for m in monitors) or len(set(monitors)) != len(monitors):
            raise ApiError(422, "invalid", "monitor ids: unique, 1-64 of A-Za-z0-9_.:-",
                           "monitors")

        def work(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO walls(id, name, columns, rows, created_at)"
                             " VALUES(?, ?, ?, ?, ?)", (wall_id, name, columns, rows, now_iso()))
            except sqlite3.IntegrityError:
                raise ApiError(409, "exists", f"wall {wall_id!r} exists / đã có", "id") from None
            for i, monitor in enumerate(monitors):
                conn.execute("INSERT INTO monitors(wall, id, col, row) VALUES(?, ?, ?, ?)",
                             (wall_id, monitor, i % columns, i // columns))
        await self._store.transaction(work)
        return await self.wall(wall_id)

    async def find_wall(self, wall_id: str) -> Wall | None:
        row = await self._store.fetchone("SELECT * FROM walls WHERE id = ?", (wall_id,))
        if row is None:
            return None
        mons = await self._store.fetchall(
            "SELECT * FROM monitors WHERE wall = ? ORDER BY row, col", (wall_id,))
        return Wall(row["id"], row["name"], int(row["columns"]), int(row["rows"]),
                    tuple(_monitor(m) for m in mons))

    async def wall(self, wall_id: str) -> Wall:
        found = await self.find_wall(wall_id)
        if found is None:
            raise ApiError(404, "not_found", f"no wall {wall_id!r} / không có màn hình ghép này")
        return found

    async def walls(self) -> list[Wall]:
        rows = await self._store.fetchall("SELECT id FROM walls ORDER BY id")
        return [await self.wall(r["id"]) for r in rows]

    async def monitor(self, wall_id: str, monitor_id: str) -> Monitor:
        row = await self._store.fetchone("SELECT * FROM monitors WHERE wall = ? AND id = ?",
                                         (wall_id, monitor_id))
        if row is None:
            raise ApiError(404, "not_found", f"no monitor {wall_id}/{monitor_id} / không có",
                           "monitor")
        return _monitor(row)

    async def bind(self, wall_id: str, monitor_id: str, node: str, output: str) -> Monitor:
        await self.monitor(wall_id, monitor_id)
        await self._store.execute("UPDATE monitors SET node = ?, output = ? WHERE wall = ?"
                                  " AND id = ?", (node, output, wall_id, monitor_id))
        return await self.monitor(wall_id, monitor_id)

    async def save_layout(self, wall_id: str, monitor_id: str, layout: Layout, by: str) -> Layout:
        """Store ``layout`` as the monitor's next version and make it current."""
        return (await self.save_layouts(wall_id, {monitor_id: layout}, by))[monitor_id]

    async def save_layouts(self, wall_id: str, layouts: dict[str, Layout], by: str,
                           durable: bool = True, epoch: int | None = None) -> dict[str, Layout]:
        """Several monitors at once (a preset): one transaction, so one disk sync.

        ``durable=False``: committed (every controller and a restarting display read
        it) but not yet fsynced; the caller makes it durable with its next FULL commit
        (the push's audit entry) before it answers the operator. ``epoch``: a leader
        duty's save (an alarm), refused once the lease moved on (cluster.lease.fenced)."""
        for monitor_id in layouts:
            await self.monitor(wall_id, monitor_id)

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            fenced(conn, epoch)
            versions = {}
            for monitor_id, layout in layouts.items():
                row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM layouts WHERE wall = ?"
                                   " AND monitor = ?", (wall_id, monitor_id)).fetchone()
                version = int(row[0]) + 1
                body = json.dumps(layout.with_version(version).to_json(), ensure_ascii=False)
                conn.execute("INSERT INTO layouts(wall, monitor, version, body, created_at,"
                             " created_by) VALUES(?, ?, ?, ?, ?, ?)",
                             (wall_id, monitor_id, version, body, now_iso(), by))
                conn.execute("UPDATE monitors SET layout_version = ? WHERE wall = ? AND id = ?",
                             (version, wall_id, monitor_id))
                versions[monitor_id] = version
            return versions
        versions = await self._store.transaction(work, durable)
        return {m: lay.with_version(versions[m]) for m, lay in layouts.items()}

    async def make_current(self, wall_id: str, monitor_id: str, version: int,
                           epoch: int | None = None) -> Layout | None:
        """Show an earlier version again (alarm cleared, undo); ``epoch``: as save_layouts."""
        layout = await self.layout(wall_id, monitor_id, version)
        if layout is not None:
            def work(conn: sqlite3.Connection) -> None:
                fenced(conn, epoch)
                conn.execute("UPDATE monitors SET layout_version = ? WHERE wall = ? AND id = ?",
                             (version, wall_id, monitor_id))
            await self._store.transaction(work)
        return layout

    async def layout(self, wall_id: str, monitor_id: str, version: int | None = None
                     ) -> Layout | None:
        """The given version, or the monitor's current layout; None when it has none."""
        if version is None:
            version = (await self.monitor(wall_id, monitor_id)).layout_version
        row = await self._store.fetchone(
            "SELECT body FROM layouts WHERE wall = ? AND monitor = ? AND version = ?",
            (wall_id, monitor_id, version))
        return None if row is None else Layout.from_json(json.loads(row["body"]))

    async def save_preset(self, wall_id: str, preset: Preset, by: str) -> None:
        await self.wall(wall_id)
        await self._store.execute(
            "INSERT INTO presets(wall, name, body, updated_at, updated_by) VALUES(?, ?, ?, ?, ?)"
            " ON CONFLICT(wall, name) DO UPDATE SET body = excluded.body,"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (wall_id, preset.name, json.dumps(preset.to_json(), ensure_ascii=False),
             now_iso(), by))

    async def preset(self, wall_id: str, name: str) -> Preset:
        row = await self._store.fetchone("SELECT body FROM presets WHERE wall = ? AND name = ?",
                                         (wall_id, name))
        if row is None:
            raise ApiError(404, "not_found", f"no preset {name!r} / không có cấu hình này")
        return Preset.from_json(json.loads(row["body"]))

    async def presets(self, wall_id: str) -> list[str]:
        rows = await self._store.fetchall("SELECT name FROM presets WHERE wall = ? ORDER BY name",
                                          (wall_id,))
        return [r["name"] for r in rows]

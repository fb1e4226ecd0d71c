"""Alarm rules: "queue at counter X over N people for T seconds -> show camera C on monitor M".

Queue counts arrive on the bus as ``QueueReading`` (camera, counter, people),
published by analytics; a rule's ``centre`` is the id of the camera that counts
that service centre's counters (its zones), ``counter`` the zone id. When a rule fires, its
camera is put on the monitor as a highlighted tile on an upper layer (the other
tiles keep playing), the alarm is logged and audited; when the queue falls back
(rules with auto_clear) or an operator clears it, the monitor's previous layout
comes back. Rules are evaluated on the leader only (wall/cluster/): its writes are fenced
with its epoch, and what it sends the displays carries that epoch, so a leader that was
paused while another took over cannot raise or clear anything when it wakes.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass, replace
from typing import Any

from iocwall.layouts import Layout, Tile, TileKind
from iocwall.streams.clock import now_iso
from iocwall.streams.leadership import Leadership
from iocwall.wall.audit import AuditLog
from iocwall.wall.bus import Bus, Event, EventError, EventKind, Subscription
from iocwall.wall.bus.queue import QueueReading
from iocwall.wall.cluster.duties import leads, write_epoch
from iocwall.wall.cluster.lease import fenced
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store
from iocwall.wall.walls.controller import WallController
from iocwall.wall.walls.protocol import TOPIC_ALARM, TOPIC_QUEUE

log = logging.getLogger(__name__)
ALARM_TILE = "alarm"


@dataclass(frozen=True)
class Rule:
    id: int
    wall: str
    name: str
    centre: str
    counter: str
    threshold: int
    duration_s: float
    camera: str
    monitor: str
    auto_clear: bool

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def alarm_layout(layout: Layout | None, camera: str, name: str) -> Layout:
    """``layout`` with ``camera`` highlighted: its tile if shown, else a tile on layer 1."""
    base = layout or Layout(name)
    if any(t.kind is TileKind.CAMERA and t.camera == camera for t in base.tiles):
        tiles = tuple(replace(t, highlight=True) if t.camera == camera else t
                      for t in base.tiles)
    else:
        w, h = max(1, base.grid.columns // 2), max(1, base.grid.rows // 2)
        tiles = (*base.tiles, Tile(ALARM_TILE, TileKind.CAMERA, 0, 0, w, h, layer=1,
                                   camera=camera, highlight=True))
    return replace(base, tiles=tiles)


class AlarmEngine:
    def __init__(self, store: Store, bus: Bus, controller: WallController,
                 audit: AuditLog, pre_alarm_s: float = 0.0,
                 leadership: Leadership | None = None) -> None:
        """``pre_alarm_s``: seconds before a raised alarm that the displays and the console
        replay on its camera's tile before going live ([replay] pre_alarm_seconds; 0 = off).
        ``leadership``: rules run only while it leads (None: always, unfenced)."""
        self._store, self._bus, self._controller, self._audit = store, bus, controller, audit
        self._leadership = leadership
        self.pre_alarm_s = pre_alarm_s
        self._over_since: dict[int, float] = {}
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self._bus.subscribe(TOPIC_QUEUE, maxsize=1024)
        self._task = asyncio.create_task(self._read(), name="wall-alarms")

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.close()
        if self._task is not None:
            self._task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.gather(self._task, return_exceptions=True)

    async def add_rule(self, wall: str, data: dict[str, Any]) -> Rule:
        await self._controller.walls.monitor(wall, str(data.get("monitor", "")))
        try:
            values = (wall, str(data["name"])[:100], str(data["centre"]), str(data["counter"]),
                      int(data["threshold"]), float(data["duration_s"]), str(data["camera"]),
                      str(data["monitor"]), 1 if data.get("auto_clear", True) else 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(422, "invalid", f"rule: bad or missing {exc}", str(exc)) from None
        if values[4] < 0 or values[5] < 0:
            raise ApiError(422, "invalid", "threshold and duration_s must be >= 0", "threshold")
        rule_id = await self._store.execute(
            "INSERT INTO alarm_rules(wall, name, centre, counter, threshold, duration_s, camera,"
            " monitor, auto_clear) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        return (await self.rules(wall, rule_id))[0]

    async def rules(self, wall: str | None = None, rule_id: int | None = None) -> list[Rule]:
        rows = await self._store.fetchall(
            "SELECT * FROM alarm_rules WHERE (? IS NULL OR wall = ?) AND (? IS NULL OR id = ?)"
            " ORDER BY id", (wall, wall, rule_id, rule_id))
        return [Rule(int(r["id"]), r["wall"], r["name"], r["centre"], r["counter"],
                     int(r["threshold"]), float(r["duration_s"]), r["camera"], r["monitor"],
                     bool(r["auto_clear"])) for r in rows]

    async def open_alarms(self, wall: str) -> list[dict[str, Any]]:
        rows = await self._store.fetchall(
            "SELECT a.id, a.rule, a.raised_at, a.count, r.name, r.camera, r.monitor"
            " FROM alarms a JOIN alarm_rules r ON r.id = a.rule"
            " WHERE r.wall = ? AND a.cleared_at IS NULL ORDER BY a.id", (wall,))
        return [dict(r) for r in rows]

    async def _read(self) -> None:
        assert self._sub is not None
        async for event in self._sub:
            if not leads(self._leadership):
                self._over_since.clear()     # the leader judges; its "over since" is its own
                continue
            try:
                reading = QueueReading.from_event(event)
                await self.on_count(reading.camera, reading.counter, reading.people)
            except EventError as exc:
                log.warning("bad queue reading on %s: %s", event.topic, exc)
            except Exception:
                log.exception("alarm evaluation failed")

    async def on_count(self, centre: str, counter: str, count: int) -> None:
        now = time.monotonic()
        epoch = write_epoch(self._leadership)   # decided now: a write after a pause is refused
        for rule in await self.rules():
            if (rule.centre, rule.counter) != (centre, counter):
                continue
            if count > rule.threshold:
                since = self._over_since.setdefault(rule.id, now)
                if now - since >= rule.duration_s:
                    await self._raise(rule, count, epoch)
            else:
                self._over_since.pop(rule.id, None)
                if rule.auto_clear:
                    await self.clear_rule(rule, "system", epoch)

    def _stamp(self, epoch: int | None) -> dict[str, int]:
        """What the displays' fence reads: the leader's epoch (none without a lease)."""
        return {} if epoch is None else {"epoch": epoch}

    async def _raise(self, rule: Rule, count: int, epoch: int | None = None) -> None:
        monitor = await self._controller.walls.monitor(rule.wall, rule.monitor)

        raised_at = now_iso()

        def insert(conn: sqlite3.Connection) -> int:
            fenced(conn, epoch)          # StaleLeader: another controller leads now
            # the open-alarm unique index makes a second raise a no-op: no row comes back
            row = conn.execute(
                "INSERT INTO alarms(rule, raised_at, count, restore_version)"
                " VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (rule.id, raised_at, count, monitor.layout_version)).fetchone()
            return int(row[0]) if row is not None else 0
        alarm_id = await self._store.transaction(insert)
        if not alarm_id:
            return                               # already open (maybe by another controller)
        current = await self._controller.walls.layout(rule.wall, rule.monitor)
        shown = alarm_layout(current, rule.camera, rule.name)
        await self._controller.push(rule.wall, {rule.monitor: shown}, f"alarm:{rule.id}",
                                    epoch=epoch)
        info = {"alarm": alarm_id, "rule": rule.id, "name": rule.name, "count": count,
                "camera": rule.camera, "monitor": rule.monitor, "raised_at": raised_at}
        await self._audit.record("system", "wall.alarm.raise", f"wall:{rule.wall}", None, info)
        # only the live "raised" message asks for the seconds before (pre_alarm_s): a display
        # that reconnects gets the open alarms in its layout message and stays live
        await self._bus.publish(TOPIC_ALARM, Event(TOPIC_ALARM, EventKind.ALERT, {
            "wall": rule.wall, "state": "raised", "pre_alarm_s": self.pre_alarm_s, **info,
            **self._stamp(epoch)}))

    async def clear(self, wall: str, alarm_id: int, by: str) -> None:
        """Clear an open alarm of ``wall``; an alarm of another wall is "not found" here, so a
        URL naming one wall never clears (or confirms) another wall's alarm."""
        row = await self._store.fetchone(
            "SELECT a.rule FROM alarms a JOIN alarm_rules r ON r.id = a.rule"
            " WHERE a.id = ? AND r.wall = ? AND a.cleared_at IS NULL", (alarm_id, wall))
        if row is None:
            raise ApiError(404, "not_found", "no open alarm with this id / không có cảnh báo")
        await self.clear_rule((await self.rules(rule_id=int(row["rule"])))[0], by)

    async def clear_rule(self, rule: Rule, by: str, epoch: int | None = None) -> None:
        """Clear ``rule``'s open alarm; ``epoch``: the leader's, when a rule clears it (an
        operator's clear is not fenced: any controller serves it)."""
        row = await self._store.fetchone("SELECT id, restore_version FROM alarms WHERE rule = ?"
                                         " AND cleared_at IS NULL", (rule.id,))
        if row is None:
            return

        def update(conn: sqlite3.Connection) -> int:
            fenced(conn, epoch)
            return int(conn.execute(
                "UPDATE alarms SET cleared_at = ?, cleared_by = ? WHERE id = ?"
                " AND cleared_at IS NULL", (now_iso(), by, row["id"])).rowcount)
        if not await self._store.transaction(update):
            return
        restored = await self._controller.walls.make_current(rule.wall, rule.monitor,
                                                             int(row["restore_version"]), epoch)
        if restored is not None:
            await self._controller.announce(rule.wall, {rule.monitor: restored}, epoch=epoch)
        info = {"alarm": int(row["id"]), "rule": rule.id, "name": rule.name}
        await self._audit.record(by, "wall.alarm.clear", f"wall:{rule.wall}", None, info)
        await self._bus.publish(TOPIC_ALARM, Event(TOPIC_ALARM, EventKind.ALERT,
                                                   {"wall": rule.wall, "state": "cleared", **info,
                                                    **self._stamp(epoch)}))

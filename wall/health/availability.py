"""Camera availability per day: seconds seen live over seconds observed, from cheap samples.

Every sample adds the time since the previous one to each observed camera (one that is pulled,
or idle and probed: health/probe.py), and to its "up" seconds when it is live or idle and
reachable (``camera_online``). Sums collect in memory and go to the store
every ``flush_s`` in one transaction (a restart loses at most that much); days are +07:00
calendar days, a sample's seconds counted on the day the sample is taken.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from iocwall.streams.clock import VN_TZ
from iocwall.wall.health.cameras import camera_online
from iocwall.wall.health.model import Component, State
from iocwall.wall.store import Store

_UPSERT = ("INSERT INTO camera_availability(camera, day, province, up_s, observed_s)"
           " VALUES(?, ?, ?, ?, ?) ON CONFLICT(camera, day) DO UPDATE SET"
           " up_s = camera_availability.up_s + excluded.up_s,"
           " observed_s = camera_availability.observed_s + excluded.observed_s,"
           " province = excluded.province")


def day_of(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, VN_TZ).date().isoformat()


class Availability:
    def __init__(self, store: Store, sample_s: float, flush_s: float) -> None:
        self._store = store
        self._max_step = 2 * sample_s          # a longer gap (a pause, a stop) is not counted
        self._flush_s = flush_s
        self._last: float | None = None
        self._last_flush = time.monotonic()
        self._pending: dict[tuple[str, str], list[Any]] = {}   # (camera, day) -> [prov, up, obs]

    def sample(self, cameras: Iterable[Component], now: float | None = None,
               epoch: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        step = 0.0 if self._last is None else min(now - self._last, self._max_step)
        self._last = now
        if step <= 0:
            return
        day = day_of(time.time() if epoch is None else epoch)
        for cam in cameras:
            if cam.state in (State.IDLE, State.NOT_CONFIGURED):
                continue
            row = self._pending.setdefault((cam.id, day), [cam.province, 0.0, 0.0])
            row[0] = cam.province
            row[2] += step
            if camera_online(cam):          # live, or idle and reachable
                row[1] += step

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return now - self._last_flush >= self._flush_s

    async def flush(self) -> None:
        self._last_flush = time.monotonic()
        pending, self._pending = self._pending, {}
        if not pending:
            return
        rows = [(cam, day, prov, up, obs) for (cam, day), (prov, up, obs) in pending.items()]

        def work(conn: sqlite3.Connection) -> None:
            for row in rows:
                conn.execute(_UPSERT, row)
        try:
            await self._store.transaction(work, durable=False)
        except BaseException:
            # keep the seconds for the next flush (the store may be back by then)
            for (cam, day), (prov, up, obs) in pending.items():
                row = self._pending.setdefault((cam, day), [prov, 0.0, 0.0])
                row[1] += up
                row[2] += obs
            raise

    async def days(self, days: int, province: str | None) -> dict[str, Any]:
        """The last ``days`` days (today included): per camera per day, and per province."""
        await self.flush()
        first = (datetime.now(VN_TZ).date() - timedelta(days=days - 1)).isoformat()
        rows = await self._store.fetchall(
            "SELECT camera, day, province, up_s, observed_s FROM camera_availability"
            " WHERE day >= ? AND (? IS NULL OR province = ?) ORDER BY camera, day",
            (first, province, province))
        cameras: dict[str, dict[str, Any]] = {}
        totals: dict[tuple[str, str], list[float]] = {}
        for r in rows:
            cam = cameras.setdefault(r["camera"], {"camera": r["camera"],
                                                   "province": r["province"], "days": []})
            cam["days"].append(_day(r["day"], float(r["up_s"]), float(r["observed_s"])))
            t = totals.setdefault((r["province"], r["day"]), [0.0, 0.0])
            t[0] += float(r["up_s"])
            t[1] += float(r["observed_s"])
        by_province: dict[str, dict[str, Any]] = {}
        for (prov, day), (up, obs) in sorted(totals.items()):
            entry = by_province.setdefault(prov, {"province": prov, "days": []})
            entry["days"].append(_day(day, up, obs))
        for entry in by_province.values():
            up = sum(d["up_s"] for d in entry["days"])
            obs = sum(d["observed_s"] for d in entry["days"])
            entry["availability"] = _ratio(up, obs)
        return {"from": first, "days": days, "cameras": list(cameras.values()),
                "provinces": list(by_province.values())}

    async def province_share(self, province: str, days: int = 7) -> float | None:
        """The % of observed seconds ``province``'s cameras were live over ``days`` days."""
        data = await self.days(days, province or None)
        if not province:
            up = sum(d["up_s"] for p in data["provinces"] for d in p["days"])
            obs = sum(d["observed_s"] for p in data["provinces"] for d in p["days"])
            return _ratio(up, obs)
        return next((p["availability"] for p in data["provinces"]), None)


def _day(day: str, up: float, observed: float) -> dict[str, Any]:
    return {"day": day, "up_s": round(up, 1), "observed_s": round(observed, 1),
            "availability": _ratio(up, observed)}


def _ratio(up: float, observed: float) -> float | None:
    return round(100.0 * up / observed, 2) if observed > 0 else None

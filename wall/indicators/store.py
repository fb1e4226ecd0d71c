"""Indicator values in SQLite: every revision kept, the newest one current.

A second value for the same indicator, unit and period is refused (409) unless
the submission says it is a revision; then the old row is marked superseded and
the new one gets the next revision number, in one transaction.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from iocwall.streams.clock import iso_from_epoch
from iocwall.wall.errors import ApiError
from iocwall.wall.indicators.model import Value
from iocwall.wall.indicators.validation import Checked
from iocwall.wall.store import Store

MAX_LIMIT = 1000


@dataclass(frozen=True)
class HistoryQuery:
    indicator: str
    provinces: tuple[str, ...] = ()    # empty = every unit
    since: str = ""                    # ISO date: periods starting on or after
    until: str = ""                    # ISO date: periods starting before
    revisions: bool = False            # include superseded revisions
    limit: int = 100
    offset: int = 0

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["indicator = ?"], [self.indicator]
        if self.provinces:
            clauses.append(f"province IN ({','.join('?' * len(self.provinces))})")
            params += list(self.provinces)
        if self.since:
            clauses.append("period_start >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("period_start < ?")
            params.append(self.until)
        if not self.revisions:
            clauses.append("superseded = 0")
        return " WHERE " + " AND ".join(clauses), params


@dataclass(frozen=True)
class HistoryPage:
    values: list[Value]
    total: int
    limit: int
    offset: int

    def public(self) -> dict[str, Any]:
        following = self.offset + len(self.values)
        return {"values": [v.public() for v in self.values], "total": self.total,
                "limit": self.limit, "offset": self.offset,
                "next_offset": following if following < self.total else None}


class ValueStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def submit(self, checked: Checked, actor: str, source: str,
                     at: float | None = None) -> tuple[Value, Value | None]:
        """Store ``checked``; returns (the new current value, the one it replaced or None)."""
        now = time.time() if at is None else at
        key = (checked.indicator.id, checked.province, checked.period.key)

        def work(conn: sqlite3.Connection) -> tuple[int, dict[str, Any] | None]:
            row = conn.execute(
                "SELECT * FROM indicator_values WHERE indicator = ? AND province = ? AND "
                "period = ? AND superseded = 0", key).fetchone()
            previous = dict(row) if row is not None else None
            if previous is not None and not checked.revise:
                raise ApiError(409, "exists", f"{checked.province} already reported "
                               f"{checked.period.key} ({previous['value']:g}); send "
                               "revise=true with a reason to revise it / đã có số liệu kỳ này, "
                               "hãy gửi bản sửa kèm lý do", "period")
            if previous is None and checked.revise:
                raise ApiError(409, "nothing_to_revise", "no value to revise for this period "
                               "/ chưa có số liệu để sửa", "revise")
            if previous is not None:
                conn.execute("UPDATE indicator_values SET superseded = 1 WHERE id = ?",
                             (previous["id"],))
            revision = 1 if previous is None else int(previous["revision"]) + 1
            note = checked.reason if checked.revise else checked.note
            cur = conn.execute(
                "INSERT INTO indicator_values(indicator, province, period, period_start, value,"
                " revision, submitted_at, submitted_epoch, submitted_by, source, note)"
                " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, checked.period.start.isoformat(), checked.value, revision,
                 iso_from_epoch(now), now, actor, source, note))
            return int(cur.lastrowid or 0), previous

        new_id, previous = await self._store.transaction(work)
        row = await self._store.fetchone("SELECT * FROM indicator_values WHERE id = ?", (new_id,))
        assert row is not None
        return Value.from_row(row), Value.from_row(previous) if previous else None

    async def history(self, q: HistoryQuery) -> HistoryPage:
        """Newest period first (then unit, then newest revision)."""
        if not 1 <= q.limit <= MAX_LIMIT:
            raise ApiError(422, "invalid", f"limit must be 1-{MAX_LIMIT}", "limit")
        if q.offset < 0:
            raise ApiError(422, "invalid", "offset must be 0 or more", "offset")
        where, params = q.where()
        total = await self._store.fetchone(f"SELECT COUNT(*) AS n FROM indicator_values{where}",
                                           params)
        rows = await self._store.fetchall(
            f"SELECT * FROM indicator_values{where} ORDER BY period_start DESC, province,"
            " revision DESC LIMIT ? OFFSET ?", [*params, q.limit, q.offset])
        return HistoryPage([Value.from_row(r) for r in rows], int(total["n"]) if total else 0,
                           q.limit, q.offset)

    async def current(self, indicator: str, since: str = "", until: str = "") -> list[Value]:
        """Every current value of ``indicator`` (all units, all periods in the range)."""
        where, params = HistoryQuery(indicator, since=since, until=until).where()
        rows = await self._store.fetchall(
            f"SELECT * FROM indicator_values{where} ORDER BY period_start", params)
        return [Value.from_row(r) for r in rows]

    async def reported(self, indicator: str, period: str) -> dict[str, Value]:
        """The first revision per unit for one period: when each unit first reported."""
        rows = await self._store.fetchall(
            "SELECT * FROM indicator_values WHERE indicator = ? AND period = ? AND revision = 1",
            (indicator, period))
        return {r["province"]: Value.from_row(r) for r in rows}

    async def count(self) -> int:
        row = await self._store.fetchone("SELECT COUNT(*) AS n FROM indicator_values")
        return int(row["n"]) if row else 0

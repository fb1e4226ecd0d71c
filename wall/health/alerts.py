"""Alerts: raised -> acknowledged -> resolved, one open alert per rule and subject, no flapping.

``AlertBook.step`` takes the rules' conditions each sample. A condition must hold for its
``hold_s`` before its alert is raised, and an open alert's condition must stay away for
``resolve_hold_s`` before it is resolved; a blip inside either hold-down changes nothing. A
condition that cannot be judged now (``active`` None) leaves everything as it is; a subject no
rule names any more (a camera removed, a rule switched off) counts as cleared.

Alerts live in the store (``health_alerts``); its unique ``open_key`` keeps one open alert per
rule and subject even with several controllers, and open alerts are read back at start, so a
restart neither loses nor repeats them. With several controllers the rules run on the
leader (wall/cluster/); its raises and resolves are fenced with its epoch (``fence``).
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from iocwall.streams.clock import now_iso
from iocwall.wall.errors import ApiError
from iocwall.wall.health.notify import AlertNotice
from iocwall.wall.health.rules import Condition
from iocwall.wall.store import Store

log = logging.getLogger(__name__)
STATES = ("raised", "acknowledged", "resolved")
MAX_LIST = 500
STORE_RULE = "store_down"


@dataclass(frozen=True)
class Alert:
    id: int
    rule: str
    subject: str
    state: str
    province: str
    severity: str
    title_vi: str
    title_en: str
    detail_vi: str
    detail_en: str
    link: str
    raised_at: str
    acknowledged_by: str | None
    acknowledged_at: str | None
    resolved_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Alert:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def public(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def notice(self) -> AlertNotice:
        return AlertNotice(self.id, self.rule, self.state, self.subject, self.province,
                           self.title_vi, self.title_en, self.detail_vi, self.detail_en,
                           f"/health#alert-{self.id}", self.raised_at)


def _open_key(rule: str, subject: str) -> str:
    return f"{rule}|{subject}"


class AlertBook:
    def __init__(self, store: Store, resolve_hold_s: float) -> None:
        self._store = store
        self.resolve_hold_s = resolve_hold_s
        self._open: dict[tuple[str, str], Alert] = {}
        self._pending: dict[tuple[str, str], float] = {}    # active since (no open alert)
        self._clearing: dict[tuple[str, str], float] = {}   # cleared since (open alert)
        # run inside each raise/resolve transaction: the leader's fence (lease.fenced)
        self.fence: Callable[[Any], None] = lambda conn: None

    async def load(self) -> None:
        """Adopt the alerts left open (by an earlier run, or another controller)."""
        rows = await self._store.fetchall(
            "SELECT * FROM health_alerts WHERE open_key IS NOT NULL ORDER BY id")
        self._open = {(r["rule"], r["subject"]): Alert.from_row(r) for r in rows}

    async def step(self, conditions: Iterable[Condition], now: float | None = None,
                   rules: frozenset[str] | None = None) -> list[Alert]:
        """Apply one sample of every rule (``rules``: of those rules only; the others'
        alerts are left as they are); returns the alerts that changed state."""
        now = time.monotonic() if now is None else now
        seen = {c.key: c for c in conditions}
        changed: list[Alert] = []
        for key, cond in seen.items():
            if cond.active is True:
                self._clearing.pop(key, None)
                if key not in self._open:
                    since = self._pending.setdefault(key, now)
                    if now - since >= cond.hold_s:
                        changed += await self._guard(self._raise(cond), key, cond)
            elif cond.active is False:
                self._pending.pop(key, None)
                changed += await self._clear(key, now)
        for key in [k for k in self._pending if k not in seen]:
            del self._pending[key]
        for key in [k for k in self._open
                    if k not in seen and (rules is None or k[0] in rules)]:
            changed += await self._clear(key, now)
        return changed

    async def _clear(self, key: tuple[str, str], now: float) -> list[Alert]:
        if key not in self._open:
            return []
        since = self._clearing.setdefault(key, now)
        if now - since < self.resolve_hold_s:
            return []
        return await self._guard(self._resolve(key), key)

    async def _guard(self, work: Any, key: tuple[str, str],
                     cond: Condition | None = None) -> list[Alert]:
        """A store that fails (it may be what is down) costs this step, not the loop: the
        condition stays pending and is tried again next sample. Except the store's own alert,
        which can never be written while it is true: it is kept in memory (id 0) so that
        people are still told, once, and resolves from memory too."""
        try:
            alert = await work
        except Exception:
            if cond is not None and cond.rule == STORE_RULE:
                return [self._unsaved(cond)]
            log.exception("alert %s/%s: store write failed; retried next sample", *key)
            return []
        return [alert] if alert is not None else []

    def _unsaved(self, cond: Condition) -> Alert:
        alert = Alert(0, cond.rule, cond.subject, "raised", cond.province, cond.severity.value,
                      cond.title_vi, cond.title_en, cond.detail_vi, cond.detail_en, cond.link,
                      now_iso(), None, None, None)
        self._pending.pop(cond.key, None)
        self._open[cond.key] = alert
        log.error("alert raised (not stored: the store is unreachable): %s", cond.title_en)
        return alert

    async def _raise(self, cond: Condition) -> Alert | None:
        key = _open_key(cond.rule, cond.subject)

        stamp = now_iso()

        def insert(conn: sqlite3.Connection) -> tuple[dict[str, Any], bool]:
            self.fence(conn)
            added = conn.execute(
                "INSERT INTO health_alerts(rule, subject, state, province, severity, title_vi,"
                " title_en, detail_vi, detail_en, link, raised_at, open_key)"
                " VALUES(?, ?, 'raised', ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(open_key) DO NOTHING",
                (cond.rule, cond.subject, cond.province, cond.severity.value, cond.title_vi,
                 cond.title_en, cond.detail_vi, cond.detail_en, cond.link, stamp, key)).rowcount
            return dict(conn.execute("SELECT * FROM health_alerts WHERE open_key = ?",
                                     (key,)).fetchone()), added == 1
        row, added = await self._store.transaction(insert)
        alert = Alert.from_row(row)
        self._pending.pop(cond.key, None)
        self._open[cond.key] = alert
        if not added:
            # raised already (another controller): adopted, not repeated. Judged by the
            # insert itself: two raises within one millisecond have the same raised_at.
            return None
        log.warning("alert raised: %s %s (%s)", cond.rule, cond.subject, cond.title_en)
        return alert

    async def _resolve(self, key: tuple[str, str]) -> Alert | None:
        alert = self._open[key]
        if alert.id == 0:                         # raised while the store was down
            del self._open[key]
            self._clearing.pop(key, None)
            return replace(alert, state="resolved", resolved_at=now_iso())
        def resolve(conn: sqlite3.Connection) -> int:
            self.fence(conn)
            return int(conn.execute(
                "UPDATE health_alerts SET state = 'resolved', resolved_at = ?, open_key = NULL"
                " WHERE id = ? AND open_key IS NOT NULL", (now_iso(), alert.id)).rowcount)
        done = await self._store.transaction(resolve)
        del self._open[key]
        self._clearing.pop(key, None)
        if not done:
            return None          # resolved already (another controller): nothing to tell
        log.info("alert resolved: %s %s", *key)
        return await self.get(alert.id)

    async def get(self, alert_id: int) -> Alert | None:
        row = await self._store.fetchone("SELECT * FROM health_alerts WHERE id = ?", (alert_id,))
        return Alert.from_row(row) if row is not None else None

    async def acknowledge(self, alert_id: int, by: str) -> Alert:
        """Raised -> acknowledged. 404 for no such alert, 409 when it is not raised now."""
        done = await self._store.execute(
            "UPDATE health_alerts SET state = 'acknowledged', acknowledged_by = ?,"
            " acknowledged_at = ? WHERE id = ? AND state = 'raised'", (by, now_iso(), alert_id))
        alert = await self.get(alert_id)
        if alert is None:
            raise ApiError(404, "not_found", "no such alert / không có cảnh báo này")
        if not done:
            raise ApiError(409, "conflict", f"the alert is {alert.state}, not raised "
                           f"/ cảnh báo không ở trạng thái mới", "state")
        key = (alert.rule, alert.subject)
        if key in self._open and self._open[key].id == alert.id:
            self._open[key] = alert
        return alert

    async def find(self, state: str | None = None, province: str | None = None,
                   limit: int = 100) -> list[Alert]:
        # Only the filters given, as clauses: PostgreSQL cannot type a bare "? IS NULL".
        clauses: list[str] = []
        params: list[Any] = []
        if state == "open":
            clauses.append("state <> 'resolved'")
        elif state is not None:
            clauses.append("state = ?")
            params.append(state)
        if province is not None:
            clauses.append("province = ?")
            params.append(province)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = await self._store.fetchall(
            f"SELECT * FROM health_alerts{where} ORDER BY id DESC LIMIT ?",
            [*params, min(limit, MAX_LIST)])
        return [Alert.from_row(r) for r in rows]

    def open_alerts(self) -> list[Alert]:
        """The open alerts as this process's rules see them (what the rules step on)."""
        return sorted(self._open.values(), key=lambda a: a.id)

    async def open_now(self) -> list[Alert]:
        """The open alerts as the store has them: what displays are shown. Not the rules'
        own view: another controller may have acknowledged an alert, or raised it (the
        rules run on one leader), and a display on this controller must show that."""
        rows = await self._store.fetchall(
            "SELECT * FROM health_alerts WHERE open_key IS NOT NULL ORDER BY id")
        return [Alert.from_row(r) for r in rows]

"""The audit log: who did what to what, when, from where — every state change."""
from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field
from typing import Any

from iocwall.streams.clock import iso_from_epoch, parse_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store
from iocwall.wall.text import clean_text, fold

MAX_LIMIT = 1000
# Counting every match of a filter over millions of rows costs a scan per page; past this
# many the total is reported as a lower bound (``total_exact`` false: "10000+").
COUNT_CAP = 10_000
TRIGRAM = 3           # the shortest text the trigram index can answer


class AuditAction(str, enum.Enum):
    """Actions recorded so far; other parts add theirs (``record`` also takes a plain str)."""
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGIN_REFUSED = "login.refused"          # rate limited: the password was not checked
    LOGOUT = "logout"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_PASSWORD = "user.password"
    USER_PASSWORD_FAILED = "user.password.failed"     # wrong current password
    USER_PASSWORD_REFUSED = "user.password.refused"   # rate limited
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: str
    epoch: float
    actor: str
    role: str
    unit: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    client: str
    province: str | None = None      # the unit the entry concerns (None: none, or older)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditEntry:
        return cls(id=int(row["id"]), time=row["time"], epoch=float(row["epoch"]),
                   actor=row["actor"], role=row["role"], unit=row["unit"], action=row["action"],
                   target=row["target"], before=_load(row["before"]), after=_load(row["after"]),
                   client=row["client"], province=row.get("province"))

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class AuditQuery:
    """Filters (all optional). ``action``/``target`` ending in ``*`` match a prefix;
    ``text`` matches the folded actor, action and target anywhere (case and diacritics
    ignored); ``province`` is the unit the entry concerns (the ``province`` column)."""
    actor: str = ""
    action: str = ""
    target: str = ""
    unit: str = ""
    province: str = ""
    text: str = ""
    since: str = ""          # ISO 8601, inclusive
    until: str = ""          # ISO 8601, exclusive
    limit: int = 100
    offset: int = 0
    before_id: int = 0       # cursor: only entries older than this id (0 = from the newest)

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("actor", "unit", "province"):
            if value := getattr(self, column):
                clauses.append(f"{column} = ?")
                params.append(value)
        for column in ("action", "target"):
            value = getattr(self, column)
            if value.endswith("*"):
                clauses.append(f"substr({column}, 1, ?) = ?")
                params += [len(value) - 1, value[:-1]]
            elif value:
                clauses.append(f"{column} = ?")
                params.append(value)
        for name, op in (("since", ">="), ("until", "<")):
            if value := getattr(self, name):
                clauses.append(f"epoch {op} ?")
                params.append(epoch_of(value, name))
        if folded := fold(self.text):
            # folded text is [a-z0-9 ] only: nothing in it is a LIKE wildcard
            clauses.append("search_folded LIKE ?")
            params.append(f"%{folded}%")
        if self.before_id:
            clauses.append("id < ?")
            params.append(self.before_id)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def indexed_text(self) -> str:
        """The folded text when it is the only filter (``before_id`` aside) and long enough
        for the trigram index (migration 0011), else "". With another filter, that filter's
        index bounds the scan better: a province or a user is a few percent of the log, while
        a frequent text would make the index hand over most of it."""
        folded = fold(self.text)
        others = (self.actor, self.action, self.target, self.unit, self.province,
                  self.since, self.until)
        return folded if len(folded) >= TRIGRAM and not any(others) else ""


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int
    next_offset: int | None = field(default=None)
    next_before_id: int | None = field(default=None)
    total_exact: bool = True        # False: at least ``total`` (COUNT_CAP) match

    def public(self) -> dict[str, Any]:
        return {"entries": [e.public() for e in self.entries], "total": self.total,
                "total_exact": self.total_exact, "limit": self.limit, "offset": self.offset,
                "next_offset": self.next_offset, "next_before_id": self.next_before_id}


class AuditLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, actor: Principal | str, action: AuditAction | str, target: str = "",
                     before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
                     client: str = "", province: str | None = None) -> AuditEntry:
        """Store one entry. ``actor`` is the principal, or a name (failed login, "system").
        ``province``: the unit the entry concerns; derived when not given (province_of)."""
        name, role, unit = (actor.name, actor.role.value, actor.unit) \
            if isinstance(actor, Principal) else (str(actor), "", "")
        action_text = action.value if isinstance(action, AuditAction) else str(action)
        now = time.time()
        name, action_text, target = clean_text(name), clean_text(action_text), clean_text(target)
        if province is None:
            province = _province_of(actor, target, before, after)
        camera = target.removeprefix("camera:") if target.startswith("camera:") else None
        entry_id = await self._store.execute(
            "INSERT INTO audit(time, epoch, actor, role, unit, action, target, before, after,"
            " client, search_folded, province) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " COALESCE(?, (SELECT province FROM registry_cameras WHERE id = ?)))",
            (iso_from_epoch(now), now, name, clean_text(role), clean_text(unit),
             action_text, target, _dump(_clean(before)), _dump(_clean(after)),
             clean_text(client), fold(f"{name} {action_text} {target}"), province, camera))
        row = await self._store.fetchone("SELECT * FROM audit WHERE id = ?", (entry_id,))
        assert row is not None
        return AuditEntry.from_row(row)

    async def query(self, q: AuditQuery) -> AuditPage:
        """Newest first. Page with limit/offset, or — stable while new entries arrive —
        with ``before_id`` = the previous page's ``next_before_id``."""
        if not 1 <= q.limit <= MAX_LIMIT:
            raise ApiError(422, "invalid", f"limit must be 1-{MAX_LIMIT}", "limit")
        if q.offset < 0:
            raise ApiError(422, "invalid", "offset must be 0 or more", "offset")
        ids = await self._matching_ids(q)
        shown = ids[:q.limit]
        rows = await self._store.fetchall(
            f"SELECT * FROM audit WHERE id IN ({', '.join('?' * len(shown))}) ORDER BY id DESC",
            shown) if shown else []
        entries = [AuditEntry.from_row(r) for r in rows]
        more = len(ids) > q.limit
        following = q.offset + len(entries)
        exact = len(ids) <= COUNT_CAP
        return AuditPage(entries, q.offset + min(len(ids), COUNT_CAP), q.limit, q.offset,
                         following if more else None,
                         entries[-1].id if more and entries else None, exact)

    async def _matching_ids(self, q: AuditQuery) -> list[int]:
        """Newest first, at most COUNT_CAP + 1 ids after ``offset``: one walk gives both the
        page and the (capped) total, so a filter matching few of millions of rows scans
        them once, and a text alone is answered from the trigram index."""
        if (text := q.indexed_text()) and self._store.dialect == "sqlite":
            sql = "SELECT rowid AS id FROM audit_text WHERE search_folded LIKE ?"
            params: list[Any] = [f"%{text}%"]
            if q.before_id:
                sql += " AND rowid < ?"
                params.append(q.before_id)
            sql += " ORDER BY rowid DESC LIMIT ? OFFSET ?"
        else:
            where, params = q.where()
            sql = f"SELECT id FROM audit{where} ORDER BY id DESC LIMIT ? OFFSET ?"
        rows = await self._store.fetchall(sql, [*params, COUNT_CAP + 1, q.offset])
        return [int(r["id"]) for r in rows]


def _province_of(actor: Principal | str, target: str, before: dict[str, Any] | None,
                 after: dict[str, Any] | None) -> str | None:
    """The unit an entry concerns, when the entry itself says: a registrar acts for its own
    province; a ``province:X`` target is X; a change whose before/after name a province is
    about it. A ``camera:ID`` target not covered here is looked up in the registry by the
    INSERT (a camera still registered); None otherwise."""
    if isinstance(actor, Principal) and actor.role is Role.REGISTRAR and actor.unit:
        return actor.unit
    if target.startswith("province:"):
        return target.removeprefix("province:") or None
    for side in (after, before):
        if side and isinstance(side.get("province"), str) and side["province"]:
            return str(side["province"])
    return None


def _clean(value: Any) -> Any:
    """``clean_text`` applied to every string (keys too) of a JSON-like value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True,
                                                 default=str)


def _load(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


def epoch_of(value: str, name: str) -> float:
    try:
        return parse_iso(value).timestamp()
    except ValueError:
        raise ApiError(422, "invalid", f"{name}: expected an ISO 8601 time, e.g. "
                       "2026-11-23T08:00:00+07:00", name) from None

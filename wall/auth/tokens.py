"""Bearer tokens for scripts and display nodes: shown once, stored as a sha256 hash.

A token is 256 random bits, so a plain (unsalted) sha256 is enough: there is
nothing to brute-force, and the hash allows an indexed lookup per request.

A token expires (``[auth] token_ttl_days``, at most ``token_max_ttl_days``), and
lives only as long as the admin account that made it: disabled, demoted or
deleted, and its tokens are refused. Tokens made by the server itself (no
creator) are exempt. A token made on behalf of another token (``parent_id``: a display
token whose pairing an admin *token* approved) takes over that token's creator, expires
no later than it, and is refused once it is revoked or expired. Labels are unique
(case-insensitive): the audit names a token by its label.
"""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from iocwall.streams.clock import iso_from_epoch, now_iso
from iocwall.wall.access import Principal, Role
from iocwall.wall.auth.users import check_role_unit
from iocwall.wall.errors import ApiError
from iocwall.wall.store import Store

PREFIX = "iwt_"
LAST_USED_EVERY_S = 60.0     # write last_used at most this often per token, not per request
_COLUMNS = "id, label, role, unit, created_at, created_by, last_used, revoked_at, expires"
DAY_S = 86400
# When a token is accepted (one rule for the bearer and for what was made from it):
# not revoked, not expired, made by the server or by an enabled admin, and its parent token
# (if any) neither revoked nor expired. Aliases: t the token, u its creator, p its parent.
_VALID_JOINS = ("LEFT JOIN users u ON u.id = t.created_by_id"
                " LEFT JOIN tokens p ON p.id = t.parent_id")
_VALID = ("t.revoked_at IS NULL AND t.expires > :now"
          " AND ((t.created_by_id IS NULL AND t.created_by = '')"
          "      OR (u.disabled = 0 AND u.role = 'admin'))"
          " AND (t.parent_id IS NULL OR (p.revoked_at IS NULL AND p.expires > :now))")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    label: str
    role: Role
    unit: str
    created_at: str
    created_by: str
    last_used: str | None
    revoked_at: str | None
    expires_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TokenInfo:
        expires = row["expires"]
        return cls(id=int(row["id"]), label=row["label"], role=Role(row["role"]), unit=row["unit"],
                   created_at=row["created_at"], created_by=row["created_by"],
                   last_used=row["last_used"], revoked_at=row["revoked_at"],
                   expires_at=iso_from_epoch(expires) if expires is not None else None)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "role": self.role.value, "unit": self.unit,
                "created_at": self.created_at, "created_by": self.created_by,
                "last_used": self.last_used, "revoked_at": self.revoked_at,
                "expires_at": self.expires_at}

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "role": self.role.value, "unit": self.unit,
                "revoked": self.revoked_at is not None, "expires_at": self.expires_at}


class Tokens:
    def __init__(self, store: Store, ttl_days: int = 90, max_ttl_days: int = 365) -> None:
        """``ttl_days``: lifetime when none is asked for; ``max_ttl_days``: the longest."""
        self._store = store
        self.ttl_days = min(ttl_days, max_ttl_days)
        self.max_ttl_days = max_ttl_days
        self._touched: dict[int, float] = {}

    async def create(self, label: str, role: Role, unit: str = "", created_by: str = "",
                     *, created_by_id: int | None = None,
                     ttl_days: int | None = None,
                     parent_id: int | None = None) -> tuple[TokenInfo, str]:
        """A new token: returns (its record, the token itself — shown once, never again).

        ``created_by``/``created_by_id``: the admin making it (the token dies with that
        account); both empty for tokens the server makes itself. ``parent_id``: the token
        it is made on behalf of (its creator and expiry bind this one too)."""
        label = label.strip()
        if not 1 <= len(label) <= 100:
            raise ApiError(422, "invalid", "label: 1-100 characters / nhãn 1-100 ký tự", "label")
        days = self.ttl_days if ttl_days is None else ttl_days
        if not 1 <= days <= self.max_ttl_days:
            raise ApiError(422, "invalid", f"expires_in_days: 1-{self.max_ttl_days} / "
                           f"thời hạn 1-{self.max_ttl_days} ngày", "expires_in_days")
        unit = check_role_unit(role, unit)
        expires = time.time() + days * DAY_S
        if parent_id is not None:
            parent = await self._store.fetchone(
                "SELECT created_by, created_by_id, expires FROM tokens WHERE id = ?",
                (parent_id,))
            if parent is None:
                raise ApiError(404, "not_found", "no such token / không có mã truy cập này")
            created_by, created_by_id = parent["created_by"], parent["created_by_id"]
            expires = min(expires, float(parent["expires"]))
        token = PREFIX + secrets.token_urlsafe(32)
        try:
            token_id = await self._store.execute(
                "INSERT INTO tokens(label, token_hash, role, unit, created_at, created_by,"
                " created_by_id, expires, parent_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (label, token_hash(token), role.value, unit, now_iso(), created_by,
                 created_by_id, expires, parent_id))
        except sqlite3.IntegrityError:
            raise ApiError(409, "exists", f"a token labelled '{label}' exists / nhãn đã dùng",
                           "label") from None
        return await self.require(token_id), token

    async def require(self, token_id: int) -> TokenInfo:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM tokens WHERE id = ?",
                                         (token_id,))
        if row is None:
            raise ApiError(404, "not_found", "no such token / không có mã truy cập này")
        return TokenInfo.from_row(row)

    async def list(self) -> list[TokenInfo]:
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM tokens ORDER BY id")
        return [TokenInfo.from_row(r) for r in rows]

    async def revoke(self, token_id: int) -> TokenInfo:
        await self.require(token_id)
        await self._store.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now_iso(), token_id))
        return await self.require(token_id)

    async def id_of(self, label: str) -> int | None:
        """The id of the token labelled ``label`` (labels are unique)."""
        row = await self._store.fetchone(
            "SELECT id FROM tokens WHERE label = ? COLLATE NOCASE", (label,))
        return int(row["id"]) if row is not None else None

    async def resolve(self, token: str) -> Principal | None:
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        row = await self._store.fetchone(
            f"SELECT t.id, t.label, t.role, t.unit FROM tokens t {_VALID_JOINS}"
            f" WHERE t.token_hash = :key AND {_VALID}",
            {"key": token_hash(token), "now": time.time()})
        if row is None:
            return None
        await self._touch(int(row["id"]))
        return Principal(name=f"token:{row['label']}", role=Role(row["role"]), unit=row["unit"],
                         user_id=None, via="token")

    async def valid(self, label: str) -> bool:
        """Would the token labelled ``label`` be accepted now? (e.g. a display session
        lives only as long as the display token it was made from)."""
        row = await self._store.fetchone(
            f"SELECT t.id FROM tokens t {_VALID_JOINS}"
            f" WHERE t.label = :key COLLATE NOCASE AND {_VALID}",
            {"key": label, "now": time.time()})
        return row is not None

    async def _touch(self, token_id: int) -> None:
        now = time.monotonic()
        if now - self._touched.get(token_id, -LAST_USED_EVERY_S) >= LAST_USED_EVERY_S:
            self._touched[token_id] = now
            await self._store.execute("UPDATE tokens SET last_used = ? WHERE id = ?",
                                      (now_iso(), token_id))
